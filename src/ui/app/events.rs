//! What the app does with the backend's events, and with the viewer's actions.

use super::*;

impl SwitchboardApp {
    /// Applies every pending backend event (called once per frame).
    pub fn drain_events(&mut self) {
        let mut any = false;
        while let Ok(event) = self.backend.events.try_recv() {
            self.apply(event);
            any = true;
        }
        if any {
            self.trimmer.activity();
        }
    }

    /// Applies one backend event (the backend's protocol is public: benchmarks replay events to
    /// put the window in a state worth timing).
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Traces(traces) => self.traces = Some(traces),
            Event::DemoStarted { config, notes } => {
                self.settings
                    .retarget_demo(&demo_services::DemoConfig::default(), &config);
                self.request_tabs.edit_parked(|s| {
                    s.retarget_demo(&demo_services::DemoConfig::default(), &config)
                });
                self.strip.demo = DemoState::Up { notes };
                self.script_demo_started(&config);
                self.demo_config = Some(*config);
            }
            Event::DemoFailed(message) => self.strip.demo = DemoState::Failed(message),
            Event::Services(services) => {
                for s in &services {
                    self.strip
                        .knob_edits
                        .insert(s.id, (s.latency_ms, s.failure_rate));
                }
                self.strip.services = services;
            }
            Event::ServiceError(error) => {
                match &error {
                    BackendError::Start {
                        what: Starting::NatsServer,
                        ..
                    } => self.strip.nats_starting = None,
                    BackendError::Start {
                        what: Starting::RabbitNode,
                        ..
                    } => self.strip.rabbit_starting = None,
                    _ => {}
                }
                self.strip.service_error = Some(error);
            }
            Event::Broker(state) => self.strip.broker = state,
            Event::Nats { url, state } => self.strip.nats = (url, state),
            Event::NatsKv { what, result } => self.viewer.streams.kv_result = Some((what, result)),
            Event::KafkaTopics { url, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.topics = Some((url, result));
            }
            Event::KafkaGroups { url, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.groups = Some((url, result));
            }
            Event::KafkaPage { ask, result } => {
                self.viewer.kafka.loading = false;
                self.viewer.kafka.page = Some((ask, result));
            }
            Event::NatsStreams { url, result } => {
                self.viewer.streams.loading = false;
                self.viewer.streams.listed = Some((url, result));
            }
            Event::RabbitStarted { url } => {
                // Editors that pointed at the broker that was not there now use this node.
                let old = std::mem::take(&mut self.strip.rabbit_starting).unwrap_or_default();
                let field = &mut self.settings.editors.amqp.url;
                if *field == old || *field == crate::engine::amqp::DEFAULT_AMQP_URL {
                    *field = url.clone();
                }
                self.strip.broker = BrokerState::Up;
                self.clear_start_error(Starting::RabbitNode);
            }
            Event::NatsStarted { url } => {
                // Editors that pointed at the server that was not there now use this one.
                let old = self.strip.nats_starting.clone().unwrap_or_default();
                for field in [
                    &mut self.settings.editors.nats.url,
                    &mut self.settings.watch_form.nats.url,
                ] {
                    if *field == old || *field == crate::engine::nats::DEFAULT_NATS_URL {
                        *field = url.clone();
                    }
                }
                self.strip.nats = (url, BrokerState::Up);
                self.clear_start_error(Starting::NatsServer);
            }
            Event::Consumer(state) => self.strip.consumer = state,
            Event::QueueDepth { queue, result } => {
                let now = self.strip.epoch.elapsed().as_secs_f64();
                let value = result.as_ref().ok().map(|d| f64::from(d.ready));
                super::services::sample(&mut self.strip.queue_samples, now, value);
                self.strip.queue_depth = Some((queue, result));
            }
            Event::NatsPending { consumer, result } => {
                let now = self.strip.epoch.elapsed().as_secs_f64();
                let value = result
                    .as_ref()
                    .ok()
                    .map(|c| (c.num_pending + c.num_ack_pending) as f64);
                super::services::sample(&mut self.strip.nats_samples, now, value);
                self.strip.nats_pending = Some((consumer, result));
            }
            Event::KafkaLag { group, result } => {
                let now = self.strip.epoch.elapsed().as_secs_f64();
                let value = result.as_ref().ok().map(|l| l.lag as f64);
                super::services::sample(&mut self.strip.kafka_samples, now, value);
                self.strip.kafka_lag = Some((group, result));
            }
            Event::KafkaConsumer(state) => self.strip.kafka_consumer = state,
            Event::NatsConsumer(state) => self.strip.nats_consumer = state,
            Event::Kafka { url, state } => self.strip.kafka = (url, state),
            Event::Exchanges { id, exchanges } => self.exchanges_arrived(id, exchanges),
            Event::PublishProgress { id, progress } => {
                if self.many.as_ref().is_some_and(|(m, _)| *m == id) {
                    self.many = Some((id, Ok(progress)));
                }
            }
            Event::StreamSent { id, result } => match result {
                Ok(()) => {
                    if let Some((_, sent)) = self
                        .grpc_view
                        .open_stream
                        .as_mut()
                        .filter(|(open, _)| *open == id)
                    {
                        *sent += 1;
                    }
                }
                Err(e) => {
                    self.outcomes.insert(
                        TransportTab::Grpc,
                        EditorOutcome::Failed(format!("message not sent: {e}")),
                    );
                }
            },
            Event::StreamMessage { id, message } => match &mut self.grpc_view.stream_view {
                Some((current, messages)) if *current == id => messages.push(message),
                _ => self.grpc_view.stream_view = Some((id, vec![message])),
            },
            Event::Discovered { addr, result } => {
                self.grpc_view.discovering = false;
                self.grpc_view.grpc_methods = Some((addr, result));
            }
            Event::LoadProgress { id, progress } => {
                if let Some(run) = self.load.as_mut().filter(|r| r.id == id) {
                    run.progress = progress;
                }
            }
            Event::LoadDone { id, result } => {
                if let Some(run) = self.load.as_mut().filter(|r| r.id == id) {
                    run.result = Some(result);
                }
            }
            Event::PublishFailed { id, error } => {
                if self.many.as_ref().is_some_and(|(m, _)| *m == id) {
                    self.many = Some((id, Err(error)));
                }
            }
            Event::WatchMessages { id, batch } => {
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.ingest_prepared(batch);
                }
            }
            Event::Watch { id, event } => {
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.apply(event);
                }
            }
            Event::PickedPath {
                purpose: purpose @ (PathPurpose::CollectionFolder | PathPurpose::Postman),
                path,
            } => self.picked_for_collections(purpose, path),
            Event::PickedPath { purpose, path } => {
                match path {
                    Some(path) => {
                        self.viewer.path_text = path.display().to_string();
                        if purpose == PathPurpose::Import {
                            self.command(Command::Import { path });
                        }
                    }
                    None => {
                        self.viewer.notice = Some(Err("no file chosen (or no file dialog on this system): type a path in File".to_string()));
                    }
                }
            }
            Event::Exported { path, result } => {
                self.viewer.notice = Some(match result {
                    Ok(n) => Ok(format!(
                        "exported {n} message{} to {}",
                        if n == 1 { "" } else { "s" },
                        path.display()
                    )),
                    Err(e) => Err(format!("export failed: {e}")),
                });
            }
            Event::Imported { path, result } => match result {
                Ok(messages) => {
                    let n = messages.len();
                    self.open_imported(&path.display().to_string(), messages);
                    self.viewer.notice =
                        Some(Ok(format!("imported {n} messages from {}", path.display())));
                }
                Err(e) => self.viewer.notice = Some(Err(format!("import failed: {e}"))),
            },
            Event::Collection {
                root,
                op,
                result,
                collection,
                secrets,
            } => self.collection_done(root, *op, result, collection.map(|c| *c), *secrets),
            Event::ImportProgress { written, total, .. } => {
                if self.collections.importing.is_some() {
                    self.collections.importing = Some((written, total));
                }
            }
            Event::CollectionsFound(result) => self.collections_found(result),
            Event::HistoryLoaded { entries, note } => self.history_loaded(entries, note),
            Event::RunResult { id, result } => self.run_result(id, result),
            Event::Done { id, cancelled } => self.request_done(id, cancelled),
        }
    }

    /// Exchanges of request `id` came back: into the history, and shown where they were asked for.
    fn exchanges_arrived(&mut self, id: u64, exchanges: Vec<Exchange>) {
        let origin = self.request_origin.get(&id).copied();
        let outcome = exchanges.last().map(outcome_of);
        let request = self.request_sources.get(&id).cloned();
        let seq = self.record(id, exchanges, request).last().copied();
        match origin {
            // From a tab that is not shown: its result waits in that tab.
            Some((tab_id, tab)) if tab_id != self.request_tabs.current_id() => {
                if let (Some(parked), Some(outcome)) = (self.request_tabs.parked(tab_id), outcome) {
                    parked.result(tab, outcome, seq);
                }
            }
            _ => {
                if let (Some((_, tab)), Some(outcome)) = (origin, outcome) {
                    self.outcomes.insert(tab, outcome);
                }
                if let Some(seq) = seq {
                    // Each editor shows its own last result: one that arrives for an
                    // editor the user has left waits there.
                    let shown =
                        origin.is_none_or(|(_, tab)| tab == self.settings.editors.transport);
                    if shown {
                        self.history_view.selected = Some(seq);
                    }
                    if let Some((_, tab)) = origin {
                        self.last_by_tab.insert(tab, seq);
                    }
                }
            }
        }
        self.script_exchanges();
    }

    /// A start that succeeded takes its earlier failure off the strip.
    fn clear_start_error(&mut self, started: Starting) {
        if matches!(&self.strip.service_error, Some(BackendError::Start { what, .. }) if *what == started)
        {
            self.strip.service_error = None;
        }
    }

    /// The collections in the data directory were listed: each not closed by the user opens.
    fn collections_found(&mut self, result: Result<Vec<std::path::PathBuf>, BackendError>) {
        self.settings.collections_initialized = true;
        match result {
            Ok(roots) => {
                for root in roots {
                    if !self.settings.closed_collections.contains(&root)
                        && !self.collections.opened.iter().any(|o| o.root == root)
                    {
                        self.open_collection(root);
                    }
                }
            }
            Err(e) => {
                self.collections.notice = Some(Err(format!(
                    "cannot set up the collections in the data directory: {e}"
                )))
            }
        }
    }

    /// The persisted history arrived: it goes before this session's entries.
    fn history_loaded(&mut self, entries: Vec<HistoryEntry>, note: Option<String>) {
        // Persisted entries go before this session's.
        let mut loaded: Vec<Entry> = entries
            .into_iter()
            .map(|h| Entry {
                seq: 0,
                request_id: 0,
                exchange: h.exchange,
                request: h.request,
            })
            .collect();
        loaded.append(&mut self.history_view.history);
        for entry in &mut loaded {
            if entry.seq == 0 {
                entry.seq = self.next_seq;
                self.next_seq += 1;
            }
        }
        let excess = loaded.len().saturating_sub(HISTORY_LIMIT);
        loaded.drain(..excess);
        self.history_view.history = loaded;
        self.history_view.history_note = note;
    }

    /// One request of a collection run is done.
    fn run_result(
        &mut self,
        id: u64,
        result: Result<Box<crate::engine::collection::run::RunResult>, BackendError>,
    ) {
        let Some(root) = self
            .collections
            .runs
            .iter()
            .find(|(_, r)| r.id == id)
            .map(|(root, _)| root.clone())
        else {
            return;
        };
        match result {
            Ok(mut r) => {
                let request = self
                    .collections
                    .collection(&root)
                    .and_then(|c| c.item(&r.file))
                    .and_then(|i| i.file.ok().cloned());
                let exchanges = std::mem::take(&mut r.exchanges);
                let seqs = self.record(id, exchanges, request);
                if let Some(&seq) = seqs.last() {
                    self.history_view.selected = Some(seq);
                }
                if let Some(run) = self.collections.runs.get_mut(&root) {
                    run.results.push((*r, seqs));
                }
            }
            Err(e) => {
                self.collections.notice = Some(Err(format!("run failed: {e}")));
            }
        }
    }

    /// Request `id` is over: its editor is free again (and says *cancelled* when it was).
    fn request_done(&mut self, id: u64, cancelled: bool) {
        for run in self.collections.runs.values_mut().filter(|r| r.id == id) {
            run.done = true;
            if cancelled {
                self.collections.notice = Some(Err("run stopped".to_string()));
            }
        }
        self.request_sources.remove(&id);
        if let Some((tab_id, tab)) = self.request_origin.remove(&id) {
            let outcome = cancelled.then(|| EditorOutcome::Cancelled("cancelled".to_string()));
            if tab_id == self.request_tabs.current_id() {
                self.in_flight.retain(|_, f| f.id != id);
                if let Some(outcome) = outcome {
                    self.outcomes.insert(tab, outcome);
                }
            } else if let Some(parked) = self.request_tabs.parked(tab_id) {
                parked.finished(id, tab, outcome);
            }
        }
    }

    /// Starts a watch in a new viewer tab.
    pub fn start_watch(&mut self, spec: WatchRequest) {
        // A form that cannot work says so here, not in a dead tab.
        if let WatchRequest::Nats(w) = &spec
            && let Err(e) = w.check()
        {
            self.viewer.notice = Some(Err(format!("not started: {}", e.message)));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let mut tab = ViewerTab::new(id, spec.describe(), Some(spec.clone()), self.store_capacity);
        let delivered = tab.delivery_counter();
        // Peeking the same queue again refreshes its finished tab instead of adding another.
        let reuse = spec.is_peek().then(|| {
            self.viewer
                .tabs
                .iter()
                .position(|t| t.spec.as_ref() == Some(&spec) && !t.is_live())
        });
        if self.backend.send(Command::StartWatch {
            id,
            spec: Box::new(spec),
            delivered,
        }) {
            match reuse.flatten() {
                Some(i) => self.viewer.tabs[i] = tab,
                None => self.viewer.tabs.push(tab),
            }
            self.viewer.active = Some(id);
        } else {
            self.viewer.notice = Some(Err("the background worker is busy; try again".to_string()));
        }
    }

    /// How many messages each new viewer tab keeps (the oldest go first).
    pub fn set_store_capacity(&mut self, capacity: usize) {
        self.store_capacity = capacity;
    }

    /// Messages arrived for viewer tab `id`, as from its watch.
    pub fn ingest(&mut self, id: u64, messages: Vec<WatchedMessage>) {
        if let Some(tab) = self.viewer.tab_mut(id) {
            tab.ingest(messages);
        }
    }

    /// Opens messages (from a `watch --json` file) in a new, non-live tab.
    pub fn open_imported(&mut self, name: &str, messages: Vec<WatchedMessage>) {
        let id = self.next_id;
        self.next_id += 1;
        let title = std::path::Path::new(name)
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
        let mut tab = ViewerTab::new(id, title, None, self.store_capacity.max(messages.len()));
        tab.ingest(messages);
        tab.status = TabStatus::Imported(name.to_string());
        self.viewer.tabs.push(tab);
        self.viewer.active = Some(id);
        self.settings.view = MainView::Messages;
    }

    /// Opens a message in the AMQP editor to edit and publish again.
    pub fn republish(&mut self, m: &WatchedMessage) {
        if m.transport == crate::engine::Transport::Kafka {
            // Into the Kafka editor: the same topic, key, headers and value (the partition
            // follows from the key again).
            let k = &mut self.settings.editors.kafka;
            k.topic = m.source.to_string();
            // A null key stays null; an empty one stays empty.
            k.key = (!m.fields.get("key").is_some_and(|v| v.is_null())).then(|| m.key.to_string());
            k.partition = None;
            k.headers = m
                .headers
                .iter()
                .map(|(name, v)| {
                    crate::engine::fields::SavedHeader::new(
                        name.clone(),
                        crate::engine::watched::text_of(v),
                    )
                })
                .collect();
            k.set_body(m.body.bytes.clone());
            self.settings.editors.transport = TransportTab::Kafka;
            self.settings.view = MainView::Requests;
            return;
        }
        if m.transport == crate::engine::Transport::Nats {
            // Into the NATS editor: a publish on the same subject with the same headers.
            let n = &mut self.settings.editors.nats;
            n.op = crate::engine::nats::NatsOp::Publish;
            n.subject = m.key.to_string();
            n.jetstream = !m.source.is_empty();
            n.msg_id = String::new();
            n.reply_to = String::new();
            n.headers = m
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("Nats-Msg-Id"))
                .map(|(k, v)| {
                    crate::engine::fields::SavedHeader::new(
                        k.clone(),
                        crate::engine::watched::text_of(v),
                    )
                })
                .collect();
            n.set_body(m.body.bytes.clone());
            if !n.jetstream {
                n.reply_to = m.field("reply_to").unwrap_or_default();
            }
            self.settings.editors.transport = TransportTab::Nats;
            self.settings.view = MainView::Requests;
            return;
        }
        let a = &mut self.settings.editors.amqp;
        let p = m.properties();
        a.exchange = m.source.to_string();
        a.routing_key = m.key.to_string();
        a.content_type = p.content_type.unwrap_or_default();
        a.message_id = p.message_id.unwrap_or_default();
        a.correlation_id = p.correlation_id.unwrap_or_default();
        a.persistent = p.delivery_mode == Some(2);
        a.more = crate::engine::collection::saved::MoreProps {
            kind: p.kind.unwrap_or_default(),
            reply_to: p.reply_to.unwrap_or_default(),
            expiration: p.expiration.unwrap_or_default(),
            priority: p.priority,
            app_id: p.app_id.unwrap_or_default(),
            user_id: p.user_id.unwrap_or_default(),
        };
        a.headers = m
            .headers
            .iter()
            .map(|(k, v)| {
                crate::engine::fields::SavedHeader::new(k, crate::engine::watched::text_of(v))
            })
            .collect();
        a.body =
            crate::engine::fields::SavedBody::from_text(&String::from_utf8_lossy(&m.body.bytes));
        self.settings.editors.transport = TransportTab::Amqp;
        self.settings.view = MainView::Requests;
        if std::str::from_utf8(&m.body.bytes).is_err() {
            self.outcomes.insert(TransportTab::Amqp, EditorOutcome::Failed("the message body is binary: the editor shows it as text with replacement characters".to_string()));
        }
    }

    pub(super) fn viewer_action(&mut self, action: ViewerAction) {
        match action {
            ViewerAction::Start => {
                // The form is resolved like a saved watch: its {{variables}} filled in.
                let vars = self.vars_for(EditorKind::Watch);
                let root = self
                    .collections
                    .scope_root(EditorKind::Watch)
                    .unwrap_or_else(|| std::path::PathBuf::from("."));
                match self.editor_request(EditorKind::Watch).resolve(
                    &vars,
                    &root,
                    self.settings.timeout(),
                ) {
                    Ok(Runnable::Watch(spec)) => {
                        if let WatchRequest::Amqp(w) = &spec {
                            let f = &mut self.settings.watch_form;
                            crate::ui::viewer::WatchForm::remember(
                                &mut f.known_exchanges,
                                &w.exchange,
                            );
                            crate::ui::viewer::WatchForm::remember(&mut f.known_queues, &w.queue);
                        }
                        self.start_watch(spec)
                    }
                    Ok(Runnable::Request(_)) => {}
                    Err(e) => {
                        self.viewer.notice = Some(Err(format!("not started: {}", e.message)));
                    }
                }
            }
            ViewerAction::SaveWatch => self.save_active(EditorKind::Watch),
            ViewerAction::Stop(id) => {
                self.command(Command::StopWatch { id });
                if let Some(tab) = self.viewer.tab_mut(id) {
                    tab.status = TabStatus::Stopped;
                }
            }
            ViewerAction::Close(id) => {
                self.command(Command::StopWatch { id });
                self.viewer.tabs.retain(|t| t.id != id);
                if self.viewer.active == Some(id) {
                    self.viewer.active = self.viewer.tabs.last().map(|t| t.id);
                }
            }
            ViewerAction::PickPath(purpose) => self.command(Command::PickPath { purpose }),
            ViewerAction::Export(path, messages) => {
                self.command(Command::Export { path, messages })
            }
            ViewerAction::Import(path) => self.command(Command::Import { path }),
            ViewerAction::Republish(m) => self.republish(&m),
            ViewerAction::Streams(crate::ui::streams_view::StreamsAction::List(url)) => {
                self.command(Command::NatsStreams { url })
            }
            ViewerAction::Streams(crate::ui::streams_view::StreamsAction::Kv(ask)) => {
                self.command(Command::NatsKv { ask })
            }
            ViewerAction::Kafka(ask) => self.command(Command::Kafka { ask }),
        }
    }

    /// Pins or unpins an exchange for comparison (at most two; the oldest pin goes).
    pub fn toggle_pin(&mut self, seq: u64) {
        if let Some(i) = self.history_view.pinned.iter().position(|p| *p == seq) {
            self.history_view.pinned.remove(i);
        } else {
            self.history_view.pinned.push(seq);
            if self.history_view.pinned.len() > MAX_PINS {
                self.history_view.pinned.remove(0);
            }
        }
        if self.history_view.pinned.len() < 2 {
            self.history_view.compare = false;
        }
    }
}
