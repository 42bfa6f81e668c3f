//! Watching messages: **tap** an exchange (an exclusive, auto-delete, server-named queue bound
//! with a key — other consumers are untouched), **peek** a queue (`basic.get`, then put every
//! message back), or **consume** a queue (manual acks: destructive). [`run`] keeps a watch alive
//! across broker restarts, reporting the gap.

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

use super::amqp::{Properties, classify_lapin, connect, table_to_json};
use super::exchange::{ErrorKind, ExchangeError};
use super::payload::Body;
use super::recorder::{Recorder, unix_ms};
use super::timeline::PhaseKind;

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

/// A message seen by a watch, the shape `switchboard watch --json` prints (and imports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchedMessage {
    /// Receive time, milliseconds since the Unix epoch.
    pub received_at_ms: u64,
    pub exchange: String,
    pub routing_key: String,
    pub redelivered: bool,
    pub properties: Properties,
    pub headers: serde_json::Value,
    #[serde(flatten)]
    pub body: Body,
    pub size_bytes: u64,
}

impl WatchedMessage {
    fn from_delivery(
        exchange: &str,
        routing_key: &str,
        redelivered: bool,
        properties: &lapin::BasicProperties,
        data: Vec<u8>,
    ) -> Self {
        let headers = properties
            .headers()
            .as_ref()
            .map(table_to_json)
            .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new()));
        Self {
            received_at_ms: unix_ms(),
            exchange: exchange.to_string(),
            routing_key: routing_key.to_string(),
            redelivered,
            properties: Properties::from_lapin(properties),
            headers,
            size_bytes: data.len() as u64,
            body: Body::new(data),
        }
    }
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
        PhaseKind::Declare,
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
        let mut rec = Recorder::new(timeout);
        let name = match source {
            WatchSource::Queue(q) => format!("switchboard watch {q}"),
            WatchSource::Tap { exchange, binding } => {
                format!("switchboard tap {exchange} {binding}")
            }
        };
        let (conn, channel) = connect(&mut rec, url, false, &name).await?;
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
                    PhaseKind::Declare,
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
                        PhaseKind::Declare,
                        channel.queue_declare("".into(), tap, FieldTable::default()),
                        |e| classify_lapin(&e, url),
                    )
                    .await?;
                let name = queue.name().as_str().to_string();
                rec.step(
                    PhaseKind::Bind,
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
            PhaseKind::Consume,
            channel.basic_qos(1000, BasicQosOptions::default()),
            |e| classify_lapin(&e, url),
        )
        .await?;
        let consume = BasicConsumeOptions {
            no_ack: !acks,
            ..BasicConsumeOptions::default()
        };
        let consumer = rec
            .step(
                PhaseKind::Consume,
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

    /// The next message; `None` when the broker ended the consumer.
    pub async fn next(&mut self) -> Option<Result<WatchedMessage, ExchangeError>> {
        match self.next_batch(1).await? {
            Ok(mut batch) => batch.pop().map(Ok),
            Err(e) => Some(Err(e)),
        }
    }

    /// Waits for a message, then takes up to `max` that are already here; acknowledges the batch
    /// with one `multiple` ack when consuming. `None` when the broker ended the consumer.
    pub async fn next_batch(
        &mut self,
        max: usize,
    ) -> Option<Result<Vec<WatchedMessage>, ExchangeError>> {
        let broke = |e: lapin::Error| ExchangeError {
            kind: ErrorKind::Protocol,
            phase: Some(PhaseKind::Delivery),
            message: format!("the watch broke off: {e}"),
        };
        let first = match self.consumer.next().await? {
            Ok(d) => d,
            Err(e) => return Some(Err(broke(e))),
        };
        let mut last_tag = first.delivery_tag;
        let mut batch = vec![WatchedMessage::from_delivery(
            first.exchange.as_str(),
            first.routing_key.as_str(),
            first.redelivered,
            &first.properties,
            first.data,
        )];
        while batch.len() < max {
            match self.consumer.next().now_or_never() {
                Some(Some(Ok(d))) => {
                    last_tag = d.delivery_tag;
                    batch.push(WatchedMessage::from_delivery(
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
        if self.acks
            && let Err(e) = self
                .channel
                .basic_ack(last_tag, BasicAckOptions { multiple: true })
                .await
        {
            return Some(Err(broke(e)));
        }
        Some(Ok(batch))
    }

    /// Closes the connection (a tap's queue goes with it).
    pub async fn close(self) {
        let _ = self.conn.close(200, "watch closed".into()).await;
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
    let (conn, channel) =
        connect(&mut rec, url, false, &format!("switchboard peek {queue}")).await?;
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
                    phase: Some(PhaseKind::Delivery),
                    message,
                }
            })?;
        let Some(got) = got else { break };
        let d = got.delivery;
        last_tag = Some(d.delivery_tag);
        out.push(WatchedMessage::from_delivery(
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
                phase: Some(PhaseKind::Delivery),
                message: format!("cannot put the peeked messages back: {e}"),
            })?;
    }
    let _ = conn.close(200, "peek done".into()).await;
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

/// What a running watch reports.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// Watching (again, after a gap when `reconnected`). `queue` is the queue consumed.
    Connected {
        queue: String,
        reconnected: bool,
    },
    Messages(Vec<WatchedMessage>),
    /// The connection was lost: a gap begins; the next attempt is in `retry_in`.
    Lost {
        reason: String,
        retry_in: Duration,
    },
    /// A peek finished (its messages came before).
    PeekDone {
        count: usize,
    },
    /// The watch cannot go on (missing queue or exchange, refused credentials…).
    Failed(ExchangeError),
}

/// Most messages in one [`WatchEvent::Messages`].
pub const BATCH: usize = 512;
const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a watch until `cancel` fires, the receiver is dropped, or it fails. Once it has
/// connected, a lost connection is retried with backoff (250 ms doubling to 5 s); each attempt
/// re-establishes the tap. Errors of the first attempt end the watch.
pub async fn run(spec: WatchSpec, events: mpsc::Sender<WatchEvent>, cancel: CancellationToken) {
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
                for chunk in messages.chunks(BATCH) {
                    let _ = events.send(WatchEvent::Messages(chunk.to_vec())).await;
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
    loop {
        let opened = tokio::select! {
            _ = cancel.cancelled() => return,
            w = Watch::open(&spec.url, &source, OPEN_TIMEOUT) => w,
        };
        let mut watch = match opened {
            Ok(watch) => watch,
            Err(error) => {
                // Only a lost broker is worth waiting for; anything else (and any first failure)
                // ends the watch.
                let transient = matches!(
                    error.kind,
                    ErrorKind::ConnectionRefused
                        | ErrorKind::Timeout
                        | ErrorKind::Protocol
                        | ErrorKind::Io
                );
                if !reconnected || !transient {
                    let _ = events.send(WatchEvent::Failed(error)).await;
                    return;
                }
                if !report_gap(&events, &cancel, error.message, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
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
        let reason = loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => {
                    watch.close().await;
                    return;
                }
                n = watch.next_batch(BATCH) => n,
            };
            match next {
                Some(Ok(batch)) => {
                    if events.send(WatchEvent::Messages(batch)).await.is_err() {
                        watch.close().await;
                        return;
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
