//! AMQP 0-9-1 (RabbitMQ) through lapin: publishing with a timeline (connect, channel open,
//! declare/bind, publish, broker confirm) and watching a queue or tapping an exchange.

pub mod probe;
pub mod publish_many;
pub mod watch;
mod wire;

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties};
use serde::{Deserialize, Serialize};

use crate::exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
use crate::kernel_time::Source;
use crate::payload::Body;
use crate::recorder::{Outcome, Recorder};
use crate::timed_io::{IoMarks, MarksSnapshot};

/// The demo's broker.
pub const DEFAULT_AMQP_URL: &str = demo_contract::DEFAULT_AMQP_URL;

/// The AMQP basic properties Switchboard shows and sets.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Properties {
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Seconds since the Unix epoch.
    #[serde(default)]
    pub timestamp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_mode: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

fn short(value: &Option<String>, field: &str) -> Result<Option<ShortString>, ExchangeError> {
    value
        .as_ref()
        .map(|v| {
            ShortString::try_new(v.clone()).map_err(|e| {
                ExchangeError::invalid_input(format!("property {field} is too long: {e}"))
            })
        })
        .transpose()
}

/// Whether `text` is an AMQP expiration RabbitMQ takes: a whole number of milliseconds, digits
/// only.
pub fn expiration_ok(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u64>().is_ok()
}

impl Properties {
    pub(crate) fn to_lapin(&self, headers: FieldTable) -> Result<BasicProperties, ExchangeError> {
        let mut p = BasicProperties::default().with_headers(headers);
        if let Some(v) = short(&self.content_type, "content_type")? {
            p = p.with_content_type(v);
        }
        if let Some(v) = short(&self.content_encoding, "content_encoding")? {
            p = p.with_content_encoding(v);
        }
        if let Some(v) = short(&self.message_id, "message_id")? {
            p = p.with_message_id(v);
        }
        if let Some(v) = short(&self.correlation_id, "correlation_id")? {
            p = p.with_correlation_id(v);
        }
        if let Some(v) = short(&self.kind, "type")? {
            p = p.with_type(v);
        }
        if let Some(v) = short(&self.app_id, "app_id")? {
            p = p.with_app_id(v);
        }
        if let Some(v) = short(&self.user_id, "user_id")? {
            p = p.with_user_id(v);
        }
        if let Some(v) = short(&self.reply_to, "reply_to")? {
            p = p.with_reply_to(v);
        }
        if let Some(e) = &self.expiration
            && !expiration_ok(e)
        {
            return Err(ExchangeError::invalid_input(format!(
                "property expiration must be a whole number of milliseconds, not {e:?}"
            )));
        }
        if let Some(v) = short(&self.expiration, "expiration")? {
            p = p.with_expiration(v);
        }
        if let Some(v) = self.timestamp {
            p = p.with_timestamp(v);
        }
        if let Some(v) = self.delivery_mode {
            p = p.with_delivery_mode(v);
        }
        if let Some(v) = self.priority {
            p = p.with_priority(v);
        }
        Ok(p)
    }

    pub(crate) fn from_lapin(p: &BasicProperties) -> Self {
        let s = |v: &Option<ShortString>| v.as_ref().map(|v| v.as_str().to_string());
        Self {
            content_type: s(p.content_type()),
            content_encoding: s(p.content_encoding()),
            message_id: s(p.message_id()),
            correlation_id: s(p.correlation_id()),
            timestamp: *p.timestamp(),
            delivery_mode: *p.delivery_mode(),
            priority: *p.priority(),
            kind: s(p.kind()),
            app_id: s(p.app_id()),
            user_id: s(p.user_id()),
            reply_to: s(p.reply_to()),
            expiration: s(p.expiration()),
        }
    }

