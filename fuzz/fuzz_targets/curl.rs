//! `switchboard import curl "curl ..."`: a pasted curl command line.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use switchboard::engine::collection::import;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = import::curl(text) else {
        return;
    };
    common::prepare(&request);
    let line = import::export_curl(&request).expect("an imported curl request exports");
    let _ = import::curl(&line);
    let mut moved = request.clone();
    let _ = moved.extract_secrets();
    common::write_read_write(&request);
});
