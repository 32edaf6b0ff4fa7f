//! Keeps the book's reference true to the code.
//!
//! - every serde field of lesson format v1 (`src/lesson/format.rs`), every action `kind`
//!   and its keys are documented in `book/src/reference/lesson-format.md` as `` `NAME` ``;
//! - every ```toml block in that page is a lesson that loads and validates (partial
//!   snippets are fenced ```toml,ignore and skipped);
//! - every lesson in `lessons/` has a chapter in `book/src/lessons/`, linked from
//!   `book/src/SUMMARY.md`;
//! - every man page a lesson cites is in `book/src/reference/man-pages.md`;
//! - every subcommand and long flag of the command line is in
//!   `book/src/reference/command-line.md`.
//!
//! None of this needs root: it reads files and parses TOML.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    let p = root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// `BuildRootfs` -> `build_rootfs`, as serde's `rename_all = "snake_case"` spells it.
fn snake_case(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of `key = "..."` inside a `#[serde(...)]` attribute line, if present.
fn serde_attr(line: &str, key: &str) -> Option<String> {
    let t = line.trim();
    if !t.starts_with("#[serde(") {
        return None;
    }
    let at = t.find(&format!("{key} = \""))? + key.len() + 4;
    let rest = &t[at..];
    Some(rest[..rest.find('"')?].to_string())
}

/// An identifier at the start of `s`.
fn ident(s: &str) -> Option<&str> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| &s[..end])
}

/// Every name a lesson file can contain, read from the source of format.rs: the fields
/// of each `pub struct` (lines `pub NAME:`), and in `pub enum ActionDef` the tag key, each
/// variant's snake_case kind and the fields inside the variants. A `#[serde(rename =
/// "...")]` on the line before a field or variant wins over its Rust name.
fn format_names(src: &str) -> BTreeSet<String> {
    #[derive(PartialEq)]
    enum Scope {
        Outside,
        Struct,
        Actions,
    }
    let mut names = BTreeSet::new();
    let mut scope = Scope::Outside;
    let mut rename: Option<String> = None;
    for line in src.lines() {
        if line.starts_with('}') {
            scope = Scope::Outside;
            continue;
        }
        if line.starts_with("pub struct ") && line.trim_end().ends_with('{') {
            scope = Scope::Struct;
            rename = None;
            continue;
        }
        if line.starts_with("pub enum ActionDef") {
            scope = Scope::Actions;
            rename = None;
            continue;
        }
        if line.starts_with("#[serde(") {
            // The attribute of the enum itself, read before `pub enum`: its tag key.
            if let Some(tag) = serde_attr(line, "tag") {
                names.insert(tag);
            }
            continue;
        }
        if scope == Scope::Outside {
            continue;
        }
        if let Some(r) = serde_attr(line, "rename") {
            rename = Some(r);
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") || trimmed.starts_with("#[") || trimmed.is_empty() {
            continue;
        }
        let indent = line.len() - trimmed.len();
        match scope {
            Scope::Struct => {
                if let Some(rest) = trimmed.strip_prefix("pub ")
                    && let Some(name) = ident(rest)
                    && rest[name.len()..].starts_with(':')
                {
                    names.insert(rename.take().unwrap_or_else(|| name.to_string()));
                }
            }
            Scope::Actions => {
                let Some(name) = ident(trimmed) else { continue };
                let after = trimmed[name.len()..].trim_start();
                if indent == 4
                    && (after.starts_with('{') || after.starts_with(',') || after.starts_with('('))
                {
                    names.insert(rename.take().unwrap_or_else(|| snake_case(name)));
                } else if indent == 8 && after.starts_with(':') {
                    names.insert(rename.take().unwrap_or_else(|| name.to_string()));
                }
            }
            Scope::Outside => {}
        }
    }
    names
}

