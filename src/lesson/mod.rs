//! Lessons: TOML files turned into validated steps, and the `check` lint.
//!
//! Loading is strict: unknown keys, wrong types and a wrong `format_version` are errors
//! that name `file:line:column`. Validation then checks what types cannot: unique step
//! ids, containers and decoys named before they are used, contexts that exist, regexes
//! that compile, templates that resolve, no empty texts.

pub mod container_checks;
pub mod format;
pub mod net;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use regex::Regex;
use thiserror::Error;

use crate::error::{Classify, EXIT_BAD_INPUT};
pub use format::{
    ActionDef, ChallengeDef, ContainerDef, ExpectDef, LessonFile, ProbeDef, ProcessMatch, ShareDef,
    StepDef, VerifyDef, VolumeDef,
};

/// A loaded, validated lesson.
#[derive(Debug, Clone)]
pub struct Lesson {
    /// The file's contents.
    pub def: LessonFile,
    /// Where it was read from.
    pub path: PathBuf,
}

/// A lesson file that cannot be used; the message names `file:line:column`.
#[derive(Debug, Error)]
pub enum LessonError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Malformed TOML or a field of the wrong name or type.
    #[error("{path}:{line}:{column}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's reason, first line.
        reason: String,
    },
    /// Well-formed but wrong: the problems found, each prefixed with `file:line:column`.
    #[error("{}", problems.join("\n"))]
    Invalid {
        /// One line per problem.
        problems: Vec<String>,
    },
    /// No lesson by that name.
    #[error(
        "no lesson `{name}`: the lessons are {available} (`list` shows them with their titles)"
    )]
    NotFound {
        /// What was asked for.
        name: String,
        /// The ids that exist.
        available: String,
    },
}

impl Classify for LessonError {
    fn exit_code(&self) -> u8 {
        EXIT_BAD_INPUT
    }
}

/// 1-based (line, column) of a byte offset in `text`.
#[must_use]
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Turn a toml error into a `file:line:column: reason` error.
#[must_use]
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> LessonError {
    let (line, column) = e.span().map_or((1, 1), |s| line_col(text, s.start));
    let reason = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .trim()
        .to_string();
    LessonError::Parse {
        path: path.display().to_string(),
        line,
        column,
        reason,
    }
}

/// Read and validate one lesson file.
///
/// # Errors
/// [`LessonError`] with the position of the first problem.
pub fn load(path: &Path) -> Result<Lesson, LessonError> {
    let text = crate::paths::read_small_file(path).map_err(|source| LessonError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, path)
}

/// Parse and validate lesson text; `path` is for messages.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: &Path) -> Result<Lesson, LessonError> {
    let mut lesson = parse_as_written(text, path)?;
    // A learner without root meets each challenge's rootless variant (rootless mode).
    if crate::runtime::userns::rootless().is_some() {
        for step in &mut lesson.def.steps {
            step.challenge = step.challenge.take().map(format::ChallengeDef::for_user);
        }
    }
    Ok(lesson)
}

/// Parse and validate lesson text as written, whoever runs this: each challenge keeps
/// its root form and its `as_user` beside it (the book renders the same chapter for
/// root and for a user).
///
/// # Errors
/// As [`load`].
pub fn parse_as_written(text: &str, path: &Path) -> Result<Lesson, LessonError> {
    let def: LessonFile = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
    let lesson = Lesson {
        def,
        path: path.to_path_buf(),
    };
    let problems = validate(&lesson, text);
    if problems.is_empty() {
        Ok(lesson)
    } else {
        Err(LessonError::Invalid { problems })
    }
}

/// Where `needle` first appears after `from` in `text`, as "file:line:col".
fn locate(path: &Path, text: &str, needle: &str, from: usize) -> (String, usize) {
    let at = text[from.min(text.len())..]
        .find(needle)
        .map_or(from, |i| from + i);
    let (l, c) = line_col(text, at);
    (format!("{}:{l}:{c}", path.display()), at)
}

