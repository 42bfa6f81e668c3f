//! HTTP exchanges through the engine against the demo User Service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{assert_timeline_sane, phase_names, start_demo};
use switchboard::engine::http::{self, HttpRequest};
use switchboard::engine::{BodyView, ErrorKind, Header};

#[tokio::test]
async fn lookup_found_has_every_phase_and_the_user() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/1", demo.user.http_addr);
    let exchange = http::send(&HttpRequest::get(&url)).await;
    assert!(exchange.ok, "{exchange:?}");
    assert_eq!(exchange.status.as_deref(), Some("200 OK"));
    assert!(exchange.error.is_none());
    // An IP literal needs no DNS; plain HTTP no TLS.
    assert_eq!(
        phase_names(&exchange),
        ["connect", "request sent", "first byte", "body"]
    );
    assert_timeline_sane(&exchange);
    let response = exchange.response.as_ref().unwrap();
    assert_eq!(response.line, "HTTP/1.1 200 OK");
    let BodyView::Json(body) = response.body.view() else {
        panic!("expected JSON, got {:?}", response.body.view())
    };
    assert_eq!(body["id"], "1");
    assert_eq!(body["name"], "John Doe");
    assert_eq!(body["email"], "john@example.com");
    assert_eq!(response.size_bytes, response.body.bytes.len() as u64);
    assert!(
        exchange
            .request
            .headers
            .iter()
            .any(|h| h.name == "host" && h.value == demo.user.http_addr.to_string())
    );
    demo.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_get_404_and_400_with_json_errors() {
    let demo = start_demo().await;
    let not_found = http::send(&HttpRequest::get(format!(
        "http://{}/user/99",
        demo.user.http_addr
    )))
    .await;
    assert!(!not_found.ok);
    assert!(
        not_found.error.is_none(),
        "a 404 is an answer, not a failure"
    );
    assert_eq!(not_found.status.as_deref(), Some("404 Not Found"));
    let BodyView::Json(body) = not_found.response.unwrap().body.view() else {
        panic!()
    };
    assert_eq!(body["error"], "user 99 not found");

    let malformed = http::send(&HttpRequest::get(format!(
        "http://{}/user/abc",
        demo.user.http_addr
    )))
    .await;
    assert_eq!(malformed.status.as_deref(), Some("400 Bad Request"));
    let BodyView::Json(body) = malformed.response.unwrap().body.view() else {
        panic!()
    };
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("malformed user id")
    );
    demo.stop().await;
}

#[tokio::test]
async fn a_stopped_service_fails_in_the_connect_phase() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/1", demo.user.http_addr);
    demo.stop().await;
    let exchange = http::send(&HttpRequest::get(&url)).await;
    assert!(!exchange.ok);
    let error = exchange.error.as_ref().unwrap();
    assert_eq!(error.kind, ErrorKind::ConnectionRefused);
    assert_eq!(error.phase, Some(switchboard::engine::net::phases::CONNECT));
    assert!(
        error.message.contains("is the service running"),
        "{}",
        error.message
    );
    let last = exchange.timeline.last().unwrap();
    assert_eq!(last.phase, switchboard::engine::net::phases::CONNECT);
    assert!(last.failed);
    assert!(exchange.response.is_none());
}

#[tokio::test]
async fn bad_input_is_reported_before_anything_is_sent() {
    for (method, url, needle) in [
        ("GET", "http//nohost", "malformed URL"),
        ("GET", "ftp://127.0.0.1/x", "unsupported URL scheme"),
        ("GE T", "http://127.0.0.1:1/", "unknown HTTP method"),
    ] {
        let request = HttpRequest {
            method: method.to_string(),
            ..HttpRequest::get(url)
        };
        let exchange = http::send(&request).await;
        let error = exchange.error.as_ref().unwrap();
        assert_eq!(error.kind, ErrorKind::InvalidInput, "{url}");
        assert!(error.message.contains(needle), "{}", error.message);
        assert!(exchange.timeline.is_empty());
    }
    let bad_header = HttpRequest {
        headers: vec![switchboard::engine::Header::new("bad header", "x")],
        ..HttpRequest::get("http://127.0.0.1:1/")
    };
    let exchange = http::send(&bad_header).await;
    assert!(
        exchange
            .error
            .unwrap()
            .message
            .contains("invalid header name")
    );
}

