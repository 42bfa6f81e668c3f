//! The contract the demo services keep, and nothing else: the names, addresses and message
//! types that clients written for the classic User Service / Order Service setup rely on.
//!
//! A leaf crate: the demo services implement it, and the front ends pass its defaults to the
//! engine — so the engine (a client library) never links the demo servers.

/// The encoded `FileDescriptorSet` of `proto/user.proto`.
pub const USER_PROTO_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/user_descriptor.bin"));

/// The broker the demo uses (RabbitMQ's defaults).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// The User Service's HTTP address (`GET /user/{id}`).
pub const USER_HTTP_ADDR: &str = "127.0.0.1:8081";
/// The User Service's gRPC address.
pub const USER_GRPC_ADDR: &str = "127.0.0.1:50051";
/// The Order Service's HTTP address (`POST /orders`).
pub const ORDER_HTTP_ADDR: &str = "127.0.0.1:8082";
/// The User Service's lookup method.
pub const GET_USER_METHOD: &str = "user.UserService/GetUserInfo";
/// The exchange order events are published to.
pub const ORDERS_EXCHANGE: &str = "orders";
/// The queue the User Service consumes order events from.
pub const ORDER_QUEUE: &str = "order_queue";

/// The NATS server the demo uses (nats-server's defaults, JetStream on).
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// The subject the User Service answers user lookups on (request `{"user_id": "1"}`).
pub const USER_GET_SUBJECT: &str = "user.get";
/// The JetStream stream the Order Service publishes order events to (subjects `orders.>`).
pub const ORDERS_STREAM: &str = "ORDERS";
/// The subject of each `OrderCreated` event in [`ORDERS_STREAM`].
pub const ORDERS_CREATED_SUBJECT: &str = "orders.created";

/// The Kafka broker the demo uses (started in-process by the demo when nothing listens there).
pub const DEFAULT_KAFKA_URL: &str = "kafka://127.0.0.1:9092";
/// The topic the Order Service produces each `OrderCreated` to (key = the user id).
pub const ORDERS_TOPIC: &str = "orders";
/// Partitions of [`ORDERS_TOPIC`] when the demo creates it.
pub const ORDERS_TOPIC_PARTITIONS: i32 = 3;
/// The consumer group the User Service reads [`ORDERS_TOPIC`] as.
pub const USER_SERVICE_GROUP: &str = "user-service";
