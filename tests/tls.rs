//! TLS with a custom CA and a client certificate (mTLS), for gRPC and HTTPS: a TLS front that
//! the test controls (rustls, client certificates required) forwards to the demo services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::start_demo;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use switchboard::engine::ErrorKind;
use switchboard::engine::grpc::{self, GrpcRequest};
use switchboard::engine::http::{self, HttpRequest};
use switchboard::engine::net::TlsOptions;
use tokio_rustls::rustls;

struct Pki {
    dir: PathBuf,
    server: rustls::ServerConfig,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A CA, a server certificate for localhost and a client certificate, written as PEM files; and
/// a server config that requires client certificates from that CA.
fn pki(alpn: &[u8]) -> Pki {
    let dir = std::env::temp_dir().join(format!(
        "sb-tls-{}-{}",
        std::process::id(),
        String::from_utf8_lossy(alpn)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();
    let client_key = KeyPair::generate().unwrap();
    let client = CertificateParams::new(vec!["switchboard-test".to_string()])
        .unwrap()
        .signed_by(&client_key, &ca)
        .unwrap();
    let write = |name: &str, text: String| std::fs::write(dir.join(name), text).unwrap();
    write("ca.pem", ca.pem());
    write("client.pem", client.pem());
    write("client.key", client_key.serialize_pem());

    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![alpn.to_vec()];
    Pki {
        dir,
        server: config,
    }
}

/// Terminates TLS and forwards the plaintext to `backend`.
async fn tls_front(
    config: rustls::ServerConfig,
    backend: std::net::SocketAddr,
) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await
                    && let Ok(mut upstream) = tokio::net::TcpStream::connect(backend).await
                {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
                }
            });
        }
    });
    (port, task)
}

fn options(pki: &Pki, client_cert: bool) -> TlsOptions {
    TlsOptions {
        ca_file: Some(pki.path("ca.pem")),
        cert_file: client_cert.then(|| pki.path("client.pem")),
        key_file: client_cert.then(|| pki.path("client.key")),
    }
}

#[tokio::test]
async fn grpc_over_mtls_with_a_custom_ca() {
    let demo = start_demo().await;
    let pki = pki(b"h2");
    let (port, front) = tls_front(pki.server.clone(), demo.user.grpc_addr).await;
    let pool = grpc::builtin_pool().unwrap();
    let request = |tls: TlsOptions| GrpcRequest {
        addr: format!("https://localhost:{port}"),
        method: grpc::DEFAULT_METHOD.to_string(),
        metadata: vec![],
        json: r#"{"user_id":"1"}"#.to_string(),
        timeout: Duration::from_secs(10),
        tls,
    };

    let ok = grpc::call(&request(options(&pki, true)), &pool).await;
    assert!(ok.ok, "{:?}", ok.error);
    let tls = ok
        .timeline
        .iter()
        .find(|p| p.phase == switchboard::engine::net::phases::TLS)
        .expect("a TLS phase");
    assert!(tls.detail.as_deref().unwrap().contains("h2"), "{tls:?}");

    // Without the CA the server's certificate is not trusted: a TLS error in the TLS phase.
    let untrusted = grpc::call(&request(TlsOptions::default()), &pool).await;
    let error = untrusted.error.unwrap();
    assert_eq!(
        (error.kind, error.phase),
        (ErrorKind::Tls, Some(switchboard::engine::net::phases::TLS)),
        "{}",
        error.message
    );

    // Trusting the CA but showing no client certificate: the server refuses us.
    let anonymous = grpc::call(&request(options(&pki, false)), &pool).await;
    assert!(!anonymous.ok);
    let error = anonymous.error.expect("a transport failure, not a status");
    assert!(
        error.message.to_lowercase().contains("certificate"),
        "says why: {}",
        error.message
    );
    front.abort();
    demo.stop().await;
}

#[tokio::test]
async fn https_over_mtls_and_bad_tls_files_are_clear_errors() {
    let demo = start_demo().await;
    let pki = pki(b"http/1.1");
    let (port, front) = tls_front(pki.server.clone(), demo.user.http_addr).await;
    let request = |tls: TlsOptions| HttpRequest {
        tls,
        ..HttpRequest::get(format!("https://localhost:{port}/user/2"))
    };
    let ok = http::send(&request(options(&pki, true))).await;
    assert_eq!(ok.status.as_deref(), Some("200 OK"), "{:?}", ok.error);
    let phases: Vec<_> = ok
        .timeline
        .iter()
        .map(|p| p.phase)
        .filter(|p| *p != switchboard::engine::net::phases::CLIENT)
        .collect();
    assert_eq!(
        phases[..3],
        [
            switchboard::engine::net::phases::DNS,
            switchboard::engine::net::phases::CONNECT,
            switchboard::engine::net::phases::TLS
        ]
    );

    let missing = http::send(&request(TlsOptions {
        ca_file: Some(Path::new("/no/such/ca.pem").into()),
        ..TlsOptions::default()
    }))
    .await;
    let error = missing.error.unwrap();
    assert_eq!(error.kind, ErrorKind::InvalidInput);
    assert!(
        error.message.contains("/no/such/ca.pem"),
        "{}",
        error.message
    );
    front.abort();
    demo.stop().await;
}
