//! The desktop front end (egui). It reads state and sends commands; the [`backend`] does all
//! I/O on the tokio runtime and reports back through bounded channels.

pub mod amqp_editor;
pub mod app;
pub mod backend;
pub mod editors;
pub mod files;
pub mod grpc_editor;
pub mod http_editor;
pub mod kafka_editor;
pub mod kafka_view;
pub mod nats_editor;
pub mod payload_view;
pub mod request_editor;
pub mod settings;
pub mod state;
pub mod streams_view;
pub mod timeline_view;
pub mod trim;
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
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Switchboard")
        .with_app_id("switchboard")
        .with_inner_size([1280.0, 800.0])
        .with_min_inner_size([720.0, 480.0]);
    // The window's icon (what a taskbar shows); `assets/switchboard.desktop` names the same one.
    if let Some(icon) = window_icon() {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        persistence_path: Some(persistence_path),
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    let handle = runtime.handle().clone();
    eframe::run_native(
        "Switchboard",
        native,
        Box::new(move |cc| {
            close_on_signal(cc.egui_ctx.clone(), &handle);
            Ok(Box::new(SwitchboardApp::new(cc, &handle, options)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// Ctrl-C in the terminal or SIGTERM (a logout, `kill`) closes the window as its close button
/// does: the state, tabs and secrets are saved first.
fn close_on_signal(ctx: egui::Context, runtime: &tokio::runtime::Handle) {
    runtime.spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        ctx.request_repaint();
    });
}

/// The app icon, 64×64, from `assets/icons` (the SVG and the other sizes are there too).
pub fn window_icon() -> Option<egui::IconData> {
    eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icons/switchboard-64.png")).ok()
}
