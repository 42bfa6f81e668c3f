//! The demo's NATS side: the User Service answers user lookups on `user.get` (request/reply),
//! and the Order Service publishes each `OrderCreated` to the JetStream stream `ORDERS`
//! (subject `orders.created`, `Nats-Msg-Id` = the order id, the correlation id in a header),
//! which the User Service consumes with the durable pull consumer `user-service` (explicit acks):
//! while it is stopped, orders wait as the consumer's pending messages.
//!
//! NATS is optional: when the server is down the demo says so, HTTP, gRPC and RabbitMQ keep
//! working, and the client reconnects in the background.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use futures_util::StreamExt;
use tokio::sync::watch;

use crate::knobs::{Knobs, Verdict};
use crate::users::{LookupError, UserStore};

/// The NATS server the demo uses.
pub const DEFAULT_NATS_URL: &str = demo_contract::DEFAULT_NATS_URL;

/// Names of the demo's NATS side. Tests use unique names so parallel runs on one server do not
/// answer each other's lookups or share a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsNames {
    pub url: String,
    /// The User Service's lookup subject.
    pub user_subject: String,
    /// The stream order events go to (created if missing, subjects `<first token>.>`).
    pub stream: String,
    /// The subject of each order event.
    pub orders_subject: String,
    /// The User Service's durable pull consumer of the stream.
    pub consumer: String,
}

impl Default for NatsNames {
    fn default() -> Self {
        Self {
            url: DEFAULT_NATS_URL.to_string(),
            user_subject: demo_contract::USER_GET_SUBJECT.to_string(),
            stream: demo_contract::ORDERS_STREAM.to_string(),
            orders_subject: demo_contract::ORDERS_CREATED_SUBJECT.to_string(),
            consumer: demo_contract::USER_SERVICE_GROUP.to_string(),
        }
    }
}

impl NatsNames {
    /// Unique names (for tests): `user.get.<tag>`, stream `ORDERS_<tag>` on `orders_<tag>.>`.
    pub fn unique(url: &str, tag: &str) -> Self {
        Self {
            url: url.to_string(),
            user_subject: format!("user.get.{tag}"),
            stream: format!("ORDERS_{tag}"),
            orders_subject: format!("orders_{tag}.created"),
            consumer: demo_contract::USER_SERVICE_GROUP.to_string(),
        }
    }

    /// The stream's subjects: everything under the order subject's first token.
    pub fn stream_subjects(&self) -> String {
        let first = self
            .orders_subject
            .split('.')
            .next()
            .unwrap_or(&self.orders_subject);
        format!("{first}.>")
    }
}

/// A client that connects in the background and reconnects forever.
pub async fn client(url: &str, name: &str) -> Result<async_nats::Client, String> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .max_reconnects(None)
        // Asked before every attempt, the first one's too (attempt 1): none then.
        .reconnect_delay_callback(|attempt| match attempt {
            0 | 1 => Duration::ZERO,
            n => Duration::from_millis(250u64.saturating_mul(1 << (n - 2).min(4)).min(3_000)),
        })
        .connect(url)
        .await
        .map_err(|e| format!("NATS URL {url}: {e}"))
}

/// Whether a NATS server answers at `url` (within 2 s), and if so makes sure the demo's stream
/// exists.
pub async fn probe(names: &NatsNames) -> Result<(), String> {
    let setup = async {
        let client = async_nats::ConnectOptions::new()
            .name("demo setup")
            .connect(names.url.as_str())
            .await
            .map_err(|e| format!("unreachable ({e})"))?;
        let result = ensure_stream(&client, names).await;
        let _ = client.drain().await;
        result
    };
    match tokio::time::timeout(Duration::from_secs(3), setup).await {
        Ok(result) => result,
        Err(_) => Err("timed out".to_string()),
    }
}

