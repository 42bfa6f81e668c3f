//! Editors to and from the saved request form (`SavedRequest`): what Save writes and what Open fills in.

use super::*;

impl Settings {
    /// The request an editor describes, as it would be saved. Fields the editor does not show
    /// (expectations, notes, per-request timeouts, TLS files of HTTP requests, publish count…) are
    /// kept from `base` when it is of the same kind.
    pub fn to_saved(
        &self,
        kind: EditorKind,
        name: &str,
        base: Option<&SavedRequest>,
    ) -> SavedRequest {
        let spec = match kind {
            EditorKind::Http => {
                let mut h =
                    crate::ui::http_editor::for_mode(self.http.clone(), self.http_body_mode);
                h.headers
                    .retain(|h| !(h.name.is_empty() && h.value.is_empty()));
                h.tls = trimmed(&h.tls);
                h.timeout_ms = None;
                if let Some(SavedSpec::Http(b)) = base.map(|b| &b.spec) {
                    h.timeout_ms = b.timeout_ms;
                }
                SavedSpec::Http(h)
            }
            EditorKind::Grpc => {
                let mut g = crate::ui::grpc_editor::for_source(self.grpc.clone(), self.grpc_source);
                g.metadata
                    .retain(|h| !(h.name.is_empty() && h.value.is_empty()));
                g.tls = trimmed(&g.tls);
                g.timeout_ms = None;
                if let Some(SavedSpec::Grpc(b)) = base.map(|b| &b.spec) {
                    g.timeout_ms = b.timeout_ms;
                }
                SavedSpec::Grpc(g)
            }
            EditorKind::Amqp => {
                let mut a = self.amqp.clone();
                a.headers
                    .retain(|h| !(h.name.is_empty() && h.value.is_empty()));
                (a.mandatory, a.count, a.timeout_ms) = (true, 1, None);
                if let Some(SavedSpec::Amqp(b)) = base.map(|b| &b.spec) {
                    (a.mandatory, a.count, a.timeout_ms) = (b.mandatory, b.count, b.timeout_ms);
                }
                SavedSpec::Amqp(a)
            }
            EditorKind::Nats => {
                let mut n = self.nats.clone();
                n.timeout_ms = None;
                n.count = 1;
                if let Some(SavedSpec::Nats(b)) = base.map(|b| &b.spec) {
                    n.timeout_ms = b.timeout_ms;
                    n.count = b.count;
                }
                SavedSpec::Nats(n)
            }
            EditorKind::Kafka => {
                let mut k = self.kafka.clone();
                k.timeout_ms = None;
                k.count = 1;
                if let Some(SavedSpec::Kafka(b)) = base.map(|b| &b.spec) {
                    k.timeout_ms = b.timeout_ms;
                    k.count = b.count;
                }
                SavedSpec::Kafka(k)
            }
            EditorKind::Watch if self.watch_form.broker == crate::ui::viewer::WatchBroker::Nats => {
                SavedSpec::NatsWatch(self.watch_form.nats.clone())
            }
            EditorKind::Watch
                if self.watch_form.broker == crate::ui::viewer::WatchBroker::Kafka =>
            {
                SavedSpec::KafkaWatch(self.watch_form.kafka.clone())
            }
            EditorKind::Watch => {
                let w = &self.watch_form;
                let tap = w.mode == crate::engine::watch::WatchMode::Tap;
                SavedSpec::Watch(SavedWatch {
                    url: self.amqp.url.clone(),
                    mode: w.mode,
                    exchange: if tap {
                        w.exchange.clone()
                    } else {
                        String::new()
                    },
                    binding: if tap {
                        w.binding.clone()
                    } else {
                        String::new()
                    },
                    queue: if tap { String::new() } else { w.queue.clone() },
                    peek_limit: (w.mode == crate::engine::watch::WatchMode::Peek)
                        .then_some(w.peek_limit),
                })
            }
        };
        let mut saved = SavedRequest::new(name, spec);
        if let Some(base) = base {
            saved.expect = base.expect.clone();
            saved.notes = base.notes.clone();
        }
        saved
    }

    /// Puts a saved request into its editor and shows that editor.
    pub fn apply_saved(&mut self, saved: &SavedRequest) {
        match &saved.spec {
            SavedSpec::Http(h) => {
                self.http_body_mode = crate::ui::http_editor::mode_of(h);
                self.http = h.clone();
                self.transport = TransportTab::Http;
                self.view = MainView::Requests;
            }
            SavedSpec::Grpc(g) => {
                self.grpc_source = crate::ui::grpc_editor::source_of(g, self.grpc_source);
                self.grpc = g.clone();
                self.transport = TransportTab::Grpc;
                self.view = MainView::Requests;
            }
            SavedSpec::Amqp(a) => {
                self.amqp = a.clone();
                self.transport = TransportTab::Amqp;
                self.view = MainView::Requests;
            }
            SavedSpec::Nats(n) => {
                self.nats = n.clone();
                self.transport = TransportTab::Nats;
                self.view = MainView::Requests;
            }
            SavedSpec::NatsWatch(w) => {
                self.watch_form.broker = crate::ui::viewer::WatchBroker::Nats;
                self.watch_form.nats = w.clone();
                self.view = MainView::Messages;
            }
            SavedSpec::Kafka(k) => {
                self.kafka = k.clone();
                self.transport = TransportTab::Kafka;
                self.view = MainView::Requests;
            }
            SavedSpec::KafkaWatch(w) => {
                self.watch_form.broker = crate::ui::viewer::WatchBroker::Kafka;
                self.watch_form.kafka = w.clone();
                self.view = MainView::Messages;
            }
            SavedSpec::Watch(w) => {
                self.amqp.url = w.url.clone();
                let f = &mut self.watch_form;
                f.broker = crate::ui::viewer::WatchBroker::Amqp;
                f.mode = w.mode;
                if !w.exchange.is_empty() {
                    f.exchange = w.exchange.clone();
                }
                if !w.binding.is_empty() {
                    f.binding = w.binding.clone();
                }
                if !w.queue.is_empty() {
                    f.queue = w.queue.clone();
                }
                if let Some(limit) = w.peek_limit {
                    f.peek_limit = limit;
                }
                self.view = MainView::Messages;
            }
        }
    }
}

/// TLS paths as saved: without the spaces around them.
fn trimmed(tls: &SavedTls) -> SavedTls {
    SavedTls {
        ca_file: tls.ca_file.trim().to_string(),
        cert_file: tls.cert_file.trim().to_string(),
        key_file: tls.key_file.trim().to_string(),
    }
}
