//! One call through the recorder: channel (connect, TLS, HTTP/2 handshake), request sent, response headers, message, trailers; and how a failure is named.

use super::*;
use crate::kernel_time::Source;
use crate::timeline::PhaseKind;

#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    rec: &mut Recorder,
    req: &GrpcRequest,
    pool: &DescriptorPool,
    request_msg: &mut Message,
    client: Option<&GrpcClient>,
    input: Option<mpsc::Receiver<DynamicMessage>>,
    observer: Option<mpsc::Sender<Received>>,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Outcome, Failure> {
    let addr = parse_addr_via(client, &req.addr).map_err(|e| (e, None))?;
    let method = find_method(pool, &req.method).map_err(|e| (e, None))?;
    let streaming = method.is_client_streaming() || method.is_server_streaming();
    // Streaming calls take their request messages from `input` when given, else from the JSON
    // (one value for a single request; any number, one after another, for client streams).
    let mut messages = Vec::new();
    let mut message = None;
    if streaming {
        if input.is_none() {
            messages = json_to_messages(&method, &req.json).map_err(|e| (e, None))?;
        }
    } else {
        let m = json_to_message(&method, &req.json).map_err(|e| (e, None))?;
        request_msg.body = Body::new(message_to_json(&m).into_bytes());
        request_msg.size_bytes = m.encoded_len() as u64;
        message = Some(m);
    }
    let metadata = metadata_map(&req.metadata).map_err(|e| (e, None))?;

    let cached = client.and_then(|c| c.get(&addr.uri));
    let reused = cached.is_some();
    let (channel, marks) = match cached {
        Some(pair) => pair,
        None => {
            let pair = open_channel(rec, &addr, &req.tls).await?;
            if let Some(c) = client {
                c.put(&addr.uri, pair.clone());
            }
            pair
        }
    };

    let path = http::uri::PathAndQuery::from_maybe_shared(
        ["/", method.parent_service().full_name(), "/", method.name()].concat(),
    )
    .map_err(|e| {
        (
            ExchangeError::invalid_input(format!("bad method path: {e}")),
            None,
        )
    })?;
    let Some(message) = message else {
        let input = match input {
            Some(input) => Input::Channel(input),
            None => Input::Messages(messages),
        };
        // Boxed: its state would otherwise make every unary call's future as large as a
        // stream's, moved and zeroed on each call.
        return Box::pin(streaming_call(
            rec,
            &method,
            path,
            (channel, marks),
            metadata,
            input,
            observer,
            request_msg,
            cancel,
        ))
        .await;
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), message);
    // The deadline is enforced here (timeout_at below), not sent as grpc-timeout: like
    // grpcurl without -max-time, the server is not asked to keep a timer per call.
    let codec = DynamicCodec::new(method.output());

    marks.arm();
    let request_start = Instant::now();
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
        grpc.server_streaming(request, path, codec).await
    };
    let result = rec.within(call).await;
    let headers_at = Instant::now();
    let m = marks.snapshot();
    let sent = m.sent();
    let sent_end = sent.map_or(request_start, |s| s.0);
    // The answer's first frame on the wire (the kernel's instant where it gave one); the rest
    // until tonic handed over the headers is the client's.
    let answered_at = m
        .answered()
        .map_or(headers_at, |a| a.0)
        .clamp(sent_end, headers_at.max(sent_end));
    let answered_source = m.answered().map_or(Source::UserSpace, |a| a.1);
    if let Some((_, source)) = sent {
        // From the request's first frame written to its last (END_STREAM): its own frames,
        // not the connection's SETTINGS or WINDOW_UPDATEs.
        rec.push(
            crate::net::phases::REQUEST_SENT,
            m.first_write.unwrap_or(request_start).min(sent_end),
            sent_end,
            Some(if reused {
                format!("reused channel, {} bytes of frames", m.bytes_written)
            } else {
                format!("{} bytes of frames", m.bytes_written)
            }),
        );
        rec.source(source);
    }
    let mut response_msg = Message::default();
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => {
            // A trailers-only answer (e.g. NOT_FOUND) or a transport failure.
            if is_transport_failure(&status) {
                let phase = match m.last_write {
                    Some(_) => crate::grpc::phases::RESPONSE_HEADERS,
                    None => crate::net::phases::REQUEST_SENT,
                };
                return Err((
                    transport_failed(rec, &marks, &status, phase, sent_end),
                    None,
                ));
            }
            rec.push(
                crate::grpc::phases::RESPONSE_HEADERS,
                sent_end,
                answered_at,
                Some("trailers-only".to_string()),
            );
            rec.source(answered_source);
            return Ok(status_answer(&status, response_msg));
        }
        Err(_) => {
            return Err((
                timed_out(rec, crate::grpc::phases::RESPONSE_HEADERS, sent_end),
                None,
            ));
        }
    };
    rec.push(
        crate::grpc::phases::RESPONSE_HEADERS,
        sent_end,
        answered_at,
        None,
    );
    rec.source(answered_source);
    let (headers, mut stream, _) = response.into_parts();
    response_msg.headers = metadata_list(&headers);

    let message = rec.within(stream.message()).await;
    let message_at = Instant::now();
    let mut notes = Vec::new();
    match message {
        Ok(Ok(Some(reply))) => {
            let size = reply.size;
            let rendered = self::proto_json::render(&reply.message);
            notes = rendered.notes;
            response_msg.body = Body::new(rendered.json.into_bytes());
            response_msg.size_bytes = size;
            rec.push(
                crate::grpc::phases::MESSAGE,
                headers_at,
                message_at,
                Some(format!("{size} bytes")),
            );
        }
        Ok(Ok(None)) => {}
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, headers_at, message_at, None);
            return Ok(status_answer(&status, response_msg));
        }
        Err(_) => {
            return Err((
                timed_out(rec, crate::grpc::phases::MESSAGE, headers_at),
                Some(response_msg),
            ));
        }
    }
    let trailers = rec.within(stream.trailers()).await;
    let trailers_at = Instant::now();
    match trailers {
        Ok(Ok(trailers)) => {
            rec.push(crate::grpc::phases::TRAILERS, message_at, trailers_at, None);
            Ok(ok_answer(
                trailers.as_ref(),
                notes,
                response_msg,
                "grpc-status 0 OK".to_string(),
            ))
        }
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, message_at, trailers_at, None);
            Ok(status_answer(&status, response_msg))
        }
        Err(_) => Err((
            timed_out(rec, crate::grpc::phases::TRAILERS, message_at),
            Some(response_msg),
        )),
    }
}

