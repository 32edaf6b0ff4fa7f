//! Presenting a lesson: `present LESSON` (presenter mode for a projector: a screen per
//! step, [`presenter`], laid out by [`layout`], driven by [`keys`]), `--record FILE.cast`
//! (an asciicast v2 file that `asciinema play` replays) and `run LESSON --export md
//! FILE.md` (the lesson as run, in Markdown).
//!
//! Recording and export are writers the lab's output is teed to ([`record::Tee`]), so
//! they see exactly what the terminal got.

pub mod export;
pub mod keys;
pub mod layout;
pub mod presenter;
pub mod record;
