//! Running one NATS exchange on a connected client: request/reply (an inbox of its own, or a
//! kept connection's shared reply inbox) and publishes (core, or JetStream with its ack), and
//! `NatsClient`, the kept connection load mode and benchmarks use.

use std::time::{Duration, Instant};

use async_nats::Client;
use bytes::Bytes;
use futures_util::StreamExt;

use super::{
    NatsOp, NatsRequest, check, check_payload, connect, failed, header_map, header_rows,
    max_payload, phases, request_message,
};
use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder};

/// A request/reply on a connected client, recording `request` and `reply`: with an inbox of its
/// own (subscribed, then unsubscribed), or on a kept connection's shared reply inbox.
pub(super) async fn request_on(
    mut rec: Recorder,
    client: &Client,
    max: usize,
    mux: Option<&Mux>,
    req: &NatsRequest,
    headers: &[Header],
    body: &[u8],
) -> Exchange {
    let outcome = request_outcome(&mut rec, client, max, mux, req, headers, body).await;
    rec.finish(
        Transport::Nats,
        req.target(),
        request_message(req, headers, body),
        outcome,
    )
}

/// Where a request's reply arrives.
enum Waiting {
    /// The request's own inbox subscription.
    Own(async_nats::Subscriber),
    /// A kept connection's shared inbox: the reply is routed here by its token.
    Shared(tokio::sync::oneshot::Receiver<async_nats::Message>),
}

impl Waiting {
    async fn next(&mut self) -> Option<async_nats::Message> {
        match self {
            Self::Own(sub) => sub.next().await,
            Self::Shared(rx) => rx.await.ok(),
        }
    }

    async fn done(self) {
        if let Self::Own(mut sub) = self {
            let _ = sub.unsubscribe().await;
        }
    }
}

/// A kept connection's reply inbox: one subscription to `PREFIX.*`, replies routed by their
/// last token (what async-nats's own `request` does), so a request costs one PUB.
#[derive(Debug)]
pub(super) struct Mux {
    prefix: String,
    next: std::sync::atomic::AtomicU64,
    pending: std::sync::Mutex<
        std::collections::HashMap<String, tokio::sync::oneshot::Sender<async_nats::Message>>,
    >,
}

impl Mux {
    async fn start(client: &Client) -> Result<std::sync::Arc<Self>, String> {
        let prefix = client.new_inbox();
        let mut sub = client
            .subscribe(format!("{prefix}.*"))
            .await
            .map_err(|e| e.to_string())?;
        let mux = std::sync::Arc::new(Self {
            prefix,
            next: std::sync::atomic::AtomicU64::new(0),
            pending: Default::default(),
        });
        let weak = std::sync::Arc::downgrade(&mux);
        tokio::spawn(async move {
            while let Some(msg) = sub.next().await {
                let Some(mux) = weak.upgrade() else { return };
                let token = msg
                    .subject
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let waiter = mux
                    .pending
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&token);
                if let Some(tx) = waiter {
                    let _ = tx.send(msg);
                }
            }
        });
        Ok(mux)
    }

    /// A fresh reply subject and where its reply will arrive.
    fn register(
        &self,
    ) -> (
        String,
        String,
        tokio::sync::oneshot::Receiver<async_nats::Message>,
    ) {
        let token = self
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_string();
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.clone(), tx);
        (format!("{}.{token}", self.prefix), token, rx)
    }

    fn forget(&self, token: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }
}

