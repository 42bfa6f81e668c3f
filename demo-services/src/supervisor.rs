//! Runs the demo services so that each can be stopped and started again on the same address,
//! keeping its knobs — what the app's services strip drives.

use std::net::SocketAddr;

use crate::demo::{BrokerProbe, DemoConfig, order_config, probe_broker, user_config};
use crate::order_service::{self, OrderServiceHandle};
use crate::user_service::{self, ConsumerState, ConsumerTallies, UserServiceHandle};
use crate::{Knobs, StartError};

/// A demo service the supervisor manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceId {
    User,
    Order,
}

impl ServiceId {
    pub const ALL: [ServiceId; 2] = [ServiceId::User, ServiceId::Order];

    pub fn name(self) -> &'static str {
        match self {
            Self::User => "User Service",
            Self::Order => "Order Service",
        }
    }
}

/// What the services strip shows for one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceStatus {
    pub id: ServiceId,
    pub running: bool,
    /// Where it listens (or listened): e.g. `http 127.0.0.1:8081 · grpc 127.0.0.1:50051`.
    pub addrs: String,
    pub latency_ms: u64,
    pub failure_rate: f64,
    /// The Order Service's: how it checks users (kept across restarts).
    pub user_check: Option<crate::UserCheck>,
}

/// The demo services, individually stoppable.
#[derive(Debug)]
pub struct Supervisor {
    config: DemoConfig,
    user: Option<UserServiceHandle>,
    order: Option<OrderServiceHandle>,
    /// Latency and failure rate kept across restarts.
    user_knobs: (u64, f64),
    order_knobs: (u64, f64),
    /// The User Service's consumers' counts, kept across its restarts.
    tallies: ConsumerTallies,
    pub broker: BrokerProbe,
    /// The NATS server's answer at start (`None`: NATS is off).
    pub nats: Option<BrokerProbe>,
    /// The Kafka broker found or started (`None`: Kafka is off).
    pub kafka: Option<crate::kafka_flow::KafkaSetup>,
    /// Set when a default port was busy and an ephemeral one was used instead.
    pub notes: Vec<String>,
}

fn ephemeral(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip(), 0)
}

fn addr_in_use(err: &StartError) -> bool {
    matches!(err, StartError::Bind { io, .. } if io.kind() == std::io::ErrorKind::AddrInUse)
}

impl Supervisor {
    /// Starts both services. With `fallback_to_ephemeral`, a busy port is replaced by a free one
    /// (and a note says so) instead of failing.
    pub async fn start(
        mut config: DemoConfig,
        fallback_to_ephemeral: bool,
    ) -> Result<Self, StartError> {
        let broker = probe_broker(&config.amqp_url, &config.topology).await;
        let nats = crate::demo::probe_nats(&config).await;
        let kafka = crate::demo::setup_kafka(&config).await;
        let mut notes = Vec::new();
        let tallies = ConsumerTallies::default();
        let user_config = |config: &DemoConfig| user_service::UserServiceConfig {
            tallies: tallies.clone(),
            ..user_config(config, (0, 0.0))
        };
        let user = match user_service::start(user_config(&config)).await {
            Err(err) if fallback_to_ephemeral && addr_in_use(&err) => {
                notes.push(format!(
                    "{} or {} is busy (another demo running?): the User Service uses free ports",
                    config.user_http_addr, config.user_grpc_addr
                ));
                config.user_http_addr = ephemeral(config.user_http_addr);
                config.user_grpc_addr = ephemeral(config.user_grpc_addr);
                user_service::start(user_config(&config)).await?
            }
            other => other?,
        };
        config.user_http_addr = user.http_addr;
        config.user_grpc_addr = user.grpc_addr;
        let order = match order_service::start(order_config(&config, (0, 0.0))).await {
            Err(err) if fallback_to_ephemeral && addr_in_use(&err) => {
                notes.push(format!(
                    "{} is busy: the Order Service uses a free port",
                    config.order_http_addr
                ));
                config.order_http_addr = ephemeral(config.order_http_addr);
                order_service::start(order_config(&config, (0, 0.0))).await?
            }
            other => other?,
        };
        config.order_http_addr = order.http_addr;
        Ok(Self {
            config,
            user: Some(user),
            order: Some(order),
            user_knobs: (0, 0.0),
            order_knobs: (0, 0.0),
            tallies,
            broker,
            nats,
            kafka,
            notes,
        })
    }

    /// The configuration with the addresses actually bound.
    pub fn config(&self) -> &DemoConfig {
        &self.config
    }

    pub fn user(&self) -> Option<&UserServiceHandle> {
        self.user.as_ref()
    }