#[tokio::test]
async fn latency_knob_shows_up_in_the_first_byte_phase_and_timeout_fails_there() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/2", demo.user.http_addr);
    demo.user.knobs.set_latency_ms(300);
    let slow = http::send(&HttpRequest::get(&url)).await;
    assert!(slow.ok);
    let wait = slow
        .timeline
        .iter()
        .find(|p| p.phase == switchboard::engine::http::phases::FIRST_BYTE)
        .unwrap();
    assert!(wait.duration_us() >= 300_000, "{wait:?}");

    let impatient = HttpRequest {
        timeout: std::time::Duration::from_millis(100),
        ..HttpRequest::get(&url)
    };
    let timed_out = http::send(&impatient).await;
    let error = timed_out.error.unwrap();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert_eq!(
        error.phase,
        Some(switchboard::engine::http::phases::FIRST_BYTE)
    );

    demo.user.knobs.set_latency_ms(0);
    demo.user.knobs.set_failure_rate(1.0);
    let failing = http::send(&HttpRequest::get(&url)).await;
    assert_eq!(failing.status.as_deref(), Some("503 Service Unavailable"));
    demo.stop().await;
}

#[tokio::test]
async fn large_bodies_are_capped_but_counted() {
    // Serve a 3 MB body with a one-route axum app (not a demo route; the cap is the engine's).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum_like_server(listener);
    let server = tokio::spawn(app);
    let request = HttpRequest {
        max_body_bytes: 1024,
        ..HttpRequest::get(format!("http://{addr}/big"))
    };
    let exchange = http::send(&request).await;
    let response = exchange.response.unwrap();
    assert!(response.body.truncated);
    assert_eq!(response.body.bytes.len(), 1024);
    assert_eq!(response.size_bytes, 3_000_000);
    server.abort();
}

/// A minimal HTTP/1.1 server answering one request with 3,000,000 bytes of `x`.
async fn axum_like_server(listener: tokio::net::TcpListener) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 1024];
    let _ = socket.read(&mut buf).await.unwrap();
    let body = vec![b'x'; 3_000_000];
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\ncontent-type: text/plain\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(&body).await.unwrap();
    socket.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_reuses_its_connection_and_the_timeline_says_so() {
    let demo = start_demo().await;
    let client = http::HttpClient::default();
    let url = format!("http://{}/user/1", demo.user.http_addr);
    let first = client.send(&HttpRequest::get(&url)).await;
    let second = client.send(&HttpRequest::get(&url)).await;
    assert_eq!(
        phase_names(&first),
        ["connect", "request sent", "first byte", "body"]
    );
    assert_eq!(phase_names(&second), ["request sent", "first byte", "body"]);
    assert!(
        second
            .timeline
            .iter()
            .find(|p| p.phase.name() == "request_sent")
            .and_then(|p| p.detail.as_deref())
            .unwrap()
            .starts_with("reused connection")
    );
    assert_eq!(second.status.as_deref(), Some("200 OK"));
    assert_timeline_sane(&second);

    // The service goes away: the idle connection is dropped and a fresh connect fails cleanly.
    demo.stop().await;
    let after = client.send(&HttpRequest::get(&url)).await;
    let error = after.error.expect("the service is gone");
    assert!(
        matches!(
            error.kind,
            ErrorKind::ConnectionRefused | ErrorKind::Protocol
        ),
        "{error:?}"
    );
}

/// Regression (hostile run): credentials in the URL are sent as Basic auth, as curl sends
/// them, and an explicit Authorization header wins over them.
#[tokio::test]
async fn url_credentials_are_sent_as_basic_auth_like_curl() {
    let echo = common::echo::Echo::start().await;
    let port = echo.addr.port();
    let send = |url: String, headers: Vec<Header>| async move {
        let exchange = http::send(&HttpRequest {
            headers,
            ..HttpRequest::get(url)
        })
        .await;
        assert!(exchange.ok, "{:?}", exchange.error);
    };
    send(format!("http://u:p%40ss@127.0.0.1:{port}/url"), Vec::new()).await;
    let got = echo.one("/url");
    // base64("u:p@ss")
    assert_eq!(got.all("authorization"), ["Basic dTpwQHNz"]);
    send(
        format!("http://u:pw@127.0.0.1:{port}/explicit"),
        vec![Header::new("Authorization", "Bearer T")],
    )
    .await;
    assert_eq!(echo.one("/explicit").all("authorization"), ["Bearer T"]);
}

