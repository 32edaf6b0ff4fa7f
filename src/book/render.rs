//! One chapter of the book, rendered from a lesson, a capture of its run and the notes:
//! a pure function, byte-for-byte the same for the same inputs.

use std::fmt::Write as _;

use crate::lesson::format::{LessonFile, StepDef};
use crate::present::export::{self, fenced, prose};

use super::capture::Capture;
use super::notes::Notes;

/// The two-digit number of lesson `id` (`02` for `02-chroot`), or the whole id.
#[must_use]
pub fn number(id: &str) -> &str {
    id.split_once('-').map_or(id, |(n, _)| n)
}

/// The chapter's file name below `book/src/`: `lessons/02-chroot.md`.
#[must_use]
pub fn chapter_path(id: &str) -> String {
    format!("lessons/{id}.md")
}

/// The line of `SUMMARY.md` that links lesson `l`'s chapter.
#[must_use]
pub fn summary_line(l: &LessonFile) -> String {
    format!(
        "- [{} · {}]({})",
        number(&l.id),
        l.title,
        chapter_path(&l.id)
    )
}

/// `summary` (the text of `book/src/SUMMARY.md`) with the list under `# The lessons`
/// replaced by `lines`; everything else kept as it is. `None` when it has no such
/// heading.
#[must_use]
pub fn summary_with(summary: &str, lines: &[String]) -> Option<String> {
    let all: Vec<&str> = summary.lines().collect();
    let head = all.iter().position(|l| l.trim() == "# The lessons")?;
    // The list: from the first item after the heading to the last item before the next
    // heading (blank lines around it kept).
    let next = all[head + 1..]
        .iter()
        .position(|l| l.starts_with('#'))
        .map_or(all.len(), |p| head + 1 + p);
    let items: Vec<usize> = (head + 1..next)
        .filter(|&i| !all[i].trim().is_empty())
        .collect();
    let (from, to) = match (items.first(), items.last()) {
        (Some(&a), Some(&b)) => (a, b + 1),
        _ => (head + 1, head + 1),
    };
    let mut out: Vec<String> = all[..from].iter().map(|s| (*s).to_string()).collect();
    if items.is_empty() {
        out.push(String::new());
    }
    out.extend(lines.iter().cloned());
    if items.is_empty() && next < all.len() {
        out.push(String::new());
    }
    out.extend(all[to..].iter().map(|s| (*s).to_string()));
    let mut text = out.join("\n");
    text.push('\n');
    Some(text)
}

/// A lesson template as the book shows it: `{rootfs}` is `$ROOTFS`, `{lab}` `$LAB`,
/// `{container.web}` and `{decoy.web}` `$WEB_PID`, `{cgroup.c}` `$C_CGROUP` (and
/// `$C_PIDS_CGROUP`, `$C_MEMORY_CGROUP`), the `{unprivileged.*}` ones their value for a
/// run as root (the captures are).
#[must_use]
pub fn template_shown(name: &str) -> Option<String> {
    let var = |s: &str| s.to_uppercase().replace('-', "_");
    if name == "rootfs" {
        return Some("$ROOTFS".into());
    }
    if name == "lab" {
        return Some("$LAB".into());
    }
    if let Some(n) = name
        .strip_prefix("container.")
        .or_else(|| name.strip_prefix("decoy."))
    {
        return Some(format!("${}_PID", var(n)));
    }
    if let Some(n) = name.strip_prefix("cgroup.") {
        return Some(match n.rsplit_once('.') {
            Some((n, c)) => format!("${}_{}_CGROUP", var(n), var(c)),
            None => format!("${}_CGROUP", var(n)),
        });
    }
    if let Some(n) = name.strip_prefix("unprivileged.") {
        return crate::runtime::unprivileged::Unprivileged::for_lab(true, 0, 0).template(n);
    }
    None
}

/// `s` with its templates as [`template_shown`] shows them.
#[must_use]
pub fn shown(s: &str) -> String {
    crate::lesson::expand(s, &template_shown)
}

