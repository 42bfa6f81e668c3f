//! The Order Service: `POST /orders` checks the user synchronously against the User Service
//! (gRPC by default, HTTP selectable) and publishes an `OrderCreated` event with confirms.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::Deserialize;
use tokio::sync::{Mutex, watch};
use tokio::task::JoinHandle;

use crate::broker::{DEFAULT_AMQP_URL, Item, OrderCreated, Topology, unix_ms};
use crate::knobs::{Knobs, Verdict};
use crate::proto::UserRequest;
use crate::proto::user_service_client::UserServiceClient;
use crate::telemetry::{self, Attribute, Kind, Telemetry, TraceContext};
use crate::user_service::{local_addr, stopped};
use crate::{StartError, bind_loopback};

/// How the Order Service checks that a user exists before it accepts an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserCheck {
    /// A synchronous gRPC call to the User Service (the order fails when it is down).
    #[default]
    Grpc,
    /// A synchronous HTTP call to the User Service (likewise).
    Http,
    /// No synchronous call: the order is accepted and the event published; the User Service
    /// checks the user when it consumes the event (an unknown user is dead-lettered). Orders
    /// keep being accepted while the User Service is down: they wait in the queue.
    None,
}

impl UserCheck {
    pub const ALL: [UserCheck; 3] = [UserCheck::Grpc, UserCheck::Http, UserCheck::None];

    fn to_u8(self) -> u8 {
        match self {
            Self::Grpc => 0,
            Self::Http => 1,
            Self::None => 2,
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Http,
            2 => Self::None,
            _ => Self::Grpc,
        }
    }
}

impl std::fmt::Display for UserCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Grpc => "gRPC",
            Self::Http => "HTTP",
            Self::None => "none",
        })
    }
}

/// Where and how the Order Service runs.
#[derive(Debug, Clone)]
pub struct OrderServiceConfig {
    pub http_addr: SocketAddr,
    /// Base URL of the User Service's HTTP API, e.g. `http://127.0.0.1:8081`.
    pub user_http_url: String,
    /// URL of the User Service's gRPC endpoint, e.g. `http://127.0.0.1:50051`.
    pub user_grpc_url: String,
    pub user_check: UserCheck,
    /// Broker to publish to; `None` turns the order flow off (orders are refused with 503).
    pub amqp_url: Option<String>,
    pub topology: Topology,
    /// NATS server and names for the `ORDERS` stream; `None` disables it.
    pub nats: Option<crate::nats_flow::NatsNames>,
    /// Kafka broker and topic for order events; `None` disables it.
    pub kafka: Option<crate::kafka_flow::KafkaNames>,
    pub latency_ms: u64,
    pub failure_rate: f64,
    /// Where its spans go (OTLP/HTTP, e.g. `http://127.0.0.1:4318`); `None`: not traced.
    pub otlp_endpoint: Option<String>,
}

impl Default for OrderServiceConfig {
    fn default() -> Self {
        Self {
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8082)),
            user_http_url: "http://127.0.0.1:8081".to_string(),
            user_grpc_url: "http://127.0.0.1:50051".to_string(),
            user_check: UserCheck::Grpc,
            amqp_url: Some(DEFAULT_AMQP_URL.to_string()),
            topology: Topology::default(),
            nats: None,
            kafka: None,
            latency_ms: 0,
            failure_rate: 0.0,
            otlp_endpoint: None,
        }
    }
}

/// A running Order Service.
#[derive(Debug)]
pub struct OrderServiceHandle {
    pub http_addr: SocketAddr,
    pub knobs: Arc<Knobs>,
    user_check: Arc<AtomicU8>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    telemetry: Option<Arc<Telemetry>>,
}

impl OrderServiceHandle {
    pub fn user_check(&self) -> UserCheck {
        UserCheck::from_u8(self.user_check.load(Ordering::Relaxed))
    }

