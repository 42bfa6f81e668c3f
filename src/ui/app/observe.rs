//! What the window shows, read-only: the app's public face for tests, benchmarks and the
//! screenshot script. The parts keep their state private; what changes it goes through the
//! app's actions (`send_current`, `switch_tab`, `select_entry`…) or the settings the user
//! types into, as clicks and typing do.

use super::*;

impl SwitchboardApp {
    /// The history panel: entries, selection, pins and compare, the search.
    pub fn history_view(&self) -> &HistoryView {
        &self.history_view
    }

    /// The request tabs.
    pub fn request_tabs(&self) -> &request_tabs::RequestTabs {
        &self.request_tabs
    }

    /// What the last send from `tab`'s editor came to.
    pub fn outcome(&self, tab: TransportTab) -> Option<&EditorOutcome> {
        self.outcomes.get(&tab)
    }

    /// The services strip: the demo, the brokers and the consumers as last reported.
    pub fn strip(&self) -> &ServicesStrip {
        &self.strip
    }

    /// The message viewer: its tabs, the streams and Kafka browsers.
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// The running or last load run.
    pub fn load_run(&self) -> Option<&LoadRun> {
        self.load.as_ref()
    }

    /// The gRPC editor's method browser and open streams.
    pub fn grpc_view(&self) -> &GrpcView {
        &self.grpc_view
    }

    /// The running or last publish-many: its request id and progress, or why it failed.
    pub fn many(
        &self,
    ) -> Option<&(
        u64,
        Result<crate::engine::publish_many::Progress, BackendError>,
    )> {
        self.many.as_ref()
    }

    /// The collections panel.
    pub fn collections(&self) -> &CollectionsState {
        &self.collections
    }

    /// The OTLP receiver the services send spans to, or why it is not running.
    pub fn traces(&self) -> Option<&Result<super::backend::TracesUp, BackendError>> {
        self.traces.as_ref()
    }

    /// The Settings window is open.
    pub fn settings_open(&self) -> bool {
        self.show_settings
    }
}
