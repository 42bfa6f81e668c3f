//! `-H 'Name: value'` (send, load, curl and grpcurl imports), then the checks before sending.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::engine::http::{self, HttpRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(header) = http::parse_header_line(text) else {
        return;
    };
    assert!(!header.name.is_empty());
    let mut request = HttpRequest::get("http://127.0.0.1:8081/user/1");
    request.headers.push(header);
    let _ = http::check_request(&request);
});
