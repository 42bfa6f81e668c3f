//! What the user can ask of the app: send, publish many, discover, open a stream, run load,
//! place an order, cancel, turn the services' knobs. Each builds a command for the backend from
//! the editors and records where its result should go.

use super::*;

impl SwitchboardApp {
    /// Sends what `tab`'s editor describes.
    pub fn send_current(&mut self, tab: TransportTab) {
        let Some(mut spec) = self.resolved_request(tab) else {
            return;
        };
        let trace = self
            .settings
            .editors
            .traceparent(tab)
            .then(|| spec.inject_trace())
            .flatten();
        let id = self.next_id;
        if self.backend.send(Command::Send {
            id,
            spec: Box::new(spec),
            trace,
        }) {
            self.request_sources
                .insert(id, self.editor_request(EditorKind::from(tab)));
            self.start(tab, id);
        } else {
            self.outcomes.insert(
                tab,
                EditorOutcome::Failed(
                    "the background worker is busy or gone; try again".to_string(),
                ),
            );
        }
    }

    /// Publishes `tab`'s editor's message many times (copies, rate and numbering from its
    /// *Publish many* section): AMQP, NATS or Kafka.
    pub fn publish_many(&mut self, tab: TransportTab) {
        use crate::engine::{PublishManyJob, RequestSpec};
        let many = match tab {
            TransportTab::Amqp => &self.settings.editors.amqp_many,
            TransportTab::Nats => &self.settings.editors.nats_many,
            TransportTab::Kafka => &self.settings.editors.kafka_many,
            TransportTab::Http | TransportTab::Grpc => return,
        };
        let (count, rate_per_sec, numbered) =
            (many.count.max(1), many.rate.max(0.0), many.numbered);
        let job = match self.resolved_request(tab) {
            Some(RequestSpec::Amqp(request)) => {
                PublishManyJob::Amqp(crate::engine::publish_many::PublishMany {
                    request: *request,
                    count,
                    rate_per_sec,
                    numbered,
                })
            }
            Some(RequestSpec::Nats(request)) => {
                PublishManyJob::Nats(crate::engine::nats::publish_many::NatsPublishMany {
                    request: *request,
                    count,
                    rate_per_sec,
                    numbered,
                })
            }
            Some(RequestSpec::Kafka(request)) => {
                PublishManyJob::Kafka(crate::engine::kafka::publish_many::KafkaPublishMany {
                    request: *request,
                    count,
                    rate_per_sec,
                    numbered,
                })
            }
            _ => return,
        };
        self.start_many(tab, job);
    }

    /// Hands a publish-many job of `tab`'s editor to the backend and tracks its progress.
    fn start_many(&mut self, tab: TransportTab, job: crate::engine::PublishManyJob) {
        let total = job.count();
        let id = self.next_id;
        if self.backend.send(Command::PublishMany {
            id,
            job: Box::new(job),
        }) {
            self.start(tab, id);
            self.many = Some((id, Ok(Default::default())));
            self.many_of = (tab, total);
        }
    }

    /// Loads the gRPC editor's descriptors (reflection, .proto files or built-in) for its address.
    pub fn discover(&mut self) {
        let g = &self.settings.editors.grpc;
        let command = Command::Discover {
            addr: g.addr.trim().to_string(),
            source: crate::ui::grpc_editor::descriptor_source(g, self.settings.editors.grpc_source),
            tls: crate::ui::grpc_editor::tls(g),
        };
        if self.backend.send(command) {
            self.grpc_view.discovering = true;
        }
    }

