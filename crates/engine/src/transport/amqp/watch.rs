//! Watching messages: **tap** an exchange (an exclusive, auto-delete, server-named queue bound
//! with a key — other consumers are untouched), **peek** a queue (`basic.get`, then put every
//! message back), or **consume** a queue (manual acks: destructive). [`run`] keeps a watch alive
//! across broker restarts, reporting the gap.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicNackOptions, BasicQosOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::amqp::{
    DEFAULT_FRAME_MAX, KEPT_FRAME_MAX, Properties, classify_lapin, connect, table_to_json,
};
use crate::exchange::{ErrorKind, ExchangeError};
use crate::recorder::Recorder;

/// How a watch gets its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// Bind a private queue to an exchange: sees every matching message, takes none away.
    #[default]
    Tap,
    /// `basic.get` up to N messages, then reject them all with requeue: the queue keeps them,
    /// but they are marked redelivered and may move to the back of the queue.
    Peek,
    /// A real consumer with acknowledgements: messages are taken from the queue.
    Consume,
}

impl WatchMode {
    pub const ALL: [WatchMode; 3] = [Self::Tap, Self::Peek, Self::Consume];

    pub fn label(self) -> &'static str {
        match self {
            Self::Tap => "tap",
            Self::Peek => "peek",
            Self::Consume => "consume",
        }
    }

    /// What the mode does to the broker, for the UI and `--help`.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Tap => {
                "Binds a private auto-delete queue to the exchange: you see every matching message and other consumers still get all of them."
            }
            Self::Peek => {
                "Gets up to N messages and puts them back (reject with requeue): the queue keeps them, but they are marked redelivered and may move to the back of the queue."
            }
            Self::Consume => {
                "Consumes the queue with acknowledgements: messages are TAKEN from the queue and other consumers will not get them."
            }
        }
    }
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchSource {
    /// Consume from an existing queue (messages are taken and acknowledged).
    Queue(String),
    /// Bind an exclusive, auto-delete, server-named queue to an exchange.
    Tap { exchange: String, binding: String },
}

pub use crate::watched::WatchedMessage;

/// A delivery as a watched message.
fn from_delivery(
    exchange: &str,
    routing_key: &str,
    redelivered: bool,
    properties: &lapin::BasicProperties,
    data: Vec<u8>,
) -> WatchedMessage {
    let headers = match properties.headers().as_ref().map(table_to_json) {
        Some(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    WatchedMessage::amqp(
        exchange,
        routing_key,
        redelivered,
        &Properties::from_lapin(properties),
        headers,
        data,
    )
}

fn short(value: &str, what: &str) -> Result<ShortString, ExchangeError> {
    ShortString::try_new(value.to_string())
        .map_err(|e| ExchangeError::invalid_input(format!("{what} is too long: {e}")))
}

fn not_found(kind: ErrorKind, message: String, what: String) -> (ErrorKind, String) {
    if kind == ErrorKind::Refused {
        (kind, what)
    } else {
        (kind, message)
    }
}

/// Checks that `queue` exists (without creating it).
async fn check_queue(
    rec: &mut Recorder,
    channel: &Channel,
    url: &str,
    queue: &str,
) -> Result<(), ExchangeError> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    rec.step(
        crate::amqp::phases::DECLARE,
        channel.queue_declare(short(queue, "queue name")?, passive, FieldTable::default()),
        |e| {
            let (kind, message) = classify_lapin(&e, url);
            not_found(
                kind,
                message,
                format!(
                    "queue {queue:?} does not exist (a watch never creates the queue it watches)"
                ),
            )
        },
    )
    .await?;
    Ok(())
}

/// Messages taken in one go by [`Watch::next_batch`].
#[derive(Debug)]
pub struct Taken {
    pub messages: Vec<WatchedMessage>,
    /// When consuming: each message's delivery tag, to ack once it reached the user.
    pub tags: Vec<u64>,
}

fn broke(e: lapin::Error) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Protocol,
        phase: Some(crate::amqp::phases::DELIVERY),
        message: format!("the watch broke off: {e}"),
    }
}

/// One connection's worth of watching (tap or consume).
pub struct Watch {
    conn: Connection,
    consumer: lapin::Consumer,
    channel: Channel,
    acks: bool,
    /// The queue consumed (server-named for a tap).
    pub queue: String,
}