/// A non-OK status as the call's answer: its trailers (`grpc-status` and `grpc-message` added
/// when the server gave them only as the status) and its status line.
pub(super) fn status_answer(status: &tonic::Status, mut response: Message) -> Outcome {
    response.trailers = status_trailers(status);
    if !response.trailers.iter().any(|h| h.name == "grpc-status") {
        response.trailers.push(Header::new(
            "grpc-status",
            (status.code() as i32).to_string(),
        ));
        if !status.message().is_empty() {
            response
                .trailers
                .push(Header::new("grpc-message", status.message()));
        }
    }
    response.line = format!(
        "grpc-status {} {}",
        status.code() as i32,
        code_name(status.code())
    );
    Outcome::Answered {
        ok: false,
        status: code_name(status.code()).to_string(),
        response,
    }
}

/// An OK answer: the trailers received (`grpc-status: 0` first when the server left it out),
/// then the notes rendering the messages as JSON made.
pub(super) fn ok_answer(
    trailers: Option<&tonic::metadata::MetadataMap>,
    notes: Vec<String>,
    mut response: Message,
    line: String,
) -> Outcome {
    let mut list = trailers.map(metadata_list).unwrap_or_default();
    if !list.iter().any(|h| h.name == "grpc-status") {
        list.insert(0, Header::new("grpc-status", "0"));
    }
    list.extend(notes.into_iter().map(|n| Header::new(NOTE_HEADER, n)));
    response.trailers = list;
    response.line = line;
    Outcome::Answered {
        ok: true,
        status: "OK".to_string(),
        response,
    }
}

/// The call failed below gRPC (reset, garbage, refused certificate): the error sits in the
/// HTTP/2 handshake when the peer never sent its SETTINGS, else in `phase` from `start`.
pub(super) fn transport_failed(
    rec: &mut Recorder,
    marks: &IoMarks,
    status: &tonic::Status,
    phase: PhaseKind,
    start: Instant,
) -> ExchangeError {
    let (phase, start) = match handshake_failed(marks) {
        Some(started) => (crate::net::phases::HTTP2_HANDSHAKE, started),
        None => (phase, start),
    };
    rec.fail(
        phase,
        start,
        ErrorKind::Protocol,
        transport_failure_message(status, &marks.first_bytes()),
    )
}

/// The deadline passed during `phase`, which started at `start`.
pub(super) fn timed_out(rec: &mut Recorder, phase: PhaseKind, start: Instant) -> ExchangeError {
    let message = rec.timeout_message();
    rec.fail(phase, start, ErrorKind::Timeout, message)
}

/// True when a status was made up by the client because the transport failed.
/// (A status decoded from the server's trailers has no source error; one tonic makes up for a
/// broken connection, a refused TLS client certificate… does.)
pub(crate) fn is_transport_failure(status: &tonic::Status) -> bool {
    use std::error::Error as _;
    status.source().is_some()
}

/// What went wrong on the connection, with the underlying causes; `head` is what the peer
/// sent first on the connection (an HTTP/2 server always starts with a SETTINGS frame).
/// When a call failed on a connection whose peer never sent HTTP/2 SETTINGS: the handshake is
/// what failed; its start.
pub(super) fn handshake_failed(marks: &IoMarks) -> Option<Instant> {
    let h = marks.handshake();
    if h.server_settings.is_some() {
        return None;
    }
    h.started
}

pub(crate) fn transport_failure_message(status: &tonic::Status, head: &[u8]) -> String {
    use std::error::Error as _;
    let mut message = format!("the call failed: {}", status.message());
    let mut source = status.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // tonic and hyper repeat their causes in their own messages.
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        source = cause.source();
    }
    let starts_with_settings = head.len() >= 9 && head[3] == 0x04 && head[5..9] == [0, 0, 0, 0];
    if !head.is_empty() && !starts_with_settings {
        let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)])
            .chars()
            .map(|c| if c.is_control() { '.' } else { c })
            .collect();
        return format!(
            "the peer is not an HTTP/2 server: it answered {shown:?}… (an HTTP/1.x server answers \"HTTP/1.1 …\"; gRPC needs HTTP/2)"
        );
    }
    let closed = [
        "connection already used",
        "connection closed",
        "broken pipe",
        "connection reset",
    ]
    .iter()
    .any(|s| message.contains(s));
    if head.is_empty() && closed {
        // Our connector hands out its one connection once: being asked again, or the
        // connection closing before the peer said anything, means it never spoke HTTP/2.
        return "the peer is not an HTTP/2 server: it closed the connection without an HTTP/2 word (is it a gRPC server?)".to_string();
    }
    if message.contains("frame with invalid size") || message.contains("invalid HTTP/2 preface") {
        return format!(
            "the peer is not an HTTP/2 server: its answer is not HTTP/2 (an HTTP/1.x server answers like this; gRPC needs HTTP/2) — {message}"
        );
    }
    message
}

/// The canonical upper-case name of a gRPC status code.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}
