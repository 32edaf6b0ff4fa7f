//! `run LESSON --export md FILE.md`: the lesson as it ran, in Markdown.
//!
//! The input is the plain text the terminal got (colour codes removed). The runner prints
//! each step under a `━━ Step N/M · title ━━` line, then its explanation and `by hand:`
//! line, then its output from the first `── … ──` heading on; that is how it is cut up.

use std::sync::LazyLock;

use regex::Regex;

/// Colour and other CSI escapes.
static ANSI: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\x1b\[[0-9;?]*[ -/]*[@-~]").expect("a valid regex"));
/// The prompt a pausing `run` shows before each step (no newline follows it).
static PROMPT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[Enter\] run step \d+ · \[q\] quit > ").expect("a valid regex"));
/// A step heading line.
static STEP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^━━ (Step \d+/\d+) · (.*) ━━$").expect("a valid regex"));

/// One step as the terminal showed it (colour codes removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `Step 2/5`.
    pub number: String,
    /// The step's title.
    pub title: String,
    /// The lines between the heading and the output: the explanation (and, for a
    /// challenge, its goal), trimmed.
    pub explain: Vec<String>,
    /// The `by hand:` command, without its `$ `.
    pub by_hand: Option<String>,
    /// The output, from the first `── … ──` heading on, each line's end trimmed.
    pub output: Vec<String>,
}

/// A `run` transcript cut into its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The lines before step 1 (the lesson's title and summary, the rootfs line).
    pub preamble: Vec<String>,
    /// The steps, in the order they ran.
    pub steps: Vec<Step>,
    /// The lesson's verdict after the last step: `02-chroot: every check held`.
    pub verdict: Option<String>,
}

/// `text` without colour and other CSI escapes.
#[must_use]
pub fn strip_ansi(text: &str) -> String {
    ANSI.replace_all(text, "").into_owned()
}

/// Cut the plain text `run` printed for lesson `id` into its steps (colour codes and
/// pause prompts removed first).
#[must_use]
pub fn parse(id: &str, transcript: &str) -> Transcript {
    let plain = strip_ansi(transcript);
    let plain = PROMPT.replace_all(&plain, "\n");
    let mut lines: Vec<&str> = plain.lines().collect();
    // The verdict after the last step is the lesson's, not the step's.
    let verdict = lines.iter().rposition(|l| {
        let l = l.trim();
        let l = l.trim_start_matches(['✓', '✗', ' ']);
        l.starts_with(&format!("{id}: "))
            && (l.ends_with("every check held") || l.ends_with("had a failed check"))
    });
    let verdict = verdict.map(|at| {
        lines.split_off(at)[0]
            .trim()
            .trim_start_matches(['✓', '✗', ' '])
            .to_string()
    });

    let mut preamble = Vec::new();
    let mut steps: Vec<Step> = Vec::new();
    for line in lines {
        if let Some(c) = STEP.captures(line.trim()) {
            steps.push(Step {
                number: c[1].to_string(),
                title: c[2].to_string(),
                explain: Vec::new(),
                by_hand: None,
                output: Vec::new(),
            });
            continue;
        }
        let Some(step) = steps.last_mut() else {
            preamble.push(line.trim_end().to_string());
            continue;
        };
        if step.output.is_empty() && !line.trim_start().starts_with("── ") {
            match line.trim().strip_prefix("by hand:") {
                Some(cmd) => {
                    let cmd = cmd.trim();
                    step.by_hand = Some(cmd.strip_prefix("$ ").unwrap_or(cmd).to_string());
                }
                None => step.explain.push(line.trim().to_string()),
            }
        } else {
            step.output.push(line.trim_end().to_string());
        }
    }
    Transcript {
        preamble,
        steps,
        verdict,
    }
}

/// The Markdown for lesson `id`, `title` and `summary`, from the run's `transcript`.
#[must_use]
pub fn markdown(id: &str, title: &str, summary: &str, transcript: &str) -> String {
    let Transcript { steps, verdict, .. } = parse(id, transcript);
    let mut md = format!("# {id} — {title}\n\n{}\n", prose(summary));
    for s in &steps {
        md.push_str(&format!("\n## {} · {}\n\n", s.number, s.title));
        let explain = prose(&s.explain.join("\n"));
        if !explain.is_empty() {
            md.push_str(&explain);
            md.push('\n');
        }
        if let Some(cmd) = &s.by_hand {
            md.push('\n');
            md.push_str(&fenced("sh", cmd));
        }
        let output = s.output.join("\n");
        let output = output.trim_matches('\n');
        if !output.is_empty() {
            md.push('\n');
            md.push_str(&fenced("text", output));
        }
    }
    if let Some(v) = verdict {
        md.push_str(&format!("\n**{v}**\n"));
    }
    md
}

/// Hard-wrapped text as Markdown paragraphs: lines joined, blank lines kept as breaks.
#[must_use]
pub fn prose(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A fenced block whose fence is longer than any run of backticks inside.
#[must_use]
pub fn fenced(lang: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{body}\n{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::markdown;

    #[test]
    fn steps_are_cut_at_their_headings() {
        let t = "\x1b[1m02 — t\x1b[0m\n  sum\n\n━━ Step 1/1 · One ━━\n  Explain\n  this.\n  by hand: $ chroot R ls\n[Enter] run step 1 · [q] quit > ── action: exec ──\nout ```\n\n02: every check held\n";
        let md = markdown("02", "t", "sum", t);
        assert!(md.starts_with("# 02 — t\n\nsum\n"), "{md}");
        assert!(md.contains("## Step 1/1 · One\n\nExplain this.\n"), "{md}");
        assert!(md.contains("```sh\nchroot R ls\n```\n"), "{md}");
        assert!(
            md.contains("````text\n── action: exec ──\nout ```\n````\n"),
            "{md}"
        );
        assert!(md.ends_with("**02: every check held**\n"), "{md}");
    }
}