    /// The set properties as name/value pairs, for display.
    pub fn as_headers(&self) -> Vec<Header> {
        let mut out = Vec::new();
        let mut add = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                out.push(Header::new(name, value));
            }
        };
        add("content_type", self.content_type.clone());
        add("content_encoding", self.content_encoding.clone());
        add("message_id", self.message_id.clone());
        add("correlation_id", self.correlation_id.clone());
        add("timestamp", self.timestamp.map(|t| t.to_string()));
        add("delivery_mode", self.delivery_mode.map(|t| t.to_string()));
        add("priority", self.priority.map(|t| t.to_string()));
        add("type", self.kind.clone());
        add("app_id", self.app_id.clone());
        add("user_id", self.user_id.clone());
        add("reply_to", self.reply_to.clone());
        add("expiration", self.expiration.clone());
        out
    }
}

/// An AMQP field value as JSON.
pub fn amqp_to_json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number)
        }
        AMQPValue::Double(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        AMQPValue::DecimalValue(d) => {
            let v = f64::from(d.value) / 10f64.powi(i32::from(d.scale));
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
        }
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_string()),
        AMQPValue::LongString(s) => match std::str::from_utf8(s.as_bytes()) {
            Ok(text) => Value::String(text.to_string()),
            Err(_) => Value::String(base64::engine::general_purpose::STANDARD.encode(s.as_bytes())),
        },
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(amqp_to_json).collect()),
        AMQPValue::Timestamp(t) => (*t).into(),
        AMQPValue::FieldTable(t) => table_to_json(t),
        AMQPValue::ByteArray(b) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b.as_slice()))
        }
        AMQPValue::Void => Value::Null,
    }
}

/// An AMQP table as a JSON object.
pub fn table_to_json(table: &FieldTable) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .inner()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), amqp_to_json(v)))
            .collect(),
    )
}

pub(crate) fn headers_table(headers: &[Header]) -> Result<FieldTable, ExchangeError> {
    let mut table = FieldTable::default();
    for header in headers {
        let key = ShortString::try_new(header.name.clone()).map_err(|e| {
            ExchangeError::invalid_input(format!("header name {:?} is too long: {e}", header.name))
        })?;
        table.insert(key, AMQPValue::LongString(header.value.as_str().into()));
    }
    Ok(table)
}

/// Closes a connection politely, waiting at most 2 s for the broker's close-ok: a connection
/// cut without a FIN (a dead proxy, a pulled cable) would otherwise hold the caller forever.
pub(crate) async fn close(conn: &Connection, reason: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.close(200, reason.into())).await;
}

/// Hides the password of a URL (`amqp://guest:••••@host/vhost`): [`crate::credentials::redact_url`].
pub fn redact_url(url: &str) -> String {
    crate::credentials::redact_url(url)
}

/// Reads an AMQP URL as lapin does, with the host it names: lapin's parser keeps only a
/// domain name and puts `localhost` in place of an IP address (so `amqp://10.0.0.5` and
/// `amqp://[::1]` would connect to this machine). A URL without a host is refused.
pub fn parse_uri(url: &str) -> Result<lapin::uri::AMQPUri, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.to_string()),
        Some(url::Host::Ipv6(ip)) => Some(ip.to_string()),
        Some(url::Host::Domain(_)) => None,
        None => return Err("it names no host".to_string()),
    };
    let mut uri: lapin::uri::AMQPUri = url.parse()?;
    if let Some(host) = host {
        uri.authority.host = host;
    }
    Ok(uri)
}

/// `host:port` of an AMQP URL (`[v6]:port` for an IPv6 address), as the services strip shows it.
pub fn broker_addr(url: &str) -> Option<String> {
    let uri = parse_uri(url).ok()?;
    let host = &uri.authority.host;
    Some(if host.contains(':') {
        format!("[{host}]:{}", uri.authority.port)
    } else {
        format!("{host}:{}", uri.authority.port)
    })
}

/// What to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishRequest {
    pub url: String,
    pub exchange: String,
    pub routing_key: String,
    pub properties: Properties,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    /// Ask the broker to return the message if no queue is bound for it.
    pub mandatory: bool,
    /// How many copies to publish (at least 1).
    pub count: u32,
    pub timeout: Duration,
}

