//! Laying text out on a fixed grid of cells, for presenter mode: display widths that
//! count what the terminal shows (not bytes, not colour codes), word wrapping, hard
//! wrapping of coloured output, a 3-row block font for step numbers, and fitting a
//! step's output into a number of rows while keeping its checks.
//!
//! Every function here is pure: the presenter decides the size, these make rows that are
//! never wider than it, so the terminal never wraps a line itself (a wrapped line would
//! push the frame off the top of the screen).

use unicode_width::UnicodeWidthChar;

/// SGR "reset all attributes".
const RESET: &str = "\x1b[0m";

/// One piece of a line: an escape sequence (zero columns) or a character that is shown.
enum Piece<'a> {
    /// A CSI escape sequence, kept whole (`\x1b[1;36m`).
    Escape(&'a str),
    /// A printable character and its width in columns (0 for a combining mark).
    Char(char, usize),
}

/// Split `s` into escape sequences and shown characters. Tabs become spaces (to the
/// next multiple of 8 from `col0`); other control characters and escapes that are not
/// CSI are dropped, so a probe's stray `\r` or bell cannot move the cursor.
fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut col = 0;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c == '\x1b' {
            if it.peek().is_some_and(|&(_, n)| n == '[') {
                it.next();
                // Parameters and intermediates, then one final byte in @..~.
                let mut end = s.len();
                for (j, d) in it.by_ref() {
                    if ('@'..='~').contains(&d) {
                        end = j + d.len_utf8();
                        break;
                    }
                }
                out.push(Piece::Escape(&s[i..end]));
            } else {
                it.next();
            }
            continue;
        }
        if c == '\t' {
            let n = 8 - col % 8;
            for _ in 0..n {
                out.push(Piece::Char(' ', 1));
            }
            col += n;
            continue;
        }
        if let Some(w) = c.width() {
            if c.is_control() {
                continue;
            }
            out.push(Piece::Char(c, w));
            col += w;
        }
    }
    out
}

/// Columns `s` takes on a terminal: colour codes count 0, wide characters 2.
#[must_use]
pub fn display_width(s: &str) -> usize {
    pieces(s)
        .iter()
        .map(|p| match p {
            Piece::Escape(_) => 0,
            Piece::Char(_, w) => *w,
        })
        .sum()
}

/// `s` without its escape sequences and control characters.
#[must_use]
pub fn plain(s: &str) -> String {
    pieces(s)
        .iter()
        .filter_map(|p| match p {
            Piece::Char(c, _) => Some(*c),
            Piece::Escape(_) => None,
        })
        .collect()
}

/// True when an SGR sequence turns every attribute off (`\x1b[0m`, `\x1b[m`).
fn is_reset(esc: &str) -> bool {
    esc == "\x1b[0m" || esc == "\x1b[m"
}