async fn request_outcome(
    rec: &mut Recorder,
    client: &Client,
    max: usize,
    mux: Option<&Mux>,
    req: &NatsRequest,
    headers: &[Header],
    body: &[u8],
) -> Outcome {
    let fail = |error| Outcome::Failed {
        error,
        response: None,
    };
    let start = Instant::now();
    if let Err(message) = check_payload(max, headers, body.len()) {
        return fail(rec.fail(phases::REQUEST, start, ErrorKind::InvalidInput, message));
    }
    let map = match header_map(headers) {
        Ok(m) => m,
        Err(error) => return fail(error),
    };
    let payload = Bytes::copy_from_slice(body);
    let subject = req.subject.clone();
    let (inbox, token, shared) = match mux {
        Some(mux) => {
            let (inbox, token, rx) = mux.register();
            (inbox, Some(token), Some(rx))
        }
        None => (client.new_inbox(), None, None),
    };
    let send = async {
        let waiting = match shared {
            Some(rx) => Waiting::Shared(rx),
            None => Waiting::Own(
                client
                    .subscribe(inbox.clone())
                    .await
                    .map_err(|e| e.to_string())?,
            ),
        };
        match map {
            Some(map) => client
                .publish_with_reply_and_headers(subject, inbox.clone(), map, payload)
                .await
                .map_err(|e| e.to_string())?,
            None => client
                .publish_with_reply(subject, inbox.clone(), payload)
                .await
                .map_err(|e| e.to_string())?,
        }
        client.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(waiting)
    };
    let forget = |mux: Option<&Mux>| {
        if let (Some(mux), Some(token)) = (mux, &token) {
            mux.forget(token);
        }
    };
    let mut waiting = match rec
        .step(phases::REQUEST, send, |e| {
            (ErrorKind::Io, format!("sending the request failed: {e}"))
        })
        .await
    {
        Ok(w) => w,
        Err(error) => {
            forget(mux);
            return fail(error);
        }
    };
    rec.detail(match &waiting {
        Waiting::Own(_) => format!(
            "SUB {inbox}, PUB {} reply-to it ({} bytes), flushed",
            req.subject,
            body.len()
        ),
        Waiting::Shared(_) => format!(
            "PUB {} reply-to {inbox} ({} bytes), flushed",
            req.subject,
            body.len()
        ),
    });
    let start = Instant::now();
    let reply = rec.within(waiting.next()).await;
    let end = Instant::now();
    forget(mux);
    waiting.done().await;
    match reply {
        Ok(Some(msg)) if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) => {
            fail(rec.fail(
                phases::REPLY,
                start,
                ErrorKind::NoResponders,
                format!(
                    "no responders: nobody is subscribed to {:?} (the server answered at once with status 503)",
                    req.subject
                ),
            ))
        }
        Ok(Some(msg)) => {
            let headers = header_rows(msg.headers.as_ref());
            let code = header_value(&headers, "Nats-Service-Error-Code");
            let description = header_value(&headers, "Nats-Service-Error");
            rec.push(
                phases::REPLY,
                start,
                end,
                Some(format!("{} bytes on {}", msg.payload.len(), msg.subject)),
            );
            let (ok, status) = match code {
                Some(code) => (
                    false,
                    match description {
                        Some(d) => format!("service error {code}: {d}"),
                        None => format!("service error {code}"),
                    },
                ),
                None => (true, "reply".to_string()),
            };
            Outcome::Answered {
                ok,
                status,
                response: Message {
                    line: format!("MSG {}", msg.subject),
                    headers,
                    size_bytes: msg.payload.len() as u64,
                    body: Body::new(msg.payload.to_vec()),
                    ..Message::default()
                },
            }
        }
        Ok(None) => fail(rec.fail(
            phases::REPLY,
            start,
            ErrorKind::Protocol,
            "the connection closed before a reply came",
        )),
        Err(_) => {
            let message = format!(
                "no reply within {:.1} s: someone listens on {:?} (else the server would have said \"no responders\") but did not answer in time",
                rec.timeout.as_secs_f64(),
                req.subject
            );
            fail(rec.fail(phases::REPLY, start, ErrorKind::Timeout, message))
        }
    }
}

fn header_value(headers: &[Header], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.clone())
}

/// One publish on a connected client: `publish` (written and flushed), then for JetStream the
/// stream's `ack`.
pub(super) async fn publish_one(
    rec: &mut Recorder,
    client: &Client,
    max: usize,
    js: Option<&async_nats::jetstream::Context>,
    req: &NatsRequest,
    headers: &[Header],
    body: &[u8],
) -> Outcome {
    let fail = |error| Outcome::Failed {
        error,
        response: None,
    };
    let start = Instant::now();
    if let Err(message) = check_payload(max, headers, body.len()) {
        return fail(rec.fail(phases::PUBLISH, start, ErrorKind::InvalidInput, message));
    }
    let map = match header_map(headers) {
        Ok(m) => m,
        Err(error) => return fail(error),
    };
    let payload = Bytes::copy_from_slice(body);
    let subject = req.subject.clone();
    let Some(js) = js else {
        let send = async {
            match (map, req.reply_to.is_empty()) {
                (Some(map), true) => client.publish_with_headers(subject, map, payload).await,
                (Some(map), false) => {
                    client
                        .publish_with_reply_and_headers(subject, req.reply_to.clone(), map, payload)
                        .await
                }
                (None, true) => client.publish(subject, payload).await,
                (None, false) => {
                    client
                        .publish_with_reply(subject, req.reply_to.clone(), payload)
                        .await
                }
            }
            .map_err(|e| e.to_string())?;
            client.flush().await.map_err(|e| e.to_string())
        };
        if let Err(error) = rec
            .step(phases::PUBLISH, send, |e| {
                (ErrorKind::Io, format!("publishing failed: {e}"))
            })
            .await
        {
            return fail(error);
        }
        rec.detail(format!("{} bytes, flushed (core NATS: no ack)", body.len()));
        return Outcome::Answered {
            ok: true,
            status: "published".to_string(),
            response: Message {
                line: "flushed (core NATS has no ack)".to_string(),
                ..Message::default()
            },
        };
    };
    let send = async {
        let ack = match map {
            Some(map) => js.publish_with_headers(subject, map, payload).await,
            None => js.publish(subject, payload).await,
        }?;
        client.flush().await.map_err(|e| {
            async_nats::jetstream::context::PublishError::with_source(
                async_nats::jetstream::context::PublishErrorKind::BrokenPipe,
                e,
            )
        })?;
        Ok::<_, async_nats::jetstream::context::PublishError>(ack)
    };
    let ack = match rec
        .step(phases::PUBLISH, send, |e| {
            classify_publish(&e, &req.subject)
        })
        .await
    {
        Ok(ack) => ack,
        Err(error) => return fail(error),
    };
    rec.detail(format!("{} bytes, flushed", body.len()));
    let start = Instant::now();
    match rec.within(ack.into_future()).await {
        Ok(Ok(ack)) => {
            rec.push(
                phases::ACK,
                start,
                Instant::now(),
                Some(format!(
                    "stream {} seq {}{}",
                    ack.stream,
                    ack.sequence,
                    if ack.duplicate { " (duplicate)" } else { "" }
                )),
            );
            let mut headers = vec![
                Header::new("stream", ack.stream.clone()),
                Header::new("seq", ack.sequence.to_string()),
                Header::new("duplicate", ack.duplicate.to_string()),
            ];
            if !ack.domain.is_empty() {
                headers.push(Header::new("domain", ack.domain.clone()));
            }
            Outcome::Answered {
                ok: true,
                status: if ack.duplicate {
                    format!("ack seq {} (duplicate)", ack.sequence)
                } else {
                    format!("ack seq {}", ack.sequence)
                },
                response: Message {
                    line: format!("+ACK {} {}", ack.stream, ack.sequence),
                    headers,
                    ..Message::default()
                },
            }
        }
        Ok(Err(e)) => {
            let (kind, message) = classify_publish(&e, &req.subject);
            fail(rec.fail(phases::ACK, start, kind, message))
        }
        Err(_) => {
            let message = rec.timeout_message();
            fail(rec.fail(phases::ACK, start, ErrorKind::Timeout, message))
        }
    }
}

