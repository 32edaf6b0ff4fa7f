//! `book/notes/NN-id.md`: hand-written prose placed into a generated chapter.
//!
//! The format (markers alone on their line, exactly as written here):
//!
//! ```text
//! <!-- intro -->
//! prose after the chapter's summary, objectives and requirements, before step 1
//! <!-- step STEP-ID -->
//! prose after that step's output and its "why"
//! <!-- end -->
//! prose at the end of the chapter
//! ```
//!
//! Each marker at most once, `step` markers in the lesson's step order, nothing but
//! blank lines before the first marker. Headings inside notes use `###` or deeper: the
//! chapter is `#`, its steps `##`.

use std::collections::BTreeMap;

/// The notes for one lesson, by place; each text trimmed of blank lines around it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    /// After the requirements, before step 1.
    pub intro: Option<String>,
    /// After a step's output and why, by step id.
    pub steps: BTreeMap<String, String>,
    /// At the end of the chapter.
    pub end: Option<String>,
}

/// A malformed notes file: the 1-based line and what is wrong (the caller adds the file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct NotesError {
    /// 1-based line number.
    pub line: usize,
    /// One sentence: what is wrong and how to fix it.
    pub message: String,
}

enum Place {
    Intro,
    Step(String),
    End,
}

/// Parse `text`, the notes of a lesson whose step ids are `step_ids` (in order).
///
/// # Errors
/// Text before the first marker, an unknown step id, a marker given twice, `step`
/// markers out of the lesson's order, or a `#` or `##` heading (outside code blocks),
/// each with its line.
pub fn parse(text: &str, step_ids: &[&str]) -> Result<Notes, NotesError> {
    let mut notes = Notes::default();
    let mut place: Option<Place> = None;
    let mut body: Vec<&str> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_step: Option<usize> = None;
    let mut fence: Option<String> = None;
    let err = |line: usize, message: String| NotesError { line, message };

    let flush = |place: &Option<Place>, body: &mut Vec<&str>, notes: &mut Notes| {
        let text = body.join("\n").trim_matches('\n').trim_end().to_string();
        body.clear();
        let text = (!text.trim().is_empty()).then_some(text);
        match (place, text) {
            (Some(Place::Intro), t) => notes.intro = t,
            (Some(Place::End), t) => notes.end = t,
            (Some(Place::Step(id)), Some(t)) => {
                notes.steps.insert(id.clone(), t);
            }
            _ => {}
        }
    };

    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let trimmed = line.trim();
        // Fenced code: markers and headings inside are text.
        if let Some(f) = &fence {
            if trimmed.starts_with(f.as_str()) && trimmed.trim_start_matches('`').is_empty() {
                fence = None;
            }
            if place.is_some() {
                body.push(line);
            }
            continue;
        }
        if let Some(inner) = trimmed
            .strip_prefix("<!--")
            .and_then(|r| r.strip_suffix("-->"))
            .map(str::trim)
        {
            let marker = match inner.split_whitespace().collect::<Vec<_>>().as_slice() {
                ["intro"] => Some(Place::Intro),
                ["end"] => Some(Place::End),
                ["step", id] => Some(Place::Step((*id).to_string())),
                _ => None,
            };
            if let Some(m) = marker {
                let key = match &m {
                    Place::Intro => "intro".to_string(),
                    Place::End => "end".to_string(),
                    Place::Step(id) => format!("step {id}"),
                };
                if let Place::Step(id) = &m {
                    let Some(at) = step_ids.iter().position(|s| s == id) else {
                        return Err(err(
                            n,
                            format!(
                                "no step has the id `{id}` (the lesson's steps: {}); use one of them",
                                step_ids.join(", ")
                            ),
                        ));
                    };
                    if let Some(prev) = last_step
                        && at < prev
                        && !seen.contains_key(&key)
                    {
                        return Err(err(
                            n,
                            format!(
                                "`step {id}` comes after `step {}`, but the lesson runs it before: put the step markers in the lesson's order",
                                step_ids[prev]
                            ),
                        ));
                    }
                    last_step = Some(at.max(last_step.unwrap_or(0)));
                }
                if let Some(first) = seen.get(&key) {
                    return Err(err(
                        n,
                        format!(
                            "`<!-- {key} -->` is already on line {first}: each marker may appear once; merge the two"
                        ),
                    ));
                }
                seen.insert(key, n);
                flush(&place, &mut body, &mut notes);
                place = Some(m);
                continue;
            }
        }
        if place.is_none() {
            if trimmed.is_empty() {
                continue;
            }
            return Err(err(
                n,
                "text before the first marker: start the file with `<!-- intro -->`, `<!-- step STEP-ID -->` or `<!-- end -->`".to_string(),
            ));
        }
        if trimmed.starts_with("```") {
            fence = Some(trimmed.chars().take_while(|c| *c == '`').collect());
        } else if line.starts_with("# ") || line.starts_with("## ") || line == "#" || line == "##" {
            return Err(err(
                n,
                "a `#` or `##` heading: the chapter uses those; headings in notes use `###` or deeper".to_string(),
            ));
        }
        body.push(line);
    }
    flush(&place, &mut body, &mut notes);
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: &[&str] = &["ls-root", "which-python", "stop"];

    #[test]
    fn places_each_part() {
        let text = "\n<!-- intro -->\nHello.\n\nTwo.\n<!-- step ls-root -->\n\nAbout ls.\n\n<!-- step stop -->\n```sh\n# a comment, not a heading\n<!-- end -->\n```\n<!-- end -->\nBye.\n";
        let n = parse(text, IDS).unwrap();
        assert_eq!(n.intro.as_deref(), Some("Hello.\n\nTwo."));
        assert_eq!(n.steps["ls-root"], "About ls.");
        assert_eq!(
            n.steps["stop"],
            "```sh\n# a comment, not a heading\n<!-- end -->\n```"
        );
        assert_eq!(n.end.as_deref(), Some("Bye."));
        assert!(!n.steps.contains_key("which-python"));
    }

    #[test]
    fn errors_name_their_line() {
        let e = parse("<!-- intro -->\nx\n<!-- step nope -->\n", IDS).unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.message.contains("`nope`") && e.message.contains("ls-root, which-python, stop"),
            "{e}"
        );

        let e = parse("\nstray\n<!-- intro -->\n", IDS).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("before the first marker"), "{e}");

        let e = parse("<!-- end -->\na\n<!-- end -->\n", IDS).unwrap_err();
        assert_eq!((e.line, e.message.contains("line 1")), (3, true), "{e}");

        let e = parse("<!-- step stop -->\n<!-- step ls-root -->\n", IDS).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("order"), "{e}");

        let e = parse("<!-- intro -->\n## Background\n", IDS).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("###"), "{e}");
    }

    #[test]
    fn other_comments_and_deep_headings_are_prose() {
        let n = parse(
            "<!-- intro -->\n<!-- a remark -->\n### Background\ntext\n",
            IDS,
        )
        .unwrap();
        assert_eq!(
            n.intro.as_deref(),
            Some("<!-- a remark -->\n### Background\ntext")
        );
        assert_eq!(parse("", IDS).unwrap(), Notes::default());
    }
}
