//! One Kafka connection on tokio, spoken with `kafka-protocol`'s codec: size-prefixed frames,
//! correlation ids, and the API versions the broker announced (ApiVersions, on connect). The
//! caller times each step — TCP connect, ApiVersions, a request written, its response read — so
//! every phase of a timeline is measured here, not estimated by a client library.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader};
use kafka_protocol::protocol::{
    Decodable, Encodable, HeaderVersion, Request, StrBytes, encode_request_header_into_buffer,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::exchange::ErrorKind;

/// The largest response frame read (a fetch is bounded by its `max_bytes` far below this); a
/// bigger size prefix means the peer does not speak Kafka (an HTTP server's `HTTP` is 1.2 GB).
const MAX_FRAME: usize = 256 * 1024 * 1024;

/// What went wrong on a connection.
#[derive(Debug)]
pub enum WireError {
    Io(std::io::Error),
    /// The peer's bytes do not decode, or we share no version of an API.
    Protocol(String),
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Protocol(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for WireError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl WireError {
    /// The error, named for a user, with `addr` in its message (no phase: the caller's).
    pub fn error(&self, addr: &str) -> crate::exchange::ExchangeError {
        let (kind, message) = self.classify(addr);
        crate::exchange::ExchangeError {
            kind,
            phase: None,
            message,
        }
    }

    /// The error kind and a message naming `addr`.
    pub fn classify(&self, addr: &str) -> (ErrorKind, String) {
        match self {
            Self::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
                ErrorKind::ConnectionRefused,
                format!(
                    "Kafka broker unreachable at {addr}: connection refused — is a broker running there? (`switchboard demo` starts one)"
                ),
            ),
            Self::Io(e) => crate::recorder::classify_io(e, &format!("the Kafka broker at {addr}")),
            Self::Protocol(m) => (
                ErrorKind::Protocol,
                format!("the peer at {addr} does not speak Kafka as expected: {m}"),
            ),
        }
    }
}

/// The highest version of each API this client uses: newer ones need topic ids (Fetch ≥ 13,
/// Produce 13) or batched group keys (FindCoordinator ≥ 4, OffsetFetch ≥ 8), which buy nothing here.
fn cap(key: ApiKey) -> i16 {
    match key {
        ApiKey::Produce => 9,
        // 11: the last version without tagged fields — tansu 0.6 answers v12 with a top-level
        // tag that only v16 defines, which a strict decoder rejects.
        ApiKey::Fetch => 11,
        ApiKey::ListOffsets => 7,
        ApiKey::Metadata => 12,
        ApiKey::OffsetCommit => 8,
        ApiKey::OffsetFetch => 7,
        ApiKey::FindCoordinator => 3,
        ApiKey::JoinGroup => 7,
        ApiKey::Heartbeat => 4,
        ApiKey::LeaveGroup => 4,
        ApiKey::SyncGroup => 5,
        ApiKey::DescribeGroups => 5,
        ApiKey::ListGroups => 4,
        ApiKey::CreateTopics => 7,
        ApiKey::DeleteTopics => 6,
        ApiKey::ApiVersions => 3,
        _ => 0,
    }
}

/// An open connection to one broker.
pub struct Conn {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_id: i32,
    versions: HashMap<i16, (i16, i16)>,
    /// `host:port` as dialled.
    pub addr: String,
    client_id: StrBytes,
}

/// How long each step of [`Conn::open`] took.
#[derive(Debug, Clone, Copy)]
pub struct OpenTimes {
    pub tcp: Duration,
    pub api_versions: Duration,
    /// How many APIs the broker announced.
    pub apis: usize,
}

impl Conn {
    /// TCP connect, then ApiVersions.
    pub async fn open(addr: &str, client_id: &str) -> Result<(Self, OpenTimes), WireError> {
        let start = Instant::now();
        let stream = TcpStream::connect(addr).await?;
        let _ = stream.set_nodelay(true);
        let tcp = start.elapsed();
        let (read, write) = stream.into_split();
        let mut conn = Self {
            reader: BufReader::with_capacity(64 * 1024, read),
            writer: write,
            next_id: 1,
            versions: HashMap::new(),
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
        };
        let start = Instant::now();
        let mut req = ApiVersionsRequest::default();
        req.client_software_name = StrBytes::from_static_str("switchboard");
        req.client_software_version = StrBytes::from_static_str(env!("CARGO_PKG_VERSION"));
        let response: ApiVersionsResponse = conn.call_at(&req, 3).await?;
        if response.error_code != 0 {
            return Err(WireError::Protocol(format!(
                "ApiVersions failed with error code {}",
                response.error_code
            )));
        }
        conn.versions = response
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        let times = OpenTimes {
            tcp,
            api_versions: start.elapsed(),
            apis: conn.versions.len(),
        };
        Ok((conn, times))
    }

    /// The version of `R` to speak: the highest both sides know.
    pub fn version<R: Request>(&self) -> Result<i16, WireError> {
        let key = ApiKey::try_from(R::KEY)
            .map_err(|_| WireError::Protocol(format!("unknown API key {}", R::KEY)))?;
        let (broker_min, broker_max) = self.versions.get(&R::KEY).copied().ok_or_else(|| {
            WireError::Protocol(format!("the broker does not offer the {key:?} API"))
        })?;
        let ours = R::VERSIONS;
        let max = broker_max.min(ours.max).min(cap(key));
        let min = broker_min.max(ours.min);
        if max < min {
            return Err(WireError::Protocol(format!(
                "no common version of {key:?}: the broker speaks {broker_min}..{broker_max}, this client {}..{}",
                ours.min,
                ours.max.min(cap(key))
            )));
        }
        Ok(max)
    }

    /// Writes `req` (and flushes): returns its correlation id and version.
    pub async fn send<R: Request>(&mut self, req: &R) -> Result<(i32, i16), WireError> {
        let version = self.version::<R>()?;
        let id = self.send_at(req, version).await?;
        Ok((id, version))
    }

    async fn send_at<R: Request>(&mut self, req: &R, version: i16) -> Result<i32, WireError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let mut header = RequestHeader::default();
        header.request_api_key = R::KEY;
        header.request_api_version = version;
        header.correlation_id = id;
        header.client_id = Some(self.client_id.clone());
        let mut buf = BytesMut::with_capacity(64);
        buf.put_i32(0);
        encode_request_header_into_buffer(&mut buf, &header).map_err(codec)?;
        req.encode(&mut buf, version).map_err(codec)?;
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.writer.write_all(&buf).await?;
        self.writer.flush().await?;
        Ok(id)
    }

    /// Reads the response to the request sent as `id` with `version` (responses come in the
    /// order requests were sent).
    pub async fn recv<R: Request>(
        &mut self,
        id: i32,
        version: i16,
    ) -> Result<R::Response, WireError> {
        let mut frame = self.read_frame().await?;
        let header_version = <R::Response as HeaderVersion>::header_version(version);
        let header = kafka_protocol::messages::ResponseHeader::decode(&mut frame, header_version)
            .map_err(codec)?;
        if header.correlation_id != id {
            return Err(WireError::Protocol(format!(
                "response to request {} arrived where {id} was expected",
                header.correlation_id
            )));
        }
        R::Response::decode(&mut frame, version).map_err(codec)
    }

    /// Waits for the first byte of the next response (to time a broker's answer apart from
    /// reading it).
    pub async fn wait_readable(&mut self) -> Result<(), WireError> {
        use tokio::io::AsyncBufReadExt;
        let buf = self.reader.fill_buf().await?;
        if buf.is_empty() {
            return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Sends `req` and reads its response.
    pub async fn call<R: Request>(&mut self, req: &R) -> Result<R::Response, WireError> {
        let (id, version) = self.send(req).await?;
        self.recv::<R>(id, version).await
    }

    async fn call_at<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response, WireError> {
        let id = self.send_at(req, version).await?;
        self.recv::<R>(id, version).await
    }

    async fn read_frame(&mut self) -> Result<Bytes, WireError> {
        let size = self.reader.read_i32().await?;
        let size = usize::try_from(size)
            .ok()
            .filter(|s| *s <= MAX_FRAME)
            .ok_or_else(|| {
                WireError::Protocol(format!(
                    "a response frame of {size} bytes (not a Kafka broker?)"
                ))
            })?;
        let mut frame = vec![0u8; size];
        self.reader.read_exact(&mut frame).await?;
        Ok(Bytes::from(frame))
    }
}

fn codec(e: impl std::fmt::Display) -> WireError {
    WireError::Protocol(format!("cannot encode or decode a message: {e}"))
}

/// A Kafka error code as text: `UnknownTopicOrPartition (3)`.
pub fn error_name(code: i16) -> String {
    match kafka_protocol::ResponseError::try_from_code(code) {
        Some(e) => format!("{e} ({code})"),
        None => "none".to_string(),
    }
}

/// Reads a consumer-protocol payload (a 2-byte version, then the message).
pub fn decode_versioned<T: Decodable>(mut bytes: Bytes) -> Result<T, WireError> {
    if bytes.len() < 2 {
        return Err(WireError::Protocol(
            "an empty consumer-protocol payload".into(),
        ));
    }
    let version = bytes.get_i16();
    T::decode(&mut bytes, version.clamp(0, 3)).map_err(codec)
}

/// Writes a consumer-protocol payload at version 0 (understood by every client).
pub fn encode_versioned<T: Encodable>(value: &T) -> Result<Bytes, WireError> {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    value.encode(&mut buf, 0).map_err(codec)?;
    Ok(buf.freeze())
}