/// Wrap one line of output into rows of at most `width` columns, keeping its colour
/// across rows (each row ends reset, the next starts with the colour again): at the last
/// space of a row where there is one past its first word, else where the row is full.
/// Rows after the first start with `indent` spaces. At most `max_rows` rows: the last one
/// kept ends with `…` when more were cut.
#[must_use]
pub fn wrap_hard(line: &str, width: usize, indent: usize, max_rows: usize) -> Vec<String> {
    let width = width.max(1);
    let indent = indent.min(width / 2);
    let mut rows: Vec<String> = Vec::new();
    let mut row = String::new();
    let mut col = 0;
    let mut active = String::new(); // SGR sequences in force since the last reset
    // The last space a row could break at: the byte after it, the column after it, and
    // the colour in force there.
    let mut space: Option<(usize, usize, String)> = None;
    let mut has_word = false;
    let mut cut = false;
    for p in pieces(line) {
        match p {
            Piece::Escape(e) => {
                if is_reset(e) {
                    active.clear();
                } else if e.ends_with('m') {
                    active.push_str(e);
                }
                row.push_str(e);
            }
            Piece::Char(c, w) => {
                if col + w > width {
                    let (head, tail, tail_col, open) = match space.take() {
                        // The row is full at a space: the break is there.
                        _ if c == ' ' && has_word => {
                            (std::mem::take(&mut row), String::new(), 0, active.clone())
                        }
                        Some((at, after, act)) if col - after < width - indent => {
                            let tail = row[at..].to_string();
                            row.truncate(at - 1); // the space itself goes
                            (std::mem::take(&mut row), tail, col - after, act)
                        }
                        _ => (std::mem::take(&mut row), String::new(), 0, active.clone()),
                    };
                    rows.push(if open.is_empty() { head } else { head + RESET });
                    if rows.len() == max_rows {
                        cut = true;
                        break;
                    }
                    row.push_str(&" ".repeat(indent));
                    row.push_str(&open);
                    row.push_str(&tail);
                    col = indent + tail_col;
                    has_word = tail_col > 0;
                    if c == ' ' && tail_col == 0 {
                        continue;
                    }
                }
                row.push(c);
                col += w;
                if c == ' ' {
                    if has_word {
                        space = Some((row.len(), col, active.clone()));
                    }
                } else {
                    has_word = true;
                }
            }
        }
    }
    if !cut {
        rows.push(row);
    } else if let Some(last) = rows.pop() {
        rows.push(clip(&last, width.saturating_sub(1)) + "…");
    }
    rows
}

/// `s` cut to at most `width` columns, its colour reset if it was cut inside one.
/// A cut line ends with `…` (counted in the width).
#[must_use]
pub fn fit(s: &str, width: usize) -> String {
    if display_width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    clip(s, width - 1) + "…"
}

/// The first `width` columns of `s`, with a reset at the end when a colour was open.
fn clip(s: &str, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    let mut open = false;
    for p in pieces(s) {
        match p {
            Piece::Escape(e) => {
                open = !is_reset(e);
                out.push_str(e);
            }
            Piece::Char(c, w) => {
                if col + w > width {
                    break;
                }
                out.push(c);
                col += w;
            }
        }
    }
    if open {
        out.push_str(RESET);
    }
    out
}

/// Word-wrap plain text to `width` columns: the first row starts with `first`, the
/// others with `rest`. Blank lines separate paragraphs (kept as one empty row); a word
/// wider than a row is split. No colour codes in `text`.
#[must_use]
pub fn wrap_words(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for (n, para) in text.trim().split("\n\n").enumerate() {
        if n > 0 {
            rows.push(String::new());
        }
        let mut row = if rows.is_empty() { first } else { rest }.to_string();
        let mut row_has_word = false;
        for word in para.split_whitespace() {
            let room = width.saturating_sub(display_width(&row));
            let need = display_width(word) + usize::from(row_has_word);
            if row_has_word && need > room {
                rows.push(std::mem::take(&mut row));
                row.push_str(rest);
                row_has_word = false;
            }
            if row_has_word {
                row.push(' ');
            }
            // A word longer than a whole row: split it where the row ends.
            let mut word = word;
            while display_width(&row) + display_width(word) > width
                && width > display_width(rest) + 1
            {
                let room = width - display_width(&row);
                let (head, tail) = split_at_width(word, room);
                if head.is_empty() {
                    break;
                }
                row.push_str(head);
                rows.push(std::mem::take(&mut row));
                row.push_str(rest);
                word = tail;
            }
            row.push_str(word);
            row_has_word = true;
        }
        if row_has_word || rows.is_empty() {
            rows.push(row);
        }
    }
    rows
}

/// Split plain `s` after at most `cols` columns.
fn split_at_width(s: &str, cols: usize) -> (&str, &str) {
    let mut col = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if col + w > cols {
            return s.split_at(i);
        }
        col += w;
    }
    (s, "")
}

