//! The headless engine: transports, timelines, payloads, collections. No egui and no demo
//! servers here (the compiler sees to it: neither is a dependency) — the CLI, tests and
//! benchmarks drive it directly, and the UI sends it commands.

pub mod amqp;
pub mod codec;
pub mod collection;
pub mod credentials;
pub mod descriptors;
pub mod exchange;
pub mod fsutil;
pub mod grpc;
pub mod history;
pub mod http;
pub mod load;
pub mod multipart;
pub mod net;
pub mod payload;
pub mod proto_json;
pub mod publish_many;
pub mod recorder;
pub mod request;
pub mod store;
pub mod timed_io;
pub mod timeline;
pub mod watch;

pub use exchange::{ErrorKind, Exchange, ExchangeError, Header, Message, Transport};
pub use payload::{Body, BodyView};
pub use request::RequestSpec;
pub use timeline::{Phase, PhaseKind};

/// Paths written `crate::engine::…` inside the engine (from when it was a module of the app)
/// keep resolving.
use crate as engine;