/// A man page reference (`chroot(2)`) as a link to its page on man7.org.
#[must_use]
pub fn man_link(page: &str) -> String {
    let parsed = page.strip_suffix(')').and_then(|p| p.split_once('('));
    match parsed {
        Some((name, sec))
            if !name.is_empty()
                && sec.chars().next().is_some_and(|c| c.is_ascii_digit())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-+".contains(c)) =>
        {
            let dir = &sec[..1];
            format!("[{page}](https://man7.org/linux/man-pages/man{dir}/{name}.{sec}.html)")
        }
        _ => format!("`{page}`"),
    }
}

/// The variables the chapter uses, each with what it stands for.
fn variables(text: &str, l: &LessonFile) -> Vec<String> {
    let mut v = Vec::new();
    if text.contains("$ROOTFS") {
        v.push(format!(
            "`$ROOTFS` is the rootfs directory (the `{}` recipe's tree in the cache)",
            l.requires.rootfs
        ));
    }
    if text.contains("$LAB") {
        v.push("`$LAB` the lab's scratch directory for the run".into());
    }
    // Not `$FROMSCRATCH_LAB`, the variable a challenge shell holds.
    let exe = regex::Regex::new(r"\$FROMSCRATCH\b").expect("a valid regex");
    if exe.is_match(text) {
        v.push("`$FROMSCRATCH` the fromscratch binary".into());
    }
    let pid = regex::Regex::new(r"\$[A-Z0-9_]+_PID\b").expect("a valid regex");
    if pid.is_match(text) {
        v.push("`$NAME_PID` the host PID of the lesson's container or decoy NAME (the output shows the number)".into());
    }
    let cg = regex::Regex::new(r"\$[A-Z0-9_]+_CGROUP\b").expect("a valid regex");
    if cg.is_match(text) {
        v.push("`$NAME_CGROUP` the cgroup directory the lab made for NAME (`$NAME_PIDS_CGROUP`, `$NAME_MEMORY_CGROUP`: the controller's, on a v1 host)".into());
    }
    v
}

/// A step's captured output without its `why` (the chapter gives it from the lesson).
fn output_of(step: Option<&export::Step>) -> String {
    let Some(step) = step else {
        return String::new();
    };
    let end = step
        .output
        .iter()
        .position(|l| l.trim() == "── why ──")
        .unwrap_or(step.output.len());
    step.output[..end].join("\n").trim_matches('\n').to_string()
}

/// The `[containers.NAME]` table of a lesson file's `source`, as written (its comments
/// included): from its header line to the line before the next table header, trailing
/// blank and comment lines left to the next table. `None` when the file has no such table.
#[must_use]
pub fn container_table(source: &str, name: &str) -> Option<String> {
    let header = format!("[containers.{name}]");
    let mut lines = source.lines().skip_while(|l| l.trim() != header);
    let first = lines.next()?;
    let mut table = vec![first];
    table.extend(lines.take_while(|l| !l.trim_start().starts_with('[')));
    while table
        .last()
        .is_some_and(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        table.pop();
    }
    Some(table.join("\n"))
}