    /// Switches how the next orders check the user.
    pub fn set_user_check(&self, check: UserCheck) {
        self.user_check.store(check.to_u8(), Ordering::Relaxed);
    }

    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        crate::user_service::join_or_abort(self.task.take()).await;
        if let Some(t) = &self.telemetry {
            t.shutdown().await;
        }
    }
}

impl Drop for OrderServiceHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

struct Shared {
    knobs: Arc<Knobs>,
    user_check: Arc<AtomicU8>,
    user_http_url: String,
    grpc: UserServiceClient<tonic::transport::Channel>,
    http: reqwest::Client,
    amqp_url: Option<String>,
    topology: Topology,
    publisher: Mutex<Option<(Connection, Channel)>>,
    nats: Option<(async_nats::Client, crate::nats_flow::NatsNames)>,
    kafka: Option<(
        crate::kafka_flow::OrderProducer,
        crate::kafka_flow::KafkaNames,
    )>,
    telemetry: Option<Arc<Telemetry>>,
}

/// Starts the Order Service.
pub async fn start(config: OrderServiceConfig) -> Result<OrderServiceHandle, StartError> {
    let listener = bind_loopback(config.http_addr).await?;
    let http_addr = local_addr(&listener, config.http_addr)?;
    let endpoint = tonic::transport::Endpoint::from_shared(config.user_grpc_url.clone())
        .map_err(|e| StartError::Reflection(format!("bad user gRPC URL: {e}")))?
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(10));
    let knobs = Arc::new(Knobs::new(config.latency_ms, config.failure_rate));
    let nats = match config.nats.clone() {
        Some(names) => match crate::nats_flow::client(&names.url, "demo order-service").await {
            Ok(client) => {
                crate::nats_flow::wait_connected(&client, &names.url, Duration::from_millis(1500))
                    .await;
                Some((client, names))
            }
            Err(err) => {
                tracing::warn!(%err, "the Order Service does not publish to NATS");
                None
            }
        },
        None => None,
    };
    let user_check = Arc::new(AtomicU8::new(config.user_check.to_u8()));
    let telemetry = config.otlp_endpoint.as_deref().and_then(|endpoint| {
        Telemetry::start(telemetry::ORDER_SERVICE, endpoint)
            .map_err(|err| tracing::warn!(%err, "the Order Service is not traced"))
            .ok()
            .map(Arc::new)
    });
    let shared = Arc::new(Shared {
        knobs: knobs.clone(),
        user_check: user_check.clone(),
        user_http_url: config.user_http_url.trim_end_matches('/').to_string(),
        grpc: UserServiceClient::new(endpoint.connect_lazy()),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default(),
        amqp_url: config.amqp_url.clone(),
        topology: config.topology.clone(),
        publisher: Mutex::new(None),
        nats,
        kafka: config
            .kafka
            .clone()
            .map(|names| (crate::kafka_flow::OrderProducer::default(), names)),
        telemetry: telemetry.clone(),
    });
    let app = Router::new()
        .route("/orders", post(create_order))
        .route("/health", axum::routing::get(|| async { "ok" }))
        .with_state(shared);
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(stopped(rx))
            .await;
        if let Err(err) = served {
            tracing::error!(%err, "order service HTTP server failed");
        }
    });
    tracing::info!(%http_addr, "order service started");
    Ok(OrderServiceHandle {
        http_addr,
        knobs,
        user_check,
        shutdown,
        task: Some(task),
        telemetry,
    })
}

#[derive(Debug, Deserialize)]
struct OrderRequest {
    user_id: serde_json::Value,
    #[serde(default)]
    items: Option<Vec<Item>>,
    #[serde(default)]
    amount: Option<f64>,
}

struct CheckedUser {
    id: String,
    name: String,
    email: String,
}

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(serde_json::json!({ "error": message.into() }))).into_response()
}