impl PublishRequest {
    pub fn new(
        url: impl Into<String>,
        exchange: impl Into<String>,
        routing_key: impl Into<String>,
        body: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            url: url.into(),
            exchange: exchange.into(),
            routing_key: routing_key.into(),
            properties: Properties::default(),
            headers: Vec::new(),
            body: body.into(),
            mandatory: true,
            count: 1,
            timeout: Duration::from_secs(30),
        }
    }

    /// Checks and converts what every publish of this request needs, once.
    pub(crate) fn prepare(&self) -> Result<Prepared, ExchangeError> {
        let headers = headers_table(&self.headers)?;
        Ok(Prepared {
            properties: self.properties.to_lapin(headers.clone())?,
            headers,
            exchange: ShortString::try_new(self.exchange.clone()).map_err(|e| {
                ExchangeError::invalid_input(format!("exchange name too long: {e}"))
            })?,
            routing_key: ShortString::try_new(self.routing_key.clone())
                .map_err(|e| ExchangeError::invalid_input(format!("routing key too long: {e}")))?,
            options: BasicPublishOptions {
                mandatory: self.mandatory,
                immediate: false,
            },
        })
    }

    /// `exchange -> routing key @ broker` (credentials masked).
    pub fn target(&self) -> String {
        let exchange = if self.exchange.is_empty() {
            "(default)"
        } else {
            &self.exchange
        };
        format!(
            "{exchange} -> {} @ {}",
            self.routing_key,
            redact_url(&self.url)
        )
    }
}

/// A [`PublishRequest`] in lapin's terms, checked once (names fit, headers convert).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub exchange: ShortString,
    pub routing_key: ShortString,
    /// The headers table (for properties built per message).
    pub headers: FieldTable,
    /// The request's properties with its headers.
    pub properties: BasicProperties,
    pub options: BasicPublishOptions,
}

/// Names a lapin error for a user.
pub fn classify_lapin(err: &lapin::Error, url: &str) -> (ErrorKind, String) {
    let text = err.to_string();
    let lower = text.to_ascii_lowercase();
    if let lapin::ErrorKind::IOError(io) = err.kind()
        && io.kind() == std::io::ErrorKind::TimedOut
    {
        return (
            ErrorKind::Timeout,
            format!("connecting to {} timed out: {io}", redact_url(url)),
        );
    }
    if lower.contains("corrupt message") || lower.contains("invalidcontenttype") {
        return (
            ErrorKind::Tls,
            format!(
                "TLS handshake with {} failed: the server did not answer in TLS — is this port plain AMQP? (amqps:// is usually port 5671, amqp:// 5672): {text}",
                redact_url(url)
            ),
        );
    }
    if lower.contains("access_refused")
        || lower.contains("access refused")
        || lower.contains("authentication")
        || lower.contains("login was refused")
    {
        return (
            ErrorKind::Auth,
            format!(
                "the broker refused the credentials of {}: {text}",
                redact_url(url)
            ),
        );
    }
    if lower.contains("connection refused") {
        return (
            ErrorKind::ConnectionRefused,
            format!(
                "broker unreachable at {}: connection refused — start RabbitMQ (`rabbitmq-server -detached`)",
                redact_url(url)
            ),
        );
    }
    if lower.contains("not_found") || lower.contains("no exchange") || lower.contains("no queue") {
        return (ErrorKind::Refused, format!("the broker said: {text}"));
    }
    if lower.contains("parsing error") || lower.contains("parsererror") {
        return (
            ErrorKind::Protocol,
            format!(
                "the peer at {} is not an AMQP 0-9-1 broker: it answered with something else (an HTTP server?)",
                redact_url(url)
            ),
        );
    }
    if lower.contains("invalid") && lower.contains("uri") {
        return (
            ErrorKind::InvalidInput,
            format!("malformed AMQP URL {}: {text}", redact_url(url)),
        );
    }
    (ErrorKind::Protocol, format!("broker error: {text}"))
}

/// The frame size asked for by connections that stay open (the demo's, the services strip's
/// queue-depth probe, watches) unless their URL sets `frame_max`: lapin keeps 32 frames of buffer each
/// way per connection — 8 MiB at RabbitMQ's default 128 KiB frames, 512 KiB at this. Bodies
/// over a frame go in several.
pub const KEPT_FRAME_MAX: u32 = 8192;

