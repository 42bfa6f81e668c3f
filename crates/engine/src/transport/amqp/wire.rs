//! AMQP connections whose bytes Switchboard sees. lapin connects through a socket of ours
//! (`Connection::connector`, with a reactor whose TCP streams are [`TimedIo`]s), so an AMQP
//! exchange's phases take the kernel's instants of their packets, as HTTP's and gRPC's do:
//! `connect` is the TCP handshake (the SYN + the kernel's round trip), `amqp_handshake` runs
//! from the protocol header to the arrival of Connection.Open-Ok, `channel_open` ends when
//! Channel.Open-Ok (or Confirm.Select-Ok) arrived, `publish` when the kernel sent the message's
//! last frame and `confirm` when Basic.Ack arrived. Without kernel timestamps (another OS) the
//! same edges are the user-space instants of those reads and writes — still the wire's order,
//! not lapin's connection thread waking up.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_compat::Compat;
use async_rs::traits::Reactor;
use async_rs::util::RuntimeParts;
use async_rs::{Runtime, Tokio};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{AsyncTcpStream, Connection, ConnectionProperties};

use crate::kernel_time::KernelClock;
use crate::timed_io::{IoMarks, TimedIo};

/// A TCP connection lapin asked for and got: what the `connect` phase shows.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    /// When the first SYN left (the `connect(2)` call).
    pub syn: Instant,
    /// The handshake's end: the SYN + the kernel's round trip, or when the socket was seen
    /// connected (`kernel_rtt` false).
    pub connected: Instant,
    pub kernel_rtt: bool,
    pub peer: SocketAddr,
    /// Addresses that failed before `peer` answered.
    pub failed: Vec<String>,
    pub marks: Arc<IoMarks>,
}

/// What the connector saw, shared with lapin's connection loop that calls it.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    opened: Mutex<Option<Opened>>,
}

impl Seen {
    /// The last TCP connection made, if one was.
    pub fn opened(&self) -> Option<Opened> {
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// tokio, with TCP streams that report their reads and writes.
#[derive(Debug, Clone)]
pub(crate) struct WatchedTokio(Tokio);

impl Reactor for WatchedTokio {
    type TcpStream = Compat<TimedIo<tokio::net::TcpStream>>;
    type Sleep = <Tokio as Reactor>::Sleep;

    fn register<H: Read + Write + AsFd + AsRawFd + Send + 'static>(
        &self,
        socket: H,
    ) -> io::Result<impl futures_io::AsyncRead + futures_io::AsyncWrite + Send + Unpin + 'static>
    {
        self.0.register(socket)
    }

    fn sleep(&self, dur: Duration) -> Self::Sleep {
        self.0.sleep(dur)
    }

    fn interval(
        &self,
        dur: Duration,
    ) -> impl futures_core::Stream<Item = Instant> + Send + 'static {
        self.0.interval(dur)
    }

    /// (lapin connects through [`connect`]'s connector; this is for anyone else.)
    #[allow(
        clippy::manual_async_fn,
        reason = "the trait asks for a 'static future, which an async fn borrowing self is not"
    )]
    fn tcp_connect_addr(
        &self,
        addr: SocketAddr,
    ) -> impl Future<Output = io::Result<Self::TcpStream>> + Send + 'static {
        async move {
            let stream = tokio::net::TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            Ok(Compat::new(TimedIo::new(
                stream,
                Arc::new(IoMarks::default()),
            )))
        }
    }
}

type Kit = RuntimeParts<Tokio, WatchedTokio>;

/// Connects lapin through a socket of ours; `seen` keeps the TCP connection's instants and the
/// marks its bytes leave (also when the AMQP handshake then fails or is cut short). Call from
/// within a tokio runtime.
pub(crate) async fn connect(
    uri: AMQPUri,
    props: ConnectionProperties,
    seen: Arc<Seen>,
    addrs: Vec<SocketAddr>,
) -> lapin::Result<Connection> {
    let tokio = Tokio::current();
    let runtime = Runtime::new(RuntimeParts::new(tokio.clone(), WatchedTokio(tokio)));
    Connection::connector(
        uri,
        runtime,
        async move |uri: AMQPUri, _runtime: Runtime<Kit>| {
            open(&uri, &addrs, &seen).await.map_err(lapin::Error::from)
        },
        props,
    )
    .await
}

/// Connects to the first of the broker's addresses (resolved by the caller, in its `dns`
/// phase) that answers — timed like [`crate::net::open`]'s `connect` —, switches on the
/// kernel's timestamps and does TLS for `amqps://`.
async fn open(
    uri: &AMQPUri,
    addrs: &[SocketAddr],
    seen: &Seen,
) -> io::Result<AsyncTcpStream<Compat<TimedIo<tokio::net::TcpStream>>>> {
    let limit = uri.query.connection_timeout.map(Duration::from_millis);
    let mut first_syn = None;
    let mut failed = Vec::new();
    let mut last_err = None;
    for &addr in addrs {
        let attempt = crate::net::tcp_connect(addr, &mut first_syn);
        let attempt = match limit {
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(r) => r,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "no answer within {} ms (connection_timeout)",
                        limit.as_millis()
                    ),
                )),
            },
            None => attempt.await,
        };
        let (tcp, syn) = match attempt {
            Ok(pair) => pair,
            Err(e) => {
                failed.push(format!("{addr}: {e}"));
                last_err = Some(e);
                continue;
            }
        };
        let rtt = KernelClock::handshake_rtt(&tcp);
        let connected = rtt.map_or_else(Instant::now, |rtt| syn + rtt);
        let _ = tcp.set_nodelay(true);
        let kernel = KernelClock::enable(&tcp);
        let marks = Arc::new(
            IoMarks::default()
                .with_kernel(kernel, true)
                .following_reads(),
        );
        // The handshake's bytes are the first the marks count.
        marks.arm();
        *seen.opened.lock().unwrap_or_else(|p| p.into_inner()) = Some(Opened {
            syn: first_syn.unwrap_or(syn),
            connected,
            kernel_rtt: rtt.is_some(),
            peer: addr,
            failed,
            marks: marks.clone(),
        });
        let stream = AsyncTcpStream::Plain(Compat::new(TimedIo::new(tcp, marks)));
        return match uri.scheme {
            AMQPScheme::AMQP => Ok(stream),
            AMQPScheme::AMQPS => {
                stream
                    .into_tls(&uri.authority.host, lapin::tcp::TLSConfig::default())
                    .await
            }
        };
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("host {:?} has no addresses", uri.authority.host),
        )
    }))
}
