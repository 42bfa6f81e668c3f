//! Compiles `proto/user.proto` with protox (pure Rust, no `protoc`) into an encoded
//! `FileDescriptorSet`.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let fds = protox::compile(["user.proto"], [&proto_dir])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("user_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    Ok(())
}