/// The checks types cannot express. Returns one message per problem.
#[must_use]
pub fn validate(lesson: &Lesson, text: &str) -> Vec<String> {
    let def = &lesson.def;
    let path = &lesson.path;
    let mut out = Vec::new();
    let here = |needle: &str, from: usize| locate(path, text, needle, from);

    if !def.requires.root && def.requires.root_because.is_some() {
        let (at, _) = here("root_because", 0);
        out.push(format!(
            "{at}: root_because is given, but root = false says the lesson runs without root: remove one"
        ));
    }
    if def.format_version != format::FORMAT_VERSION {
        let (at, _) = here("format_version", 0);
        out.push(format!(
            "{at}: format_version is {}, this fromscratch reads {}",
            def.format_version,
            format::FORMAT_VERSION
        ));
    }
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        && stem != def.id
        && path.extension().is_some_and(|e| e == "toml")
    {
        let (at, _) = here("id", 0);
        out.push(format!(
            "{at}: id `{}` differs from the file name `{stem}.toml`",
            def.id
        ));
    }
    if def.id.chars().count() > MAX_ID_CHARS {
        let (at, _) = here("id", 0);
        out.push(format!(
            "{at}: id `{}` is {} characters; keep it to {MAX_ID_CHARS}, the width of the id column of `fromscratch list`",
            def.id,
            def.id.chars().count()
        ));
    }
    for (field, value) in [("title", &def.title), ("summary", &def.summary)] {
        if value.trim().is_empty() {
            let (at, _) = here(field, 0);
            out.push(format!("{at}: {field} is empty"));
        }
    }
    if def.objectives.is_empty() {
        let (at, _) = here("objectives", 0);
        out.push(format!(
            "{at}: objectives is empty: say what the learner will be able to do"
        ));
    }
    if def.steps.is_empty() {
        out.push(format!("{}:1:1: the lesson has no steps", path.display()));
    }
    let all_lab_dirs: BTreeSet<String> = def
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            ActionDef::MakeTree { dir, .. } => Some(dir.clone()),
            _ => None,
        })
        .collect();
    for (name, c) in &def.containers {
        let (at, _) = here(&format!("[containers.{name}]"), 0);
        if let Some(problem) = name_problem(name) {
            out.push(format!("{at}: container name `{name}`: {problem}"));
        }
        check_container(c, &at, &mut out);
        container_checks::check_runc(name, c, &def.requires.tools, &at, &mut out);
        container_checks::check_volumes(c, &at, &mut out);
        container_checks::check_share(Some(name), c, &def.containers, &at, &mut out);
        check_root(&c.root, &all_lab_dirs, &at, &mut out);
        if c.command.is_empty() && !c.init {
            out.push(format!("{at}: container `{name}` has no command; give one, or set init = true for a pause container"));
        }
    }

    let mut ids = BTreeSet::new();
    let mut decoys: BTreeSet<String> = BTreeSet::new();
    let mut decoy_names: BTreeSet<String> = BTreeSet::new();
    {
        let (path, text) = (path.clone(), text.to_string());
        REGEX_AT.with(|f| {
            *f.borrow_mut() = Some(Box::new(move |r: &str| {
                // As written in the file: TOML basic strings double each backslash.
                let escaped = r.replace('\\', "\\\\");
                [escaped.as_str(), r]
                    .iter()
                    .find_map(|n| text.find(n))
                    .map(|at| {
                        let (l, c) = line_col(&text, at);
                        format!("{}:{l}:{c}", path.display())
                    })
            }));
        });
    }
    let mut started: BTreeSet<String> = BTreeSet::new();
    let mut lab_dirs: BTreeSet<String> = BTreeSet::new();
    let mut cursor = 0;
    for step in &def.steps {
        // Point at `id = "…"` of this step (or, written differently, at the quoted id).
        let needle = format!("id = \"{}\"", step.id);
        let (at, pos) = if text[cursor.min(text.len())..].contains(&needle) {
            here(&needle, cursor)
        } else {
            here(&format!("\"{}\"", step.id), cursor)
        };
        cursor = pos + 1;
        if !ids.insert(step.id.clone()) {
            out.push(format!("{at}: step id `{}` is used twice", step.id));
        }
        // A step id names things the lab makes (an `exec`'s cgroup and overlay
        // directory), so it is a plain name: never `..` or a path.
        if let Some(problem) = name_problem(&step.id) {
            out.push(format!("{at}: step id `{}`: {problem}", step.id));
        }
        if step.title.trim().is_empty() {
            out.push(format!("{at}: step `{}` has an empty title", step.id));
        }
        if step.explain.trim().is_empty() {
            out.push(format!("{at}: step `{}` has an empty explain", step.id));
        }
        if step.hint.as_deref().is_some_and(|h| h.trim().is_empty()) {
            out.push(format!("{at}: step `{}` has an empty hint", step.id));
        }
        let check_ctx = |probe: &ProbeDef, started: &BTreeSet<String>, out: &mut Vec<String>| {
            let ok = probe.context == "host"
                || probe.context == "rootfs"
                || started.contains(&probe.context);
            if !ok {
                out.push(format!(
                    "{at}: probe `{}` runs in `{}`, which is neither host, rootfs, nor a container started by an earlier step",
                    probe.label, probe.context
                ));
            }
            if probe.command.is_empty() {
                out.push(format!(
                    "{at}: probe `{}` has an empty command",
                    probe.label
                ));
            }
            check_expect(probe.expect.as_ref(), &at, out);
            if probe.unprivileged && probe.context != "host" {
                out.push(format!(
                    "{at}: probe `{}` has unprivileged = true but runs in `{}`: only a host command runs as the unprivileged user, so set context = \"host\" or drop unprivileged",
                    probe.label, probe.context
                ));
            }
        };
        for p in &step.before {
            check_ctx(p, &started, &mut out);
        }
        match &step.action {
            ActionDef::Start { container } => {
                if !def.containers.contains_key(container) {
                    out.push(format!("{at}: `start` names container `{container}`, which [containers] does not define"));
                }
                if decoys.contains(container) {
                    out.push(format!(
                        "{at}: `{container}` is already a decoy's name; give the container another"
                    ));
                }
                if let Some(c) = def.containers.get(container) {
                    container_checks::check_share_started(c, &started, &at, &mut out);
                }
                if !started.insert(container.clone()) {
                    out.push(format!("{at}: container `{container}` is already running here; `stop` it before starting it again"));
                }
            }
            ActionDef::ExecIn {
                container,
                command,
                expect,
            } => {
                if !started.contains(container) {
                    out.push(format!(
                        "{at}: `exec_in` needs container `{container}` started by an earlier step"
                    ));
                }
                if command.is_empty() {
                    out.push(format!("{at}: `exec_in` has an empty command"));
                }
                check_expect(expect.as_ref(), &at, &mut out);
                check_no_settle(expect.as_ref(), &at, &mut out);
            }
            ActionDef::Decoy { name, .. } => {
                if let Some(problem) = name_problem(name) {
                    out.push(format!("{at}: decoy name `{name}`: {problem}"));
                }
                decoy_names.insert(name.clone());
                if started.contains(name) || !decoys.insert(name.clone()) {
                    out.push(format!(
                        "{at}: the name `{name}` is already taken by a running decoy or container"
                    ));
                }
            }
            ActionDef::Stop { name } => {
                if !started.remove(name) && !decoys.remove(name) {
                    out.push(format!(
                        "{at}: `stop` names `{name}`, which is not running at this point (never started, or stopped already)"
                    ));
                }
            }
            ActionDef::Signal { name, signal } => {
                if !started.contains(name) && !decoys.contains(name) {
                    out.push(format!(
                        "{at}: `signal` names `{name}`, which is not running at this point (never started, or stopped already)"
                    ));
                }
                if signal.parse::<nix::sys::signal::Signal>().is_err() {
                    out.push(format!(
                        "{at}: `{signal}` is not a signal name; write it as signal(7) does: SIGTERM, SIGKILL, SIGINT"
                    ));
                }
            }
            ActionDef::MakeTree { dir, copy } => {
                for f in copy {
                    if let Some(problem) = copy_path_problem(f) {
                        out.push(format!("{at}: make_tree copy `{f}`: {problem}"));
                    }
                }
                if Path::new(dir).is_absolute() || dir.contains("..") || dir.is_empty() {
                    out.push(format!(
                        "{at}: make_tree dir `{dir}` must be a plain relative name inside the lab"
                    ));
                }
                lab_dirs.insert(dir.clone());
            }
            ActionDef::Exec {
                expect, command, ..
            } => {
                if let Some(c) = step.action.exec_container() {
                    check_container(&c, &at, &mut out);
                    container_checks::check_volumes(&c, &at, &mut out);
                    container_checks::check_share(None, &c, &def.containers, &at, &mut out);
                    container_checks::check_share_started(&c, &started, &at, &mut out);
                    check_root(&c.root, &lab_dirs, &at, &mut out);
                }
                if command.is_empty() {
                    out.push(format!("{at}: `exec` has an empty command"));
                }
                check_expect(expect.as_ref(), &at, &mut out);
                check_no_settle(expect.as_ref(), &at, &mut out);
            }
            ActionDef::ElfNeeds { root, expect, .. } => {
                if root == "host" {
                    out.push(format!(
                        "{at}: elf_needs resolves inside a tree: root must be `rootfs` or `lab:DIR`"
                    ));
                }
                check_root(root, &lab_dirs, &at, &mut out);
                check_expect(expect.as_ref(), &at, &mut out);
                check_no_settle(expect.as_ref(), &at, &mut out);
            }
            ActionDef::Cgroup {
                name,
                memory_max,
                pids_max,
            } => {
                if let Some(problem) = name_problem(name) {
                    out.push(format!("{at}: cgroup name `{name}`: {problem}"));
                }
                if let Some(problem) =
                    crate::runtime::cgroup::limits_problem(memory_max.as_deref(), *pids_max)
                {
                    out.push(format!("{at}: cgroup `{name}`: {problem}"));
                }
            }
            ActionDef::BuildRootfs {} | ActionDef::Observe {} => {}
            ActionDef::Net { ops } => {
                net::check(ops, &started, &at, &mut out);
                net::check_own_netns(ops, &def.containers, &at, &mut out);
            }
        }
        for p in &step.after {
            check_ctx(p, &started, &mut out);
        }
        if let Some(ch) = &step.challenge {
            check_challenge(ch, &started, &at, &mut out);
        }
        // Templates must name things that exist by then.
        let known = Known {
            decoys: &decoy_names,
            containers: &def.containers.keys().cloned().collect(),
            cgroups: &cgroup_names(def),
            planted: &def
                .containers
                .iter()
                .filter(|(_, c)| !c.plant.is_empty())
                .map(|(n, _)| n.clone())
                .collect(),
        };
        let mut strings = step_strings(step);
        match &step.action {
            ActionDef::Start { container } => {
                strings.extend(
                    def.containers
                        .get(container)
                        .map(|c| c.command.clone())
                        .unwrap_or_default(),
                );
            }
            ActionDef::Decoy { command, .. } => strings.extend(command.iter().cloned()),
            _ => {}
        }
        for s in strings {
            for t in templates(&s) {
                if let Some(problem) = known.problem(&t) {
                    out.push(format!("{at}: {problem}"));
                }
            }
            if let Some(path) = path_out_of_template(&s) {
                out.push(format!("{at}: `{path}` leaves the lab: a lesson names paths inside the lab (`{{lab}}/…`) or the rootfs (`{{rootfs}}/…`), never `..` out of them"));
            }
        }
        if run_strings(step)
            .iter()
            .any(|s| templates(s).iter().any(|t| t == "unprivileged.setpriv"))
        {
            out.push(format!("{at}: template {{unprivileged.setpriv}} is for lines a learner reads or types (explain, equivalent, hints, solution), not for a command or check the lab runs: give the probe unprivileged = true instead"));
        }
    }
    REGEX_AT.with(|f| *f.borrow_mut() = None);
    out
}