    /// The call type of the gRPC editor's method, when the method browser knows it.
    pub fn grpc_method_kind(&self) -> Option<&'static str> {
        let (_, Ok(methods)) = self.grpc_view.grpc_methods.as_ref()? else {
            return None;
        };
        methods
            .iter()
            .find(|m| m.path == self.settings.editors.grpc.method.trim())
            .map(|m| m.kind)
    }

    /// Opens a stream to send request messages one by one.
    pub fn open_stream(&mut self) {
        let Some(crate::engine::RequestSpec::Grpc(request)) =
            self.resolved_request(TransportTab::Grpc)
        else {
            return;
        };
        let id = self.next_id;
        if self.backend.send(Command::OpenStream {
            id,
            request: Box::new(request),
        }) {
            self.start(TransportTab::Grpc, id);
            self.grpc_view.open_stream = Some((id, 0));
            self.grpc_view.stream_view = Some((id, Vec::new()));
        }
    }

    /// Runs the current editor's request as a load test (count, duration and concurrency from
    /// the load form).
    pub fn run_load(&mut self, tab: TransportTab) {
        use crate::engine::load::{LoadLimit, LoadSpec};
        let form = &self.settings.load;
        let limit = if form.duration_secs > 0.0 {
            LoadLimit::Duration(std::time::Duration::from_secs_f64(
                form.duration_secs.min(crate::cli::MAX_SECS),
            ))
        } else {
            LoadLimit::Requests(form.requests.max(1))
        };
        let Some(request) = self.resolved_request(tab) else {
            return;
        };
        let form = &self.settings.load;
        let spec = LoadSpec {
            request,
            limit,
            concurrency: form.concurrency.max(1),
            traceparent: self.settings.editors.traceparent(tab),
        };
        let id = self.next_id;
        if self.backend.send(Command::Load {
            id,
            spec: Box::new(spec),
        }) {
            self.start(tab, id);
            self.load = Some(LoadRun {
                id,
                tab,
                progress: Default::default(),
                result: None,
            });
        }
    }

    /// Places an order through the Order Service and follows its event.
    pub fn place_order(&mut self) {
        let order = &self.settings.editors.order;
        let mut request = HttpRequest {
            method: "POST".to_string(),
            headers: vec![Header::new("Content-Type", "application/json")],
            body: order.body.clone().into_bytes(),
            timeout: self.settings.timeout(),
            ..HttpRequest::get(order.url.clone())
        };
        let trace = self
            .settings
            .editors
            .traceparent(TransportTab::Amqp)
            .then(|| crate::engine::trace::inject(&mut request.headers))
            .flatten();
        let id = self.next_id;
        if self.backend.send(Command::PlaceOrder {
            id,
            request: Box::new(request),
            trace,
        }) {
            self.start(TransportTab::Amqp, id);
        }
    }

    fn start(&mut self, tab: TransportTab, id: u64) {
        self.next_id += 1;
        self.in_flight.insert(
            tab,
            InFlight {
                id,
                started: Instant::now(),
            },
        );
        self.request_origin
            .insert(id, (self.request_tabs.current_id(), tab));
        self.outcomes.remove(&tab);
        // The result pane follows what the user just did: not a comparison, not an earlier
        // call's stream.
        self.history_view.compare = false;
        if tab == TransportTab::Grpc {
            self.grpc_view.stream_view = None;
        }
    }

    /// Switches the editor, and the result pane to that editor's own last result.
    pub fn show_editor(&mut self, tab: TransportTab) {
        if self.settings.editors.transport != tab {
            self.settings.editors.transport = tab;
            self.history_view.compare = false;
            self.history_view.selected = self.last_by_tab.get(&tab).copied();
        }
    }

    pub fn cancel(&mut self, tab: TransportTab) {
        if let Some(flight) = self.in_flight.get(&tab) {
            self.backend.send(Command::Cancel { id: flight.id });
        }
    }

    /// Sets a demo service's added latency and failure rate.
    pub fn set_knobs(&mut self, service: ServiceId, latency_ms: u64, failure_rate: f64) {
        self.strip
            .knob_edits
            .insert(service, (latency_ms, failure_rate));
        self.command(Command::SetKnobs {
            service,
            latency_ms,
            failure_rate,
        });
    }
}
