//! `switchboard import grpcurl "grpcurl ..."`: a pasted grpcurl command line.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use switchboard::engine::collection::{self, SavedRequest, import};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = import::grpcurl(text) else {
        return;
    };
    common::prepare(&request);
    let line = import::export_grpcurl(&request).expect("an imported grpcurl request exports");
    let _ = import::grpcurl(&line);
    let bytes = collection::to_file_bytes(&request);
    let back = collection::parse::<SavedRequest>(&bytes);
    assert_eq!(
        back.as_ref(),
        Ok(&request),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
});
