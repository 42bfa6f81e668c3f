//! The headless engine: transports, timelines, payloads, collections. No egui and no demo
//! servers here (the compiler sees to it: neither is a dependency) — the CLI, tests and
//! benchmarks drive it directly, and the UI sends it commands.

pub mod collection;
pub mod compare;
pub mod credentials;
pub mod duration;
pub mod exchange;
pub mod fields;
pub mod fsutil;
pub mod history;
pub mod kernel_time;
pub mod load;
pub mod net;
pub mod payload;
pub mod recorder;
pub mod request;
pub mod store;
pub mod timed_io;
pub mod timeline;
pub mod trace;
pub mod transport;
pub mod watched;

pub use transport::amqp::{self, publish_many, watch};
pub use transport::grpc::{self, codec, descriptors, proto_json};
pub use transport::http::{self, multipart};
pub use transport::kafka;
pub use transport::nats;

pub use exchange::{
    ErrorKind, Exchange, ExchangeError, Header, MAX_SPANS_PER_EXCHANGE, Message, Transport,
};
pub use payload::{Body, BodyView};
pub use request::{PublishManyJob, RequestSpec, WatchRequest};
pub use timeline::{Phase, PhaseKind};