/// Creates the order stream when it is missing.
pub async fn ensure_stream(client: &async_nats::Client, names: &NatsNames) -> Result<(), String> {
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(jetstream::stream::Config {
        name: names.stream.clone(),
        subjects: vec![names.stream_subjects()],
        description: Some("Switchboard demo: OrderCreated events".to_string()),
        max_messages: 100_000,
        allow_direct: true,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map(|_| ())
    .map_err(|e| {
        format!(
            "cannot create stream {} (is JetStream on? nats-server -js): {e}",
            names.stream
        )
    })
}

/// What `user.get` replies: the user as `GET /user/{id}` returns it, or an error with a
/// `Nats-Service-Error-Code` header (400, 404, 503).
async fn answer(
    store: &UserStore,
    knobs: &Knobs,
    payload: &[u8],
) -> (Vec<u8>, Option<(u16, String)>) {
    let error = |code: u16, message: String| {
        (
            serde_json::to_vec(&serde_json::json!({ "error": message })).unwrap_or_default(),
            Some((code, message)),
        )
    };
    if knobs.apply().await == Verdict::InjectedFailure {
        return error(
            503,
            format!(
                "injected failure (failure rate {:.0}%)",
                knobs.failure_rate() * 100.0
            ),
        );
    }
    let request: serde_json::Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            return error(
                400,
                format!("invalid request JSON: {e}; expected {{\"user_id\": \"1\"}}"),
            );
        }
    };
    let id = match request.get("user_id") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => {
            return error(
                400,
                "the request needs \"user_id\" (a string or a number): {\"user_id\": \"1\"}"
                    .to_string(),
            );
        }
    };
    match store.get(&id) {
        Ok(user) => (serde_json::to_vec(&user).unwrap_or_default(), None),
        Err(e @ LookupError::Malformed(_)) => error(400, e.to_string()),
        Err(e @ LookupError::NotFound(_)) => error(404, e.to_string()),
    }
}

/// Whether something accepts TCP connections at the URL's address (300 ms at most).
async fn listening(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let addr = if host_port.contains(':') {
        host_port.to_string()
    } else {
        format!("{host_port}:4222")
    };
    matches!(
        tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(addr)
        )
        .await,
        Ok(Ok(_))
    )
}

/// Waits (at most `limit`) until the client is connected, if a server listens at `url` at
/// all; false if it is not connected.
pub async fn wait_connected(client: &async_nats::Client, url: &str, limit: Duration) -> bool {
    if !listening(url).await {
        return false;
    }
    let deadline = tokio::time::Instant::now() + limit;
    while client.connection_state() != async_nats::connection::State::Connected {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// Subscribes to the lookup subject in the queue group `user-service`; when the server is up,
/// the subscription is on the server before this returns (so a lookup right after the demo
/// starts is answered).
pub async fn subscribe_lookups(
    names: &NatsNames,
) -> Result<(async_nats::Client, async_nats::Subscriber), String> {
    let client = client(&names.url, "demo user-service").await?;
    if wait_connected(&client, &names.url, Duration::from_millis(1500)).await {
        let sub = client
            .queue_subscribe(names.user_subject.clone(), "user-service".to_string())
            .await
            .map_err(|e| format!("cannot subscribe to {}: {e}", names.user_subject))?;
        let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
        Ok((client, sub))
    } else {
        // Subscribed when the server comes up.
        let sub = client
            .queue_subscribe(names.user_subject.clone(), "user-service".to_string())
            .await
            .map_err(|e| format!("cannot subscribe to {}: {e}", names.user_subject))?;
        Ok((client, sub))
    }
}

/// Answers user lookups on `sub` until `shutdown`.
pub async fn serve_user_lookups(
    client: async_nats::Client,
    mut sub: async_nats::Subscriber,
    store: Arc<UserStore>,
    knobs: Arc<Knobs>,
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    shutdown: watch::Receiver<bool>,
) {
    use crate::telemetry::{self, Attribute, Kind};
    let stop = crate::user_service::stopped(shutdown);
    tokio::pin!(stop);
    loop {
        let msg = tokio::select! {
            _ = &mut stop => break,
            msg = sub.next() => msg,
        };
        let Some(msg) = msg else { break };
        let Some(reply) = msg.reply.clone() else {
            continue;
        };
        let client = client.clone();
        let store = store.clone();
        let knobs = knobs.clone();
        // The server span of the lookup, under the requester's context in the headers.
        let parent = telemetry::extract(msg.headers.iter().flat_map(|headers| {
            headers
                .iter()
                .filter_map(|(name, values)| Some((name.as_ref(), values.first()?.as_str())))
        }));
        let cx = telemetry::start_span(
            telemetry.as_deref(),
            msg.subject.to_string(),
            Kind::Server,
            &parent,
            vec![
                Attribute::new("messaging.system", "nats"),
                Attribute::new("messaging.destination.name", msg.subject.to_string()),
            ],
        );
        // Each lookup on its own task, so an injected latency delays only that one.
        tokio::spawn(async move {
            let (body, error) = answer(&store, &knobs, &msg.payload).await;
            telemetry::end(
                &cx,
                error
                    .as_ref()
                    .filter(|(code, _)| *code >= 500)
                    .map(|(code, message)| format!("{code}: {message}")),
            );
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Content-Type", "application/json");
            if let Some((code, message)) = error {
                headers.insert("Nats-Service-Error-Code", code.to_string().as_str());
                headers.insert("Nats-Service-Error", message.as_str());
            }
            if let Err(err) = client
                .publish_with_headers(reply, headers, body.into())
                .await
            {
                tracing::warn!(%err, "cannot reply to a user lookup");
            }
        });
    }
    // A client that never reached its server would wait forever here: stopping must not.
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        let _ = sub.unsubscribe().await;
        let _ = client.flush().await;
    })
    .await;
}