/// The first `{lab}/…` or `{rootfs}/…` path in `s` that climbs out with a `..`
/// component (`{lab}/../..`, `{rootfs}/d/../../etc`), if any: the lab would act on a
/// host path the lesson cannot name directly.
#[must_use]
pub fn path_out_of_template(s: &str) -> Option<String> {
    static PATH: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
        Regex::new(r#"\{(?:lab|rootfs)\}[^\s'"`;|&<>(){}$]*"#).expect("static regex")
    });
    PATH.find_iter(s)
        .map(|m| m.as_str())
        .find(|p| p.split('/').any(|c| c == ".."))
        .map(str::to_string)
}

/// Why a `make_tree` copy path is refused, if it is: it must be a plain absolute host path
/// (no `..`, no `.`), so the copy lands at the same path inside the lab's tree and can
/// never name a file outside it (or the source file itself).
#[must_use]
pub fn copy_path_problem(f: &str) -> Option<&'static str> {
    let p = Path::new(f);
    if !p.is_absolute() {
        return Some("host files are named by absolute path");
    }
    if p.components().any(|c| {
        matches!(
            c,
            std::path::Component::ParentDir | std::path::Component::CurDir
        )
    }) || f.contains("/./")
    {
        return Some("`..` and `.` are not allowed: the copy must land inside the lab's tree");
    }
    if p.components().count() < 2 {
        return Some("name a file, not /");
    }
    None
}

/// The namespace names a challenge's `new_namespaces` may list (the files of
/// /proc/PID/ns, namespaces(7)).
pub const NAMESPACE_NAMES: &[&str] = &["pid", "mnt", "uts", "ipc", "net", "user", "cgroup"];