/// Pixels of the digits 0-9, 3 wide and 5 tall, one row per string.
const DIGITS: [[&str; 5]; 10] = [
    ["###", "#.#", "#.#", "#.#", "###"],
    [".#.", "##.", ".#.", ".#.", "###"],
    ["###", "..#", "###", "#..", "###"],
    ["###", "..#", "###", "..#", "###"],
    ["#.#", "#.#", "###", "..#", "..#"],
    ["###", "#..", "###", "..#", "###"],
    ["###", "#..", "###", "#.#", "###"],
    ["###", "..#", "..#", "..#", "..#"],
    ["###", "#.#", "###", "#.#", "###"],
    ["###", "#.#", "###", "..#", "###"],
];

/// `digits` (0-9 only) in a block font 3 rows tall: each digit is 3x5 pixels, two
/// columns and half a row each (`▀`, `▄`, `█`), a column apart. Anything that is not a
/// digit is left out.
#[must_use]
pub fn big_digits(digits: &str) -> [String; 3] {
    let mut rows: [String; 3] = Default::default();
    let glyphs: Vec<&[&str; 5]> = digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| &DIGITS[d as usize])
        .collect();
    for (n, g) in glyphs.iter().enumerate() {
        for (r, row) in rows.iter_mut().enumerate() {
            if n > 0 {
                row.push(' ');
            }
            let top = g[2 * r].as_bytes();
            let bottom = g.get(2 * r + 1).map(|s| s.as_bytes());
            for x in 0..3 {
                let t = top[x] == b'#';
                let b = bottom.is_some_and(|b| b[x] == b'#');
                let cell = match (t, b) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                };
                row.push(cell);
                row.push(cell);
            }
        }
    }
    rows
}

/// Columns [`big_digits`] takes for `n` digits.
#[must_use]
pub fn big_width(n: usize) -> usize {
    if n == 0 { 0 } else { n * 7 - 1 }
}

/// A section of a step's output: the runner's `── name ──` heading and the lines under it.
struct Section {
    heading: Option<String>,
    name: String,
    lines: Vec<String>,
}

/// How much of a section is shown.
#[derive(Clone, Copy)]
struct Shown {
    /// Lines shown; 0 means the heading alone, with the count of lines hidden.
    lines: usize,
}