/// Where an order event landed in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub stream: String,
    pub seq: u64,
}

/// Publishes an order event to the stream (waiting at most 2 s for the ack); an error when the
/// server is not connected, without waiting.
pub async fn publish_order(
    client: &async_nats::Client,
    names: &NatsNames,
    order_id: &str,
    correlation_id: &str,
    payload: Vec<u8>,
    trace_headers: &[(String, String)],
) -> Result<Published, String> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Err(format!("NATS at {} is not connected", names.url));
    }
    let js = jetstream::new(client.clone());
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", order_id);
    headers.insert("X-Correlation-Id", correlation_id);
    headers.insert("Content-Type", "application/json");
    for (name, value) in trace_headers {
        headers.insert(name.as_str(), value.as_str());
    }
    let publish = async {
        let ack = js
            .publish_with_headers(names.orders_subject.clone(), headers, payload.into())
            .await
            .map_err(|e| e.to_string())?;
        ack.await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(Duration::from_secs(2), publish).await {
        Ok(Ok(ack)) => Ok(Published {
            stream: ack.stream,
            seq: ack.sequence,
        }),
        Ok(Err(e)) => Err(format!("JetStream publish failed: {e}")),
        Err(_) => Err("no JetStream ack within 2 s".to_string()),
    }
}

