//! (Over 800 lines on purpose: the five watch modes share one connection setup, gap reporting
//! and batching; their tests are at the end.)
//!
//! Watching NATS: a subject **tap** (a core subscription: sees everything published while it
//! listens, takes nothing), a **queue group** (joins it: the group's other members get fewer
//! messages), a stream **tap** (an ordered, ephemeral JetStream consumer: never touches durable
//! consumers, never acks), a stream **consume** (a durable pull consumer with acks: destructive)
//! and a **peek** (messages read by sequence, nothing created on the server).
//!
//! Reports the same [`WatchEvent`]s as AMQP's watch; async-nats reconnects by itself (core
//! subscriptions are renewed), a stream tap's consumer is made again after the last message
//! seen (after a reconnect, missed heartbeats or a message lost on the way) and each lost
//! connection is reported as a gap.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{check_subject, classify_connect, parse_url, redact_url};
use crate::exchange::{ErrorKind, ExchangeError};
use crate::store::{Interner, MessageRef, Prepared};
use crate::watched::{
    BATCH, Clock, Delivered, Fields, Form, Named, StreamPosition, WatchEvent, WatchedMessage,
};

/// How a NATS watch gets its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NatsWatchMode {
    /// A core subscription (wildcards allowed).
    #[default]
    Subject,
    /// A core subscription in a queue group.
    QueueGroup,
    /// An ordered, ephemeral consumer on a stream.
    StreamTap,
    /// A durable pull consumer with acks.
    Consume,
    /// Messages read by sequence.
    Peek,
}

impl NatsWatchMode {
    pub const ALL: [NatsWatchMode; 5] = [
        Self::Subject,
        Self::QueueGroup,
        Self::StreamTap,
        Self::Consume,
        Self::Peek,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Subject => "subject tap",
            Self::QueueGroup => "queue group",
            Self::StreamTap => "stream tap",
            Self::Consume => "stream consume",
            Self::Peek => "stream peek",
        }
    }

    /// Whether the mode reads a stream (else a subject).
    pub fn is_stream(self) -> bool {
        matches!(self, Self::StreamTap | Self::Consume | Self::Peek)
    }

    /// Whether the mode takes messages others would get.
    pub fn is_destructive(self) -> bool {
        matches!(self, Self::QueueGroup | Self::Consume)
    }

    /// What the mode does to the server, for the UI and `--help`.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Subject => {
                "Subscribes to the subject (wildcards * and > allowed): you see every message published while you listen; nobody gets fewer messages."
            }
            Self::QueueGroup => {
                "Joins the queue group: each message goes to ONE member of the group, so the group's other members get fewer messages while you listen."
            }
            Self::StreamTap => {
                "Reads the stream through an ordered, ephemeral consumer: never acks, never touches durable consumers; starts where 'from' says."
            }
            Self::Consume => {
                "Reads through a durable pull consumer with acks: messages you receive are ACKED for that consumer and its other users will not get them."
            }
            Self::Peek => {
                "Reads messages by sequence (from 'from', up to N): nothing is created on the server and nothing is acked."
            }
        }
    }
}

/// What to watch, as saved and as the CLI builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatsWatch {
    pub url: String,
    #[serde(default)]
    pub mode: NatsWatchMode,
    /// The subject (subject modes) or the stream's filter subject (stream modes; empty: all).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub queue_group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stream: String,
    /// Stream modes: `all`, `new`, `last`, `last_per_subject`, `seq:N`, `time:RFC3339`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Consume: the durable consumer's name (created if missing).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub durable: String,
    /// Peek: at most this many messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peek_limit: Option<u32>,
    /// Stop after this many messages.
    #[serde(skip)]
    pub limit: Option<u64>,
}