fn check_challenge(
    ch: &format::ChallengeDef,
    started: &BTreeSet<String>,
    at: &str,
    out: &mut Vec<String>,
) {
    if ch.goal.trim().is_empty() {
        out.push(format!(
            "{at}: the challenge's goal is empty: say what state to reach"
        ));
    }
    if !(ch.shell == "host" || ch.shell == "rootfs" || started.contains(&ch.shell)) {
        out.push(format!(
            "{at}: the challenge's shell opens in `{}`, which is neither host, rootfs, nor a container started by this or an earlier step",
            ch.shell
        ));
    }
    if ch.solution.iter().all(|l| l.trim().is_empty()) {
        out.push(format!("{at}: the challenge has no solution: give the lines a learner could type (`run` types them, to prove the checks can pass)"));
    }
    if ch.hints.iter().any(|h| h.trim().is_empty()) {
        out.push(format!("{at}: the challenge has an empty hint"));
    }
    if ch.as_learner && ch.shell != "host" {
        out.push(format!(
            "{at}: the challenge has as_learner = true but its shell opens in `{}`: only a host shell runs with the learner's own ids, so set shell = \"host\" or drop as_learner",
            ch.shell
        ));
    }
    if ch.verify.is_empty() {
        out.push(format!(
            "{at}: the challenge has no verify condition: say what state proves the goal"
        ));
    }
    if let Some(u) = &ch.as_user {
        if u.note.trim().is_empty() {
            out.push(format!("{at}: the challenge's as_user has an empty note: say why a user does it differently"));
        }
        if let Some(sh) = u
            .shell
            .as_ref()
            .filter(|s| !(*s == "host" || *s == "rootfs" || started.contains(*s)))
        {
            out.push(format!(
                "{at}: the challenge's as_user shell opens in `{sh}`, which is neither host, rootfs, nor a container started by this or an earlier step"
            ));
        }
        if u.solution
            .as_ref()
            .is_some_and(|s| s.iter().all(|l| l.trim().is_empty()))
        {
            out.push(format!("{at}: the challenge's as_user solution is empty: give the lines a user could type, or leave it out"));
        }
        if u.hints.iter().flatten().any(|h| h.trim().is_empty()) {
            out.push(format!("{at}: the challenge's as_user has an empty hint"));
        }
        if u.shell.is_none() && u.hints.is_none() && u.solution.is_none() {
            out.push(format!("{at}: the challenge's as_user changes nothing: give a shell, hints or a solution for a user"));
        }
    }
    for v in &ch.verify {
        if v.says.trim().is_empty() {
            out.push(format!("{at}: a verify condition has an empty `says`"));
        }
        match (&v.process, v.command.is_empty()) {
            (Some(_), false) => out.push(format!(
                "{at}: verify `{}` has both process and command; give one",
                v.says
            )),
            (None, true) => out.push(format!(
                "{at}: verify `{}` has neither process nor command; give one",
                v.says
            )),
            (None, false) => {
                if !(v.context == "host" || v.context == "rootfs" || started.contains(&v.context)) {
                    out.push(format!(
                        "{at}: verify `{}` runs in `{}`, which is neither host, rootfs, nor a running container",
                        v.says, v.context
                    ));
                }
                check_expect(v.expect.as_ref(), at, out);
                if v.expect.is_none() {
                    out.push(format!(
                        "{at}: verify `{}` has a command but no expect: say what its result must be",
                        v.says
                    ));
                }
            }
            (Some(m), true) => {
                if *m == format::ProcessMatch::default() {
                    out.push(format!(
                        "{at}: verify `{}` matches any process: give at least one property",
                        v.says
                    ));
                }
                for n in &m.new_namespaces {
                    if !NAMESPACE_NAMES.contains(&n.as_str()) {
                        out.push(format!(
                            "{at}: verify `{}`: `{n}` is not a namespace; use one of {}",
                            v.says,
                            NAMESPACE_NAMES.join(", ")
                        ));
                    }
                }
                if let Some(h) = &m.hostname
                    && let Some(why) = hostname_problem(h)
                {
                    out.push(format!("{at}: verify `{}`: hostname {h:?} {why}", v.says));
                }
                if let Some(t) = &m.same_namespaces_as {
                    let name = t
                        .strip_prefix("{container.")
                        .and_then(|r| r.strip_suffix('}'));
                    if !name.is_some_and(|n| started.contains(n)) {
                        out.push(format!(
                            "{at}: verify `{}`: same_namespaces_as is `{t}`; write `{{container.NAME}}`, naming a container running at this step",
                            v.says
                        ));
                    }
                }
                if m.host_uid.is_some() && m.host_uid_unprivileged {
                    out.push(format!(
                        "{at}: verify `{}` has both host_uid and host_uid_unprivileged; give one",
                        v.says
                    ));
                }
                container_checks::check_process_match(m, &v.says, started, at, out);
                if let Some(l) = &m.in_cgroup_with {
                    if l.pids_max.is_none() && l.memory_max.is_none() {
                        out.push(format!(
                            "{at}: verify `{}`: in_cgroup_with names no limit; give pids_max or memory_max",
                            v.says
                        ));
                    }
                    if let Some(problem) =
                        crate::runtime::cgroup::limits_problem(l.memory_max.as_deref(), l.pids_max)
                    {
                        out.push(format!("{at}: verify `{}`: {problem}", v.says));
                    }
                }
                for sig in &m.catches {
                    if crate::observe::process::signal_number(sig).is_none() {
                        out.push(format!(
                            "{at}: verify `{}`: `{sig}` is not a signal; write it as signal(7) names it, `SIGTERM`",
                            v.says
                        ));
                    }
                }
                for cap in &m.lacks_caps {
                    if let Err(e) = crate::runtime::security::parse_capability(cap) {
                        out.push(format!("{at}: verify `{}`: lacks_caps: {e}", v.says));
                    }
                }
                if let Some(mode) = &m.seccomp
                    && crate::observe::process::seccomp_mode_number(mode).is_none()
                {
                    out.push(format!(
                        "{at}: verify `{}`: seccomp is `{mode}`; write `disabled`, `strict` or `filter`, the modes of the Seccomp line in /proc/PID/status",
                        v.says
                    ));
                }
            }
        }
    }
}

/// The longest lesson id: `fromscratch list` pads ids to this width so the titles line
/// up in one column.
pub const MAX_ID_CHARS: usize = 25;

/// Why a container or decoy name is refused: names appear in templates
/// (`{container.NAME}`), prompts and file names, so they are letters, digits, `-` and
/// `_` only.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("a name cannot be empty");
    }
    (!name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    .then_some("use only letters, digits, `-` and `_`")
}

/// Why a `hostname` a process condition asks for could never be read back: the kernel
/// keeps at most 64 bytes (HOST_NAME_MAX, sethostname(2)), and `hostname(1)` cannot set
/// an empty name or one with whitespace.
fn hostname_problem(h: &str) -> Option<&'static str> {
    if h.is_empty() {
        Some("is empty")
    } else if h.len() > 64 {
        Some("is longer than 64 bytes, the most a hostname can be (HOST_NAME_MAX)")
    } else if h.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("holds whitespace or a control character")
    } else {
        None
    }
}

fn check_no_settle(e: Option<&ExpectDef>, at: &str, out: &mut Vec<String>) {
    if e.is_some_and(|e| e.settle_ms.is_some()) {
        out.push(format!("{at}: settle_ms retries a probe; an action runs once, so move the check to an after probe"));
    }
}

fn check_root(root: &str, lab_dirs: &BTreeSet<String>, at: &str, out: &mut Vec<String>) {
    match root {
        "rootfs" | "host" => {}
        r => match r.strip_prefix("lab:") {
            Some(d) if lab_dirs.contains(d) => {}
            Some(d) if Path::new(d).is_absolute() || d.split('/').any(|c| c == "..") => out.push(format!("{at}: root `lab:{d}` leaves the lab: name a directory a make_tree step made, without `/` in front or `..`")),
            Some(d) => out.push(format!("{at}: root `lab:{d}` names a directory no earlier make_tree step made")),
            None => out.push(format!("{at}: root `{r}` must be `rootfs`, `host` or `lab:DIR`; lesson files cannot name host paths")),
        },
    }
}

