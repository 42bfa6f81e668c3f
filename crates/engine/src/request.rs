//! A request of any transport, as the UI, collections and the CLI hand it to the engine.

use prost_reflect::DescriptorPool;

use super::amqp::{self, PublishRequest};
use super::exchange::Exchange;
use super::grpc::{self, GrpcRequest};
use super::http::{self, HttpRequest};

/// One request to run.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestSpec {
    Http(HttpRequest),
    Grpc(GrpcRequest),
    Amqp(Box<PublishRequest>),
}

impl RequestSpec {
    /// Runs the request; a publish of several messages yields one exchange per message.
    pub async fn execute(&self, pool: &DescriptorPool) -> Vec<Exchange> {
        match self {
            Self::Http(req) => vec![http::send(req).await],
            Self::Grpc(req) => vec![grpc::call(req, pool).await],
            Self::Amqp(req) => amqp::publish(req).await,
        }
    }
}