impl NatsWatch {
    pub fn subject(url: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            mode: NatsWatchMode::Subject,
            subject: subject.into(),
            queue_group: String::new(),
            stream: String::new(),
            from: String::new(),
            durable: String::new(),
            peek_limit: None,
            limit: None,
        }
    }

    pub fn stream(url: impl Into<String>, mode: NatsWatchMode, stream: impl Into<String>) -> Self {
        Self {
            mode,
            stream: stream.into(),
            ..Self::subject(url, "")
        }
    }

    /// `tap orders.>`, `stream tap ORDERS from all`…
    pub fn describe(&self) -> String {
        match self.mode {
            NatsWatchMode::Subject => format!("tap {}", self.subject),
            NatsWatchMode::QueueGroup => {
                format!("queue group {} on {}", self.queue_group, self.subject)
            }
            NatsWatchMode::StreamTap => {
                format!("stream tap {} from {}", self.stream, self.start_text())
            }
            NatsWatchMode::Consume => format!("consume {} as {}", self.stream, self.durable_name()),
            NatsWatchMode::Peek => format!(
                "peek {} from {} (up to {})",
                self.stream,
                self.start_text(),
                self.peek_limit()
            ),
        }
    }

    fn start_text(&self) -> &str {
        match self.from.trim() {
            "" => "all",
            other => other,
        }
    }

    fn durable_name(&self) -> String {
        match self.durable.trim() {
            "" => "switchboard".to_string(),
            name => name.to_string(),
        }
    }

    pub fn peek_limit(&self) -> u32 {
        self.peek_limit.unwrap_or(100).max(1)
    }

    /// Checks the fields before anything connects.
    pub fn check(&self) -> Result<(), ExchangeError> {
        parse_url(&self.url)?;
        if self.mode.is_stream() {
            check_stream_name(&self.stream)?;
            if !self.subject.trim().is_empty() {
                check_subject(self.subject.trim(), true)?;
            }
            let start = start_at(&self.from)?;
            if matches!(start, consumer::DeliverPolicy::LastPerSubject)
                && self.subject.trim().is_empty()
            {
                return Err(ExchangeError::invalid_input(
                    "from last_per_subject needs a filter subject (e.g. orders.>): nats-server 2.9 refuses it on a whole stream",
                ));
            }
            if self.mode == NatsWatchMode::Consume {
                check_stream_name(&self.durable_name()).map_err(|e| {
                    ExchangeError::invalid_input(e.message.replace("stream", "durable consumer"))
                })?;
            }
        } else {
            check_subject(self.subject.trim(), true)?;
            if self.mode == NatsWatchMode::QueueGroup {
                let group = self.queue_group.trim();
                if group.is_empty() || group.chars().any(char::is_whitespace) {
                    return Err(ExchangeError::invalid_input(format!(
                        "invalid queue group {group:?}: it must be a name without spaces"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn check_stream_name(name: &str) -> Result<(), ExchangeError> {
    let name = name.trim();
    if name.is_empty() || name.contains(['.', '*', '>', ' ', '\t', '/', '\\']) {
        return Err(ExchangeError::invalid_input(format!(
            "invalid stream name {name:?}: a name without dots, spaces, `*` or `>`"
        )));
    }
    Ok(())
}

/// Where a stream read starts.
fn start_at(from: &str) -> Result<consumer::DeliverPolicy, ExchangeError> {
    use consumer::DeliverPolicy as P;
    let from = from.trim();
    let bad = |why: &str| {
        ExchangeError::invalid_input(format!(
            "invalid start {from:?}: {why} (all, new, last, last_per_subject, seq:N or time:RFC3339)"
        ))
    };
    Ok(match from {
        "" | "all" => P::All,
        "new" => P::New,
        "last" => P::Last,
        "last_per_subject" | "last-per-subject" => P::LastPerSubject,
        _ => {
            if let Some(n) = from.strip_prefix("seq:") {
                let start_sequence = n
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| bad("a sequence is a number from 1"))?;
                P::ByStartSequence { start_sequence }
            } else if let Some(t) = from.strip_prefix("time:") {
                let start_time = async_nats::datetime::parse_rfc3339(t.trim())
                    .map_err(|_| bad("the time is not RFC 3339 (2026-12-05T10:00:00Z)"))?;
                P::ByStartTime { start_time }
            } else {
                return Err(bad("unknown start"));
            }
        }
    })
}

const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before connection attempt `attempt` (1 is the first).
pub fn reconnect_delay(attempt: usize) -> Duration {
    match attempt {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(250u64.saturating_mul(1 << (n - 2).min(5)).min(5_000)),
    }
}

fn unix_ms(t: &async_nats::datetime::DateTime) -> u64 {
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn headers_named(map: Option<&async_nats::HeaderMap>) -> Named {
    let mut out = Named::new();
    for h in super::header_rows(map) {
        match out.get_mut(&h.name) {
            // A repeated header becomes an array of its values.
            Some(serde_json::Value::Array(values)) => values.push(h.value.into()),
            Some(first) => {
                let first = first.take();
                out.insert(
                    h.name,
                    serde_json::Value::Array(vec![first, h.value.into()]),
                );
            }
            None => {
                out.insert(h.name, h.value.into());
            }
        }
    }
    out
}

fn core_message(m: async_nats::Message) -> WatchedMessage {
    WatchedMessage::nats(
        m.subject.as_str(),
        m.reply.map(|r| r.as_str().to_owned()),
        headers_named(m.headers.as_ref()),
        m.payload.to_vec(),
        None,
    )
}

/// The same text as the last time, shared; else `s`, kept for next time.
fn shared(last: &mut Option<Arc<str>>, s: &str) -> Arc<str> {
    match last {
        Some(known) if known.as_ref() == s => known.clone(),
        _ => last.insert(Arc::from(s)).clone(),
    }
}

/// The stream's name and the last subject, shared by the messages of a watch that repeat them.
#[derive(Default)]
struct Names {
    stream: Option<Arc<str>>,
    subject: Option<Arc<str>>,
}

/// Where a JetStream message sits, read from its `$JS.ACK.…` reply subject in one pass over
/// its bytes: the fields `Message::info` parses, without its per-token searches and its date
/// arithmetic (that parse, done for every message of a stream tap, cost more than the rest of
/// the conversion). `None` for a subject of another shape (`Message::info` then decides).
fn ack_position(reply: &str) -> Option<(&str, StreamPosition)> {
    let rest = reply.strip_prefix("$JS.ACK.")?;
    let mut tokens: [&[u8]; 9] = [&[]; 9];
    let mut count = 0;
    for token in rest.as_bytes().split(|b| *b == b'.') {
        if let Some(slot) = tokens.get_mut(count) {
            *slot = token;
        }
        count += 1;
    }
    // ADR-15: <stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time ns>.<pending>,
    // or (9 tokens or more) <domain>.<account hash> first and more tokens after.
    let t = match count {
        7 => &tokens[..7],
        n if n >= 9 => &tokens[2..9],
        _ => return None,
    };
    let number = |i: usize| -> Option<u64> {
        let digits = t.get(i).filter(|d| !d.is_empty())?;
        digits.iter().try_fold(0u64, |n, b| {
            let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
            n.checked_mul(10)?.checked_add(u64::from(digit))
        })
    };
    Some((
        std::str::from_utf8(t[0]).ok()?,
        StreamPosition {
            stream: Arc::from(""),
            stream_seq: number(3)?,
            consumer_seq: number(4)?,
            timestamp_ms: number(5)? / 1_000_000,
            delivered: number(2)?,
        },
    ))
}

/// Where a JetStream message sits in its stream.
fn position(m: &jetstream::Message, names: &mut Names) -> Option<StreamPosition> {
    match m.reply.as_deref().and_then(ack_position) {
        Some((stream, position)) => Some(StreamPosition {
            stream: shared(&mut names.stream, stream),
            ..position
        }),
        None => m.info().ok().map(|info| StreamPosition {
            stream: shared(&mut names.stream, info.stream),
            stream_seq: info.stream_sequence,
            consumer_seq: info.consumer_sequence,
            timestamp_ms: unix_ms(&info.published),
            delivered: u64::try_from(info.delivered).unwrap_or(0),
        }),
    }
}

fn stream_message(m: &jetstream::Message, names: &mut Names) -> WatchedMessage {
    let position = position(m, names);
    stream_message_at(m, names, position)
}

fn stream_message_at(
    m: &jetstream::Message,
    names: &mut Names,
    position: Option<StreamPosition>,
) -> WatchedMessage {
    WatchedMessage::nats(
        shared(&mut names.subject, m.subject.as_str()),
        None,
        headers_named(m.headers.as_ref()),
        m.payload.to_vec(),
        position,
    )
}

/// A batch being filled, in the form the watch was asked for: watched messages, or records in
/// the store's form converted straight from the client's messages (no copy of the body, no
/// `WatchedMessage` on the way).
struct Sink {
    form: Form,
    watched: Vec<WatchedMessage>,
    stored: Prepared,
    interner: Interner,
    clock: Clock,
    names: Names,
    /// The stream sequence of the last message added.
    last_seq: Option<u64>,
    /// The consumer sequence of the last message added (0: none yet from this consumer).
    consumer_seq: u64,
    /// Body bytes in the batch being filled.
    bytes: usize,
    /// The average record of the last stored batch (the next one's buffer).
    record_bytes: usize,
}

impl Sink {
    fn new(form: Form) -> Self {
        Self {
            form,
            watched: Vec::new(),
            stored: Prepared::default(),
            interner: Interner::default(),
            clock: Clock::default(),
            names: Names::default(),
            last_seq: None,
            consumer_seq: 0,
            bytes: 0,
            record_bytes: 256,
        }
    }

    /// Starts a batch of up to `want` messages (after a wait: the clock is read again).
    fn start(&mut self, want: usize) {
        self.clock.stale();
        self.bytes = 0;
        match self.form {
            Form::Watched => self.watched = Vec::with_capacity(want),
            Form::Stored => self.stored = Prepared::with_capacity(want, self.record_bytes),
        }
    }

    /// Whether the batch should be handed on: `want` messages, or `BATCH_BYTES` of bodies.
    fn full(&self, want: usize) -> bool {
        self.len() >= want || self.bytes >= BATCH_BYTES
    }

    fn len(&self) -> usize {
        match self.form {
            Form::Watched => self.watched.len(),
            Form::Stored => self.stored.len(),
        }
    }

    fn add_core(&mut self, m: async_nats::Message) {
        let at_ms = self.clock.now_ms();
        self.bytes += m.payload.len();
        match self.form {
            Form::Watched => {
                let mut watched = core_message(m);
                watched.received_at_ms = at_ms;
                self.watched.push(watched);
            }
            Form::Stored => {
                let fields = Fields::nats(m.reply.as_ref().map(|r| r.to_string()), None);
                self.store(at_ms, "", m.subject.as_str(), false, &fields, &m);
            }
        }
    }

    /// Whether a message at `position` is the next of this consumer (then it is the last seen).
    /// A message without a position (not a `$JS.ACK` reply) cannot be checked and is taken.
    fn in_order(&mut self, position: Option<&StreamPosition>) -> bool {
        let Some(p) = position else {
            return true;
        };
        if p.consumer_seq != self.consumer_seq + 1 {
            return false;
        }
        self.consumer_seq = p.consumer_seq;
        self.last_seq = Some(p.stream_seq);
        true
    }

    /// Adds the next message of a stream tap's consumer. `false`, and nothing added, when it is
    /// not the one after the last: a message was lost on the way (async-nats drops what a full
    /// subscription buffer cannot take), and the consumer is made again after the last one seen
    /// (what async-nats's ordered consumer does by the same check).
    fn add_stream(&mut self, m: &jetstream::Message) -> bool {
        let position = position(m, &mut self.names);
        if !self.in_order(position.as_ref()) {
            return false;
        }
        let at_ms = self.clock.now_ms();
        self.bytes += m.payload.len();
        match self.form {
            Form::Watched => {
                let mut watched = stream_message_at(m, &mut self.names, position);
                watched.received_at_ms = at_ms;
                self.watched.push(watched);
            }
            Form::Stored => {
                let redelivered = position.as_ref().is_some_and(StreamPosition::redelivered);
                let source = position.as_ref().map(|p| p.stream.clone());
                let fields = Fields::nats(None, position);
                let source = source.as_deref().unwrap_or("");
                self.store(at_ms, source, m.subject.as_str(), redelivered, &fields, m);
            }
        }
        true
    }

    /// Adds a message's record in the store's form: its subject, headers and body read from
    /// the client's message, as [`WatchedMessage::nats`] would give them.
    fn store(
        &mut self,
        received_at_ms: u64,
        source: &str,
        subject: &str,
        redelivered: bool,
        fields: &Fields,
        m: &async_nats::Message,
    ) {
        let headers = headers_named(m.headers.as_ref());
        self.stored.add_ref(
            MessageRef {
                transport: crate::exchange::Transport::Nats,
                received_at_ms,
                source,
                key: subject,
                redelivered,
                fields,
                headers: &headers,
                body: &m.payload,
                truncated: false,
            },
            &mut self.interner,
        );
    }

    /// The batch as an event (`None` when empty).
    fn take(&mut self) -> Option<WatchEvent> {
        if self.len() == 0 {
            return None;
        }
        Some(match self.form {
            Form::Watched => WatchEvent::Messages(std::mem::take(&mut self.watched)),
            Form::Stored => {
                let batch = std::mem::take(&mut self.stored);
                self.record_bytes = batch.average_record();
                WatchEvent::Stored(batch)
            }
        })
    }
}

/// Connects a watch's client; lost connections and reconnections go to `events` as a gap and a
/// `Connected { reconnected: true }`.
async fn connect(
    spec: &NatsWatch,
    events: &mpsc::Sender<WatchEvent>,
) -> Result<(async_nats::Client, tokio::sync::watch::Receiver<u64>), ExchangeError> {
    let target = parse_url(&spec.url)?;
    let tx = events.clone();
    let what = spec.describe();
    // The client's first `Connected` is the initial connection: only one after a loss counts.
    let lost = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Counts reconnections: a stream tap makes its consumer again at once (the server forgot
    // it), rather than waiting for missed heartbeats.
    let (reconnects_tx, reconnects) = tokio::sync::watch::channel(0u64);
    let reconnects_tx = std::sync::Arc::new(reconnects_tx);
    let opts = super::options(&target, &format!("switchboard watch {what}"), OPEN_TIMEOUT)?
        .max_reconnects(None)
        // async-nats asks before every attempt, the first connection's too (attempt 1):
        // none then, 250 ms doubling to 5 s after a loss.
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let tx = tx.clone();
            let what = what.clone();
            let lost = lost.clone();
            let reconnects_tx = reconnects_tx.clone();
            async move {
                use std::sync::atomic::Ordering;
                let report = match event {
                    async_nats::Event::Disconnected => {
                        lost.store(true, Ordering::SeqCst);
                        Some(WatchEvent::Lost {
                            reason: "the connection to the NATS server was lost".to_string(),
                            retry_in: Duration::from_millis(250),
                        })
                    }
                    async_nats::Event::Connected if lost.swap(false, Ordering::SeqCst) => {
                        reconnects_tx.send_modify(|n| *n += 1);
                        Some(WatchEvent::Connected {
                            queue: what,
                            reconnected: true,
                        })
                    }
                    _ => None,
                };
                if let Some(report) = report {
                    let _ = tx.send(report).await;
                }
            }
        });
    let url = spec.url.clone();
    match tokio::time::timeout(OPEN_TIMEOUT, opts.connect(target.addr.clone())).await {
        Ok(Ok(client)) => Ok((client, reconnects)),
        Ok(Err(e)) => {
            let (kind, message) = classify_connect(&e, &url);
            Err(failed(kind, message))
        }
        Err(_) => Err(failed(
            ErrorKind::Timeout,
            format!("connecting to {} timed out", redact_url(&url)),
        )),
    }
}

fn failed(kind: ErrorKind, message: String) -> ExchangeError {
    ExchangeError {
        kind,
        phase: Some(crate::net::phases::CONNECT),
        message,
    }
}

fn subscribe_failed(message: String, kind: ErrorKind) -> ExchangeError {
    ExchangeError {
        kind,
        phase: Some(super::phases::SUBSCRIBE),
        message,
    }
}

async fn get_stream(
    js: &jetstream::Context,
    name: &str,
) -> Result<jetstream::stream::Stream, ExchangeError> {
    js.get_stream(name).await.map_err(|e| {
        let text = e.to_string();
        if text.to_ascii_lowercase().contains("not found") {
            subscribe_failed(
                format!(
                    "stream {name:?} does not exist (a watch never creates the stream it watches)"
                ),
                ErrorKind::Refused,
            )
        } else if text.to_ascii_lowercase().contains("no responders")
            || text.to_ascii_lowercase().contains("timed out")
        {
            subscribe_failed(
                "JetStream is not enabled on this server (start nats-server with -js)".to_string(),
                ErrorKind::Refused,
            )
        } else {
            subscribe_failed(
                format!("cannot read stream {name:?}: {text}"),
                ErrorKind::Refused,
            )
        }
    })
}

/// Runs a NATS watch until `cancel` fires, the receiver is dropped, the limit is reached or it
/// fails. A consume acks only what `delivered` says reached the user (every message handed
/// over, without it).
pub async fn run(
    spec: NatsWatch,
    events: mpsc::Sender<WatchEvent>,
    cancel: CancellationToken,
    delivered: Option<Delivered>,
) {
    run_as(spec, events, cancel, delivered, Form::Watched).await;
}

/// [`run`], with subject and stream taps handing their messages over in `form`.
pub async fn run_as(
    spec: NatsWatch,
    events: mpsc::Sender<WatchEvent>,
    cancel: CancellationToken,
    delivered: Option<Delivered>,
    form: Form,
) {
    let deletion = Deletion::default();
    let result = tokio::select! {
        _ = cancel.cancelled() => Ok(()),
        r = run_inner(&spec, &events, &cancel, delivered, form, &deletion) => r,
    };
    // A stream tap's consumer is deleted as it stops: waited for (briefly), so that a CLI
    // exiting right after does not leave it behind.
    let pending = deletion.lock().ok().and_then(|mut d| d.take());
    if let Some(pending) = pending {
        let _ = tokio::time::timeout(Duration::from_secs(2), pending).await;
    }
    if let Err(error) = result {
        let _ = events.send(WatchEvent::Failed(error)).await;
    }
}

async fn run_inner(
    spec: &NatsWatch,
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    delivered: Option<Delivered>,
    form: Form,
    deletion: &Deletion,
) -> Result<(), ExchangeError> {
    spec.check()?;
    let (client, reconnects) = connect(spec, events).await?;
    if spec.mode.is_stream() {
        super::require_jetstream(&client)?;
    }
    let result = match spec.mode {
        NatsWatchMode::Subject | NatsWatchMode::QueueGroup => {
            core(spec, &client, events, Sink::new(form)).await
        }
        NatsWatchMode::StreamTap => {
            stream_tap(spec, &client, events, reconnects, Sink::new(form), deletion).await
        }
        NatsWatchMode::Consume => consume(spec, &client, events, cancel, delivered).await,
        NatsWatchMode::Peek => peek(spec, &client, events).await,
    };
    let _ = client.drain().await;
    result
}

async fn connected(events: &mpsc::Sender<WatchEvent>, what: String) -> bool {
    events
        .send(WatchEvent::Connected {
            queue: what,
            reconnected: false,
        })
        .await
        .is_ok()
}

/// Forwards a core subscription's messages in batches (what is already there goes in one
/// batch), up to the limit. Returns when the subscription ends, the limit is reached or the
/// receiver is gone.
async fn forward(
    mut stream: async_nats::Subscriber,
    limit: Option<u64>,
    events: &mpsc::Sender<WatchEvent>,
    mut sink: Sink,
) -> Result<(), ExchangeError> {
    let mut sent: u64 = 0;
    loop {
        let want = limit.map_or(BATCH, |l| (l.saturating_sub(sent) as usize).min(BATCH));
        if want == 0 {
            return Ok(());
        }
        let Some(first) = stream.next().await else {
            return Ok(());
        };
        sink.start(want);
        sink.add_core(first);
        while !sink.full(want) {
            match futures_util::FutureExt::now_or_never(stream.next()) {
                Some(Some(m)) => sink.add_core(m),
                _ => break,
            }
        }
        sent += sink.len() as u64;
        let Some(batch) = sink.take() else {
            continue;
        };
        if events.send(batch).await.is_err() {
            return Ok(());
        }
    }
}

async fn core(
    spec: &NatsWatch,
    client: &async_nats::Client,
    events: &mpsc::Sender<WatchEvent>,
    sink: Sink,
) -> Result<(), ExchangeError> {
    let subject = spec.subject.trim().to_string();
    let sub = match spec.mode {
        NatsWatchMode::QueueGroup => {
            client
                .queue_subscribe(subject, spec.queue_group.trim().to_string())
                .await
        }
        _ => client.subscribe(subject).await,
    }
    .map_err(|e| subscribe_failed(format!("cannot subscribe: {e}"), ErrorKind::Refused))?;
    client
        .flush()
        .await
        .map_err(|e| subscribe_failed(format!("cannot subscribe: {e}"), ErrorKind::Io))?;
    if !connected(events, spec.describe()).await {
        return Ok(());
    }
    forward(sub, spec.limit, events, sink).await
}

fn consumer_failed(e: impl std::fmt::Display) -> ExchangeError {
    subscribe_failed(
        format!("cannot create the consumer: {e}"),
        ErrorKind::Refused,
    )
}

async fn stream_tap(
    spec: &NatsWatch,
    client: &async_nats::Client,
    events: &mpsc::Sender<WatchEvent>,
    mut reconnects: tokio::sync::watch::Receiver<u64>,
    mut sink: Sink,
    deletion: &Deletion,
) -> Result<(), ExchangeError> {
    let js = jetstream::new(client.clone());
    let name = spec.stream.trim();
    // Where to resume when the consumer has to be made again (after a server restart or a
    // stream that went away): right after the last message seen, so nothing is seen twice.
    let mut resume: Option<u64> = None;
    let mut sent: u64 = 0;
    let mut backoff = Duration::from_millis(250);
    let mut first = true;
    // When the stream was created: a stream deleted and made again under the same name starts
    // its sequences at 1, so `resume` means nothing in it.
    let mut created = None;
    let mut cleanup = Cleanup {
        js: js.clone(),
        stream: name.to_string(),
        consumer: None,
        deletion: deletion.clone(),
    };
    loop {
        let opened = async {
            let stream = get_stream(&js, name).await?;
            let made = stream.cached_info().created;
            let recreated = created.is_some_and(|c| c != made);
            if recreated {
                resume = None;
            }
            created = Some(made);
            // An ordered consumer's settings (ephemeral, no acks, memory storage, one
            // replica), read through a plain pull consumer: async-nats's ordered consumer keeps
            // at most 500 messages in flight, which held a tap of a full stream to ≈ 0.8 of
            // what the server can send while a frame was drawn (#13). The ordered consumer's
            // guarantee, every message once and in order, is kept by `Sink::add_stream`.
            let config: consumer::pull::Config = consumer::pull::OrderedConfig {
                filter_subject: spec.subject.trim().to_string(),
                deliver_policy: match resume {
                    Some(start_sequence) => {
                        consumer::DeliverPolicy::ByStartSequence { start_sequence }
                    }
                    None if recreated => consumer::DeliverPolicy::All,
                    None => start_at(&spec.from)?,
                },
                description: Some("switchboard stream tap (ordered, ephemeral, no acks)".into()),
                ..Default::default()
            }
            .into();
            let window_bytes = tap_window_bytes(client.server_info().max_payload);
            let consumer = stream
                .create_consumer(config)
                .await
                .map_err(consumer_failed)?;
            cleanup.replace(consumer.cached_info().name.clone());
            let messages = consumer
                .stream()
                .max_messages_per_batch(TAP_WINDOW)
                .max_bytes_per_batch(window_bytes)
                .heartbeat(TAP_HEARTBEAT)
                .messages()
                .await
                .map_err(consumer_failed)?;
            Ok((messages, recreated))
        }
        .await;
        let mut messages = match opened {
            Ok((m, recreated)) => {
                if recreated
                    && events
                        .send(WatchEvent::Notice(format!(
                            "stream {name:?} was deleted and created again: its sequences start over, so the tap reads the new stream from its start"
                        )))
                        .await
                        .is_err()
                {
                    return Ok(());
                }
                m
            }
            // A first failure ends the watch; later ones are waited out.
            Err(e) if first => return Err(e),
            Err(e) => {
                let reason = format!("{}; waiting for it to come back", e.message);
                if events
                    .send(WatchEvent::Lost {
                        reason,
                        retry_in: backoff,
                    })
                    .await
                    .is_err()
                {
                    return Ok(());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if first {
            first = false;
            if !connected(events, spec.describe()).await {
                return Ok(());
            }
        } else if backoff > Duration::from_millis(250)
            && events
                .send(WatchEvent::Connected {
                    queue: spec.describe(),
                    reconnected: true,
                })
                .await
                .is_err()
        {
            return Ok(());
        }
        backoff = Duration::from_millis(250);
        sink.consumer_seq = 0;
        // Batches of what is already there, up to the limit; an error (missed heartbeats, a
        // lost connection, a deleted consumer) or a lost message makes the consumer again
        // from `resume`.
        let mut lost = false;
        while !lost {
            let want = spec
                .limit
                .map_or(BATCH, |l| (l.saturating_sub(sent) as usize).min(BATCH));
            if want == 0 {
                return Ok(());
            }
            let next = tokio::select! {
                next = messages.next() => next,
                changed = reconnects.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    break;
                }
            };
            let Some(Ok(first_message)) = next else {
                break;
            };
            // Each message is converted as it is taken (no batch of JetStream messages, whose
            // buffer would be a fresh mapping every time).
            sink.start(want);
            if !sink.add_stream(&first_message) {
                break;
            }
            drop(first_message);
            // What is already there. Every `YIELD_EVERY` messages other tasks get to run: the
            // consumer asks the server for more (through a task of async-nats, woken on this
            // thread, which runs only when this one yields) once half of its window is taken,
            // and that request need not wait for the batch to fill. And, when only a handful were
            // there, once more after letting the connection read on: a fast stream fills
            // batches instead of waking the viewer for a handful each time.
            let mut waited = false;
            while !sink.full(want) {
                match futures_util::FutureExt::now_or_never(messages.next()) {
                    Some(Some(Ok(m))) => {
                        if !sink.add_stream(&m) {
                            lost = true;
                            break;
                        }
                        if sink.len().is_multiple_of(YIELD_EVERY) {
                            tokio::task::yield_now().await;
                            sink.clock.stale();
                        }
                    }
                    None if !waited && sink.len() > 1 && sink.len() < want.min(64) => {
                        waited = true;
                        tokio::task::yield_now().await;
                        sink.clock.stale();
                    }
                    _ => break,
                }
            }
            if let Some(seq) = sink.last_seq {
                resume = Some(seq + 1);
            }
            sent += sink.len() as u64;
            let Some(batch) = sink.take() else {
                continue;
            };
            if events.send(batch).await.is_err() {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn consume(
    spec: &NatsWatch,
    client: &async_nats::Client,
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    mut delivered: Option<Delivered>,
) -> Result<(), ExchangeError> {
    let js = jetstream::new(client.clone());
    let stream = get_stream(&js, spec.stream.trim()).await?;
    let name = spec.durable_name();
    let config = consumer::pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: spec.subject.trim().to_string(),
        deliver_policy: start_at(&spec.from)?,
        ack_policy: consumer::AckPolicy::Explicit,
        description: Some("switchboard consume".into()),
        ..Default::default()
    };
    let consumer: consumer::PullConsumer = stream
        .get_or_create_consumer(&name, config)
        .await
        .map_err(consumer_failed)?;
    if !connected(events, spec.describe()).await {
        return Ok(());
    }
    let mut sent: u64 = 0;
    let mut names = Names::default();
    // Handed over, not acked yet: (number since the watch started, message).
    let mut unacked: VecDeque<(u64, jetstream::Message)> = VecDeque::new();
    loop {
        let remaining = spec.limit.map_or(u64::MAX, |l| l.saturating_sub(sent));
        if remaining == 0 {
            // Wait until the user has what was handed over, then ack it and end.
            while !unacked.is_empty() {
                ack_delivered(&mut unacked, delivered.as_ref()).await;
                let Some(d) = delivered.as_mut().filter(|_| !unacked.is_empty()) else {
                    break;
                };
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    r = d.changed() => if r.is_err() { break },
                }
            }
            // What reached the user by now is acked (a stop right after the last message
            // must not give it back), the rest goes back.
            ack_delivered(&mut unacked, delivered.as_ref()).await;
            nak_all(&mut unacked).await;
            return Ok(());
        }
        // One pull request for at most what is still wanted: a consume never takes more than
        // its limit from the consumer.
        let want = usize::try_from(remaining.min(CONSUME_BATCH)).unwrap_or(1);
        let batch = tokio::select! {
            _ = cancel.cancelled() => {
                ack_delivered(&mut unacked, delivered.as_ref()).await;
                nak_all(&mut unacked).await;
                return Ok(());
            }
            b = consumer.batch().max_messages(want).expires(Duration::from_secs(2)).messages() => b,
        };
        let Ok(mut batch) = batch else {
            // Lost connection (reported by the client's events): ask again shortly.
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => {
                    ack_delivered(&mut unacked, delivered.as_ref()).await;
                    nak_all(&mut unacked).await;
                    return Ok(());
                }
                changed = async {
                    match delivered.as_mut() {
                        Some(d) => d.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                }, if !unacked.is_empty() => {
                    if !changed {
                        nak_all(&mut unacked).await;
                        return Ok(());
                    }
                    ack_delivered(&mut unacked, delivered.as_ref()).await;
                    continue;
                }
                next = batch.next() => next,
            };
            let message = match next {
                None => break,
                Some(Err(_)) => break,
                Some(Ok(m)) => m,
            };
            sent += 1;
            let watched = stream_message(&message, &mut names);
            unacked.push_back((sent, message));
            if events
                .send(WatchEvent::Messages(vec![watched]))
                .await
                .is_err()
            {
                nak_all(&mut unacked).await;
                return Ok(());
            }
            ack_delivered(&mut unacked, delivered.as_ref()).await;
        }
    }
}

/// Deletes a stream tap's consumer when the tap stops or makes another, rather than leaving
/// it listed on the server for the 30 s until it would expire on its own. Best effort, on a
/// task of its own (a tap is stopped by dropping it).
struct Cleanup {
    js: jetstream::Context,
    stream: String,
    consumer: Option<String>,
    /// The last deletion started, for `run_as` to wait for.
    deletion: Deletion,
}

/// A stream tap's last consumer deletion in progress.
type Deletion = Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>;

impl Cleanup {
    fn replace(&mut self, consumer: String) {
        if let Some(old) = self.consumer.replace(consumer) {
            self.delete(old);
        }
    }

    fn delete(&self, consumer: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (js, stream) = (self.js.clone(), self.stream.clone());
        let task = runtime.spawn(async move {
            let deleted = js.delete_consumer_from_stream(consumer, stream);
            let _ = tokio::time::timeout(Duration::from_secs(2), deleted).await;
        });
        if let Ok(mut last) = self.deletion.lock() {
            *last = Some(task);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            self.delete(consumer);
        }
    }
}

/// A stream tap lets other tasks run after this many messages of a batch (see `stream_tap`).
const YIELD_EVERY: usize = 64;

/// How often the server tells an idle stream tap it is still there (as async-nats's ordered
/// consumer); two missed make the consumer again.
const TAP_HEARTBEAT: Duration = Duration::from_secs(15);

/// Most messages a stream tap keeps in flight (asked of the server, not yet taken).
const TAP_WINDOW: usize = 2000;

/// Most bytes a stream tap keeps in flight, unless the server allows larger messages.
const TAP_WINDOW_BYTES: usize = 16 << 20;

/// The bytes a stream tap asks for at a time: `TAP_WINDOW_BYTES`, or room for two of the
/// largest messages the server takes (a message larger than a pull's byte limit would stall it).
fn tap_window_bytes(max_payload: usize) -> usize {
    TAP_WINDOW_BYTES.max(max_payload.saturating_mul(2))
}

/// A batch of watched messages is handed on once it holds this many bytes of bodies, whatever
/// its count: 512 messages of 1 MB would be half a gigabyte, and the CLI's and the viewer's
/// queues hold 16–64 batches.
const BATCH_BYTES: usize = 1 << 20;

/// Most messages one pull request of a consume asks for.
const CONSUME_BATCH: u64 = 256;

/// Gives back what the user never received: redelivered at once, not after the ack wait.
async fn nak_all(unacked: &mut VecDeque<(u64, jetstream::Message)>) {
    let mut client = None;
    for (_, m) in unacked.drain(..) {
        let _ = m.ack_with(jetstream::AckKind::Nak(None)).await;
        client = Some(m.context.client());
    }
    if let Some(client) = client {
        let _ = client.flush().await;
    }
}

/// Acks the messages the user has received (all handed over when nobody counts), and flushes
/// the acks (async-nats buffers them otherwise).
async fn ack_delivered(
    unacked: &mut VecDeque<(u64, jetstream::Message)>,
    delivered: Option<&Delivered>,
) {
    let upto = delivered.map_or(u64::MAX, |d| *d.borrow());
    let mut client = None;
    while unacked.front().is_some_and(|(n, _)| *n <= upto) {
        if let Some((_, m)) = unacked.pop_front() {
            let _ = m.ack().await;
            client = Some(m.context.client());
        }
    }
    if let Some(client) = client {
        let _ = client.flush().await;
    }
}

async fn peek(
    spec: &NatsWatch,
    client: &async_nats::Client,
    events: &mpsc::Sender<WatchEvent>,
) -> Result<(), ExchangeError> {
    let js = jetstream::new(client.clone());
    let mut stream = get_stream(&js, spec.stream.trim()).await?;
    let info = stream
        .info()
        .await
        .map_err(|e| subscribe_failed(format!("cannot read the stream: {e}"), ErrorKind::Io))?;
    let (first, last) = (info.state.first_sequence, info.state.last_sequence);
    let start = match start_at(&spec.from)? {
        consumer::DeliverPolicy::ByStartSequence { start_sequence } => start_sequence,
        consumer::DeliverPolicy::Last | consumer::DeliverPolicy::New => last,
        _ => first,
    }
    .max(first);
    if !connected(events, spec.describe()).await {
        return Ok(());
    }
    let limit = u64::from(spec.peek_limit()).min(spec.limit.unwrap_or(u64::MAX));
    let filter = spec.subject.trim();
    let stream_name: Arc<str> = Arc::from(spec.stream.trim());
    let mut out = Vec::new();
    let mut seq = start;
    while seq <= last && (out.len() as u64) < limit {
        match stream.get_raw_message(seq).await {
            Ok(m) => {
                let subject = m.subject.to_string();
                if filter.is_empty() || subject_matches(filter, &subject) {
                    out.push(WatchedMessage::nats(
                        subject,
                        None,
                        headers_named(Some(&m.headers)),
                        m.payload.to_vec(),
                        Some(StreamPosition {
                            stream: stream_name.clone(),
                            stream_seq: m.sequence,
                            consumer_seq: 0,
                            timestamp_ms: unix_ms(&m.time),
                            delivered: 0,
                        }),
                    ));
                }
            }
            // A deleted message leaves a hole in the sequence.
            Err(e)
                if {
                    let text = e.to_string().to_ascii_lowercase();
                    text.contains("not found") || text.contains("no message found")
                } => {}
            Err(e) => {
                return Err(subscribe_failed(
                    format!("reading message {seq} failed: {e}"),
                    ErrorKind::Io,
                ));
            }
        }
        seq += 1;
    }
    let count = out.len();
    for chunk in crate::watched::batches(out) {
        let _ = events.send(WatchEvent::Messages(chunk)).await;
    }
    let _ = events.send(WatchEvent::PeekDone { count }).await;
    Ok(())
}

/// Whether `subject` matches the filter `pattern` (`*` one token, `>` the rest).
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_parse_and_bad_ones_say_what_is_allowed() {
        assert!(matches!(
            start_at("").unwrap(),
            consumer::DeliverPolicy::All
        ));
        assert!(matches!(
            start_at("new").unwrap(),
            consumer::DeliverPolicy::New
        ));
        assert!(matches!(
            start_at("seq:5").unwrap(),
            consumer::DeliverPolicy::ByStartSequence { start_sequence: 5 }
        ));
        assert!(matches!(
            start_at("time:2026-12-05T10:00:00Z").unwrap(),
            consumer::DeliverPolicy::ByStartTime { .. }
        ));
        for bad in ["seq:0", "seq:x", "time:yesterday", "latest"] {
            let e = start_at(bad).unwrap_err();
            assert!(e.message.contains("seq:N"), "{}", e.message);
        }
    }

    #[test]
    fn the_first_connection_is_not_delayed_and_reconnects_back_off() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(250));
        assert_eq!(reconnect_delay(3), Duration::from_millis(500));
        assert_eq!(reconnect_delay(50), Duration::from_secs(5));
    }

    #[test]
    fn ack_subjects_parse_in_both_shapes() {
        for reply in [
            "$JS.ACK.ORDERS.consumer1.2.1234.17.1767225600123456789.40",
            "$JS.ACK.hub.ACCHASH.ORDERS.consumer1.2.1234.17.1767225600123456789.40.rand",
            "$JS.ACK.hub.ACCHASH.ORDERS.consumer1.2.1234.17.1767225600123456789.40",
            "$JS.ACK._.ACCHASH.ORDERS.consumer1.2.1234.17.1767225600123456789.40.r.extra",
        ] {
            let (stream, p) = ack_position(reply).unwrap();
            assert_eq!(stream, "ORDERS", "{reply}");
            assert_eq!(
                (p.delivered, p.stream_seq, p.consumer_seq, p.timestamp_ms),
                (2, 1234, 17, 1_767_225_600_123),
                "{reply}"
            );
        }
        for other in [
            "$JS.ACK.A.b.1.2.3",
            "_INBOX.x",
            "$JS.ACK.A.b.x.2.3.4.5",
            "$JS.ACK.A.b.1..3.4.5",
            "$JS.ACK.A.b.1.2.3.-4.5",
            "$JS.ACK.A.b.1.2.3.99999999999999999999999.5",
        ] {
            assert!(ack_position(other).is_none(), "{other}");
        }
    }

    #[test]
    fn a_stream_tap_takes_its_consumers_messages_only_in_order() {
        let at = |consumer_seq: u64, stream_seq: u64| StreamPosition {
            stream: Arc::from("ORDERS"),
            stream_seq,
            consumer_seq,
            timestamp_ms: 0,
            delivered: 1,
        };
        let mut sink = Sink::new(Form::Watched);
        assert!(sink.in_order(Some(&at(1, 10))));
        assert!(sink.in_order(Some(&at(2, 11))));
        // Consumer sequence 3 never arrived: 4 is refused, the last seen stays stream seq 11.
        assert!(!sink.in_order(Some(&at(4, 13))));
        assert_eq!(sink.last_seq, Some(11));
        assert!(!sink.in_order(Some(&at(2, 11))), "a repeat is refused too");
        // The consumer made again (from stream seq 12) starts at 1.
        sink.consumer_seq = 0;
        assert!(sink.in_order(Some(&at(1, 12))));
        assert_eq!(sink.last_seq, Some(12));
        assert!(sink.in_order(None), "an unplaced message is taken as it is");
    }

    #[test]
    fn a_stream_taps_window_holds_16_mib_or_two_of_the_largest_messages() {
        assert_eq!(tap_window_bytes(1 << 20), 16 << 20);
        assert_eq!(tap_window_bytes(64 << 20), 128 << 20);
    }

    #[test]
    fn a_batch_is_handed_on_at_its_count_or_its_bytes() {
        let mut sink = Sink::new(Form::Watched);
        sink.start(10);
        assert!(!sink.full(10));
        sink.bytes = BATCH_BYTES;
        assert!(sink.full(10), "1 MiB of bodies fills a batch");
        sink.start(10);
        assert_eq!(sink.bytes, 0, "a new batch starts empty");
    }

    #[test]
    fn filters_match_like_the_server() {
        assert!(subject_matches("orders.>", "orders.created"));
        assert!(subject_matches("orders.*", "orders.created"));
        assert!(!subject_matches("orders.*", "orders.created.eu"));
        assert!(!subject_matches("orders.>", "orders"));
        assert!(subject_matches("a.b", "a.b"));
    }

    #[test]
    fn a_watch_is_checked_before_it_connects() {
        let mut w = NatsWatch::subject("nats://127.0.0.1:4222", "orders.>");
        assert!(w.check().is_ok());
        w.subject = "bad subject".into();
        assert!(w.check().is_err());
        let mut w = NatsWatch::stream("nats://127.0.0.1:4222", NatsWatchMode::StreamTap, "OR.DERS");
        assert!(
            w.check()
                .unwrap_err()
                .message
                .contains("invalid stream name")
        );
        w.stream = "ORDERS".into();
        w.from = "seq:abc".into();
        assert!(w.check().is_err());
        let mut q = NatsWatch::subject("nats://127.0.0.1:4222", "orders.>");
        q.mode = NatsWatchMode::QueueGroup;
        assert!(q.check().unwrap_err().message.contains("queue group"));
    }
}