/// `url` for a connection that stays open: `frame_max` [`KEPT_FRAME_MAX`] unless it sets one.
/// `None` when lapin cannot read it (connecting then says why).
pub fn kept_connection_uri(url: &str) -> Option<lapin::uri::AMQPUri> {
    let mut uri = parse_uri(url).ok()?;
    uri.query.frame_max.get_or_insert(KEPT_FRAME_MAX);
    Some(uri)
}

/// Connects a connection that stays open, with small frames (see [`KEPT_FRAME_MAX`]).
pub async fn connect_kept(
    url: &str,
    props: lapin::ConnectionProperties,
) -> lapin::Result<Connection> {
    match kept_connection_uri(url) {
        Some(uri) => Connection::connect_uri(uri, props).await,
        None => Connection::connect(url, props).await,
    }
}

/// Reads an AMQP URL as every publish, watch and peek does before connecting: `Ok` when lapin
/// accepts it.
pub fn check_url(url: &str) -> Result<(), ExchangeError> {
    checked_uri(url).map(|_| ())
}

/// The URL read by [`parse_uri`], or the user's error (credentials masked).
fn checked_uri(url: &str) -> Result<lapin::uri::AMQPUri, ExchangeError> {
    parse_uri(url).map_err(|e| {
        // lapin's message may quote the URL, password and all.
        let shown = redact_url(url);
        let e = e.replace(url, &shown);
        ExchangeError::invalid_input(format!(
            "malformed AMQP URL {shown}: {e} (expected amqp://user:password@host:5672/vhost)"
        ))
    })
}

/// Connects and opens a channel, recording `connect` (TCP), `amqp_handshake` and
/// `channel_open` (see [`connect_timed`]); the connection's marks are retired, as for a
/// connection that goes on to watch or to publish many.
/// `name` is the client-provided connection name the broker shows (management UI,
/// `rabbitmqctl list_connections client_properties`).
/// `frame_max` is asked for unless the URL sets one: [`KEPT_FRAME_MAX`] for a connection that
/// stays open (a watch), [`DEFAULT_FRAME_MAX`] for one that ends with its work.
pub(crate) async fn connect(
    rec: &mut Recorder,
    url: &str,
    confirms: bool,
    name: &str,
    frame_max: u32,
) -> Result<(Connection, Channel), ExchangeError> {
    let (conn, channel, marks) = connect_timed(rec, url, confirms, name, frame_max).await?;
    if let Some(marks) = marks {
        marks.retire();
    }
    Ok((conn, channel))
}