#[test]
fn every_lesson_format_field_is_documented() {
    let src = read("src/lesson/format.rs");
    let names = format_names(&src);
    // Guard against the scanner silently finding nothing after a refactor of format.rs.
    for must in [
        "format_version",
        "requires",
        "mount_proc",
        "settle_ms",
        "label",
        "kind",
        "elf_needs",
        "exec_in",
        "program",
        "copy",
    ] {
        assert!(
            names.contains(must),
            "the scanner of format.rs did not find `{must}`; found {names:?}"
        );
    }
    assert!(
        names.len() >= 50,
        "only {} names found in format.rs: {names:?}",
        names.len()
    );

    let doc = read("book/src/reference/lesson-format.md");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !doc.contains(&format!("`{n}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "book/src/reference/lesson-format.md does not document these lesson-format names (write each as `NAME` in a table row or list item): {}",
        missing
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// The ```toml blocks of a Markdown text: (line of the fence, info string, body).
fn toml_blocks(md: &str) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String)> = None;
    for (i, line) in md.lines().enumerate() {
        let t = line.trim_start();
        if let Some((start, info, body)) = open.take() {
            if t.starts_with("```") && t.trim() == "```" {
                if info
                    .split(',')
                    .next()
                    .is_some_and(|lang| lang.trim() == "toml")
                {
                    out.push((start, info, body));
                }
            } else {
                let mut body = body;
                body.push_str(line);
                body.push('\n');
                open = Some((start, info, body));
            }
        } else if let Some(info) = t.strip_prefix("```") {
            open = Some((i + 1, info.trim().to_string(), String::new()));
        }
    }
    assert!(open.is_none(), "a ``` fence is never closed");
    out
}

#[test]
fn the_examples_in_the_lesson_format_reference_validate() {
    let doc = read("book/src/reference/lesson-format.md");
    let blocks = toml_blocks(&doc);
    let mut checked = 0;
    for (line, info, body) in &blocks {
        if info.split(',').any(|w| w.trim() == "ignore") {
            continue;
        }
        assert_eq!(
            info, "toml",
            "lesson-format.md:{line}: fence ```{info}: use ```toml for a full lesson or ```toml,ignore for a snippet"
        );
        if let Err(e) = fromscratch::lesson::parse(body, Path::new("example.toml")) {
            panic!("lesson-format.md:{line}: the ```toml example does not validate:\n{e}");
        }
        checked += 1;
    }
    assert!(
        checked >= 1,
        "lesson-format.md has no complete ```toml example lesson"
    );
}

fn lesson_files() -> Vec<PathBuf> {
    let v = fromscratch::lesson::lesson_files(&root().join("lessons")).expect("read lessons/");
    assert!(!v.is_empty(), "no lesson files in lessons/");
    v
}

#[test]
fn every_lesson_has_a_chapter_linked_from_the_summary() {
    let summary = read("book/src/SUMMARY.md");
    let mut problems = Vec::new();
    for f in lesson_files() {
        let stem = f
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("file name")
            .to_string();
        let chapter = root().join("book/src/lessons").join(format!("{stem}.md"));
        if !chapter.is_file() {
            problems.push(format!(
                "lessons/{stem}.toml has no chapter book/src/lessons/{stem}.md"
            ));
        }
        if !summary.contains(&format!("(lessons/{stem}.md)"))
            && !summary.contains(&format!("(./lessons/{stem}.md)"))
        {
            problems.push(format!(
                "book/src/SUMMARY.md does not link lessons/{stem}.md"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_cited_man_page_is_in_the_man_page_reference() {
    let doc = read("book/src/reference/man-pages.md");
    let mut missing = BTreeSet::new();
    for f in lesson_files() {
        let lesson = fromscratch::lesson::load(&f).unwrap_or_else(|e| panic!("{e}"));
        for step in &lesson.def.steps {
            for m in &step.man {
                if !doc.contains(m.as_str()) {
                    missing.insert(format!(
                        "{m} (cited by {} step `{}`)",
                        lesson.def.id, step.id
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "book/src/reference/man-pages.md lacks: {}",
        missing.into_iter().collect::<Vec<_>>().join(", ")
    );
}

#[test]
fn every_subcommand_and_flag_is_in_the_command_line_reference() {
    let doc = read("book/src/reference/command-line.md");
    let mut missing = Vec::new();
    let visit = |cmd: &clap::Command, path: &str, missing: &mut Vec<String>| {
        for a in cmd.get_arguments() {
            if let Some(long) = a.get_long()
                && !["help", "version"].contains(&long)
                && !doc.contains(&format!("--{long}"))
            {
                missing.push(format!("`--{long}` of `{path}`"));
            }
        }
    };
    let cli = fromscratch::cli::Cli::command();
    visit(&cli, "fromscratch", &mut missing);
    for sub in cli.get_subcommands() {
        let path = format!("fromscratch {}", sub.get_name());
        if !doc.contains(&path) {
            missing.push(format!("subcommand `{path}`"));
        }
        visit(sub, &path, &mut missing);
        for subsub in sub.get_subcommands() {
            let path = format!("fromscratch {} {}", sub.get_name(), subsub.get_name());
            if !doc.contains(&path) {
                missing.push(format!("subcommand `{path}`"));
            }
            visit(subsub, &path, &mut missing);
        }
    }
    assert!(
        missing.is_empty(),
        "book/src/reference/command-line.md does not mention: {}",
        missing.join(", ")
    );
}

#[test]
fn the_scanner_reads_structs_enum_variants_and_renames() {
    // The failure this file exists for is a key added to format.rs without documentation;
    // this checks the scanner sees every shape such a key can take.
    let src = r#"
/// A struct.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeDef {
    /// Plain.
    pub label: String,
    /// Renamed.
    #[serde(rename = "ctx")]
    pub context: String,
    /// With a default.
    #[serde(default)]
    pub brand_new_key: Option<Vec<String>>,
}

fn helper() -> bool {
    let pub_like: u8 = 0;
    true
}

/// The actions.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionDef {
    /// No keys.
    BuildRootfs {},
    /// Keys.
    MountTmpfs {
        /// Where.
        target: String,
        /// How big.
        #[serde(default)]
        size_mb: Option<u64>,
    },
    /// Renamed variant.
    #[serde(rename = "exec-in")]
    ExecIn {
        /// Name.
        container: String,
    },
}

impl ActionDef {
    fn kind(&self) -> &'static str {
        match self {
            Self::MountTmpfs { target, .. } => target,
            _ => "",
        }
    }
}
"#;
    let names = format_names(src);
    let want: BTreeSet<String> = [
        "label",
        "ctx",
        "brand_new_key",
        "kind",
        "build_rootfs",
        "mount_tmpfs",
        "target",
        "size_mb",
        "exec-in",
        "container",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(names, want);
}
