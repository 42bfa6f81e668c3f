//! `switchboard`: the app, or one of its headless commands.

use std::process::ExitCode;

fn main() -> ExitCode {
    switchboard::cli::main_with(|cli| {
        // Until the desktop window lands, the launch command runs the demo services.
        let runtime = tokio::runtime::Runtime::new()?;
        if cli.no_demo {
            anyhow::bail!(
                "the desktop window is not built yet; run `switchboard demo` or a subcommand (see --help)"
            );
        }
        runtime.block_on(demo_services::demo::run_foreground(
            demo_services::DemoConfig {
                amqp_url: cli.amqp_url.clone(),
                ..demo_services::DemoConfig::default()
            },
        ))
    })
}
