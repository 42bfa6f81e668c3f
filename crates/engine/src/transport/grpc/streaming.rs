//! Prepared unary calls for load mode, and streaming calls (client, server, bidi) with messages reported as they arrive.

use super::*;

/// A unary call prepared once and made many times (load mode): the request is parsed and the
/// method looked up up front, and the reply is only checked for its status, not rendered.
#[derive(Debug, Clone)]
pub struct PreparedCall {
    addr: String,
    uri: String,
    path: http::uri::PathAndQuery,
    output: prost_reflect::MessageDescriptor,
    message: DynamicMessage,
    metadata: tonic::metadata::MetadataMap,
    timeout: Duration,
    tls: net::TlsOptions,
}

impl PreparedCall {
    pub fn new(req: &GrpcRequest, pool: &DescriptorPool) -> Result<Self, ExchangeError> {
        let addr = parse_addr(&req.addr)?;
        let method = find_method(pool, &req.method)?;
        if method.is_client_streaming() || method.is_server_streaming() {
            return Err(ExchangeError::invalid_input(format!(
                "{} is a streaming method; load mode calls unary methods only",
                method.full_name()
            )));
        }
        let message = json_to_message(&method, &req.json)?;
        let metadata = metadata_map(&req.metadata)?;
        let path = http::uri::PathAndQuery::from_maybe_shared(format!(
            "/{}/{}",
            method.parent_service().full_name(),
            method.name()
        ))
        .map_err(|e| ExchangeError::invalid_input(format!("bad method path: {e}")))?;
        Ok(Self {
            addr: req.addr.clone(),
            uri: addr.uri,
            path,
            output: method.output(),
            message,
            metadata,
            timeout: req.timeout,
            tls: req.tls.clone(),
        })
    }
    /// Sets (or replaces) one metadata entry of the calls to come: load mode's new
    /// `traceparent` per call.
    pub fn set_metadata(&mut self, name: &str, value: &str) -> Result<(), ExchangeError> {
        let value = tonic::metadata::MetadataValue::try_from(value).map_err(|e| {
            ExchangeError::invalid_input(format!("metadata {name}: {value:?} is not valid: {e}"))
        })?;
        let key = tonic::metadata::MetadataKey::from_bytes(name.as_bytes())
            .map_err(|e| ExchangeError::invalid_input(format!("metadata name {name:?}: {e}")))?;
        self.metadata.insert(key, value);
        Ok(())
    }
}

impl GrpcClient {
    /// Makes a prepared call on this client's channel (connecting first if needed); returns the
    /// failure kind (`NOT_FOUND`, `connection_refused`…) and its message, or `None` for `OK`.
    pub async fn call_prepared(&self, call: &PreparedCall) -> Option<(String, String)> {
        let failed = |e: ExchangeError| Some((e.kind.as_str().to_string(), e.to_string()));
        let channel = match self.get(&call.uri) {
            Some((channel, _)) => channel,
            None => {
                let mut rec = Recorder::new(call.timeout);
                let addr = match parse_addr(&call.addr) {
                    Ok(a) => a,
                    Err(e) => return failed(e),
                };
                match open_channel(&mut rec, &addr, &call.tls).await {
                    Ok(pair) => {
                        self.put(&call.uri, pair.clone());
                        pair.0
                    }
                    Err((e, _)) => return failed(e),
                }
            }
        };
        let mut grpc = tonic::client::Grpc::new(channel);
        let request = tonic::Request::from_parts(
            call.metadata.clone(),
            tonic::Extensions::default(),
            call.message.clone(),
        );
        let result = async {
            grpc.ready()
                .await
                .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
            grpc.unary(
                request,
                call.path.clone(),
                DynamicCodec::new(call.output.clone()),
            )
            .await
        };
        match tokio::time::timeout(call.timeout, result).await {
            Ok(Ok(_)) => None,
            Ok(Err(status)) => {
                if is_transport_failure(&status) {
                    self.forget(&call.uri);
                }
                let code = code_name(status.code());
                Some((code.to_string(), format!("{code}: {}", status.message())))
            }
            Err(_) => Some((
                "timeout".to_string(),
                format!("no answer within {:.1} s", call.timeout.as_secs_f64()),
            )),
        }
    }
}

