//! Compiles `proto/user.proto` with protox (pure Rust, no `protoc` needed) and generates the
//! tonic client and server. (The encoded descriptor set, served by reflection, comes from the
//! `demo-contract` crate.)
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let fds = protox::compile(["user.proto"], [&proto_dir])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