async fn create_order(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The server span of the call, under the caller's trace when it sent a `traceparent`.
    let cx = telemetry::start_span(
        shared.telemetry.as_deref(),
        "POST /orders",
        Kind::Server,
        &telemetry::extract_http(&headers),
        vec![
            Attribute::new("http.request.method", "POST"),
            Attribute::new("http.route", "/orders"),
        ],
    );
    let response = handle_order(&shared, &headers, &body, &cx).await;
    telemetry::end_http(&cx, response.status());
    response
}

async fn handle_order(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    cx: &TraceContext,
) -> Response {
    if shared.knobs.apply().await == Verdict::InjectedFailure {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "injected failure (failure rate {:.0}%)",
                shared.knobs.failure_rate() * 100.0
            ),
        );
    }
    let request: OrderRequest = match serde_json::from_slice(body) {
        Ok(request) => request,
        Err(err) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!(
                    "invalid order JSON: {err}; expected {{\"user_id\": \"1\", \"items\": [{{\"sku\": \"book\"}}]}} or {{\"user_id\": \"1\", \"amount\": 9.5}}"
                ),
            );
        }
    };
    let user_id = match &request.user_id {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        other => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("user_id must be a string or a number, not {other}"),
            );
        }
    };
    if request.items.as_ref().is_none_or(|items| items.is_empty()) && request.amount.is_none() {
        return json_error(
            StatusCode::BAD_REQUEST,
            "an order needs \"items\" (non-empty) or an \"amount\"",
        );
    }
    let user = match check_user(shared, &user_id, cx).await {
        Ok(user) => user,
        Err(response) => return response,
    };
    let order = OrderCreated {
        event: "OrderCreated".to_string(),
        order_id: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        user_name: user.name.clone(),
        items: request.items.unwrap_or_default(),
        amount: request.amount,
        created_at_ms: unix_ms(),
    };
    let correlation_id = headers
        .get("x-correlation-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    if let Err(err) = publish(shared, &order, &correlation_id, cx).await {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("user {} checked, but the order flow is off: {err}", user.id),
        );
    }
    // The same event to NATS JetStream, for comparing brokers; the order stands without it.
    let nats = match &shared.nats {
        Some((client, names)) => {
            let payload = serde_json::to_vec(&order).unwrap_or_default();
            let span = producer_span(shared, "nats", &names.orders_subject, &order.order_id, cx);
            let published = crate::nats_flow::publish_order(
                client,
                names,
                &order.order_id,
                &correlation_id,
                payload,
                &telemetry::inject(&span),
            )
            .await;
            telemetry::end(&span, published.as_ref().err().cloned());
            match published {
                Ok(p) => {
                    serde_json::json!({ "stream": p.stream, "seq": p.seq, "subject": names.orders_subject })
                }
                Err(e) => serde_json::json!({ "error": e }),
            }
        }
        None => serde_json::Value::Null,
    };
    // And to Kafka (key = the user id), likewise.
    let kafka = match &shared.kafka {
        Some((producer, names)) => {
            let payload = serde_json::to_vec(&order).unwrap_or_default();
            let span = producer_span(shared, "kafka", &names.topic, &order.order_id, cx);
            let produced = producer
                .produce(
                    names,
                    &order.user_id,
                    &order.order_id,
                    &correlation_id,
                    &payload,
                    &telemetry::inject(&span),
                )
                .await;
            telemetry::end(&span, produced.as_ref().err().cloned());
            match produced {
                Ok(p) => {
                    serde_json::json!({ "topic": names.topic, "partition": p.partition, "offset": p.offset })
                }
                Err(e) => serde_json::json!({ "error": e }),
            }
        }
        None => serde_json::Value::Null,
    };
    let body = serde_json::json!({
        "order_id": order.order_id,
        "correlation_id": correlation_id,
        "user": { "id": user.id, "name": user.name, "email": user.email },
        "checked_over": shared_check(shared).to_string(),
        "published": { "exchange": shared.topology.exchange, "routing_key": shared.topology.routing_key },
        "published_nats": nats,
        "published_kafka": kafka,
        "event": order,
    });
    (StatusCode::CREATED, Json(body)).into_response()
}

