//! A request of any transport, as the UI, collections and the CLI hand it to the engine.

use prost_reflect::DescriptorPool;

use super::amqp::{self, PublishRequest};
use super::exchange::Exchange;
use super::grpc::{self, GrpcRequest};
use super::http::{self, HttpRequest};
use super::kafka::{self, KafkaRequest};
use super::nats::{self, NatsRequest};

/// One request to run.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestSpec {
    Http(HttpRequest),
    Grpc(GrpcRequest),
    Amqp(Box<PublishRequest>),
    Nats(Box<NatsRequest>),
    Kafka(Box<KafkaRequest>),
}

impl RequestSpec {
    /// Puts a W3C `traceparent` in the request's headers (gRPC metadata, message headers) — a
    /// new trace, unless the user set one (see [`crate::trace::inject`]) — and returns it. Run the request inside
    /// [`crate::trace::traced`] with it so its exchange says which trace it started.
    pub fn inject_trace(&mut self) -> Option<crate::trace::TraceContext> {
        use crate::trace::inject;
        match self {
            Self::Http(r) => inject(&mut r.headers),
            Self::Grpc(r) => inject(&mut r.metadata),
            Self::Amqp(r) => inject(&mut r.headers),
            Self::Nats(r) => inject(&mut r.headers),
            Self::Kafka(r) => inject(&mut r.headers),
        }
    }

    /// [`inject_trace`](Self::inject_trace), then [`execute`](Self::execute) in that trace.
    pub async fn execute_traced(&mut self, pool: &DescriptorPool) -> Vec<Exchange> {
        match self.inject_trace() {
            Some(context) => crate::trace::traced(context, self.execute(pool)).await,
            None => self.execute(pool).await,
        }
    }

    /// Runs the request; a publish of several messages yields one exchange per message.
    pub async fn execute(&self, pool: &DescriptorPool) -> Vec<Exchange> {
        match self {
            Self::Http(req) => vec![http::send(req).await],
            Self::Grpc(req) => vec![grpc::call(req, pool).await],
            Self::Amqp(req) => amqp::publish(req).await,
            // Its timeout is resolved when it is built; 30 s covers a request made by hand.
            Self::Nats(req) => nats::execute(req, std::time::Duration::from_secs(30)).await,
            Self::Kafka(req) => kafka::execute(req, std::time::Duration::from_secs(30)).await,
        }
    }
}

/// One watch of any broker, as the CLI, collections and the viewer start it.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchRequest {
    Amqp(crate::watch::WatchSpec),
    Nats(crate::nats::watch::NatsWatch),
    Kafka(crate::kafka::watch::KafkaWatch),
}

impl WatchRequest {
    /// `tap orders #`, `stream tap ORDERS from all`…
    pub fn describe(&self) -> String {
        match self {
            Self::Amqp(w) => w.describe(),
            Self::Nats(w) => w.describe(),
            Self::Kafka(w) => w.describe(),
        }
    }

    /// What the mode does to the broker.
    pub fn explanation(&self) -> &'static str {
        match self {
            Self::Amqp(w) => w.mode.explanation(),
            Self::Nats(w) => w.mode.explanation(),
            Self::Kafka(w) => w.mode().explanation(),
        }
    }

    /// A peek: reads what is there and ends (with `WatchEvent::PeekDone`).
    pub fn is_peek(&self) -> bool {
        match self {
            Self::Amqp(w) => w.mode == crate::watch::WatchMode::Peek,
            Self::Nats(w) => w.mode == crate::nats::watch::NatsWatchMode::Peek,
            Self::Kafka(_) => false,
        }
    }

    pub fn transport(&self) -> crate::Transport {
        match self {
            Self::Amqp(_) => crate::Transport::Amqp,
            Self::Nats(_) => crate::Transport::Nats,
            Self::Kafka(_) => crate::Transport::Kafka,
        }
    }

    /// Stops after `limit` messages (for a peek: reads at most that many).
    pub fn set_limit(&mut self, limit: Option<u64>) {
        match self {
            Self::Amqp(w) => w.limit = limit,
            Self::Nats(w) => w.limit = limit,
            Self::Kafka(w) => w.limit = limit,
        }
    }

    /// Runs the watch until `cancel`, the limit, or a failure; a destructive watch acks only what
    /// `delivered` says reached the user.
    pub async fn run(
        self,
        events: tokio::sync::mpsc::Sender<crate::watched::WatchEvent>,
        cancel: tokio_util::sync::CancellationToken,
        delivered: Option<crate::watched::Delivered>,
    ) {
        match self {
            Self::Amqp(w) => crate::watch::run_confirmed(w, events, cancel, delivered).await,
            Self::Nats(w) => crate::nats::watch::run(w, events, cancel, delivered).await,
            Self::Kafka(w) => crate::kafka::watch::run(w, events, cancel, delivered).await,
        }
    }

    /// [`WatchRequest::run`], with messages handed over in `form` where the transport can
    /// (NATS subject and stream taps; the others send [`WatchEvent::Messages`] whatever the
    /// form).
    ///
    /// [`WatchEvent::Messages`]: crate::watched::WatchEvent::Messages
    pub async fn run_as(
        self,
        events: tokio::sync::mpsc::Sender<crate::watched::WatchEvent>,
        cancel: tokio_util::sync::CancellationToken,
        delivered: Option<crate::watched::Delivered>,
        form: crate::watched::Form,
    ) {
        match self {
            Self::Nats(w) => crate::nats::watch::run_as(w, events, cancel, delivered, form).await,
            other => other.run(events, cancel, delivered).await,
        }
    }
}

/// Publish many of any broker: N copies or a numbered series at a rate, with progress.
#[derive(Debug, Clone, PartialEq)]
pub enum PublishManyJob {
    Amqp(crate::publish_many::PublishMany),
    Nats(crate::nats::publish_many::NatsPublishMany),
    Kafka(crate::kafka::publish_many::KafkaPublishMany),
}

impl PublishManyJob {
    /// How many messages in all.
    pub fn count(&self) -> u64 {
        match self {
            Self::Amqp(j) => j.count,
            Self::Nats(j) => j.count,
            Self::Kafka(j) => j.count,
        }
    }

    /// Runs the series; progress every ~100 ms and at the end.
    pub async fn run(
        &self,
        progress: Option<tokio::sync::mpsc::Sender<crate::publish_many::Progress>>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<crate::publish_many::Progress, super::exchange::ExchangeError> {
        match self {
            Self::Amqp(j) => crate::publish_many::publish_many(j, progress, cancel).await,
            Self::Nats(j) => crate::nats::publish_many::publish_many(j, progress, cancel).await,
            Self::Kafka(j) => crate::kafka::publish_many::publish_many(j, progress, cancel).await,
        }
    }
}