fn check_container(c: &ContainerDef, at: &str, out: &mut Vec<String>) {
    if c.overlay && c.root == "host" {
        out.push(format!("{at}: overlay needs a root to lay over: set root = \"rootfs\" or \"lab:DIR\", not \"host\""));
    }
    if let Some(cg) = &c.cgroup {
        if let Some(n) = &cg.name
            && let Some(problem) = name_problem(n)
        {
            out.push(format!("{at}: cgroup name `{n}`: {problem}"));
        }
        if let Some(problem) =
            crate::runtime::cgroup::limits_problem(cg.memory_max.as_deref(), cg.pids_max)
        {
            out.push(format!("{at}: cgroup: {problem}"));
        }
    }
    if c.hostname.is_some() && !c.uts {
        out.push(format!("{at}: hostname needs uts = true: sethostname outside a new UTS namespace would rename the host"));
    }
    if c.mount_proc && c.root == "host" {
        out.push(format!("{at}: mount_proc with root = \"host\" would hide the host's /proc for the process; use a rootfs"));
    }
    for cap in &c.cap_drop {
        if let Err(e) = crate::runtime::security::parse_capability(cap) {
            out.push(format!("{at}: cap_drop: {e}"));
        }
    }
    if let Err(e) = crate::runtime::security::compile_deny(&c.seccomp_deny) {
        out.push(format!("{at}: seccomp_deny: {e}"));
    }
    // The lab's init runs under the filter too: it forks the command, waits, forwards
    // signals and exits. Refusing one of those would kill the container at start.
    const INIT_NEEDS: [&str; 11] = [
        "clone",
        "clone3",
        "fork",
        "vfork",
        "wait4",
        "waitid",
        "rt_sigaction",
        "rt_sigprocmask",
        "kill",
        "exit",
        "exit_group",
    ];
    if c.init
        && let Some(call) = c
            .seccomp_deny
            .iter()
            .find(|s| INIT_NEEDS.contains(&s.as_str()))
    {
        out.push(format!(
            "{at}: seccomp_deny refuses `{call}`, which the lab's init needs (it forks the command, waits for it, forwards signals and exits under the same filter): drop `init = true` or that call"
        ));
    }
    if c.pivot_root && c.root == "host" {
        out.push(format!(
            "{at}: pivot_root with root = \"host\" has no new root to pivot into; use a rootfs"
        ));
    } else if c.pivot_root && !c.mount && !c.mount_proc {
        out.push(format!("{at}: pivot_root needs mount = true (or mount_proc = true): pivot_root(2) changes the root of a whole mount namespace, so it must be a new one of the container's"));
    }
}

fn check_expect(e: Option<&ExpectDef>, at: &str, out: &mut Vec<String>) {
    let Some(e) = e else { return };
    for r in e.matches.iter().chain(e.not_matches.iter()) {
        let plain = TEMPLATE.replace_all(r, "0");
        if let Err(err) = Regex::new(&plain) {
            let at = REGEX_AT
                .with(|f| f.borrow().as_ref().and_then(|f| f(r)))
                .unwrap_or_else(|| at.to_string());
            out.push(format!(
                "{at}: regex `{r}` does not compile: {}",
                err.to_string().lines().last().unwrap_or("")
            ));
        }
    }
    if e.exit.is_some() && e.fails {
        out.push(format!("{at}: expect has both exit and fails; keep one"));
    }
}

/// Finds where a text sits in the file being validated, as `file:line:column`.
type Locator = Box<dyn Fn(&str) -> Option<String>>;

thread_local! {
    /// While `validate` runs: where a regex's text sits in the file, so a bad regex is
    /// reported at its own line rather than at its step's.
    static REGEX_AT: std::cell::RefCell<Option<Locator>> = const { std::cell::RefCell::new(None) };
}

struct Known<'a> {
    decoys: &'a BTreeSet<String>,
    containers: &'a BTreeSet<String>,
    cgroups: &'a BTreeSet<String>,
    planted: &'a BTreeSet<String>,
}

/// Every cgroup name the lesson makes: each container's and `exec`'s `cgroup` (its
/// `name`, else the container's name or the step's id) and each `cgroup` action's.
fn cgroup_names(def: &format::LessonFile) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = def
        .containers
        .iter()
        .filter_map(|(n, c)| {
            c.cgroup
                .as_ref()
                .map(|g| g.name.clone().unwrap_or_else(|| n.clone()))
        })
        .collect();
    for s in &def.steps {
        match &s.action {
            ActionDef::Cgroup { name, .. } => {
                out.insert(name.clone());
            }
            ActionDef::Exec {
                cgroup: Some(g), ..
            } => {
                out.insert(g.name.clone().unwrap_or_else(|| s.id.clone()));
            }
            _ => {}
        }
    }
    out
}

impl Known<'_> {
    fn problem(&self, t: &str) -> Option<String> {
        if let Some(n) = t.strip_prefix("decoy.") {
            return (!self.decoys.contains(n)).then(|| {
                format!("template {{{t}}} names decoy `{n}`, which no earlier step starts")
            });
        }
        if let Some(n) = t.strip_prefix("cgroup.") {
            let n = n
                .strip_suffix(".memory")
                .or_else(|| n.strip_suffix(".pids"))
                .unwrap_or(n);
            return (!self.cgroups.contains(n)).then(|| {
                format!("template {{{t}}} names cgroup `{n}`, which no container, exec or cgroup action of the lesson makes")
            });
        }
        if let Some(n) = t.strip_prefix("fault.") {
            return (!self.planted.contains(n)).then(|| {
                format!("template {{{t}}} names container `{n}`, which plants no fault: give it runtime = \"runc\" and plant = [...]")
            });
        }
        if let Some(n) = t.strip_prefix("container.") {
            return (!self.containers.contains(n)).then(|| {
                format!(
                    "template {{{t}}} names container `{n}`, which [containers] does not define"
                )
            });
        }
        None
    }
}

static TEMPLATE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
    Regex::new(r"\{(rootfs|lab|fromscratch|decoy\.[A-Za-z0-9_-]+|container\.[A-Za-z0-9_-]+|fault\.[A-Za-z0-9_-]+|cgroup\.[A-Za-z0-9_-]+(?:\.memory|\.pids)?|unprivileged\.(?:uid|gid|setpriv))\}")
        .expect("static regex")
});

/// The templates (`rootfs`, `lab`, `fromscratch`, `decoy.NAME`, `container.NAME`, `fault.NAME`, `cgroup.NAME`,
/// `cgroup.NAME.memory`, `cgroup.NAME.pids`, `unprivileged.uid`, `unprivileged.gid`,
/// `unprivileged.setpriv`) used in `s`.
#[must_use]
pub fn templates(s: &str) -> Vec<String> {
    TEMPLATE
        .captures_iter(s)
        .map(|c| c[1].to_string())
        .collect()
}

/// Replace every template in `s` with `resolve(name)`; unknown ones are left as written.
#[must_use]
pub fn expand(s: &str, resolve: &dyn Fn(&str) -> Option<String>) -> String {
    TEMPLATE
        .replace_all(s, |c: &regex::Captures<'_>| {
            resolve(&c[1]).unwrap_or_else(|| c[0].to_string())
        })
        .into_owned()
}

/// The strings of `step` the lab runs or checks itself (probe, action and verify
/// commands and their expectations), not those a learner reads or types.
fn run_strings(step: &StepDef) -> Vec<String> {
    let mut v = step_strings(step);
    if let Some(ch) = &step.challenge {
        let text: Vec<&String> = std::iter::once(&ch.goal)
            .chain(&ch.hints)
            .chain(&ch.solution)
            .collect();
        v.retain(|s| !text.contains(&s));
    }
    v
}

