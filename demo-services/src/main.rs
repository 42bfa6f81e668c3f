//! `demo-services`: runs the demo User Service and Order Service in the foreground.
//! (`switchboard demo` does the same with more options.)

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(demo_services::demo::run_foreground(
        demo_services::DemoConfig::default(),
    ))
}
