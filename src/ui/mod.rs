//! The desktop front end (egui). It reads state and sends commands; the [`backend`] does all
//! I/O on the tokio runtime and reports back through bounded channels.

pub mod app;
pub mod backend;
pub mod collections;
pub mod editors;
pub mod files;
pub mod payload_view;
pub mod settings;
pub mod timeline_view;
pub mod viewer;

pub use app::{AppOptions, Script, SwitchboardApp};

/// Opens the window; returns when it is closed.
pub fn run(runtime: &tokio::runtime::Runtime, options: AppOptions) -> anyhow::Result<()> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Switchboard")
            .with_app_id("switchboard")
            .with_inner_size([1280.0, 800.0])
            .with_min_inner_size([720.0, 480.0]),
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "Switchboard",
        native,
        Box::new(move |cc| Ok(Box::new(SwitchboardApp::new(cc, &handle, options)))),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}
