//! The whole command line, as clap parses it (arguments split at NUL bytes).
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use switchboard::cli::Cli;

fuzz_target!(|data: &[u8]| {
    if data.len() > 4096 {
        return;
    }
    let args = std::iter::once(OsString::from("switchboard")).chain(
        data.split(|b| *b == 0)
            .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string()),
    );
    match Cli::try_parse_from(args) {
        Ok(cli) => {
            let _ = format!("{cli:?}");
        }
        Err(e) => {
            let _ = e.render().to_string();
        }
    }
});