/// Connects through a socket of ours ([`wire`]) and opens a channel: `connect` is the TCP
/// handshake (the SYN to the kernel's round trip), `amqp_handshake` runs from the protocol
/// header to the arrival of Connection.Open-Ok (a refused login fails there), `channel_open`
/// from Channel.Open written to the arrival of its Open-Ok (Confirm.Select-Ok with
/// `confirms`). Gives the connection's marks, to time what follows on it.
pub(crate) async fn connect_timed(
    rec: &mut Recorder,
    url: &str,
    confirms: bool,
    name: &str,
    frame_max: u32,
) -> Result<(Connection, Channel, Option<Arc<IoMarks>>), ExchangeError> {
    let mut uri = checked_uri(url)?;
    // Asked for up front (a smaller one of the broker's wins), lapin sizes its buffers once
    // instead of growing them after Tune — milliseconds of client time.
    uri.query.frame_max.get_or_insert(frame_max);
    let tls = matches!(uri.scheme, lapin::uri::AMQPScheme::AMQPS);
    let addrs = crate::net::resolve(rec, &uri.authority.host, uri.authority.port).await?;
    let props = ConnectionProperties::default().with_connection_name(name.into());
    let seen = Arc::new(wire::Seen::default());
    let start = Instant::now();
    let connected = match rec
        .within(wire::connect(uri, props, seen.clone(), addrs))
        .await
    {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(classify_lapin(&e, url)),
        Err(_) => Err((ErrorKind::Timeout, rec.timeout_message())),
    };
    let opened = seen.opened();
    // The TCP handshake, when there was one.
    let mut handshake_start = start;
    if let Some(o) = &opened {
        rec.push(
            crate::net::phases::CONNECT,
            o.syn,
            o.connected,
            Some(if o.failed.is_empty() {
                o.peer.to_string()
            } else {
                format!("{}, after {}", o.peer, o.failed.join("; "))
            }),
        );
        rec.source(if o.kernel_rtt {
            Source::Kernel
        } else {
            Source::UserSpace
        });
        handshake_start = o.connected;
    }
    let snapshot = opened.as_ref().map(|o| o.marks.snapshot());
    if let Some(first_frame) = snapshot.as_ref().and_then(first_frame_left) {
        handshake_start = handshake_start.max(first_frame);
    }
    let conn = match connected {
        Ok(conn) => conn,
        // Without a TCP connection connecting failed; with one, the AMQP handshake did.
        Err((kind, mut message)) => {
            let phase = if opened.is_some() {
                phases::HANDSHAKE
            } else {
                crate::net::phases::CONNECT
            };
            if kind == ErrorKind::Protocol
                && let Some(said) = opened
                    .as_ref()
                    .and_then(|o| not_amqp(&o.marks.first_bytes()))
            {
                message = format!(
                    "the peer at {} is not an AMQP 0-9-1 broker: {said}",
                    redact_url(url)
                );
            }
            return Err(rec.fail(phase, handshake_start, kind, message));
        }
    };
    let detail = if tls {
        format!("TLS + AMQP, {}", redact_url(url))
    } else {
        redact_url(url)
    };
    match &snapshot {
        Some(snapshot) => {
            let (end, source) = snapshot
                .arrived()
                .unwrap_or((Instant::now(), Source::UserSpace));
            rec.push(phases::HANDSHAKE, handshake_start, end, Some(detail));
            rec.source(source);
        }
        None => {
            rec.push(
                crate::net::phases::CONNECT,
                start,
                Instant::now(),
                Some(detail),
            );
        }
    }
    let marks = opened.map(|o| o.marks);
    if let Some(marks) = &marks {
        marks.arm();
    }
    let open = async {
        let channel = conn.create_channel().await?;
        if confirms {
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
        }
        Ok::<_, lapin::Error>(channel)
    };
    let channel = rec
        .step(crate::amqp::phases::CHANNEL_OPEN, open, |e| {
            classify_lapin(&e, url)
        })
        .await?;
    if let Some(marks) = &marks {
        reply_edges(rec, &marks.snapshot());
    }
    if confirms {
        rec.detail("publisher confirms on");
    }
    Ok((conn, channel, marks))
}

/// The frame size a one-off connection asks for unless its URL sets one: RabbitMQ's default.
pub(crate) const DEFAULT_FRAME_MAX: u32 = 131_072;

/// What a peer that is not an AMQP broker said first (NATS's `INFO {…}`, an HTTP answer…);
/// `None` when it looks like AMQP (a method frame on channel 0, or the protocol header a
/// broker answers a version it does not speak with) or said nothing.
fn not_amqp(head: &[u8]) -> Option<String> {
    if head.is_empty() || head.starts_with(b"AMQP") || head.starts_with(&[1, 0, 0]) {
        return None;
    }
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(24)])
        .chars()
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    let what = if head.starts_with(b"INFO ") {
        " (a NATS server)"
    } else if head.starts_with(b"HTTP/") {
        " (an HTTP server)"
    } else {
        ""
    };
    Some(format!("it said {shown:?}…{what}"))
}

/// When a step's first frame left: its transmit stamp where the kernel gave one — a step that
/// waits for a reply writes one send before the reply's first read, the one [`MarksSnapshot::sent`]
/// stamps —, else our instant before that write.
fn first_frame_left(snapshot: &MarksSnapshot) -> Option<Instant> {
    match snapshot.sent() {
        Some((at, Source::Kernel)) => Some(at),
        _ => snapshot.first_write,
    }
}

