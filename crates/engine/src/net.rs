//! Opening a connection phase by phase: DNS, TCP connect, TLS — each timed.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_util::either::Either;

use super::exchange::{ErrorKind, ExchangeError};
use super::recorder::{Recorder, classify_io};

/// A plain or TLS stream.
pub type Stream = Either<TcpStream, Box<TlsStream<TcpStream>>>;

/// An open connection and the protocol TLS negotiated (ALPN), if any.
pub struct Opened {
    pub stream: Stream,
    pub alpn: Option<Vec<u8>>,
    pub peer: SocketAddr,
    /// The kernel's timestamps of the socket, where it gives them (Linux).
    pub kernel: Option<crate::kernel_time::KernelClock>,
}

/// TLS settings beyond the defaults: an extra trusted CA, and a client certificate (mTLS).
/// Files are PEM.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct TlsOptions {
    /// Trust this CA (or self-signed certificate) besides the public roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Present this certificate chain to servers that ask for one…
    pub cert_file: Option<std::path::PathBuf>,
    /// …with this private key.
    pub key_file: Option<std::path::PathBuf>,
}

pub(crate) fn tls_config(
    alpn: &[&[u8]],
    options: &TlsOptions,
) -> Result<Arc<rustls::ClientConfig>, ExchangeError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    let public = ROOTS.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Arc::new(roots)
    });
    let bad = |what: &str, path: &std::path::Path, e: &dyn std::fmt::Display| {
        ExchangeError::invalid_input(format!("cannot use {what} {}: {e}", path.display()))
    };
    let roots = match &options.ca_file {
        None => public.clone(),
        Some(path) => {
            let mut roots = (**public).clone();
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| bad("the CA file", path, &e))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad("the CA file", path, &e))?;
            if certs.is_empty() {
                return Err(bad("the CA file", path, &"no PEM certificate in it"));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| bad("the CA file", path, &e))?;
            }
            Arc::new(roots)
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| rustls::ClientConfig::builder())
        .with_root_certificates(roots);
    let mut config = match (&options.cert_file, &options.key_file) {
        (None, None) => builder.with_no_client_auth(),
        (Some(cert), Some(key)) => {
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| bad("the client certificate", cert, &e))?
                .collect::<Result<_, _>>()
                .map_err(|e| bad("the client certificate", cert, &e))?;
            let key_der =
                PrivateKeyDer::from_pem_file(key).map_err(|e| bad("the client key", key, &e))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| bad("the client certificate", cert, &e))?
        }
        _ => {
            return Err(ExchangeError::invalid_input(
                "a client certificate needs both --cert and --key",
            ));
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The addresses of `host` (`[v6]` brackets allowed): an IP address as it is, a host name
/// through a `dns` phase (its detail lists what it resolved to).
pub(crate) async fn resolve(
    rec: &mut Recorder,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ExchangeError> {
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare_host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = tokio::net::lookup_host((bare_host.to_string(), port));
    let addrs: Vec<SocketAddr> = rec
        .step(crate::net::phases::DNS, lookup, |e| {
            (
                ErrorKind::Dns,
                format!("cannot resolve host {bare_host:?}: {e}"),
            )
        })
        .await?
        .collect();
    if addrs.is_empty() {
        let start = Instant::now();
        return Err(rec.fail(
            crate::net::phases::DNS,
            start,
            ErrorKind::Dns,
            format!("host {bare_host:?} has no addresses"),
        ));
    }
    let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    rec.detail(list.join(", "));
    Ok(addrs)
}

/// Resolves `host`, connects to the first address that accepts, and does TLS if `alpn` is
/// given, recording `dns` (skipped for IP literals), `connect` and `tls` phases.
pub async fn open(
    rec: &mut Recorder,
    host: &str,
    port: u16,
    alpn: Option<&[&[u8]]>,
    tls: &TlsOptions,
) -> Result<Opened, ExchangeError> {
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs = resolve(rec, host, port).await?;

    // TLS settings are read before connecting: a bad CA file fails at once, and building them
    // is not counted between the handshake and TLS.
    let tls_setup = match alpn {
        Some(alpn) => {
            let server_name = rustls::pki_types::ServerName::try_from(bare_host.to_string())
                .map_err(|e| {
                    ExchangeError::invalid_input(format!("invalid TLS server name: {e}"))
                })?;
            Some((server_name, TlsConnector::from(tls_config(alpn, tls)?)))
        }
        None => None,
    };
    // The first SYN, and the addresses that failed before one answered: all of it is `connect`.
    let mut first_syn: Option<Instant> = None;
    let mut failed: Vec<String> = Vec::new();
    let connect = async {
        let mut last_err = None;
        for addr in &addrs {
            match tcp_connect(*addr, &mut first_syn).await {
                Ok((stream, syn)) => return Ok((stream, *addr, syn)),
                Err(err) => {
                    failed.push(format!("{addr}: {err}"));
                    last_err = Some((err, *addr));
                }
            }
        }
        Err(last_err.unwrap_or_else(|| {
            (
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
                SocketAddr::from(([0, 0, 0, 0], port)),
            )
        }))
    };
    let connected = rec
        .step(crate::net::phases::CONNECT, connect, |(e, addr)| {
            classify_io(&e, &addr.to_string())
        })
        .await;
    // The handshake starts when the first SYN leaves: making and registering the socket before
    // it is the client's time, shown as such.
    if let Some(syn) = first_syn {
        rec.start_last_at(syn);
    }
    let (tcp, peer, syn) = connected?;
    rec.detail(if failed.is_empty() {
        peer.to_string()
    } else {
        format!("{peer}, after {}", failed.join("; "))
    });
    // The handshake ended when the SYN-ACK came in: the kernel's round trip after the SYN,
    // not when this task woke up to see the socket writable.
    match crate::kernel_time::KernelClock::handshake_rtt(&tcp) {
        Some(rtt) => {
            rec.end_last_at(syn + rtt);
            rec.source(crate::kernel_time::Source::Kernel);
        }
        None => rec.source(crate::kernel_time::Source::UserSpace),
    }
    let _ = tcp.set_nodelay(true);
    let kernel = crate::kernel_time::KernelClock::enable(&tcp);

    let Some((server_name, connector)) = tls_setup else {
        return Ok(Opened {
            stream: Either::Left(tcp),
            alpn: None,
            peer,
            kernel,
        });
    };
    let tls = rec
        .step(
            crate::net::phases::TLS,
            connector.connect(server_name, tcp),
            |e| {
                (
                    ErrorKind::Tls,
                    format!("TLS handshake with {host} failed: {e}"),
                )
            },
        )
        .await?;
    let (_, session) = tls.get_ref();
    let version = session
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS")
        .to_string();
    let negotiated = session.alpn_protocol().map(<[u8]>::to_vec);
    let alpn_label = negotiated
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_else(|| "no ALPN".to_string());
    rec.detail(format!("{version}, {alpn_label}"));
    Ok(Opened {
        stream: Either::Right(Box::new(tls)),
        alpn: negotiated,
        peer,
        kernel,
    })
}

/// Connects to `addr`; `first_syn` keeps when the first SYN was sent (the `connect(2)` call
/// was made): socket creation before it is not network time. Gives the stream and when its own
/// SYN was sent.
pub(crate) async fn tcp_connect(
    addr: SocketAddr,
    first_syn: &mut Option<Instant>,
) -> std::io::Result<(TcpStream, Instant)> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_nonblocking(true)?;
    // The local port is chosen here, so that connect(2) does little more than send the SYN.
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    socket.bind(&local.into())?;
    // The SYN leaves inside connect(2); on loopback the peer's SYN-ACK is often handled before
    // the call returns, so the instant before the call is the SYN's (measured against a
    // capture: after the call is 60–150 µs late, before it 10–40 µs early).
    let syn = Instant::now();
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        // Non-blocking: the SYN is on its way.
        Err(e) if rustix::io::Errno::from_io_error(&e) == Some(rustix::io::Errno::INPROGRESS) => {}
        Err(e) => return Err(e),
    }
    first_syn.get_or_insert(syn);
    let stream = TcpStream::from_std(std::net::TcpStream::from(socket))?;
    // Writable once the handshake is done (or failed: the error is on the socket).
    stream.writable().await?;
    if let Some(e) = stream.take_error()? {
        return Err(e);
    }
    stream.peer_addr()?;
    Ok((stream, syn))
}