/// Fit a step's output (the runner's lines, possibly coloured) into at most `rows` rows
/// of `width` columns.
///
/// The `checks` section (the verdicts, and a hint after them) is one row when every check
/// held (`✓ all N checks held`); otherwise it is kept whole when it fits, failed checks
/// first when it does not. The other sections share what is left, a line at
/// a time, in the order action, difference, after, syscalls, before: a section cut short
/// shows its first lines and then `… N more lines`, and one with no room for a line shows
/// its heading with the count. Long lines are wrapped (at most 3 rows each). `dim` styles
/// the markers.
#[must_use]
pub fn fit_output(
    text: &str,
    rows: usize,
    width: usize,
    dim: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let sections = split_sections(text);
    let wrap = |l: &str| wrap_hard(l, width, leading_spaces(l) + 2, 3);
    let cost_of = |l: &str| wrap(l).len();
    // Checks first: they are what the step proves.
    let checks_idx = sections.iter().position(|s| s.name == "checks");
    let mut checks_rows: Vec<String> = Vec::new();
    let all_held = checks_idx.is_some_and(|i| {
        let lines = &sections[i].lines;
        !lines.is_empty()
            && lines.iter().all(|l| {
                let p = plain(l);
                let t = p.trim_start();
                !t.starts_with('✗') && !t.starts_with("hint:")
            })
    });
    if all_held && let Some(i) = checks_idx {
        // Every check held: one row says so, and the room goes to the output that shows
        // why (an audience reads evidence, not a list of ticks).
        let n = sections[i]
            .lines
            .iter()
            .filter(|l| plain(l).trim_start().starts_with('✓'))
            .count();
        checks_rows.push(fit(&format!("  ✓ all {n} checks held"), width));
    } else if let Some(i) = checks_idx {
        let s = &sections[i];
        let mut body: Vec<&String> = s.lines.iter().collect();
        let full: usize = 1 + body.iter().map(|l| cost_of(l)).sum::<usize>();
        if full > rows {
            // Failed checks (✗) first, then the rest, as many as fit with a marker.
            body.sort_by_key(|l| !plain(l).trim_start().starts_with('✗'));
        }
        checks_rows.extend(s.heading.iter().map(|h| fit(h, width)));
        let mut shown = 0;
        for (n, l) in body.iter().enumerate() {
            let r = wrap(l);
            let left = body.len() - n - 1;
            let room = rows.saturating_sub(checks_rows.len() + usize::from(left > 0));
            if r.len() > room {
                break;
            }
            checks_rows.extend(r);
            shown += 1;
        }
        if shown < body.len() {
            checks_rows.push(fit(
                &dim(&format!("  … {} more check lines", body.len() - shown)),
                width,
            ));
        }
        checks_rows.truncate(rows);
    }
    let budget = rows.saturating_sub(checks_rows.len());
    // The others, by priority.
    let others: Vec<usize> = {
        let mut v: Vec<usize> = (0..sections.len())
            .filter(|&i| Some(i) != checks_idx)
            .collect();
        v.sort_by_key(|&i| priority(&sections[i].name));
        v
    };
    let mut shown: Vec<Option<Shown>> = vec![None; sections.len()];
    let cost = |i: usize, s: Shown| -> usize {
        let sec = &sections[i];
        let head = usize::from(sec.heading.is_some());
        if s.lines == 0 {
            // The heading alone, with the count; or one marker line for headless text.
            return head.max(usize::from(!sec.lines.is_empty()));
        }
        let body: usize = sec.lines[..s.lines].iter().map(|l| cost_of(l)).sum();
        head + body + usize::from(s.lines < sec.lines.len())
    };
    let total = |shown: &[Option<Shown>]| -> usize {
        shown
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| cost(i, s)))
            .sum()
    };
    // Everything collapsed, as many sections as fit, by priority; those that do not fit
    // are counted on one marker row at the end.
    for &i in &others {
        shown[i] = Some(Shown { lines: 0 });
        if total(&shown) > budget {
            shown[i] = None;
        }
    }
    let any_dropped = others.iter().any(|&i| shown[i].is_none());
    let budget = if any_dropped {
        for &i in others.iter().rev() {
            if total(&shown) < budget {
                break;
            }
            shown[i] = None;
        }
        budget.saturating_sub(1)
    } else {
        budget
    };
    let dropped: usize = others
        .iter()
        .filter(|&&i| shown[i].is_none())
        .map(|&i| sections[i].lines.len() + usize::from(sections[i].heading.is_some()))
        .sum();
    loop {
        let mut grew = false;
        for &i in &others {
            let Some(s) = shown[i] else { continue };
            if s.lines >= sections[i].lines.len() {
                continue;
            }
            let mut next = shown.clone();
            next[i] = Some(Shown { lines: s.lines + 1 });
            if total(&next) <= budget {
                shown = next;
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    // Lay out in the original order, checks where they were.
    let mut out = Vec::new();
    for (i, sec) in sections.iter().enumerate() {
        if Some(i) == checks_idx {
            out.append(&mut checks_rows);
            continue;
        }
        let Some(s) = shown[i] else { continue };
        let hidden = sec.lines.len() - s.lines;
        match &sec.heading {
            Some(h) if s.lines == 0 && hidden > 0 => {
                let note = dim(&format!("  … {hidden} {}", lines_word(hidden)));
                out.push(fit(&format!("{h}{note}"), width));
            }
            Some(h) => out.push(fit(h, width)),
            None if s.lines == 0 && hidden > 0 => {
                out.push(fit(
                    &dim(&format!("  … {hidden} {}", lines_word(hidden))),
                    width,
                ));
            }
            None => {}
        }
        for l in &sec.lines[..s.lines] {
            out.extend(wrap(l));
        }
        if s.lines > 0 && hidden > 0 {
            out.push(fit(
                &dim(&format!("    … {hidden} more {}", lines_word(hidden))),
                width,
            ));
        }
    }
    if dropped > 0 {
        out.push(fit(
            &dim(&format!("  … {dropped} more {}", lines_word(dropped))),
            width,
        ));
    }
    out.truncate(rows);
    out
}

fn lines_word(n: usize) -> &'static str {
    if n == 1 { "line" } else { "lines" }
}

/// Spaces a line starts with (after its colour codes), for the indent of its
/// continuation rows.
fn leading_spaces(l: &str) -> usize {
    plain(l).chars().take_while(|c| *c == ' ').count()
}

/// Which sections get room first (lower first).
fn priority(name: &str) -> u8 {
    match name {
        n if n.starts_with("action") => 0,
        n if n.starts_with("difference") => 1,
        "after" => 2,
        "syscalls made" => 3,
        "before" => 4,
        _ => 5,
    }
}

/// Cut the runner's output at its `── name ──` headings.
fn split_sections(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines() {
        let p = plain(line);
        let t = p.trim();
        if let Some(name) = t.strip_prefix("── ").and_then(|r| r.strip_suffix(" ──")) {
            out.push(Section {
                heading: Some(line.to_string()),
                name: name.to_string(),
                lines: Vec::new(),
            });
            continue;
        }
        if out.is_empty() {
            if t.is_empty() {
                continue;
            }
            out.push(Section {
                heading: None,
                name: String::new(),
                lines: Vec::new(),
            });
        }
        if let Some(s) = out.last_mut() {
            s.lines.push(line.to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodim(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn widths_count_columns_not_bytes_or_colour() {
        assert_eq!(display_width("\x1b[1;36mabc\x1b[0m"), 3);
        assert_eq!(display_width("✓ é"), 3);
        assert_eq!(display_width("日本"), 4);
        assert_eq!(display_width("a\tb"), 9);
        assert_eq!(display_width("a\rb\x07"), 2);
        assert_eq!(plain("\x1b[32m✓ ok\x1b[0m"), "✓ ok");
    }

    #[test]
    fn wrapped_rows_fit_and_lose_nothing_but_the_breaking_spaces() {
        let line = "\x1b[32m  ✓ mapped libraries: a line matches /^/var/cache/fromscratch/rootfs/host-68c32c1b77927650/.*libc\\.so\\.6$/ and  two  spaces\x1b[0m";
        for width in 10..=100 {
            let rows = wrap_hard(line, width, 4, 100);
            assert!(
                rows.iter().all(|r| display_width(r) <= width),
                "{width}: {rows:#?}"
            );
            let words: Vec<String> = rows.iter().map(|r| plain(r)).collect();
            let joined = words.join(" ");
            assert_eq!(
                joined.split_whitespace().collect::<String>(),
                plain(line).split_whitespace().collect::<String>(),
                "{width}: {rows:#?}"
            );
        }
    }

    #[test]
    fn fit_cuts_with_an_ellipsis_and_closes_the_colour() {
        assert_eq!(fit("hello", 5), "hello");
        assert_eq!(fit("hello world", 8), "hello w…");
        let s = fit("\x1b[33mhello world\x1b[0m", 6);
        assert_eq!(plain(&s), "hello…");
        assert!(s.starts_with("\x1b[33mhello\x1b[0m"), "{s:?}");
        assert_eq!(display_width(&fit("日本語です", 5)), 5);
    }

    #[test]
    fn hard_wrap_keeps_colour_and_indent() {
        let rows = wrap_hard("\x1b[33m  abcdefghij\x1b[0m", 6, 2, 10);
        let shown: Vec<String> = rows.iter().map(|r| plain(r)).collect();
        assert_eq!(shown, ["  abcd", "  efgh", "  ij"]);
        assert!(rows[1].contains("\x1b[33m"), "{rows:?}");
        assert!(rows[0].ends_with(RESET), "{rows:?}");
        let cut = wrap_hard("abcdefghijkl", 4, 0, 2);
        assert_eq!(cut, ["abcd", "efg…"]);
        // At a space where there is one, past the first word.
        let rows = wrap_hard("    child  /* a private UTS namespace */", 24, 6, 10);
        assert_eq!(rows, ["    child  /* a private", "      UTS namespace */"]);
        let rows = wrap_hard("\x1b[2m  one two three\x1b[0m", 9, 4, 10);
        let shown: Vec<String> = rows.iter().map(|r| plain(r)).collect();
        assert_eq!(shown, ["  one two", "    three"]);
        assert!(rows[1].starts_with("    \x1b[2m"), "{rows:?}");
        for r in wrap_hard(&"x".repeat(200), 80, 2, 3) {
            assert!(display_width(&r) <= 80);
        }
    }

    #[test]
    fn word_wrap_fits_the_width_and_splits_long_words() {
        let rows = wrap_words("one two three four five six", 10, "  ", "  ");
        assert_eq!(rows, ["  one two", "  three", "  four", "  five six"]);
        let rows = wrap_words(&format!("see {}", "/x".repeat(20)), 12, "$ ", "  ");
        assert!(rows.iter().all(|r| display_width(r) <= 12), "{rows:?}");
        assert_eq!(
            rows.concat().replace([' ', '$'], ""),
            "see".to_string() + &"/x".repeat(20)
        );
        assert_eq!(wrap_words("a\n\nb", 10, "", ""), ["a", "", "b"]);
    }

    #[test]
    fn block_digits_are_three_rows_and_as_wide_as_said() {
        let rows = big_digits("12");
        for r in &rows {
            assert_eq!(display_width(r), big_width(2));
        }
        assert_eq!(rows, ["▄▄██   ▀▀▀▀██", "  ██   ██▀▀▀▀", "▀▀▀▀▀▀ ▀▀▀▀▀▀"]);
    }

    #[test]
    fn output_fits_and_keeps_every_check() {
        let mut text = String::from("── before ──\n");
        for i in 0..30 {
            text.push_str(&format!("    before line {i}\n"));
        }
        text.push_str("── action: exec ──\n  $ chroot /r ls\n    12345 /\n");
        text.push_str("── syscalls made ──\n");
        for i in 0..8 {
            text.push_str(&format!("    child  call{i}() = 0\n"));
        }
        text.push_str("── difference: ls / ──\n  - boot\n  - home\n  + proc\n");
        text.push_str("── checks ──\n  ✓ one\n  ✗ two\n  ✓ three\n  hint: look\n");
        for rows in [8, 12, 15, 40] {
            let out = fit_output(&text, rows, 40, &nodim);
            assert!(out.len() <= rows, "{rows}: {out:#?}");
            assert!(out.iter().all(|l| display_width(l) <= 40));
            for want in ["✓ one", "✗ two", "✓ three", "hint: look", "── checks ──"] {
                assert!(
                    out.iter().any(|l| l.contains(want)),
                    "{rows}: {want}: {out:#?}"
                );
            }
        }
        let out = fit_output(&text, 15, 40, &nodim);
        assert!(out.iter().any(|l| l.contains("12345 /")), "{out:#?}");
        assert!(out.iter().any(|l| l.contains("more line")), "{out:#?}");
        // Room for all of it: all of it, in order, no marker.
        let out = fit_output(&text, 100, 40, &nodim);
        assert_eq!(out.len(), text.lines().count());
        assert!(!out.iter().any(|l| l.contains('…')));
    }

    #[test]
    fn too_many_checks_show_the_failed_first() {
        let mut text = String::from("── checks ──\n");
        for i in 0..10 {
            text.push_str(&format!("  ✓ ok {i}\n"));
        }
        text.push_str("  ✗ broken\n");
        let out = fit_output(&text, 5, 40, &nodim);
        assert_eq!(out.len(), 5, "{out:#?}");
        assert!(out[1].contains("✗ broken"), "{out:#?}");
        assert!(out[4].contains("… 8 more check lines"), "{out:#?}");
    }
}
