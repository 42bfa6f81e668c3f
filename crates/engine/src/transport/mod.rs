//! One folder per transport: its request, how it runs (timeline phases), its load worker and
//! its watch where it has one.

pub mod amqp;
pub mod grpc;
pub mod http;
pub mod kafka;
pub mod nats;