/// The phases of opening a connection, shared by the transports that use [`open`](crate::net::open).
pub mod phases {
    use crate::timeline::{PhaseClass, PhaseKind};

    /// Name resolution.
    pub const DNS: PhaseKind = PhaseKind::new("dns", "DNS", PhaseClass::Resolve);
    /// TCP connect (for AMQP: and the AMQP handshake).
    pub const CONNECT: PhaseKind = PhaseKind::new("connect", "connect", PhaseClass::Connect);
    /// The HTTP/2 handshake on a new connection: the client's preface and SETTINGS, the
    /// server's SETTINGS, and its ACK of ours (it may overlap the first request).
    pub const HTTP2_HANDSHAKE: PhaseKind =
        PhaseKind::new("http2_handshake", "HTTP/2 handshake", PhaseClass::Connect);
    /// Time in Switchboard between phases, not on the wire.
    pub const CLIENT: PhaseKind = PhaseKind::new("client", "in Switchboard", PhaseClass::Client);
    /// TLS handshake.
    pub const TLS: PhaseKind = PhaseKind::new("tls", "TLS", PhaseClass::Secure);
    /// From the first byte of the request written to the last.
    pub const REQUEST_SENT: PhaseKind =
        PhaseKind::new("request_sent", "request sent", PhaseClass::Send);

    pub const ALL: &[PhaseKind] = &[DNS, CONNECT, TLS, HTTP2_HANDSHAKE, REQUEST_SENT, CLIENT];
}
