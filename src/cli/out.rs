//! The CLI's lines on stdout and stderr. A reader that closes stdout (`| head -1`) ends the
//! command quietly with exit 0, as it would a reader that stops; a closed stderr is ignored.
//! `println!`/`eprintln!` would panic (exit 101) on either.

use std::fmt;
use std::io::{self, Write};

/// Standard output was closed by its reader: the command stops here, quietly and with success.
#[derive(Debug, thiserror::Error)]
#[error("standard output closed")]
pub struct StdoutClosed;

/// Writes `args` to stdout, then a newline when `newline`.
pub fn stdout(args: fmt::Arguments<'_>, newline: bool) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => anyhow::Error::new(StdoutClosed),
            _ => anyhow::anyhow!("cannot write to standard output: {e}"),
        })
}

/// Writes `args` and a newline to stderr; nothing is left to tell if stderr is gone.
pub fn stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Whether the command ended because its stdout was closed.
pub fn stdout_closed(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.is::<StdoutClosed>())
}

/// What printing came to, for a command that keeps the exit status its work earned when its
/// reader goes away: `Ok(false)` when stdout was closed, `Ok(true)` when printed; other write
/// errors stay errors.
pub fn still_open(printed: anyhow::Result<()>) -> anyhow::Result<bool> {
    match printed {
        Ok(()) => Ok(true),
        Err(err) if stdout_closed(&err) => Ok(false),
        Err(err) => Err(err),
    }
}

/// `println!` for the CLI: `outln!(...)?` stops the command when stdout is closed.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*), true)
    };
}

/// `print!` for the CLI.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::out::stdout(format_args!($($arg)*), false)
    };
}

/// `eprintln!` for the CLI, which never panics.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::stderr(format_args!($($arg)*))
    };
}

pub(crate) use {errln, out, outln};
