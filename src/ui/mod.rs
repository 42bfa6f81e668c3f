//! The desktop front end (egui). It reads state and sends commands; the [`backend`] does all
//! I/O on the tokio runtime and reports back through bounded channels.

pub mod app;
pub mod backend;
pub mod collections;
pub mod editors;
pub mod files;
pub mod kafka_editor;
pub mod kafka_view;
pub mod nats_editor;
pub mod payload_view;
pub mod request_tabs;
pub mod settings;
pub mod state;
pub mod streams_view;
pub mod timeline_view;
pub mod viewer;

pub use app::{AppOptions, Script, SwitchboardApp};

/// Opens the window; returns when it is closed.
pub fn run(runtime: &tokio::runtime::Runtime, options: AppOptions) -> anyhow::Result<()> {
    // eframe's own state file goes into the (owner-only) data directory; with the default data
    // directory, a file older versions left at eframe's default place moves in.
    let legacy = std::env::var_os("SWITCHBOARD_DATA_DIR")
        .filter(|d| !d.is_empty())
        .is_none()
        .then(|| eframe::storage_dir("switchboard").map(|d| d.join(state::WINDOW_FILE)))
        .flatten();
    let persistence_path = state::window_state_path(&options.backend.data_dir, legacy);
    let native = eframe::NativeOptions {
        persistence_path: Some(persistence_path),
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
