//! The RabbitMQ topology of the demo and the `OrderCreated` event.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};
use serde::{Deserialize, Serialize};

/// Default broker URL (RabbitMQ on loopback, guest/guest).
pub const DEFAULT_AMQP_URL: &str = demo_contract::DEFAULT_AMQP_URL;

/// Names of the exchanges and queues the demo uses. Tests use unique names so that parallel
/// runs on one broker do not share a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Topic exchange the Order Service publishes to.
    pub exchange: String,
    /// Routing key of `OrderCreated` events.
    pub routing_key: String,
    /// The User Service's queue.
    pub queue: String,
    /// Binding key of `queue` on `exchange`.
    pub binding: String,
    /// Fanout exchange receiving messages the User Service rejects.
    pub dead_letter_exchange: String,
    /// Queue bound to the dead-letter exchange.
    pub dead_letter_queue: String,
    /// `x-expires` of both queues: the broker deletes them after this long unused. `None`
    /// (the default) keeps them forever; tests set it so that a crashed run leaves nothing behind.
    pub expires_ms: Option<u32>,
}

impl Default for Topology {
    fn default() -> Self {
        Self::named(demo_contract::ORDERS_EXCHANGE, demo_contract::ORDER_QUEUE)
    }
}

impl Topology {
    /// A topology with the given exchange and queue; the dead-letter names derive from them.
    pub fn named(exchange: &str, queue: &str) -> Self {
        Self {
            exchange: exchange.to_string(),
            routing_key: "order.created".to_string(),
            queue: queue.to_string(),
            binding: "order.#".to_string(),
            dead_letter_exchange: format!("{exchange}.dlx"),
            dead_letter_queue: format!("{queue}.dead"),
            expires_ms: None,
        }
    }

    /// Declares everything (idempotent): durable, not auto-delete, so orders wait in the queue
    /// while the User Service is down.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange.as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let mut dead_args = FieldTable::default();
        if let Some(ms) = self.expires_ms {
            dead_args.insert("x-expires".into(), AMQPValue::LongUInt(ms));
        }
        channel
            .queue_declare(
                self.dead_letter_queue.as_str().into(),
                durable_queue,
                dead_args.clone(),
            )
            .await?;
        channel
            .queue_bind(
                self.dead_letter_queue.as_str().into(),
                self.dead_letter_exchange.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut args = dead_args;
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.dead_letter_exchange.as_str().into()),
        );
        channel
            .queue_declare(self.queue.as_str().into(), durable_queue, args)
            .await?;
        channel
            .queue_bind(
                self.queue.as_str().into(),
                self.exchange.as_str().into(),
                self.binding.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }

    /// Deletes the queues and exchanges (used by tests that made unique ones).
    pub async fn delete(&self, channel: &Channel) -> lapin::Result<()> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        for queue in [&self.queue, &self.dead_letter_queue] {
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in [&self.exchange, &self.dead_letter_exchange] {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

/// One line item of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub sku: String,
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

/// The event the Order Service publishes and the User Service consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCreated {
    pub event: String,
    pub order_id: String,
    pub user_id: String,
    #[serde(default)]
    pub user_name: String,
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(default)]
    pub amount: Option<f64>,
    /// Unix time in milliseconds.
    pub created_at_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
