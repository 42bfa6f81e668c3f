//! Switchboard: explore how microservices talk — HTTP, gRPC and AMQP exchanges with real
//! timelines.
//!
//! - [`engine`]: transports, timelines and payloads, with no UI dependency.
//! - [`cli`]: the headless front end.
//! - [`ui`]: the desktop front end (egui).

pub mod cli;
/// The headless engine, its own crate (`crates/engine`): no egui, no demo servers.
pub use switchboard_engine as engine;
pub mod ui;
