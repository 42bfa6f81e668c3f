//! Link options for the release binaries (the app and the bench's empty window alike).
//!
//! Measured on the idle app (scripts/bench `app_rss_idle_mb`): the kernel maps a binary's pages
//! 64 KB at a time around each page it touches, so every byte of code and relocation the binary
//! carries costs resident memory. `--icf=all` folds identical functions (monomorphised copies
//! that compile to the same code); `-z pack-relative-relocs` stores the position-independent
//! binary's relocations as a compact RELR table instead of 24 bytes each (2.9 MB read at start);
//! such a binary needs glibc 2.36 or later to start (Debian 12 and later), which the
//! `GLIBC_ABI_DT_RELR` symbol version it requires tells the loader and packaging tools.
//! `build/symbol-order.txt` (made by `scripts/symbol-order`) lists the functions the app runs
//! to start, sit idle and make lookups: laid out together, they fill a few megabytes of pages
//! rather than touching most of the binary's 64 KB blocks (the idle app ran ~2 MB of functions
//! spread over 27 MB of resident code). Names the linker no longer finds are skipped.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/symbol-order.txt");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if release && linux {
        println!("cargo:rustc-link-arg-bins=-Wl,--icf=all");
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
        let order = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("build/symbol-order.txt");
        if order.exists() {
            println!(
                "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
                order.display()
            );
            println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
        }
    }
}
