//! Presenting a run beyond the terminal: `--record FILE.cast` (an asciicast v2 file that
//! `asciinema play` replays) and `run LESSON --export md FILE.md` (the lesson as run, in
//! Markdown).
//!
//! Both are writers the lab's output is teed to ([`record::Tee`]), so they see exactly
//! what the terminal got.

pub mod export;
pub mod record;
