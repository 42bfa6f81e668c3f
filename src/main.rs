//! `switchboard`: the desktop app, or one of its headless commands.

use std::process::ExitCode;

use switchboard::cli::{Cli, ScriptArg};
use switchboard::ui::{self, AppOptions, Script};

fn main() -> ExitCode {
    switchboard::cli::main_with(launch)
}

/// Opens the window with the demo services running in-process (unless `--no-demo`).
fn launch(cli: &Cli) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("switchboard-io")
        .enable_all()
        .build()?;
    // Off the UI thread: the system's receive stamping on before the first exchange.
    runtime.spawn_blocking(|| {
        switchboard::engine::kernel_time::keep_receive_stamps_on(std::time::Duration::from_millis(
            500,
        ))
    });
    let demo = (!cli.no_demo).then(|| demo_services::DemoConfig {
        amqp_url: cli.brokers.amqp_url.clone(),
        nats: Some(demo_services::NatsNames {
            url: cli.brokers.nats_url.clone(),
            ..demo_services::NatsNames::default()
        }),
        kafka: Some(demo_services::KafkaNames::at(&cli.brokers.kafka_url)),
        ..demo_services::DemoConfig::default()
    });
    let options = AppOptions {
        backend: ui::backend::BackendOptions {
            demo,
            amqp_url: cli.brokers.amqp_url.clone(),
            nats_url: cli.brokers.nats_url.clone(),
            kafka_url: cli.brokers.kafka_url.clone(),
            data_dir: switchboard::engine::collection::vars::data_dir(),
            otlp_addr: Some((cli.otlp_addr, cli.otlp_grpc_addr)),
        },
        script: cli.script.map(|s| match s {
            ScriptArg::Lookup => Script::Lookup,
            ScriptArg::Idle => Script::Idle,
            ScriptArg::Lookups1000 => Script::Lookups1000,
        }),
    };
    ui::run(&runtime, options)
}