fn step_strings(step: &StepDef) -> Vec<String> {
    let mut v = Vec::new();
    let push_expect = |e: Option<&ExpectDef>, v: &mut Vec<String>| {
        if let Some(e) = e {
            v.extend(
                e.contains
                    .iter()
                    .chain(&e.not_contains)
                    .chain(&e.matches)
                    .chain(&e.not_matches)
                    .cloned(),
            );
        }
    };
    for p in step.before.iter().chain(&step.after) {
        v.extend(p.command.iter().cloned());
        push_expect(p.expect.as_ref(), &mut v);
    }
    match &step.action {
        ActionDef::Exec {
            command, expect, ..
        }
        | ActionDef::ExecIn {
            command, expect, ..
        } => {
            v.extend(command.iter().cloned());
            push_expect(expect.as_ref(), &mut v);
        }
        ActionDef::ElfNeeds { expect, .. } => push_expect(expect.as_ref(), &mut v),
        _ => {}
    }
    if let Some(ch) = &step.challenge {
        v.push(ch.goal.clone());
        v.extend(ch.hints.iter().cloned());
        v.extend(ch.solution.iter().cloned());
        if let Some(u) = &ch.as_user {
            v.push(u.note.clone());
            v.extend(u.hints.iter().flatten().cloned());
            v.extend(u.solution.iter().flatten().cloned());
        }
        for c in &ch.verify {
            v.extend(c.command.iter().cloned());
            push_expect(c.expect.as_ref(), &mut v);
            if let Some(r) = c.process.as_ref().and_then(|m| m.root.clone()) {
                v.push(r);
            }
        }
    }
    v
}

/// Every lesson file in `dir`, sorted by name.
///
/// # Errors
/// The directory cannot be read.
pub fn lesson_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    Ok(v)
}

