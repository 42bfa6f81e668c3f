//! The real app driven through egui_kittest: in-process demo services on port 0, the real
//! broker, clicks by accessible label, and a deadline on every wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use demo_services::DemoConfig;
use demo_services::supervisor::ServiceId;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use switchboard::engine::Transport;
use switchboard::ui::app::{DemoState, EditorOutcome};
use switchboard::ui::backend::BackendOptions;
use switchboard::ui::settings::{EditorKind, TransportTab};
use switchboard::ui::viewer::TabStatus;
use switchboard::ui::{AppOptions, SwitchboardApp};

mod brokers;
mod collections;
mod credentials;
mod editors;
mod grpc_and_load;
mod tabs_and_layout;
mod transports;
mod viewer;

use credentials::StateFile;

struct TestApp {
    harness: Harness<'static, SwitchboardApp>,
    _runtime: tokio::runtime::Runtime,
}

/// A fresh data directory (history, secrets, the sample collection) for one app. A test
/// may start several apps on one directory (restarts), so directories outlive their apps: each
/// run of these tests removes the ones earlier runs left (older than an hour).
fn temp_data_dir() -> std::path::PathBuf {
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_old_data_dirs);
    let dir = std::env::temp_dir().join(format!("sb-ui-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Removes `sb-ui-*` directories of earlier runs (not touched for an hour).
fn sweep_old_data_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if old && entry.file_name().to_string_lossy().starts_with("sb-ui-") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start_app() -> TestApp {
    start_app_in(temp_data_dir())
}

fn start_app_in(data_dir: std::path::PathBuf) -> TestApp {
    start_app_at(data_dir, &common::amqp_url())
}

/// An app whose demo and status use the broker at `amqp_url`.
fn start_app_at(data_dir: std::path::PathBuf, amqp_url: &str) -> TestApp {
    let mut options = app_options(DemoConfig {
        amqp_url: amqp_url.to_string(),
        ..demo_config()
    });
    options.backend.amqp_url = amqp_url.to_string();
    options.backend.data_dir = data_dir;
    let mut app = launch(test_runtime(), options);
    app.wait_until(
        "the demo services to start and the sample collection to load",
        |a| {
            matches!(a.strip().demo, DemoState::Up { .. })
                && !a.strip().services.is_empty()
                && a.collections()
                    .opened
                    .iter()
                    .all(|o| o.collection.is_some())
                && !a.collections().opened.is_empty()
        },
    );
    app
}

/// The runtime a test app's backend runs on.
fn test_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The demo on the test broker, with queues and exchanges of its own.
fn demo_config() -> DemoConfig {
    DemoConfig {
        amqp_url: common::amqp_url(),
        topology: common::unique_topology(),
        ..DemoConfig::ephemeral()
    }
}

/// The app's options around `demo`: the test brokers, a fresh data directory.
fn app_options(demo: DemoConfig) -> AppOptions {
    AppOptions {
        backend: BackendOptions {
            demo: Some(demo),
            amqp_url: common::amqp_url(),
            nats_url: common::nats_url(),
            kafka_url: switchboard::engine::kafka::DEFAULT_KAFKA_URL.to_string(),
            data_dir: temp_data_dir(),
            // Its own receiver per app: the tests run side by side.
            otlp_addr: Some((
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            )),
        },
        script: None,
    }
}

/// Opens the app at 1280×800 with its backend on `runtime`; does not wait for anything.
fn launch(runtime: tokio::runtime::Runtime, options: AppOptions) -> TestApp {
    let handle = runtime.handle().clone();
    let harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .build_eframe(move |cc| SwitchboardApp::new(cc, &handle, options));
    TestApp {
        harness,
        _runtime: runtime,
    }
}

impl TestApp {
    /// Steps frames until `done` holds, failing after 20 s.
    fn wait_until(&mut self, what: &str, done: impl Fn(&SwitchboardApp) -> bool) {
        self.wait_secs(20, what, done);
    }

    /// Steps frames until `done` holds, failing after `secs` seconds.
    fn wait_secs(&mut self, secs: u64, what: &str, done: impl Fn(&SwitchboardApp) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            self.harness.step();
            if done(self.harness.state()) {
                self.harness.step();
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Clicks the widget labelled `label` by its id (accesskit), not at the position it had in
    /// the last frame: the strip and panels may move between frames as events arrive.
    /// A widget that appears with the next event (a tab's editor, a discovered method) is waited
    /// for, 10 s at most.
    fn click(&mut self, label: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.harness.query_by_label(label).is_none() && Instant::now() < deadline {
            self.harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.harness.get_by_label(label).click_accesskit();
        self.harness.step();
        // Popups and dialogs lay themselves out in the frame after they open.
        self.harness.step();
    }

    fn send_and_wait(&mut self, button: &str) {
        let before = self.harness.state().history_view().history.len();
        self.click(button);
        self.wait_until("the exchange", |a| {
            a.history_view().history.len() > before && !a.is_busy(a.settings.editors.transport)
        });
    }

    /// Steps frames until a widget whose label or value contains `label` is on screen (work
    /// spread over frames, such as a viewer filter, takes more of them on a busy machine);
    /// fails as [`TestApp::assert_shown`] after 10 s.
    fn wait_shown(&mut self, label: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.shown(label) && Instant::now() < deadline {
            self.harness.step();
            std::thread::sleep(Duration::from_millis(10));
        }
        self.assert_shown(label);
    }

    /// Whether a widget whose label or value (text fields) contains `label` is on screen.
    fn shown(&self, label: &str) -> bool {
        let found = egui_kittest::kittest::by()
            .include_labels()
            .predicate(move |n| {
                n.label().is_some_and(|t| t.contains(label))
                    || n.value().is_some_and(|v| v.contains(label))
            });
        self.harness.query_all(found).next().is_some()
    }

    /// Asserts a widget whose label or value (text fields) contains `label` is on screen; on
    /// failure, lists the texts that are.
    fn assert_shown(&self, label: &str) {
        if self.shown(label) {
            return;
        }
        let shown: Vec<String> = self
            .harness
            .query_all(
                egui_kittest::kittest::by()
                    .include_labels()
                    .predicate(|n| n.label().is_some() || n.value().is_some()),
            )
            .filter_map(|n| {
                let node = n.accesskit_node();
                node.label().or(node.value()).map(|t| t.to_string())
            })
            .collect();
        panic!("{label:?} is not on screen; shown: {shown:#?}");
    }
}

impl TestApp {
    /// Replaces a text field's content (select all, then type).
    fn replace_text(&mut self, label: &str, text: &str) {
        self.harness.get_by_label(label).focus();
        self.harness.step();
        self.harness
            .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        self.harness.step();
        self.harness.get_by_label(label).type_text(text);
        self.harness.step();
    }

    /// Types at the end of a text field.
    /// Types `text` at the end of the field labelled `label`.
    fn type_into(&mut self, label: &str, text: &str) {
        self.harness.get_by_label(label).focus();
        self.harness.step();
        // Append, as a user would, from its end.
        self.harness.key_press(egui::Key::End);
        self.harness.step();
        self.harness.get_by_label(label).type_text(text);
        self.harness.step();
        // The bar above the editor is drawn before the editor: it shows the edit next frame.
        self.harness.step();
    }

    fn demo_collection(&self) -> std::path::PathBuf {
        self.harness.state().collections().opened[0].root.clone()
    }

    fn active_rel(&self, kind: EditorKind) -> Option<String> {
        self.harness
            .state()
            .collections()
            .active
            .get(&kind)
            .map(|a| a.rel.clone())
    }

    /// Waits until the editor of `kind` holds the saved request at `rel`.
    fn wait_for_rel(&mut self, kind: EditorKind, rel: &str) {
        self.wait_until(&format!("the {kind:?} editor to hold {rel}"), |a| {
            a.collections()
                .active
                .get(&kind)
                .is_some_and(|x| x.rel == rel)
        });
    }

    fn assert_not_shown(&self, label: &str) {
        let found = egui_kittest::kittest::by()
            .include_labels()
            .predicate(move |n| n.label().is_some_and(|t| t.contains(label)));
        assert!(
            self.harness.query_all(found).next().is_none(),
            "{label:?} is still on screen"
        );
    }
}

impl TestApp {
    /// Closes the app as eframe does: `save` into the state storage, flush, `on_exit`.
    fn close(mut self, storage: &mut StateFile) {
        eframe::App::save(self.harness.state_mut(), storage);
        eframe::Storage::flush(storage);
        eframe::App::on_exit(self.harness.state_mut(), None);
    }
}
