//! fromscratch: a terminal lab that builds a container from nothing, one real
//! syscall at a time. See README.md for the module map.

pub mod book;
pub mod cli;
pub mod commands;
pub mod doctor;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hoststate;
pub mod inspect;
pub mod lab;
pub mod lesson;
pub mod observe;
pub mod paths;
pub mod present;
pub mod progress;
pub mod repl;
pub mod rootfs;
pub mod runtime;
pub mod term;