/// Find a lesson by id (`02-chroot`), by number (`2`, `02`), or by path.
///
/// # Errors
/// [`LessonError::NotFound`] listing what exists; or a load error.
pub fn find(name: &str) -> Result<Lesson, LessonError> {
    let p = Path::new(name);
    if p.extension().is_some_and(|e| e == "toml") && p.exists() {
        return load(p);
    }
    let dir = crate::paths::lessons_dir();
    let files = lesson_files(&dir).unwrap_or_default();
    let stem = |f: &PathBuf| {
        f.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("")
            .to_string()
    };
    let wanted_num = name.parse::<u32>().ok();
    for f in &files {
        let s = stem(f);
        let num = s.split('-').next().and_then(|n| n.parse::<u32>().ok());
        if s == name
            || (wanted_num.is_some() && num == wanted_num)
            || s.split_once('-').is_some_and(|(_, rest)| rest == name)
        {
            return load(f);
        }
    }
    Err(LessonError::NotFound {
        name: name.to_string(),
        available: files.iter().map(stem).collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
format_version = 1
id = "t"
title = "T"
summary = "S"
objectives = ["o"]

[containers.c1]
pid = true
mount_proc = true
init = true

[[steps]]
id = "a"
title = "A"
explain = "E"
action = { kind = "decoy", name = "victim" }

[[steps]]
id = "b"
title = "B"
explain = "E"
action = { kind = "start", container = "c1" }
[[steps.after]]
label = "ps"
context = "c1"
command = ["ps", "-p", "{decoy.victim}"]
expect = { fails = true }
"#;

    #[test]
    fn a_good_lesson_loads() {
        let l = parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(l.def.steps.len(), 2);
        assert_eq!(l.def.steps[1].action.kind(), "start");
    }

    #[test]
    fn a_misspelled_key_names_line_and_column() {
        let bad = GOOD.replace(
            "explain = \"E\"\naction = { kind = \"decoy\"",
            "explian = \"E\"\naction = { kind = \"decoy\"",
        );
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        let line = bad.lines().position(|l| l.starts_with("explian")).unwrap() + 1;
        assert!(
            err.starts_with(&format!("t.toml:{line}:1: unknown field `explian`")),
            "{err}"
        );
    }

    #[test]
    fn a_wrong_type_names_its_position() {
        let bad = GOOD.replace("pid = true", "pid = \"yes\"");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        let line = bad
            .lines()
            .position(|l| l.starts_with("pid = \"yes\""))
            .unwrap()
            + 1;
        assert!(err.starts_with(&format!("t.toml:{line}:7:")), "{err}");
        assert!(err.contains("invalid type"), "{err}");
    }

    #[test]
    fn unknown_context_and_template_are_reported() {
        let bad = GOOD
            .replace("context = \"c1\"", "context = \"c9\"")
            .replace("{decoy.victim}", "{decoy.nobody}");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("runs in `c9`"), "{err}");
        assert!(err.contains("{decoy.nobody}"), "{err}");
    }

    #[test]
    fn a_wrong_format_version_is_refused() {
        let bad = GOOD.replace("format_version = 1", "format_version = 7");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("t.toml:2:1: format_version is 7"), "{err}");
    }

    #[test]
    fn an_overlay_over_the_host_root_is_refused() {
        let bad = GOOD.replace(
            "init = true",
            "init = true\nroot = \"host\"\noverlay = true",
        );
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("overlay needs a root to lay over"), "{err}");
        let good = GOOD.replace("init = true", "init = true\noverlay = true");
        assert!(parse(&good, Path::new("t.toml")).is_ok());
    }

    #[test]
    fn pivot_root_without_a_mount_namespace_or_a_root_is_refused() {
        let bad = GOOD.replace(
            "mount_proc = true\ninit = true",
            "init = true\npivot_root = true",
        );
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("t.toml:8:1: pivot_root needs mount = true (or mount_proc = true): pivot_root(2) changes the root of a whole mount namespace, so it must be a new one of the container's"),
            "{err}"
        );
        let ok = GOOD.replace("init = true", "init = true\npivot_root = true");
        assert!(parse(&ok, Path::new("t.toml")).is_ok());
        let host = GOOD.replace(
            "mount_proc = true\ninit = true",
            "mount = true\ninit = true\npivot_root = true\nroot = \"host\"",
        );
        let err = parse(&host, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains(
                "pivot_root with root = \"host\" has no new root to pivot into; use a rootfs"
            ),
            "{err}"
        );
    }

    #[test]
    fn cgroup_limits_names_and_templates_are_checked() {
        let good = GOOD.replace(
            "init = true",
            "init = true\ncgroup = { memory_max = \"32M\", pids_max = 20 }",
        ) + "[[steps]]\nid = \"cg\"\ntitle = \"C\"\nexplain = \"E\"\naction = { kind = \"cgroup\", name = \"yours\" }\n[[steps.after]]\nlabel = \"m\"\ncommand = [\"cat\", \"{cgroup.c1.memory}/x\", \"{cgroup.yours}\"]\n";
        assert!(parse(&good, Path::new("t.toml")).is_ok());
        for (from, to, why) in [
            ("\"32M\"", "\"32MB\"", "memory_max `32MB` is not a size"),
            ("\"32M\"", "\"100K\"", "memory_max `100K` is below 1M"),
            (
                "pids_max = 20",
                "pids_max = 0",
                "pids_max 0 is out of range: give a number of processes from 1 to 4194304",
            ),
            (
                "{cgroup.yours}",
                "{cgroup.theirs}",
                "template {cgroup.theirs} names cgroup `theirs`, which no container, exec or cgroup action of the lesson makes",
            ),
            (
                "name = \"yours\"",
                "name = \"your s\"",
                "cgroup name `your s`: use only letters",
            ),
        ] {
            let err = parse(&good.replace(from, to), Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.lines().any(|l| l.contains(why)), "{err}");
        }
    }

    #[test]
    fn a_step_id_that_is_a_path_is_refused() {
        for bad_id in ["..", "../x", "a/b", "a b"] {
            let bad = GOOD.replacen("id = \"a\"", &format!("id = \"{bad_id}\""), 1);
            assert_ne!(bad, GOOD, "the fixture has no step a");
            let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
            assert!(
                err.contains(&format!(
                    "step id `{bad_id}`: use only letters, digits, `-` and `_`"
                )),
                "{err}"
            );
        }
    }

    #[test]
    fn a_seccomp_filter_that_would_stop_the_init_is_refused() {
        let bad = GOOD.replace("init = true", "init = true\nseccomp_deny = [\"wait4\"]");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("seccomp_deny refuses `wait4`, which the lab's init needs"),
            "{err}"
        );
        let ok = GOOD.replace(
            "init = true",
            "init = true\nseccomp_deny = [\"sethostname\"]",
        );
        assert!(parse(&ok, Path::new("t.toml")).is_ok());
    }

    #[test]
    fn unprivileged_probes_shells_and_templates_are_checked() {
        let step = |probe: &str, challenge: &str| {
            format!(
                "{GOOD}\n[[steps]]\nid = \"u\"\ntitle = \"U\"\nexplain = \"as {{unprivileged.uid}}\"\nequivalent = \"{{unprivileged.setpriv}}unshare --uts true\"\naction = {{ kind = \"observe\" }}\n[[steps.after]]\nlabel = \"id\"\n{probe}\nexpect = {{ matches = ['^{{unprivileged.uid}}$'] }}\n[steps.challenge]\ngoal = \"G\"\n{challenge}\nsolution = [\"{{unprivileged.setpriv}}unshare --user /bin/sh\"]\n[[steps.challenge.verify]]\nsays = \"nobody\"\nprocess = {{ host_uid_unprivileged = true, uid_in_ns = 0 }}\n"
            )
        };
        let good = step(
            "command = [\"id\", \"-u\"]\nunprivileged = true",
            "as_learner = true",
        );
        let l = parse(&good, Path::new("t.toml")).unwrap();
        let s = l.def.steps.last().unwrap();
        assert!(s.after[0].unprivileged);
        assert!(s.challenge.as_ref().unwrap().as_learner);
        assert_eq!(
            templates("{unprivileged.setpriv}id -u {unprivileged.gid}"),
            vec!["unprivileged.setpriv", "unprivileged.gid"]
        );
        let refused = |text: &str, says: &str| {
            let err = parse(text, Path::new("t.toml")).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
            assert_eq!(err.matches("t.toml:").count(), 1, "one problem: {err}");
        };
        refused(
            &step(
                "context = \"c1\"\ncommand = [\"id\", \"-u\"]\nunprivileged = true",
                "as_learner = true",
            ),
            "probe `id` has unprivileged = true but runs in `c1`: only a host command runs as the unprivileged user",
        );
        refused(
            &step(
                "command = [\"sh\", \"-c\", \"{unprivileged.setpriv}id -u\"]",
                "",
            ),
            "template {unprivileged.setpriv} is for lines a learner reads or types",
        );
        refused(
            &step(
                "command = [\"id\", \"-u\"]\nunprivileged = true",
                "shell = \"rootfs\"\nas_learner = true",
            ),
            "the challenge has as_learner = true but its shell opens in `rootfs`",
        );
        refused(
            &good.replace(
                "host_uid_unprivileged = true,",
                "host_uid_unprivileged = true, host_uid = 65534,",
            ),
            "verify `nobody` has both host_uid and host_uid_unprivileged; give one",
        );
    }

    #[test]
    fn hostname_without_uts_is_refused() {
        let bad = GOOD.replace("init = true", "init = true\nhostname = \"lab\"");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("hostname needs uts = true"), "{err}");
    }

    #[test]
    fn a_process_hostname_must_be_one_the_kernel_could_hold() {
        let challenge = |h: &str| {
            format!(
                "{GOOD}\n[[steps]]\nid = \"ch\"\ntitle = \"C\"\nexplain = \"E\"\naction = {{ kind = \"observe\" }}\n[steps.challenge]\ngoal = \"G\"\nsolution = [\"true\"]\n[[steps.challenge.verify]]\nsays = \"named\"\nprocess = {{ hostname = \"{h}\" }}\n"
            )
        };
        assert!(parse(&challenge("lab"), Path::new("t.toml")).is_ok());
        for (h, why) in [
            ("", "is empty"),
            (&"x".repeat(65), "longer than 64 bytes"),
            ("my lab", "whitespace"),
        ] {
            let err = parse(&challenge(h), Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("verify `named`: hostname"), "{err}");
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn host_paths_cannot_be_roots() {
        let bad = GOOD.replace(
            "action = { kind = \"decoy\", name = \"victim\" }",
            "action = { kind = \"exec\", root = \"/etc\", command = [\"ls\"] }\n[[steps.before]]\nlabel=\"x\"\ncommand=[\"true\"]\n",
        );
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("lesson files cannot name host paths"), "{err}");
    }

    #[test]
    fn starting_twice_clashing_names_and_settle_on_actions_are_refused() {
        let twice = GOOD.replace(
            "expect = { fails = true }\n",
            "expect = { fails = true }\n\n[[steps]]\nid = \"c\"\ntitle = \"C\"\nexplain = \"E\"\naction = { kind = \"start\", container = \"c1\" }\n",
        );
        let err = parse(&twice, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("container `c1` is already running here"),
            "{err}"
        );
        let settle = GOOD.replace(
            "action = { kind = \"decoy\", name = \"victim\" }",
            "action = { kind = \"exec\", command = [\"true\"], expect = { settle_ms = 10 } }",
        );
        let err = parse(&settle, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("settle_ms retries a probe"), "{err}");
        // The problem is reported at the step's own `id = "a"` line.
        assert!(err.starts_with("t.toml:14:1:"), "{err}");
    }

    #[test]
    fn same_namespaces_as_and_catches_are_checked() {
        let challenge = |process: &str| {
            GOOD.replace(
                "expect = { fails = true }\n",
                &format!(
                    "expect = {{ fails = true }}\n[steps.challenge]\ngoal = \"g\"\nsolution = [\"true\"]\n[[steps.challenge.verify]]\nsays = \"s\"\nprocess = {process}\n"
                ),
            )
        };
        let good = challenge(r#"{ same_namespaces_as = "{container.c1}", catches = ["SIGTERM"] }"#);
        assert!(parse(&good, Path::new("t.toml")).is_ok(), "{good}");
        let bad = challenge(r#"{ same_namespaces_as = "4711", catches = ["TERM"] }"#);
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("same_namespaces_as is `4711`; write `{container.NAME}`"),
            "{err}"
        );
        assert!(err.contains("`TERM` is not a signal"), "{err}");
        let unknown = challenge(r#"{ same_namespaces_as = "{container.c9}" }"#);
        let err = parse(&unknown, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("same_namespaces_as is `{container.c9}`"),
            "{err}"
        );
    }

    #[test]
    fn an_id_wider_than_the_list_column_is_refused() {
        let long = GOOD.replace("id = \"t\"", "id = \"15-capabilities-and-seccomp\"");
        let err = parse(&long, Path::new("x.txt")).unwrap_err().to_string();
        assert!(
            err.contains("id `15-capabilities-and-seccomp` is 27 characters; keep it to 25, the width of the id column of `fromscratch list`"),
            "{err}"
        );
    }

    #[test]
    fn capability_syscall_and_seccomp_mode_names_are_checked() {
        let with = |fields: &str| {
            GOOD.replace(
                "[containers.c1]\npid = true\n",
                &format!("[containers.c1]\npid = true\n{fields}\n"),
            )
        };
        let good = with(
            r#"cap_drop = ["CAP_SYS_ADMIN"]
no_new_privs = true
seccomp_deny = ["sethostname", "mkdirat"]"#,
        );
        assert!(parse(&good, Path::new("t.toml")).is_ok(), "{good}");
        let bad = with(r#"cap_drop = ["sys_admin"]"#);
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("cap_drop: `sys_admin` is not a capability: write it as capabilities(7) names it, in capitals with its prefix, like `CAP_SYS_ADMIN`"),
            "{err}"
        );
        if std::env::consts::ARCH == "x86_64" {
            let bad = with(r#"seccomp_deny = ["sethostnam"]"#);
            let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
            assert!(
                err.contains("seccomp_deny: `sethostnam` is not a system call on x86_64: write the name syscalls(2) lists, like `sethostname` or `mkdirat`"),
                "{err}"
            );
        }
        let bad = with(r#"seccomp_deny = ["execve"]"#);
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("denying `execve` would stop"), "{err}");
        // The same rules on `exec`, which mirrors a container.
        let bad = GOOD.replace(
            "action = { kind = \"decoy\", name = \"victim\" }",
            "action = { kind = \"exec\", command = [\"true\"], cap_drop = [\"CAP_NOPE\"] }",
        );
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(err.contains("`CAP_NOPE` is not a capability"), "{err}");
        // Process conditions.
        let challenge = |process: &str| {
            GOOD.replace(
                "expect = { fails = true }\n",
                &format!(
                    "expect = {{ fails = true }}\n[steps.challenge]\ngoal = \"g\"\nsolution = [\"true\"]\n[[steps.challenge.verify]]\nsays = \"s\"\nprocess = {process}\n"
                ),
            )
        };
        let good = challenge(
            r#"{ lacks_caps = ["CAP_SYS_ADMIN"], no_new_privs = true, seccomp = "filter" }"#,
        );
        assert!(parse(&good, Path::new("t.toml")).is_ok(), "{good}");
        let bad = challenge(r#"{ lacks_caps = ["SYS_ADMIN"], seccomp = "2" }"#);
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains("lacks_caps: `SYS_ADMIN` is not a capability"),
            "{err}"
        );
        assert!(
            err.contains("seccomp is `2`; write `disabled`, `strict` or `filter`"),
            "{err}"
        );
    }

    #[test]
    fn a_challenge_s_as_user_is_checked_and_replaces_the_root_way_for_a_user() {
        let with = |as_user: &str| {
            format!(
                "{GOOD}\n[[steps]]\nid = \"ch\"\ntitle = \"C\"\nexplain = \"E\"\naction = {{ kind = \"observe\" }}\n[steps.challenge]\ngoal = \"G\"\nshell = \"rootfs\"\nsolution = [\"mount -t proc proc /proc\"]\n[[steps.challenge.verify]]\nsays = \"s\"\nprocess = {{ proc_mounted = true }}\n[steps.challenge.as_user]\n{as_user}\n"
            )
        };
        let good = with(
            "note = \"no new procfs\"\nshell = \"host\"\nsolution = [\"mount --rbind /proc {rootfs}/proc\"]",
        );
        let lesson = parse(&good, Path::new("t.toml")).expect("valid");
        let ch = lesson.def.steps.last().unwrap().challenge.clone().unwrap();
        if nix::unistd::geteuid().is_root() {
            assert_eq!(ch.shell, "rootfs");
            assert_eq!(ch.solution, ["mount -t proc proc /proc"]);
        }
        let user = ch.clone().for_user();
        assert_eq!(user.shell, "host");
        assert_eq!(user.solution, ["mount --rbind /proc {rootfs}/proc"]);
        assert!(
            user.goal.ends_with("As a user: no new procfs"),
            "{}",
            user.goal
        );
        for (bad, says) in [
            (
                "note = \" \"\nshell = \"host\"",
                "as_user has an empty note",
            ),
            ("note = \"n\"", "as_user changes nothing"),
            (
                "note = \"n\"\nshell = \"box\"",
                "as_user shell opens in `box`",
            ),
            (
                "note = \"n\"\nsolution = [\" \"]",
                "as_user solution is empty",
            ),
            ("note = \"n\"\nhints = [\"\"]", "as_user has an empty hint"),
        ] {
            let err = parse(&with(bad), Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn root_because_is_refused_on_a_lesson_that_runs_without_root() {
        let ok = format!("{GOOD}\n[requires]\nroot = true\nroot_because = \"cgroups\"\n");
        let lesson = parse(&ok, Path::new("t.toml")).expect("valid");
        assert_eq!(lesson.def.requires.root_because.as_deref(), Some("cgroups"));
        let bad = format!("{GOOD}\n[requires]\nroot = false\nroot_because = \"cgroups\"\n");
        let err = parse(&bad, Path::new("t.toml")).unwrap_err().to_string();
        assert!(
            err.contains(
                "root_because is given, but root = false says the lesson runs without root"
            ),
            "{err}"
        );
    }

    #[test]
    fn templates_expand_and_leave_shell_braces_alone() {
        let s = "kill {decoy.v} ${HOME} {rootfs}/x";
        let out = expand(s, &|t| match t {
            "decoy.v" => Some("42".into()),
            "rootfs" => Some("/r".into()),
            _ => None,
        });
        assert_eq!(out, "kill 42 ${HOME} /r/x");
    }
}