pub(super) fn classify_publish(
    err: &async_nats::jetstream::context::PublishError,
    subject: &str,
) -> (ErrorKind, String) {
    use async_nats::jetstream::context::PublishErrorKind as K;
    match err.kind() {
        K::StreamNotFound => (
            ErrorKind::Refused,
            format!(
                "no JetStream stream captures subject {subject:?}: create one, or publish without JetStream"
            ),
        ),
        // What answered was not a stream's ack: a service listening on the subject.
        K::Other if err.to_string().contains("did not match any variant") => (
            ErrorKind::Protocol,
            format!(
                "the answer to this JetStream publish was not a stream's ack: a service (a request/reply responder), not a stream, listens on {subject:?} — publish without JetStream, or send it as a request"
            ),
        ),
        K::TimedOut => (
            ErrorKind::Timeout,
            "no ack from JetStream in time".to_string(),
        ),
        K::MaxPayloadExceeded => (ErrorKind::InvalidInput, format!("{err}")),
        K::WrongLastMessageId | K::WrongLastSequence | K::MaxAckPending => (
            ErrorKind::Refused,
            format!("JetStream refused the message: {err}"),
        ),
        K::BrokenPipe | K::Other => (ErrorKind::Io, format!("JetStream publish failed: {err}")),
    }
}

/// A kept connection per server, for load and benchmarks: a reused connection's timeline starts
/// at `request`.
#[derive(Debug, Clone)]
pub struct NatsClient {
    client: Client,
    mux: std::sync::Arc<Mux>,
    max_payload: usize,
}

impl NatsClient {
    /// Connects once (the returned exchange error names the failure).
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, ExchangeError> {
        let mut rec = Recorder::new(timeout);
        let client = connect(&mut rec, url, "switchboard load").await?;
        let mux = Mux::start(&client).await.map_err(|e| ExchangeError {
            kind: ErrorKind::Io,
            phase: Some(phases::SUBSCRIBE),
            message: format!("cannot subscribe the reply inbox: {e}"),
        })?;
        let max_payload = max_payload(&client);
        Ok(Self {
            client,
            mux,
            max_payload,
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `req` on the kept connection.
    pub async fn execute(&self, req: &NatsRequest, default_timeout: Duration) -> Exchange {
        let timeout = req.timeout(default_timeout);
        let mut rec = Recorder::new(timeout);
        let (body, headers) = match req.body_bytes().and_then(|b| Ok((b, check(req)?))) {
            Ok(both) => both,
            Err(error) => return failed(rec, req, &[], &[], error),
        };
        match req.op {
            NatsOp::Request => {
                request_on(
                    rec,
                    &self.client,
                    self.max_payload,
                    Some(&self.mux),
                    req,
                    &headers,
                    &body,
                )
                .await
            }
            NatsOp::Publish => {
                let js = req
                    .jetstream
                    .then(|| async_nats::jetstream::new(self.client.clone()));
                let outcome = publish_one(
                    &mut rec,
                    &self.client,
                    self.max_payload,
                    js.as_ref(),
                    req,
                    &headers,
                    &body,
                )
                .await;
                rec.finish(
                    Transport::Nats,
                    req.target(),
                    request_message(req, &headers, &body),
                    outcome,
                )
            }
        }
    }
}
