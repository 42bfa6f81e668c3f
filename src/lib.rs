//! Switchboard: explore how microservices talk — HTTP, gRPC and AMQP exchanges with real
//! timelines.
//!
//! - [`engine`]: transports, timelines and payloads, with no UI dependency.
//! - [`cli`]: the headless front end.
//! - [`ui`]: the desktop front end (egui).

pub mod cli;
pub mod engine;
pub mod ui;