/// Parses one JSON value after another (a client stream's messages).
pub fn json_to_messages(
    method: &MethodDescriptor,
    json: &str,
) -> Result<Vec<DynamicMessage>, ExchangeError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(json).into_iter::<serde_json::Value>();
    for (i, value) in stream.by_ref().enumerate() {
        let value = value.map_err(|e| {
            ExchangeError::invalid_input(format!("invalid request JSON (message {}): {e}", i + 1))
        })?;
        let message = json_to_message(method, &value.to_string()).map_err(|e| {
            ExchangeError::invalid_input(format!("message {}: {}", i + 1, e.message))
        })?;
        out.push(message);
    }
    if out.is_empty() && !method.is_client_streaming() {
        out.push(DynamicMessage::new(method.input()));
    }
    Ok(out)
}

/// Where a streaming call's request messages come from.
pub(super) enum Input {
    Messages(Vec<DynamicMessage>),
    Channel(mpsc::Receiver<DynamicMessage>),
}

/// A call of a streaming method: every message sent and received gets its own phase.
#[allow(clippy::too_many_arguments)]
pub(super) async fn streaming_call(
    rec: &mut Recorder,
    method: &MethodDescriptor,
    path: http::uri::PathAndQuery,
    (channel, marks): OpenChannel,
    metadata: tonic::metadata::MetadataMap,
    input: Input,
    observer: Option<mpsc::Sender<Received>>,
    request_msg: &mut Message,
    cancel: tokio_util::sync::CancellationToken,
) -> Result<Outcome, Failure> {
    use futures_util::StreamExt;
    let sent: Arc<Mutex<Vec<(Instant, u64, String)>>> = Arc::default();
    let log = sent.clone();
    let record = move |m: DynamicMessage| {
        let entry = (Instant::now(), m.encoded_len() as u64, message_to_json(&m));
        log.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
        m
    };
    let requests: std::pin::Pin<Box<dyn futures_util::Stream<Item = DynamicMessage> + Send>> =
        match input {
            Input::Messages(list) => Box::pin(futures_util::stream::iter(list).map(record)),
            Input::Channel(rx) => Box::pin(crate::descriptors::ReceiverStream(rx).map(record)),
        };
    let mut grpc = tonic::client::Grpc::new(channel);
    let request = tonic::Request::from_parts(metadata, tonic::Extensions::default(), requests);
    let start = Instant::now();
    let call = async {
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(format!("channel not ready: {e}")))?;
        grpc.streaming(request, path, DynamicCodec::new(method.output()))
            .await
    };
    let result = rec.within(call).await;
    let headers_at = Instant::now();
    let mut response_msg = Message::default();
    let mut received: Vec<String> = Vec::new();
    let mut notes: Vec<String> = Vec::new();
    let mut received_bytes = 0u64;
    let finish_request = |rec: &mut Recorder, request_msg: &mut Message| {
        let sent = sent.lock().unwrap_or_else(|p| p.into_inner());
        let mut previous = start;
        for (i, (at, size, _)) in sent.iter().enumerate() {
            rec.push(
                crate::grpc::phases::MESSAGE_SENT,
                previous.min(*at),
                *at,
                Some(format!("#{} {size} bytes", i + 1)),
            );
            previous = *at;
        }
        let jsons: Vec<&str> = sent.iter().map(|(_, _, j)| j.as_str()).collect();
        request_msg.body = Body::new(format!("[{}]", jsons.join(",")).into_bytes());
        request_msg.size_bytes = sent.iter().map(|(_, s, _)| s).sum();
    };
    // A non-OK status ends the call; what was received before it is kept.
    let status_outcome = |status: &tonic::Status, mut msg: Message, received: &[String]| {
        if !received.is_empty() {
            msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
        }
        status_answer(status, msg)
    };
    let response = match result {
        Ok(Ok(response)) => response,
        Ok(Err(status)) => {
            finish_request(rec, request_msg);
            if is_transport_failure(&status) {
                let phase = crate::grpc::phases::RESPONSE_HEADERS;
                return Err((transport_failed(rec, &marks, &status, phase, start), None));
            }
            rec.push(
                crate::grpc::phases::RESPONSE_HEADERS,
                start,
                headers_at,
                Some("trailers-only".to_string()),
            );
            return Ok(status_outcome(&status, response_msg, &received));
        }
        Err(_) => {
            finish_request(rec, request_msg);
            return Err((
                timed_out(rec, crate::grpc::phases::RESPONSE_HEADERS, start),
                None,
            ));
        }
    };
    // Waiting for the answer starts once the last message before it was handed over (in a bidi
    // call messages can keep going out meanwhile: those phases overlap).
    let waiting_since = sent
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(at, _, _)| *at)
        .filter(|at| *at <= headers_at)
        .max()
        .unwrap_or(start);
    rec.push(
        crate::grpc::phases::RESPONSE_HEADERS,
        waiting_since,
        headers_at,
        None,
    );
    let (headers, mut stream, _) = response.into_parts();
    response_msg.headers = metadata_list(&headers);
    let mut previous = headers_at;
    loop {
        let next = tokio::select! {
            _ = cancel.cancelled() => {
                finish_request(rec, request_msg);
                response_msg.size_bytes = received_bytes;
                response_msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
                let error = rec.fail(
                    crate::grpc::phases::MESSAGE,
                    previous,
                    ErrorKind::Cancelled,
                    format!("stopped by the user after {} messages", received.len()),
                );
                return Err((error, Some(response_msg)));
            }
            next = rec.within(stream.message()) => next,
        };
        let at = Instant::now();
        match next {
            Ok(Ok(Some(reply))) => {
                let size = reply.size;
                let rendered = self::proto_json::render(&reply.message);
                notes.extend(rendered.notes);
                let json = rendered.json;
                rec.push(
                    crate::grpc::phases::MESSAGE,
                    previous,
                    at,
                    Some(format!("#{} {size} bytes", received.len() + 1)),
                );
                previous = at;
                received_bytes += size;
                if let Some(observer) = &observer {
                    let _ = observer
                        .send(Received {
                            at_us: rec.clock.offset_us(at),
                            size_bytes: size,
                            json: json.clone(),
                        })
                        .await;
                }
                received.push(json);
            }
            Ok(Ok(None)) => break,
            Ok(Err(status)) => {
                finish_request(rec, request_msg);
                rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
                response_msg.size_bytes = received_bytes;
                return Ok(status_outcome(&status, response_msg, &received));
            }
            Err(_) => {
                finish_request(rec, request_msg);
                response_msg.size_bytes = received_bytes;
                response_msg.body = Body::new(format!("[{}]", received.join(",")).into_bytes());
                return Err((
                    timed_out(rec, crate::grpc::phases::MESSAGE, previous),
                    Some(response_msg),
                ));
            }
        }
    }
    let trailers = rec.within(stream.trailers()).await;
    let at = Instant::now();
    finish_request(rec, request_msg);
    response_msg.size_bytes = received_bytes;
    let body = if method.is_server_streaming() {
        format!("[{}]", received.join(","))
    } else {
        received.first().cloned().unwrap_or_default()
    };
    response_msg.body = Body::new(body.into_bytes());
    match trailers {
        Ok(Ok(trailers)) => {
            rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
            let line = format!("grpc-status 0 OK · {} messages", received.len());
            Ok(ok_answer(trailers.as_ref(), notes, response_msg, line))
        }
        Ok(Err(status)) => {
            rec.push(crate::grpc::phases::TRAILERS, previous, at, None);
            Ok(status_outcome(&status, response_msg, &received))
        }
        Err(_) => Err((
            timed_out(rec, crate::grpc::phases::TRAILERS, previous),
            Some(response_msg),
        )),
    }
}