    pub fn order(&self) -> Option<&OrderServiceHandle> {
        self.order.as_ref()
    }

    pub fn knobs(&self, id: ServiceId) -> Option<&Knobs> {
        match id {
            ServiceId::User => self.user.as_ref().map(|u| &*u.knobs),
            ServiceId::Order => self.order.as_ref().map(|o| &*o.knobs),
        }
    }

    /// Sets latency and failure rate now and for later restarts.
    pub fn set_knobs(&mut self, id: ServiceId, latency_ms: u64, failure_rate: f64) {
        match id {
            ServiceId::User => self.user_knobs = (latency_ms, failure_rate),
            ServiceId::Order => self.order_knobs = (latency_ms, failure_rate),
        }
        if let Some(knobs) = self.knobs(id) {
            knobs.set_latency_ms(latency_ms);
            knobs.set_failure_rate(failure_rate);
        }
    }

    /// How the Order Service checks users from the next order on (kept across restarts).
    pub fn set_user_check(&mut self, check: crate::UserCheck) {
        self.config.user_check = check;
        if let Some(order) = &self.order {
            order.set_user_check(check);
        }
    }

    pub fn consumer_state(&self) -> Option<ConsumerState> {
        self.user.as_ref().map(UserServiceHandle::consumer_state)
    }

    pub async fn stop_service(&mut self, id: ServiceId) {
        match id {
            ServiceId::User => {
                if let Some(user) = self.user.take() {
                    user.stop().await;
                }
            }
            ServiceId::Order => {
                if let Some(order) = self.order.take() {
                    order.stop().await;
                }
            }
        }
    }

    /// Starts a stopped service again on the address it had.
    pub async fn start_service(&mut self, id: ServiceId) -> Result<(), StartError> {
        match id {
            ServiceId::User if self.user.is_none() => {
                let config = user_service::UserServiceConfig {
                    tallies: self.tallies.clone(),
                    ..user_config(&self.config, self.user_knobs)
                };
                self.user = Some(user_service::start(config).await?);
            }
            ServiceId::Order if self.order.is_none() => {
                self.order =
                    Some(order_service::start(order_config(&self.config, self.order_knobs)).await?);
            }
            _ => {}
        }
        Ok(())
    }

    pub fn status(&self) -> Vec<ServiceStatus> {
        let user_addrs = format!(
            "http {} · grpc {}",
            self.config.user_http_addr, self.config.user_grpc_addr
        );
        vec![
            ServiceStatus {
                id: ServiceId::User,
                running: self.user.is_some(),
                addrs: user_addrs,
                latency_ms: self.user_knobs.0,
                failure_rate: self.user_knobs.1,
                user_check: None,
            },
            ServiceStatus {
                id: ServiceId::Order,
                running: self.order.is_some(),
                addrs: format!("http {}", self.config.order_http_addr),
                latency_ms: self.order_knobs.0,
                failure_rate: self.order_knobs.1,
                user_check: Some(self.config.user_check),
            },
        ]
    }

    /// Points the demo's NATS side at `url` (a server started for the app): the running
    /// services restart on their addresses so they answer and publish there; the stream is
    /// created on it.
    pub async fn move_nats(&mut self, url: &str) -> Result<(), StartError> {
        let Some(names) = self.config.nats.as_mut() else {
            return Ok(());
        };
        names.url = url.to_string();
        self.nats = crate::demo::probe_nats(&self.config).await;
        for id in [ServiceId::Order, ServiceId::User] {
            let running = match id {
                ServiceId::User => self.user.is_some(),
                ServiceId::Order => self.order.is_some(),
            };
            if running {
                self.stop_service(id).await;
            }
        }
        self.start_service(ServiceId::User).await?;
        self.start_service(ServiceId::Order).await
    }

    /// Points the demo's RabbitMQ side at `url` (a node started for the app): the topology is
    /// declared there and the running services restart on their addresses to use it.
    pub async fn move_amqp(&mut self, url: &str) -> Result<(), StartError> {
        self.config.amqp_url = url.to_string();
        self.broker = crate::demo::probe_broker(url, &self.config.topology).await;
        for id in [ServiceId::Order, ServiceId::User] {
            let running = match id {
                ServiceId::User => self.user.is_some(),
                ServiceId::Order => self.order.is_some(),
            };
            if running {
                self.stop_service(id).await;
            }
        }
        self.start_service(ServiceId::User).await?;
        self.start_service(ServiceId::Order).await
    }

    pub async fn shutdown(mut self) {
        self.stop_service(ServiceId::Order).await;
        self.stop_service(ServiceId::User).await;
    }
}