impl Watch {
    /// Connects and starts consuming. A missing queue or exchange is an error: a watch never
    /// creates what it was asked to watch.
    pub async fn open(
        url: &str,
        source: &WatchSource,
        timeout: Duration,
    ) -> Result<Self, ExchangeError> {
        Self::open_with_prefetch(url, source, timeout, PREFETCH).await
    }

    /// [`Watch::open`] with at most `prefetch` unacknowledged messages on their way: a consume
    /// that wants N messages asks for no more than N.
    pub async fn open_with_prefetch(
        url: &str,
        source: &WatchSource,
        timeout: Duration,
        prefetch: u16,
    ) -> Result<Self, ExchangeError> {
        let mut rec = Recorder::new(timeout);
        let name = match source {
            WatchSource::Queue(q) => format!("switchboard watch {q}"),
            WatchSource::Tap { exchange, binding } => {
                format!("switchboard tap {exchange} {binding}")
            }
        };
        // It stays open: small frames keep lapin's buffers at 512 KiB, not 8 MiB.
        let (conn, channel) = connect(&mut rec, url, false, &name, KEPT_FRAME_MAX).await?;
        let (queue, acks) = match source {
            WatchSource::Queue(name) => {
                check_queue(&mut rec, &channel, url, name).await?;
                (name.clone(), true)
            }
            WatchSource::Tap { exchange, binding } => {
                let exchange_ss = short(exchange, "exchange name")?;
                let passive = ExchangeDeclareOptions {
                    passive: true,
                    ..ExchangeDeclareOptions::default()
                };
                rec.step(
                    crate::amqp::phases::DECLARE,
                    channel.exchange_declare(
                        exchange_ss.clone(),
                        lapin::ExchangeKind::Topic,
                        passive,
                        FieldTable::default(),
                    ),
                    |e| {
                        let (kind, message) = classify_lapin(&e, url);
                        not_found(
                            kind,
                            message,
                            format!("exchange {exchange:?} does not exist"),
                        )
                    },
                )
                .await?;
                let tap = QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..QueueDeclareOptions::default()
                };
                let queue = rec
                    .step(
                        crate::amqp::phases::DECLARE,
                        channel.queue_declare("".into(), tap, FieldTable::default()),
                        |e| classify_lapin(&e, url),
                    )
                    .await?;
                let name = queue.name().as_str().to_string();
                rec.step(
                    crate::amqp::phases::BIND,
                    channel.queue_bind(
                        name.as_str().into(),
                        exchange_ss,
                        short(binding, "binding key")?,
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    ),
                    |e| classify_lapin(&e, url),
                )
                .await?;
                (name, false)
            }
        };
        rec.step(
            crate::amqp::phases::CONSUME,
            channel.basic_qos(prefetch.max(1), BasicQosOptions::default()),
            |e| classify_lapin(&e, url),
        )
        .await?;
        let consume = BasicConsumeOptions {
            no_ack: !acks,
            ..BasicConsumeOptions::default()
        };
        let consumer = rec
            .step(
                crate::amqp::phases::CONSUME,
                channel.basic_consume(
                    queue.as_str().into(),
                    "switchboard-watch".into(),
                    consume,
                    FieldTable::default(),
                ),
                |e| classify_lapin(&e, url),
            )
            .await?;
        Ok(Self {
            conn,
            consumer,
            channel,
            acks,
            queue,
        })
    }

    /// The next message; `None` when the broker ended the consumer. A consumed message is
    /// acknowledged at once (the caller has it).
    pub async fn next(&mut self) -> Option<Result<WatchedMessage, ExchangeError>> {
        match self.next_batch(1).await? {
            Ok(mut taken) => {
                if let Some(&tag) = taken.tags.last()
                    && let Err(e) = self.ack(tag).await
                {
                    return Some(Err(e));
                }
                taken.messages.pop().map(Ok)
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Waits for a message, then takes up to `max` that are already here. Nothing is
    /// acknowledged: when consuming, the caller acks (with [`Watch::ack`]) what it delivered,
    /// and whatever it does not ack goes back to the queue when the watch closes.
    /// `None` when the broker ended the consumer.
    pub async fn next_batch(&mut self, max: usize) -> Option<Result<Taken, ExchangeError>> {
        let first = match self.consumer.next().await? {
            Ok(d) => d,
            Err(e) => return Some(Err(broke(e))),
        };
        let mut tags = vec![first.delivery_tag];
        let mut messages = vec![from_delivery(
            first.exchange.as_str(),
            first.routing_key.as_str(),
            first.redelivered,
            &first.properties,
            first.data,
        )];
        while messages.len() < max {
            match self.consumer.next().now_or_never() {
                Some(Some(Ok(d))) => {
                    tags.push(d.delivery_tag);
                    messages.push(from_delivery(
                        d.exchange.as_str(),
                        d.routing_key.as_str(),
                        d.redelivered,
                        &d.properties,
                        d.data,
                    ));
                }
                Some(Some(Err(e))) => return Some(Err(broke(e))),
                Some(None) | None => break,
            }
        }
        Some(Ok(Taken {
            messages,
            tags: if self.acks { tags } else { Vec::new() },
        }))
    }

    /// Acknowledges every delivery up to `tag` (one `multiple` ack).
    pub async fn ack(&self, tag: u64) -> Result<(), ExchangeError> {
        self.channel
            .basic_ack(tag, BasicAckOptions { multiple: true })
            .await
            .map_err(broke)
    }

    /// Closes the connection (a tap's queue goes with it).
    pub async fn close(self) {
        crate::amqp::close(&self.conn, "watch closed").await;
    }
}

/// Gets up to `limit` messages from `queue` and puts them all back (one `nack` with requeue
/// after the last, so no message is fetched twice). They come back marked redelivered.
pub async fn peek(
    url: &str,
    queue: &str,
    limit: u32,
    timeout: Duration,
) -> Result<Vec<WatchedMessage>, ExchangeError> {
    let mut rec = Recorder::new(timeout);
    let (conn, channel) = connect(
        &mut rec,
        url,
        false,
        &format!("switchboard peek {queue}"),
        DEFAULT_FRAME_MAX,
    )
    .await?;
    check_queue(&mut rec, &channel, url, queue).await?;
    let mut out = Vec::new();
    let mut last_tag = None;
    let queue_ss = short(queue, "queue name")?;
    while out.len() < limit as usize {
        let got = channel
            .basic_get(queue_ss.clone(), BasicGetOptions { no_ack: false })
            .await
            .map_err(|e| {
                let (kind, message) = classify_lapin(&e, url);
                ExchangeError {
                    kind,
                    phase: Some(crate::amqp::phases::DELIVERY),
                    message,
                }
            })?;
        let Some(got) = got else { break };
        let d = got.delivery;
        last_tag = Some(d.delivery_tag);
        out.push(from_delivery(
            d.exchange.as_str(),
            d.routing_key.as_str(),
            d.redelivered,
            &d.properties,
            d.data,
        ));
    }
    if let Some(tag) = last_tag {
        channel
            .basic_nack(
                tag,
                BasicNackOptions {
                    multiple: true,
                    requeue: true,
                },
            )
            .await
            .map_err(|e| ExchangeError {
                kind: ErrorKind::Protocol,
                phase: Some(crate::amqp::phases::DELIVERY),
                message: format!("cannot put the peeked messages back: {e}"),
            })?;
    }
    crate::amqp::close(&conn, "peek done").await;
    Ok(out)
}

/// A watch to run with [`run`].
#[derive(Debug, Clone, PartialEq)]
pub struct WatchSpec {
    pub url: String,
    pub mode: WatchMode,
    /// Tap: the exchange and binding key.
    pub exchange: String,
    pub binding: String,
    /// Peek and consume: the queue.
    pub queue: String,
    /// Peek: at most this many messages.
    pub peek_limit: u32,
    /// Tap and consume: stop after this many messages. A consume never takes more than this
    /// from the queue (what was prefetched beyond it goes back).
    pub limit: Option<u64>,
}

impl WatchSpec {
    pub fn tap(
        url: impl Into<String>,
        exchange: impl Into<String>,
        binding: impl Into<String>,
    ) -> Self {
        Self {
            url: url.into(),
            mode: WatchMode::Tap,
            exchange: exchange.into(),
            binding: binding.into(),
            queue: String::new(),
            peek_limit: 100,
            limit: None,
        }
    }

    pub fn queue(url: impl Into<String>, mode: WatchMode, queue: impl Into<String>) -> Self {
        Self {
            mode,
            queue: queue.into(),
            ..Self::tap(url, "", "#")
        }
    }

    fn source(&self) -> WatchSource {
        match self.mode {
            WatchMode::Tap => WatchSource::Tap {
                exchange: self.exchange.clone(),
                binding: self.binding.clone(),
            },
            WatchMode::Peek | WatchMode::Consume => WatchSource::Queue(self.queue.clone()),
        }
    }

    /// `tap orders #`, `consume order_queue`…
    pub fn describe(&self) -> String {
        match self.mode {
            WatchMode::Tap => format!("tap {} {}", self.exchange, self.binding),
            WatchMode::Peek => format!("peek {} (up to {})", self.queue, self.peek_limit),
            WatchMode::Consume => format!("consume {}", self.queue),
        }
    }
}

const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

pub use crate::watched::{BATCH, Delivered, WatchEvent, delivery_counter};

/// Runs a watch until `cancel` fires, the receiver is dropped, or it fails. Once it has
/// connected, a lost connection is retried with backoff (250 ms doubling to 5 s); each attempt
/// re-establishes the tap. Errors of the first attempt end the watch.
///
/// A consume acknowledges messages once they are in `events`; use [`run_confirmed`] when the
/// receiving side may drop messages it was handed (a user who stops early).
pub async fn run(spec: WatchSpec, events: mpsc::Sender<WatchEvent>, cancel: CancellationToken) {
    run_confirmed(spec, events, cancel, None).await;
}

/// [`run`] where a consume acknowledges only what `delivered` says reached the user.
pub async fn run_confirmed(
    spec: WatchSpec,
    events: mpsc::Sender<WatchEvent>,
    cancel: CancellationToken,
    mut delivered: Option<Delivered>,
) {
    if spec.mode == WatchMode::Peek {
        let result = tokio::select! {
            _ = cancel.cancelled() => return,
            r = peek(&spec.url, &spec.queue, spec.peek_limit, OPEN_TIMEOUT) => r,
        };
        match result {
            Ok(messages) => {
                let count = messages.len();
                let _ = events
                    .send(WatchEvent::Connected {
                        queue: spec.queue.clone(),
                        reconnected: false,
                    })
                    .await;
                for chunk in crate::watched::batches(messages) {
                    let _ = events.send(WatchEvent::Messages(chunk)).await;
                }
                let _ = events.send(WatchEvent::PeekDone { count }).await;
            }
            Err(e) => {
                let _ = events.send(WatchEvent::Failed(e)).await;
            }
        }
        return;
    }
    let source = spec.source();
    let mut reconnected = false;
    let mut backoff = Duration::from_millis(250);
    // Messages handed to `events` so far, over every connection.
    let mut sent: u64 = 0;
    loop {
        let remaining = spec.limit.map(|limit| limit.saturating_sub(sent));
        if remaining == Some(0) {
            return;
        }
        let prefetch = remaining.map_or(PREFETCH, |r| {
            u16::try_from(r).unwrap_or(PREFETCH).min(PREFETCH)
        });
        let opened = tokio::select! {
            _ = cancel.cancelled() => return,
            w = Watch::open_with_prefetch(&spec.url, &source, OPEN_TIMEOUT, prefetch) => w,
        };
        let mut watch = match opened {
            Ok(watch) => watch,
            Err(error) => {
                // A lost broker is worth waiting for, and so is a source that went missing
                // after it was there once (a transient exchange is declared again by its owner
                // after a restart). Anything else, and any first failure, ends the watch.
                let transient = matches!(
                    error.kind,
                    ErrorKind::ConnectionRefused
                        | ErrorKind::Timeout
                        | ErrorKind::Protocol
                        | ErrorKind::Io
                        | ErrorKind::Refused
                );
                if !reconnected || !transient {
                    let _ = events.send(WatchEvent::Failed(error)).await;
                    return;
                }
                let reason = if error.kind == ErrorKind::Refused {
                    format!("{}; waiting for it to come back", error.message)
                } else {
                    error.message.clone()
                };
                if !report_gap(&events, &cancel, reason, backoff).await {
                    return;
                }
                // The broker answers but the source is missing: its owner declares it again
                // soon, so look often (up to 1 s) rather than back off to 5 s.
                let cap = if error.kind == ErrorKind::Refused {
                    Duration::from_secs(1)
                } else {
                    Duration::from_secs(5)
                };
                backoff = (backoff * 2).min(cap);
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        if events
            .send(WatchEvent::Connected {
                queue: watch.queue.clone(),
                reconnected,
            })
            .await
            .is_err()
        {
            watch.close().await;
            return;
        }
        // Consume: (the message's number since the watch started, its delivery tag), not acked.
        let mut unacked: VecDeque<(u64, u64)> = VecDeque::new();
        let reason = loop {
            let want = spec.limit.map_or(BATCH, |limit| {
                (limit.saturating_sub(sent) as usize).min(BATCH)
            });
            if want == 0 {
                // Everything asked for was handed over: wait until it reached the user, then
                // ack it and end; the rest goes back to the queue.
                settle(&watch, &mut unacked, &mut delivered, &cancel).await;
                watch.close().await;
                return;
            }
            let next = tokio::select! {
                _ = cancel.cancelled() => {
                    let _ = ack_delivered(&watch, &mut unacked, delivered.as_ref()).await;
                    watch.close().await;
                    return;
                }
                changed = changed(&mut delivered), if !unacked.is_empty() => {
                    if !changed {
                        // The user side is gone: nothing more will reach it.
                        watch.close().await;
                        return;
                    }
                    if let Err(e) = ack_delivered(&watch, &mut unacked, delivered.as_ref()).await {
                        break e.message;
                    }
                    continue;
                }
                n = watch.next_batch(want) => n,
            };
            match next {
                Some(Ok(taken)) => {
                    let count = taken.messages.len() as u64;
                    if events
                        .send(WatchEvent::Messages(taken.messages))
                        .await
                        .is_err()
                    {
                        // Nobody takes this batch: ack what did reach the user, the rest goes
                        // back to the queue with the connection.
                        let _ = ack_delivered(&watch, &mut unacked, delivered.as_ref()).await;
                        watch.close().await;
                        return;
                    }
                    sent += count;
                    let first = sent - count;
                    unacked.extend(taken.tags.iter().zip(first + 1..).map(|(&tag, n)| (n, tag)));
                    if let Err(e) = ack_delivered(&watch, &mut unacked, delivered.as_ref()).await {
                        break e.message;
                    }
                }
                Some(Err(e)) => break e.message,
                None => break "the broker ended the consumer".to_string(),
            }
        };
        reconnected = true;
        if !report_gap(&events, &cancel, reason, backoff).await {
            return;
        }
    }
}

/// Unacknowledged messages at once (per consumer).
const PREFETCH: u16 = 1000;

/// Waits for the next change of `delivered`; false when its sender is gone. Without a counter,
/// never returns (everything handed over counts as delivered).
async fn changed(delivered: &mut Option<Delivered>) -> bool {
    match delivered {
        Some(d) => d.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Acks the batches the user has received (all of them without a counter).
async fn ack_delivered(
    watch: &Watch,
    unacked: &mut VecDeque<(u64, u64)>,
    delivered: Option<&Delivered>,
) -> Result<(), ExchangeError> {
    let reached = delivered.map_or(u64::MAX, |d| *d.borrow());
    let mut last = None;
    while let Some(&(upto, tag)) = unacked.front() {
        if upto > reached {
            break;
        }
        last = Some(tag);
        unacked.pop_front();
    }
    match last {
        Some(tag) => watch.ack(tag).await,
        None => Ok(()),
    }
}

/// Acks what reaches the user until everything handed over did, the user side is gone, or the
/// watch is cancelled.
async fn settle(
    watch: &Watch,
    unacked: &mut VecDeque<(u64, u64)>,
    delivered: &mut Option<Delivered>,
    cancel: &CancellationToken,
) {
    loop {
        if ack_delivered(watch, unacked, delivered.as_ref())
            .await
            .is_err()
            || unacked.is_empty()
        {
            return;
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                let _ = ack_delivered(watch, unacked, delivered.as_ref()).await;
                return;
            }
            alive = changed(delivered) => if !alive { return },
        }
    }
}

/// Reports a lost connection and waits `retry_in` before the next attempt; false when the
/// watch should end instead (cancelled, or nobody listens any more).
async fn report_gap(
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    reason: String,
    retry_in: Duration,
) -> bool {
    if events
        .send(WatchEvent::Lost { reason, retry_in })
        .await
        .is_err()
    {
        return false;
    }
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(retry_in) => true,
    }
}
