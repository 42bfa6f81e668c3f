//! Addresses from the command line and saved requests: an HTTP method and URL, a gRPC address,
//! an AMQP URL (and its redacted form). Input: `METHOD\nURL`, or just the URL.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::engine::http::{self, HttpRequest};
use switchboard::engine::{amqp, grpc};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, url) = text.split_once('\n').unwrap_or(("GET", text));
    let mut request = HttpRequest::get(url);
    request.method = method.to_string();
    let _ = http::check_request(&request);
    let _ = grpc::check_addr(url);
    let _ = amqp::check_url(url);
    let _ = amqp::redact_url(url);
});
