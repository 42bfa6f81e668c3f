//! The benchmark baseline: an empty eframe window with the same renderer and features as
//! Switchboard. Prints `bench: first frame` on its first frame (scripts/bench).

fn main() -> eframe::Result {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("empty-window")
            .with_inner_size([1280.0, 800.0]),
        renderer: eframe::Renderer::Glow,
        persist_window: false,
        ..Default::default()
    };
    let mut reported = false;
    eframe::run_ui_native("empty-window", options, move |ui, _frame| {
        ui.label("An empty window.");
        if !reported {
            reported = true;
            println!("bench: first frame");
        }
    })
}
