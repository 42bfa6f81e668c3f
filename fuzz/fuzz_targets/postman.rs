//! `switchboard import postman FILE`: a Postman collection export.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod common;
use switchboard::engine::collection::import;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imported) = import::postman(text) else {
        return;
    };
    for (_, request) in &imported.requests {
        common::prepare(request);
        let _ = import::export(request);
        let mut moved = request.clone();
        let _ = moved.extract_secrets();
        common::write_read_write(request);
    }
});
