//! Scripted runs for screenshots, smoke tests and `scripts/bench` (`--script`,
//! `SWITCHBOARD_BENCH`): they drive the app through the same calls as a user's clicks and
//! report on stdout. Kept out of the event handler: it only calls the hooks below.

use super::*;

/// What a scripted run (benchmarks, screenshots) has done so far.
#[derive(Debug)]
pub struct ScriptRun {
    pub(crate) script: Option<Script>,
    pub(crate) script_frames: Option<u32>,
    /// `SWITCHBOARD_BENCH` set: print `bench: first frame` on the first frame (scripts/bench).
    pub(crate) report_first_frame: bool,
}

/// Scripted actions (`--script`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Once the demo is up: an HTTP lookup and a gRPC lookup; show the HTTP one; print
    /// `script: done` on stdout once it is on screen.
    Lookup,
    /// Print `script: done` once the demo is up (an idle window, for memory figures).
    Idle,
    /// 1,000 HTTP lookups one after another into the history, then `script: done`.
    Lookups1000,
}

impl SwitchboardApp {
    /// The demo is up: start the script's first requests.
    pub(super) fn script_demo_started(&mut self, config: &demo_services::DemoConfig) {
        if self.script_run.script == Some(Script::Lookup) {
            self.settings.editors.http = crate::ui::http_editor::default_request();
            self.settings.editors.grpc = crate::ui::grpc_editor::default_request();
            self.settings
                .retarget_demo(&demo_services::DemoConfig::default(), config);
            self.send_current(TransportTab::Grpc);
            self.send_current(TransportTab::Http);
            self.settings.editors.transport = TransportTab::Http;
        }
        match self.script_run.script {
            Some(Script::Idle) => {
                self.script_run.script_frames.get_or_insert(0);
            }
            Some(Script::Lookups1000) => {
                self.settings.editors.http = crate::ui::http_editor::default_request();
                self.settings
                    .retarget_demo(&demo_services::DemoConfig::default(), config);
                self.send_current(TransportTab::Http);
            }
            _ => {}
        }
    }

    /// Exchanges arrived: the script's next request, or its end.
    pub(super) fn script_exchanges(&mut self) {
        if self.script_run.script == Some(Script::Lookups1000) {
            if self.history_view.history.len() >= 1000 {
                self.script_run.script_frames.get_or_insert(0);
            } else {
                self.send_current(TransportTab::Http);
            }
        }
        if self.script_run.script == Some(Script::Lookup) {
            let transports: Vec<_> = self
                .history_view
                .history
                .iter()
                .map(|e| e.exchange.transport)
                .collect();
            if transports.contains(&crate::engine::Transport::Http)
                && transports.contains(&crate::engine::Transport::Grpc)
            {
                self.history_view.selected = self
                    .history_view
                    .history
                    .iter()
                    .find(|e| e.exchange.transport == crate::engine::Transport::Http)
                    .map(|e| e.seq);
                self.script_run.script_frames.get_or_insert(0);
            }
        }
    }

    /// After each frame: `bench: first frame` once, `script: done` three frames after the end.
    pub(super) fn script_frame(&mut self, ui: &egui::Ui) {
        if self.script_run.report_first_frame {
            self.script_run.report_first_frame = false;
            println!("bench: first frame");
        }
        if let Some(frames) = self.script_run.script_frames.as_mut() {
            *frames += 1;
            if *frames == 3 {
                println!("script: done");
            }
            if *frames <= 3 {
                ui.ctx().request_repaint();
            }
        }
    }
}