/// Moves the last phase's edges onto the wire: from its first write to the arrival of what
/// its last read took (a step that ends with the broker's reply).
fn reply_edges(rec: &mut Recorder, snapshot: &MarksSnapshot) {
    if let Some(first_frame) = first_frame_left(snapshot) {
        rec.start_last_at(first_frame);
    }
    match snapshot.arrived() {
        Some((at, source)) => {
            rec.end_last_at(at);
            rec.source(source);
        }
        None => rec.source(Source::UserSpace),
    }
}

/// Publishes `count` messages; one exchange per message (the first one carries the connect and
/// channel phases).
pub async fn publish(req: &PublishRequest) -> Vec<Exchange> {
    let mut out = Vec::new();
    // The timeout is the whole run's, however many copies.
    let deadline = Instant::now() + req.timeout;
    let mut rec = Recorder::new(req.timeout);
    let request_msg = request_message(req);
    let setup = async {
        let prepared = req.prepare()?;
        let connected = connect_timed(
            &mut rec,
            &req.url,
            true,
            "switchboard publish",
            DEFAULT_FRAME_MAX,
        )
        .await?;
        Ok::<_, ExchangeError>((prepared, connected))
    }
    .await;
    let (prepared, (conn, channel, marks)) = match setup {
        Ok(setup) => setup,
        Err(error) => {
            out.push(rec.finish(
                Transport::Amqp,
                req.target(),
                request_msg,
                Outcome::Failed {
                    error,
                    response: None,
                },
            ));
            return out;
        }
    };
    for i in 0..req.count.max(1) {
        // Each copy in a trace of its own.
        let copy = if i > 0 {
            let mut copy = req.clone();
            rec.trace_copy(&mut copy.headers);
            copy.prepare().ok().map(|p| (request_message(&copy), p))
        } else {
            None
        };
        let (shown, prepared) = match &copy {
            Some((shown, p)) => (shown.clone(), p),
            None => (request_msg.clone(), &prepared),
        };
        let outcome = publish_one(&mut rec, req, prepared, &channel, marks.as_deref()).await;
        let failed = matches!(outcome, Outcome::Failed { .. });
        out.push(rec.finish(Transport::Amqp, req.target(), shown, outcome));
        if failed && !channel.status().connected() {
            break;
        }
        rec = Recorder::new(deadline.saturating_duration_since(Instant::now()));
    }
    crate::amqp::close(&conn, "bye").await;
    out
}

fn request_message(req: &PublishRequest) -> Message {
    let mut headers = req.properties.as_headers();
    headers.extend(req.headers.iter().cloned());
    Message {
        line: format!(
            "basic.publish exchange={:?} routing_key={:?}",
            req.exchange, req.routing_key
        ),
        headers,
        body: Body::new(req.body.clone()),
        size_bytes: req.body.len() as u64,
        ..Message::default()
    }
}