/// The User Service's consumer of the order stream: the durable pull consumer `names.consumer`
/// (explicit acks, from the stream's start the first time), created if missing. Each order for a
/// known user is acked and counted; one for an unknown user, or unreadable, is terminated
/// (`AckTerm`: never redelivered) and counted as dead-lettered, with the reason. Every message
/// gets a consumer span under the producer's context in its headers. Reconnects with backoff;
/// stops at `shutdown`, leaving the consumer on the server, so orders published meanwhile wait
/// there as pending and are taken at the next start.
pub async fn consume_orders(
    names: NatsNames,
    store: Arc<UserStore>,
    (tally, state): (
        crate::user_service::ConsumerTally,
        watch::Sender<crate::user_service::ConsumerState>,
    ),
    telemetry: Option<Arc<crate::telemetry::Telemetry>>,
    shutdown: watch::Receiver<bool>,
) {
    use crate::user_service::ConsumerState;
    let client = match client(&names.url, "demo user-service orders").await {
        Ok(client) => client,
        Err(why) => {
            let _ = state.send(ConsumerState::Down(why));
            return;
        }
    };
    let stop = crate::user_service::stopped(shutdown);
    tokio::pin!(stop);
    let mut backoff = Duration::from_millis(250);
    loop {
        let _ = state.send(ConsumerState::Connecting);
        let run = consume_stream(
            &client,
            &names,
            &store,
            &tally,
            &state,
            telemetry.as_deref(),
        );
        let why = tokio::select! {
            _ = &mut stop => break,
            why = run => why,
        };
        tracing::warn!(%why, "NATS order consumer down; retrying in {backoff:?}");
        let _ = state.send(ConsumerState::Down(why));
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    let _ = tokio::time::timeout(Duration::from_millis(500), client.drain()).await;
}

/// Consumes until the server or the consumer fails; the reason.
async fn consume_stream(
    client: &async_nats::Client,
    names: &NatsNames,
    store: &UserStore,
    tally: &crate::user_service::ConsumerTally,
    state: &watch::Sender<crate::user_service::ConsumerState>,
    telemetry: Option<&crate::telemetry::Telemetry>,
) -> String {
    if !wait_connected(client, &names.url, Duration::from_secs(2)).await {
        return format!("NATS at {} is not connected", names.url);
    }
    if let Err(why) = ensure_stream(client, names).await {
        return why;
    }
    let js = jetstream::new(client.clone());
    let consumer = async {
        let stream = js
            .get_stream(&names.stream)
            .await
            .map_err(|e| e.to_string())?;
        stream
            .get_or_create_consumer::<jetstream::consumer::pull::Config>(
                &names.consumer,
                jetstream::consumer::pull::Config {
                    durable_name: Some(names.consumer.clone()),
                    description: Some("Switchboard demo: the User Service".to_string()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    deliver_policy: jetstream::consumer::DeliverPolicy::All,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| e.to_string())
    };
    let consumer = match consumer.await {
        Ok(consumer) => consumer,
        Err(e) => {
            return format!(
                "cannot create consumer {} on stream {}: {e}",
                names.consumer, names.stream
            );
        }
    };
    let mut messages = match consumer.messages().await {
        Ok(messages) => messages,
        Err(e) => return format!("cannot pull from consumer {}: {e}", names.consumer),
    };
    let _ = state.send(tally.state());
    loop {
        let message = match messages.next().await {
            Some(Ok(message)) => message,
            Some(Err(e)) => return format!("consumer {} failed: {e}", names.consumer),
            None => return format!("consumer {} ended", names.consumer),
        };
        let next = take_order(&message, names, store, tally, telemetry).await;
        let _ = state.send(next);
    }
}

/// Handles one order message (acked, or terminated for an unknown user or an unreadable body)
/// under its consumer span; the consumer's new state.
async fn take_order(
    message: &jetstream::Message,
    names: &NatsNames,
    store: &UserStore,
    tally: &crate::user_service::ConsumerTally,
    telemetry: Option<&crate::telemetry::Telemetry>,
) -> crate::user_service::ConsumerState {
    use crate::telemetry::{self, Attribute, Kind};
    let parent = telemetry::extract(message.headers.iter().flat_map(|headers| {
        headers
            .iter()
            .filter_map(|(name, values)| Some((name.as_ref(), values.first()?.as_str())))
    }));
    let cx = telemetry::start_span(
        telemetry,
        format!("{} process", message.subject),
        Kind::Consumer,
        &parent,
        vec![
            Attribute::new("messaging.system", "nats"),
            Attribute::new("messaging.destination.name", message.subject.to_string()),
            Attribute::new("messaging.consumer.group.name", names.consumer.clone()),
            Attribute::new("messaging.operation.type", "process"),
        ],
    );
    let rejected = match crate::user_service::parse_order(&message.payload) {
        Ok(order) if store.get(&order.user_id).is_ok() => None,
        Ok(order) => Some(format!(
            "no user {:?} (checked when the order was consumed)",
            order.user_id
        )),
        Err(reason) => Some(reason),
    };
    let error = rejected
        .as_ref()
        .map(|reason| format!("terminated: {reason}"));
    let (settled, next) = match rejected {
        None => (message.ack().await, tally.consumed(1)),
        Some(reason) => {
            tracing::warn!(%reason, subject = %message.subject, "terminating an order message");
            let settled = message.ack_with(jetstream::AckKind::Term).await;
            (settled, tally.dead_lettered(reason))
        }
    };
    if let Err(err) = &settled {
        tracing::warn!(%err, "cannot ack an order message (it will be redelivered)");
    }
    telemetry::end(&cx, error);
    next
}
