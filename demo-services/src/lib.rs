//! The demo services Switchboard ships: a **User Service** (HTTP `GET /user/{id}`, gRPC
//! `user.UserService/GetUserInfo`, and a consumer of `order_queue`) and an **Order Service**
//! (`POST /orders`, which checks the user synchronously and publishes an `OrderCreated` event).
//!
//! Every service starts on the address it is given (port 0 in tests) and returns a handle that
//! reports where it listens, exposes its [`Knobs`] (added latency, failure rate) and stops it
//! cleanly.

pub mod broker;
mod child_guard;
pub mod demo;
#[cfg(feature = "kafka")]
pub mod kafka_broker;
pub mod kafka_flow;
pub mod knobs;
pub mod nats_flow;
pub mod nats_server;
pub mod order_service;
pub mod rabbitmq_server;
pub mod supervisor;
pub mod telemetry;
pub mod user_service;
pub mod users;

pub use broker::Topology;
pub use demo::{DemoConfig, DemoServices};
pub use kafka_flow::KafkaNames;
pub use knobs::Knobs;
pub use nats_flow::NatsNames;
pub use order_service::{OrderServiceConfig, OrderServiceHandle, UserCheck};
pub use user_service::{
    ConsumerState, ConsumerTallies, ConsumerTally, UserServiceConfig, UserServiceHandle,
};

/// Code generated from `proto/user.proto`.
pub mod proto {
    tonic::include_proto!("user");

    /// The encoded `FileDescriptorSet` of `proto/user.proto` (served by gRPC reflection).
    pub const FILE_DESCRIPTOR_SET: &[u8] = demo_contract::USER_PROTO_DESCRIPTOR_SET;
}

/// Errors starting a demo service.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {io} (is another instance running? pick another port)")]
    Bind {
        addr: std::net::SocketAddr,
        io: std::io::Error,
    },
    #[error("gRPC reflection setup failed: {0}")]
    Reflection(String),
}

/// Binds a TCP listener, refusing non-loopback addresses: the demo services are for this machine.
pub(crate) async fn bind_loopback(
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, StartError> {
    if !addr.ip().is_loopback() {
        return Err(StartError::Bind {
            addr,
            io: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "demo services bind loopback addresses only",
            ),
        });
    }
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|io| StartError::Bind { addr, io })
}