async fn publish_one(
    rec: &mut Recorder,
    req: &PublishRequest,
    prepared: &Prepared,
    channel: &Channel,
    marks: Option<&IoMarks>,
) -> Outcome {
    let url = req.url.clone();
    if let Some(marks) = marks {
        marks.arm();
    }
    let published = rec
        .step(
            crate::amqp::phases::PUBLISH,
            channel.basic_publish(
                prepared.exchange.clone(),
                prepared.routing_key.clone(),
                prepared.options,
                &req.body,
                prepared.properties.clone(),
            ),
            |e| classify_lapin(&e, &url),
        )
        .await;
    let confirm = match published {
        Ok(confirm) => confirm,
        Err(error) => {
            return Outcome::Failed {
                error,
                response: None,
            };
        }
    };
    rec.detail(format!("{} bytes", req.body.len()));
    // On the wire the publish ends when the kernel sent its last frame; the broker's wait
    // starts there and ends when its answer (Basic.Ack, or Basic.Return first) arrived.
    let mut sent = None;
    if let Some(marks) = marks {
        let snapshot = marks.snapshot();
        if let Some(first_write) = snapshot.first_write {
            rec.start_last_at(first_write);
        }
        match snapshot.sent() {
            Some((at, source)) => {
                rec.end_last_at(at);
                rec.source(source);
                sent = Some(at);
            }
            None => rec.source(Source::UserSpace),
        }
    }
    let mut start = Instant::now();
    let confirmation = rec.within(confirm).await;
    let mut end = Instant::now();
    let mut source = Source::UserSpace;
    if let Some(marks) = marks
        && let Some((at, from)) = marks.snapshot().answered()
    {
        end = at;
        source = from;
        start = sent.unwrap_or(start).min(at);
    }
    let response = |line: &str| Message {
        line: line.to_string(),
        ..Message::default()
    };
    match confirmation {
        Ok(Ok(Confirmation::Ack(None))) | Ok(Ok(Confirmation::NotRequested)) => {
            rec.push(
                crate::amqp::phases::CONFIRM,
                start,
                end,
                Some("ack".to_string()),
            );
            rec.source(source);
            Outcome::Answered {
                ok: true,
                status: "ack".to_string(),
                response: response("basic.ack"),
            }
        }
        Ok(Ok(Confirmation::Ack(Some(returned)))) => {
            let error = rec.fail(
                crate::amqp::phases::CONFIRM,
                start,
                ErrorKind::Unroutable,
                format!(
                    "no queue is bound to exchange {:?} for routing key {:?}: the broker returned the message ({} {})",
                    req.exchange, req.routing_key, returned.reply_code, returned.reply_text
                ),
            );
            Outcome::Failed {
                error,
                response: Some(response(&format!(
                    "basic.return {} {}",
                    returned.reply_code, returned.reply_text
                ))),
            }
        }
        Ok(Ok(Confirmation::Nack(_))) => {
            let error = rec.fail(
                crate::amqp::phases::CONFIRM,
                start,
                ErrorKind::Refused,
                "the broker refused the message (nack)",
            );
            Outcome::Failed {
                error,
                response: Some(response("basic.nack")),
            }
        }
        Ok(Err(e)) => {
            let (kind, message) = classify_lapin(&e, &req.url);
            Outcome::Failed {
                error: rec.fail(crate::amqp::phases::CONFIRM, start, kind, message),
                response: None,
            }
        }
        Err(_) => {
            let message = rec.timeout_message();
            Outcome::Failed {
                error: rec.fail(
                    crate::amqp::phases::CONFIRM,
                    start,
                    ErrorKind::Timeout,
                    message,
                ),
                response: None,
            }
        }
    }
}

pub use crate::watch::{Watch, WatchSource, WatchedMessage};

/// AMQP's phases (besides `connect`, in [`crate::net::phases`]).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// The AMQP connection handshake: protocol header, Start/Start-Ok (the login), Tune/Tune-Ok,
    /// Open/Open-Ok (the virtual host) — after TCP (and TLS for `amqps://`).
    pub const HANDSHAKE: PhaseKind =
        PhaseKind::new("amqp_handshake", "AMQP handshake", PhaseClass::Connect);
    /// Opening a channel (and enabling confirms).
    pub const CHANNEL_OPEN: PhaseKind =
        PhaseKind::new("channel_open", "channel open", PhaseClass::Connect);
    /// Declaring an exchange or queue.
    pub const DECLARE: PhaseKind = PhaseKind::new("declare", "declare", PhaseClass::Send);
    /// Binding a queue.
    pub const BIND: PhaseKind = PhaseKind::new("bind", "bind", PhaseClass::Send);
    /// Handing the message to the connection.
    pub const PUBLISH: PhaseKind = PhaseKind::new("publish", "publish", PhaseClass::Send);
    /// Waiting for the broker's ack.
    pub const CONFIRM: PhaseKind = PhaseKind::new("confirm", "broker confirm", PhaseClass::Wait);
    /// Registering a consumer.
    pub const CONSUME: PhaseKind = PhaseKind::new("consume", "consume", PhaseClass::Send);
    /// A message was delivered.
    pub const DELIVERY: PhaseKind = PhaseKind::new("delivery", "delivery", PhaseClass::Receive);

    pub const ALL: &[PhaseKind] = &[
        HANDSHAKE,
        CHANNEL_OPEN,
        DECLARE,
        BIND,
        PUBLISH,
        CONFIRM,
        CONSUME,
        DELIVERY,
    ];
}
