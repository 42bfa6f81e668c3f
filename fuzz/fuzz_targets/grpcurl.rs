//! `switchboard import grpcurl "grpcurl ..."`: a pasted grpcurl command line.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use switchboard::engine::collection::import;

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
    common::write_read_write(&request);
});
