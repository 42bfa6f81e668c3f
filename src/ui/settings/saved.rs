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
        let spec = match kind.tab() {
            Some(tab) => crate::ui::request_editor::of(tab).to_saved(self, base.map(|b| &b.spec)),
            None => self.watch_to_saved(),
        };
        let mut saved = SavedRequest::new(name, spec);
        if let Some(base) = base {
            saved.expect = base.expect.clone();
            saved.notes = base.notes.clone();
        }
        saved
    }

    /// The watch form as it would be saved (AMQP, NATS or Kafka).
    fn watch_to_saved(&self) -> SavedSpec {
        match self.watch_form.broker {
            crate::ui::viewer::WatchBroker::Nats => {
                SavedSpec::NatsWatch(self.watch_form.nats.clone())
            }
            crate::ui::viewer::WatchBroker::Kafka => {
                SavedSpec::KafkaWatch(self.watch_form.kafka.clone())
            }
            crate::ui::viewer::WatchBroker::Amqp => {
                let w = &self.watch_form;
                let tap = w.mode == crate::engine::watch::WatchMode::Tap;
                SavedSpec::Watch(SavedWatch {
                    url: self.editors.amqp.url.clone(),
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
        }
    }

    /// Puts a saved request into its editor and shows that editor.
    pub fn apply_saved(&mut self, saved: &SavedRequest) {
        for editor in crate::ui::request_editor::EDITORS {
            if editor.apply_saved(self, &saved.spec) {
                self.editors.transport = editor.tab();
                self.view = MainView::Requests;
                return;
            }
        }
        match &saved.spec {
            SavedSpec::NatsWatch(w) => {
                self.watch_form.broker = crate::ui::viewer::WatchBroker::Nats;
                self.watch_form.nats = w.clone();
                self.view = MainView::Messages;
            }
            SavedSpec::KafkaWatch(w) => {
                self.watch_form.broker = crate::ui::viewer::WatchBroker::Kafka;
                self.watch_form.kafka = w.clone();
                self.view = MainView::Messages;
            }
            SavedSpec::Http(_)
            | SavedSpec::Grpc(_)
            | SavedSpec::Amqp(_)
            | SavedSpec::Nats(_)
            | SavedSpec::Kafka(_) => {}
            SavedSpec::Watch(w) => {
                self.editors.amqp.url = w.url.clone();
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