fn shared_check(shared: &Shared) -> UserCheck {
    UserCheck::from_u8(shared.user_check.load(Ordering::Relaxed))
}

async fn check_user(
    shared: &Shared,
    user_id: &str,
    parent: &TraceContext,
) -> Result<CheckedUser, Response> {
    let check = shared_check(shared);
    if check == UserCheck::None {
        return check_user_over(shared, user_id, check, &[]).await;
    }
    let (name, system) = match check {
        UserCheck::Http => ("GET /user/{id}".to_string(), "http"),
        _ => ("user.UserService/GetUserInfo".to_string(), "grpc"),
    };
    // The client span of the synchronous user check; its context goes with the call.
    let cx = telemetry::start_span(
        shared.telemetry.as_deref(),
        name,
        Kind::Client,
        parent,
        vec![
            Attribute::new("rpc.system", system),
            Attribute::new("user.id", user_id.to_string()),
        ],
    );
    let result = check_user_over(shared, user_id, check, &telemetry::inject(&cx)).await;
    telemetry::end(
        &cx,
        result
            .as_ref()
            .err()
            .map(|r| format!("the user check answered {}", r.status())),
    );
    result
}

async fn check_user_over(
    shared: &Shared,
    user_id: &str,
    check: UserCheck,
    trace_headers: &[(String, String)],
) -> Result<CheckedUser, Response> {
    match check {
        // Trusted now, checked by the consumer later.
        UserCheck::None => Ok(CheckedUser {
            id: user_id.to_string(),
            name: String::new(),
            email: String::new(),
        }),
        UserCheck::Grpc => {
            let mut client = shared.grpc.clone();
            let mut request = tonic::Request::new(UserRequest {
                user_id: user_id.to_string(),
            });
            for (name, value) in trace_headers {
                if let (Ok(name), Ok(value)) = (
                    tonic::metadata::MetadataKey::from_bytes(name.as_bytes()),
                    value.parse(),
                ) {
                    request.metadata_mut().insert(name, value);
                }
            }
            match client.get_user_info(request).await {
                Ok(response) => {
                    let info = response.into_inner();
                    Ok(CheckedUser {
                        id: info.id,
                        name: info.name,
                        email: info.email,
                    })
                }
                Err(status) => Err(match status.code() {
                    tonic::Code::NotFound => {
                        json_error(StatusCode::NOT_FOUND, status.message().to_string())
                    }
                    tonic::Code::InvalidArgument => {
                        json_error(StatusCode::BAD_REQUEST, status.message().to_string())
                    }
                    code => json_error(
                        StatusCode::BAD_GATEWAY,
                        format!(
                            "user service unavailable over gRPC ({code:?}): {}",
                            status.message()
                        ),
                    ),
                }),
            }
        }
        UserCheck::Http => {
            let url = format!("{}/user/{}", shared.user_http_url, user_id);
            let mut get = shared.http.get(&url);
            for (name, value) in trace_headers {
                get = get.header(name.as_str(), value.as_str());
            }
            let response = get.send().await.map_err(|e| {
                json_error(
                    StatusCode::BAD_GATEWAY,
                    format!("user service unavailable over HTTP: {e}"),
                )
            })?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            let field = |name: &str| {
                body.get(name)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            match status {
                s if s.is_success() => Ok(CheckedUser {
                    id: field("id"),
                    name: field("name"),
                    email: field("email"),
                }),
                StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST => {
                    Err(json_error(status, field("error")))
                }
                s => Err(json_error(
                    StatusCode::BAD_GATEWAY,
                    format!("user service answered {s} over HTTP: {}", field("error")),
                )),
            }
        }
    }
}

async fn publish(
    shared: &Shared,
    order: &OrderCreated,
    correlation_id: &str,
    parent: &TraceContext,
) -> Result<(), String> {
    let cx = producer_span(
        shared,
        "rabbitmq",
        &shared.topology.exchange,
        &order.order_id,
        parent,
    );
    telemetry::set_attribute(
        &cx,
        Attribute::new(
            "messaging.rabbitmq.destination.routing_key",
            shared.topology.routing_key.clone(),
        ),
    );
    let published = publish_amqp(shared, order, correlation_id, &telemetry::inject(&cx)).await;
    telemetry::end(&cx, published.as_ref().err().cloned());
    published
}

/// The producer span of an order event sent to `destination` over `system`: the event carries
/// its context to whoever consumes it.
fn producer_span(
    shared: &Shared,
    system: &'static str,
    destination: &str,
    order_id: &str,
    parent: &TraceContext,
) -> TraceContext {
    telemetry::start_span(
        shared.telemetry.as_deref(),
        format!("{destination} publish"),
        Kind::Producer,
        parent,
        vec![
            Attribute::new("messaging.system", system),
            Attribute::new("messaging.destination.name", destination.to_string()),
            Attribute::new("messaging.message.id", order_id.to_string()),
        ],
    )
}

async fn publish_amqp(
    shared: &Shared,
    order: &OrderCreated,
    correlation_id: &str,
    trace_headers: &[(String, String)],
) -> Result<(), String> {
    let Some(url) = &shared.amqp_url else {
        return Err("no broker configured".to_string());
    };
    let payload = serde_json::to_vec(order).map_err(|e| e.to_string())?;
    let mut publisher = shared.publisher.lock().await;
    let healthy = publisher
        .as_ref()
        .is_some_and(|(conn, channel)| conn.status().connected() && channel.status().connected());
    if !healthy {
        *publisher = Some(connect_publisher(url, &shared.topology).await?);
    }
    let Some((_, channel)) = publisher.as_ref() else {
        return Err("no broker channel".to_string());
    };
    let mut headers = FieldTable::default();
    headers.insert(
        "x-source".into(),
        AMQPValue::LongString("order-service".into()),
    );
    for (name, value) in trace_headers {
        headers.insert(
            name.as_str().into(),
            AMQPValue::LongString(value.as_str().into()),
        );
    }
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_message_id(order.order_id.as_str().into())
        .with_correlation_id(correlation_id.into())
        .with_timestamp(order.created_at_ms / 1000)
        .with_delivery_mode(2)
        .with_type("OrderCreated".into())
        .with_app_id("demo-order-service".into())
        .with_headers(headers);
    let result = async {
        channel
            .basic_publish(
                shared.topology.exchange.as_str().into(),
                shared.topology.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await?
            .await
    };
    let confirmation = tokio::time::timeout(Duration::from_secs(10), result).await;
    match confirmation {
        Ok(Ok(Confirmation::Ack(_))) => Ok(()),
        Ok(Ok(Confirmation::Nack(_))) => Err("the broker refused the event (nack)".to_string()),
        Ok(Ok(Confirmation::NotRequested)) => Ok(()),
        Ok(Err(err)) => {
            *publisher = None;
            Err(format!("publish failed: {err}"))
        }
        Err(_) => {
            *publisher = None;
            Err("timed out waiting for the broker's confirm".to_string())
        }
    }
}

async fn connect_publisher(
    url: &str,
    topology: &Topology,
) -> Result<(Connection, Channel), String> {
    let props = ConnectionProperties::default().with_connection_name("demo order-service".into());
    let conn = tokio::time::timeout(
        Duration::from_secs(5),
        switchboard_engine::amqp::connect_kept(url, props),
    )
    .await
    .map_err(|_| "timed out connecting to the broker".to_string())?
    .map_err(|e| format!("broker unreachable ({e})"))?;
    let channel = conn.create_channel().await.map_err(|e| e.to_string())?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    topology
        .declare(&channel)
        .await
        .map_err(|e| format!("cannot declare the order topology: {e}"))?;
    Ok((conn, channel))
}