#[tokio::test]
async fn a_cancelled_request_keeps_its_phases_and_says_cancelled_where_it_stopped() {
    let demo = start_demo().await;
    let url = format!("http://{}/user/1", demo.user.http_addr);
    demo.user.knobs.set_latency_ms(5_000);
    let cancel = tokio_util::sync::CancellationToken::new();
    let stop = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.cancel();
    });
    let started = std::time::Instant::now();
    let request = HttpRequest::get(&url);
    let exchange = switchboard::engine::recorder::cancellable(cancel, http::send(&request)).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "the cancel did not cut the wait: {:?}",
        started.elapsed()
    );
    assert!(!exchange.ok);
    let error = exchange.error.clone().unwrap();
    assert_eq!(error.kind, ErrorKind::Cancelled, "{error:?}");
    assert_eq!(
        error.phase,
        Some(switchboard::engine::http::phases::FIRST_BYTE)
    );
    assert!(error.message.contains("cancelled by the user"), "{error:?}");
    // What happened before the cancel is kept: the connection and the request on the wire.
    let names = phase_names(&exchange);
    assert!(
        names.contains(&"connect") && names.contains(&"request sent"),
        "{names:?}"
    );
    assert_timeline_sane(&exchange);
    demo.user.knobs.set_latency_ms(0);
    demo.stop().await;
}

/// On Linux the network phases are the kernel's instants: the handshake's round trip, the
/// request's transmit timestamp and the answer's receive timestamp — on a new connection and
/// on a kept-alive one; the task's wake-up after each is client time.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn network_phases_take_the_kernels_instants() {
    use switchboard::engine::kernel_time::{Source, keep_receive_stamps_on};
    // The system's receive stamping goes on a little after the first socket asks (as the CLI
    // and app do at start): without it the first answer may carry no stamp.
    assert!(keep_receive_stamps_on(std::time::Duration::from_secs(5)));
    let demo = start_demo().await;
    let client = http::HttpClient::default();
    let url = format!("http://{}/user/1", demo.user.http_addr);
    for (i, exchange) in [
        client.send(&HttpRequest::get(&url)).await,
        client.send(&HttpRequest::get(&url)).await,
    ]
    .iter()
    .enumerate()
    {
        assert!(exchange.ok, "{exchange:?}");
        assert_timeline_sane(exchange);
        let source = |name: &str| {
            exchange
                .timeline
                .iter()
                .find(|p| p.phase.name() == name)
                .and_then(|p| p.source)
        };
        if i == 0 {
            assert_eq!(source("connect"), Some(Source::Kernel), "{exchange:?}");
        }
        assert_eq!(source("request_sent"), Some(Source::Kernel), "{exchange:?}");
        assert_eq!(source("first_byte"), Some(Source::Kernel), "{exchange:?}");
        assert_eq!(source("body"), Some(Source::UserSpace));
    }
    demo.stop().await;
}

/// Regression (hostile run): an answer that broke off after its head (a 200 whose body is cut)
/// keeps its status — with the error and `ok` false — and is headlined as broken off, not
/// "no answer".
#[tokio::test]
async fn an_answer_broken_off_after_its_head_keeps_its_status() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            .await;
        let _ = s.write_all(&[b'x'; 5000]).await;
    });
    let e = http::send(&HttpRequest::get(format!("http://{addr}/"))).await;
    assert!(!e.ok);
    assert!(e.error.is_some(), "{e:?}");
    assert_eq!(e.status.as_deref(), Some("200 OK"));
    assert_eq!(e.status_text(), "HTTP/1.1 200 OK (broken off)");
    assert_eq!(e.response.as_ref().unwrap().size_bytes, 5000);
    assert_timeline_sane(&e);
}