/// The chapter of lesson `l` (whose file's text is `source`), from `capture` (a run of
/// it) and `notes`.
#[must_use]
pub fn chapter(l: &LessonFile, source: &str, capture: &Capture, notes: &Notes) -> String {
    let id = &l.id;
    let run = export::parse(id, &capture.transcript);
    let mut body = String::new();
    let b = &mut body;

    // Summary, objectives, requirements.
    let _ = writeln!(b, "{}\n", prose(&shown(&l.summary)));
    if !l.objectives.is_empty() {
        let _ = writeln!(b, "After it you can:\n");
        for o in &l.objectives {
            let _ = writeln!(b, "- {}", prose(&shown(o)));
        }
        b.push('\n');
    }
    let r = &l.requires;
    let who = if r.root {
        match &r.root_because {
            Some(why) => format!("Root: {}", prose(why).trim_end_matches('.')),
            None => "Root".to_string(),
        }
    } else {
        "Root, or an ordinary user (the lab then runs rootless, in a user namespace of its own)"
            .to_string()
    };
    let _ = write!(
        b,
        "**What it needs.** {who}. The `{}` rootfs (`--rootfs` picks another recipe).",
        r.rootfs
    );
    if !r.tools.is_empty() {
        let tools: Vec<String> = r.tools.iter().map(|t| format!("`{t}`")).collect();
        let _ = write!(b, " Host tools: {}.", tools.join(", "));
    }
    b.push_str("\n\n");
    if let Some(intro) = &notes.intro {
        let _ = writeln!(b, "{intro}\n");
    }

    for (i, s) in l.steps.iter().enumerate() {
        step(b, i, s, source, run.steps.get(i), notes);
    }

    if let Some(v) = &run.verdict {
        let _ = writeln!(b, "The captured run ended with `{v}`.\n");
    }
    if let Some(end) = &notes.end {
        let _ = writeln!(b, "{end}\n");
    }

    // The head: what generated it, the title, what the output is.
    let mut md = format!(
        "<!-- Generated by `fromscratch book` from lessons/{id}.toml, book/captures/{id}.txt and book/notes/{id}.md (when it exists). Do not edit it here: edit those, then run `fromscratch book`; after a change to the lesson, `sudo fromscratch book {id}` runs it again for its output. -->\n\n# {} · {}\n\n",
        number(id),
        l.title
    );
    let mut about = format!(
        "> **About the output.** The output blocks below are the real output of `fromscratch run {id} --yes --no-color`, captured on {} on Linux {} as {}, by fromscratch {}, at 80 columns.",
        capture.date, capture.kernel, capture.user, capture.version
    );
    let vars = variables(&body, l);
    if !vars.is_empty() {
        let _ = write!(about, " In it and in the commands, {}.", join_and(&vars));
    }
    about.push_str(" PIDs, inode numbers and namespace ids differ from run to run.\n\n");
    md.push_str(&about);
    md.push_str(body.trim_end());
    md.push('\n');
    md
}

fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}, and {last}", init.join(", ")),
    }
}

