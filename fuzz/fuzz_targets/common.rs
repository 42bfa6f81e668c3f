//! What every target does with a request it could read: what `switchboard run` and the app do
//! before any I/O.

use std::path::Path;
use std::time::Duration;

use switchboard::engine::RequestSpec;
use switchboard::engine::collection::saved::Runnable;
use switchboard::engine::collection::{self, SavedRequest};
use switchboard::engine::recorder::Recorder;

pub fn prepare(request: &SavedRequest) {
    let Ok(runnable) = request
        .spec
        .to_runnable(Path::new("/collection"), Duration::from_secs(30))
    else {
        return;
    };
    if let Runnable::Request(spec) = runnable {
        let timeout = match &spec {
            RequestSpec::Http(r) => r.timeout,
            RequestSpec::Grpc(r) => r.timeout,
            RequestSpec::Amqp(r) => r.timeout,
        };
        // Every exchange starts its timeline with a deadline.
        let _ = Recorder::new(timeout);
        if let RequestSpec::Http(r) = &spec {
            let _ = switchboard::engine::http::check_request(r);
        }
        if let RequestSpec::Grpc(r) = &spec {
            let _ = switchboard::engine::grpc::check_addr(&r.addr);
        }
        if let RequestSpec::Amqp(r) = &spec {
            let _ = switchboard::engine::amqp::check_url(&r.url);
        }
    }
}

/// What the app writes is stable: writing back what it read gives the same bytes (an integer
/// past 2^64 reads as a float and changes on the first write only).
pub fn write_read_write(request: &SavedRequest) {
    let bytes = collection::to_file_bytes(request);
    let back = collection::parse::<SavedRequest>(&bytes).unwrap_or_else(|e| {
        panic!(
            "a written file reads back: {e}\n{}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let again = collection::to_file_bytes(&back);
    assert_eq!(
        String::from_utf8_lossy(&again),
        String::from_utf8_lossy(&bytes)
    );
}