fn step(
    b: &mut String,
    i: usize,
    s: &StepDef,
    source: &str,
    captured: Option<&export::Step>,
    notes: &Notes,
) {
    let _ = writeln!(b, "## Step {} · {}\n", i + 1, s.title);
    let explain = prose(&shown(&s.explain));
    if !explain.is_empty() {
        let _ = writeln!(b, "{explain}\n");
    }
    if let Some(eq) = &s.equivalent {
        let _ = writeln!(
            b,
            "By hand:\n\n{}",
            fenced("console", &format!("$ {}", shown(eq)))
        );
    }
    // A container this step starts, as the lesson defines it: the runtime's input.
    if let crate::lesson::format::ActionDef::Start { container } = &s.action
        && let Some(table) = container_table(source, container)
    {
        let _ = writeln!(
            b,
            "The container `{container}`, as the lesson file defines it:\n\n{}",
            fenced("toml", &table)
        );
    }
    if let Some(hint) = &s.hint {
        let _ = writeln!(b, "**Hint.** {}\n", prose(&shown(hint)));
    }
    let output = output_of(captured);
    match &s.challenge {
        None => {
            if !output.is_empty() {
                let _ = writeln!(
                    b,
                    "What the lab did and saw:\n\n{}",
                    fenced("text", &output)
                );
            }
        }
        Some(ch) => {
            let _ = writeln!(b, "**The goal.** {}\n", prose(&shown(&ch.goal)));
            if !ch.hints.is_empty() {
                b.push_str("<details>\n<summary>Hints, gentlest first</summary>\n\n");
                for (n, h) in ch.hints.iter().enumerate() {
                    let _ = writeln!(b, "{}. {}", n + 1, prose(&shown(h)));
                }
                b.push_str("\n</details>\n\n");
            }
            b.push_str("<details>\n<summary>A solution, and the lab typing it</summary>\n\n");
            let lines: Vec<String> = ch.solution.iter().map(|l| shown(l)).collect();
            let _ = writeln!(
                b,
                "The lines typed, in order (a line may start a program that reads the next ones):\n\n{}",
                fenced("text", &lines.join("\n"))
            );
            if !output.is_empty() {
                let _ = writeln!(b, "The lab typing it:\n\n{}", fenced("text", &output));
            }
            b.push_str("</details>\n\n");
        }
    }
    if let Some(why) = &s.why {
        let _ = writeln!(b, "**Why.** {}\n", prose(&shown(why)));
    }
    if !s.man.is_empty() {
        let links: Vec<String> = s.man.iter().map(|m| man_link(m)).collect();
        let _ = writeln!(
            b,
            "**Man pages:** {} ([what to read in each](../reference/man-pages.md)).\n",
            links.join(", ")
        );
    }
    if let Some(n) = notes.steps.get(&s.id) {
        let _ = writeln!(b, "{n}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test lesson's file.
    const SOURCE: &str = r#"
format_version = 1
id = "02-t"
title = "T: a test"
summary = """
One line
wrapped.

Second paragraph.
"""
objectives = ["Do a thing."]

[requires]
root = false

[[steps]]
id = "one"
title = "One"
explain = "Run ls in\n{rootfs}."
equivalent = "chroot {rootfs} ls {lab}/x"
why = "Because."
man = ["chroot(2)", "odd"]
hint = "Look."
action = { kind = "start", container = "victim" }

[[steps]]
id = "two"
title = "Challenge: two"
explain = "Your turn."
action = { kind = "observe" }

[steps.challenge]
goal = "Kill {container.victim}."
hints = ["kill(1)"]
solution = ["kill {container.victim}"]

[[steps.challenge.verify]]
says = "a sleep runs"
process = { comm = ["sleep"] }

[containers.victim]
command = ["sleep", "31337"]
"#;

    fn lesson() -> LessonFile {
        crate::lesson::parse(SOURCE, std::path::Path::new("02-t.toml"))
            .expect("the test lesson is valid")
            .def
    }

    #[test]
    fn a_started_container_is_quoted_from_the_lesson_file_as_written() {
        let src =
            "[containers.a]\n# why a\nroot = \"rootfs\"\n\n# about b\n[containers.b]\npid = true\n";
        assert_eq!(
            container_table(src, "a").as_deref(),
            Some("[containers.a]\n# why a\nroot = \"rootfs\"")
        );
        assert_eq!(
            container_table(src, "b").as_deref(),
            Some("[containers.b]\npid = true")
        );
        assert_eq!(container_table(src, "c"), None);
        let md = chapter(&lesson(), SOURCE, &capture(), &Notes::default());
        assert!(
            md.contains("The container `victim`, as the lesson file defines it:\n\n```toml\n[containers.victim]\ncommand = [\"sleep\", \"31337\"]\n```"),
            "{md}"
        );
    }

    fn capture() -> Capture {
        Capture {
            lesson: "02-t".into(),
            lesson_sha256: "0".into(),
            date: "2025-06-01".into(),
            kernel: "6.1.0".into(),
            version: "0.1.0".into(),
            user: "root".into(),
            transcript: "02-t — T\n  One line wrapped.\n\n━━ Step 1/2 · One ━━\n  Run ls in $ROOTFS.\n  by hand: $ chroot $ROOTFS ls\n── action: exec ──\n  $ ls\n    bin\x1b[0m\n── why ──\n  Because.\n\n━━ Step 2/2 · Challenge: two ━━\n  Your turn.\n── challenge: the lab types the reference solution ──\n  # kill 42\n── checks ──\n  ✓ gone\n\n✓ 02-t: every check held\n".into(),
        }
    }

    #[test]
    fn a_chapter_reads_in_order_and_never_varies() {
        let notes = Notes {
            intro: Some("INTRO".into()),
            steps: [("one".to_string(), "NOTE ONE".to_string())].into(),
            end: Some("THE END".into()),
        };
        let md = chapter(&lesson(), SOURCE, &capture(), &notes);
        assert_eq!(md, chapter(&lesson(), SOURCE, &capture(), &notes));
        assert!(
            md.starts_with("<!-- Generated by `fromscratch book`"),
            "{md}"
        );
        assert!(md.contains("\n# 02 · T: a test\n"), "{md}");
        assert!(
            md.contains("captured on 2025-06-01 on Linux 6.1.0 as root"),
            "{md}"
        );
        assert!(md.contains("`$ROOTFS` is the rootfs directory"), "{md}");
        assert!(
            md.contains("One line wrapped.\n\nSecond paragraph.\n"),
            "{md}"
        );
        assert!(md.contains("After it you can:\n\n- Do a thing.\n"), "{md}");
        assert!(md.contains("Root, or an ordinary user"), "{md}");
        assert!(
            md.contains("## Step 1 · One\n\nRun ls in $ROOTFS.\n"),
            "{md}"
        );
        assert!(
            md.contains("```console\n$ chroot $ROOTFS ls $LAB/x\n```"),
            "{md}"
        );
        assert!(
            md.contains("```text\n── action: exec ──\n  $ ls\n    bin\n```"),
            "{md}"
        );
        assert!(!md.contains("\x1b"), "{md}");
        assert!(
            !md.contains("── why ──"),
            "the why comes from the lesson: {md}"
        );
        assert!(
            md.contains("[chroot(2)](https://man7.org/linux/man-pages/man2/chroot.2.html), `odd`"),
            "{md}"
        );
        assert!(md.contains("$VICTIM_PID"), "{md}");
        assert!(
            md.contains("<details>\n<summary>Hints, gentlest first</summary>\n\n1. kill(1)\n"),
            "{md}"
        );
        assert!(md.contains("# kill 42"), "{md}");
        assert!(
            md.contains("The captured run ended with `02-t: every check held`."),
            "{md}"
        );
        let order = [
            "INTRO",
            "## Step 1",
            "```console",
            "**Hint.** Look.",
            "── action",
            "**Why.** Because.",
            "NOTE ONE",
            "## Step 2",
            "THE END",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|s| md.find(s).unwrap_or_else(|| panic!("{s} missing: {md}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{at:?}\n{md}");
        assert!(md.ends_with("THE END\n"), "{md}");
    }

    #[test]
    fn the_summary_keeps_everything_but_the_lessons_list() {
        let s = "# Summary\n\n[Intro](i.md)\n\n# The lessons\n\n- [01 · old](lessons/01-old.md)\n- [02 · x](lessons/02-x.md)\n\n# Reference\n\n- [Guide](g.md)\n";
        let new = summary_with(s, &["- [01 · a](lessons/01-a.md)".to_string()]).unwrap();
        assert_eq!(
            new,
            "# Summary\n\n[Intro](i.md)\n\n# The lessons\n\n- [01 · a](lessons/01-a.md)\n\n# Reference\n\n- [Guide](g.md)\n"
        );
        assert_eq!(
            summary_with(&new, &["- [01 · a](lessons/01-a.md)".to_string()]).unwrap(),
            new
        );
        assert!(summary_with("# Summary\n", &[]).is_none());
    }

    #[test]
    fn a_challenge_shell_variable_is_not_the_binary() {
        assert!(variables("echo $FROMSCRATCH_LAB", &lesson()).is_empty());
        assert_eq!(variables("execve(\"$FROMSCRATCH\")", &lesson()).len(), 1);
    }

    #[test]
    fn templates_are_shown_as_names() {
        assert_eq!(
            shown(
                "{rootfs} {lab} {container.web-1} {cgroup.c} {cgroup.c.pids} {unprivileged.uid} {5}"
            ),
            "$ROOTFS $LAB $WEB_1_PID $C_CGROUP $C_PIDS_CGROUP 65534 {5}"
        );
    }
}
