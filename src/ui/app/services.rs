//! The top bar and the services strip (demo services, brokers, knobs).

use super::*;
use demo_services::UserCheck;

/// What the services strip shows: the demo's services, the brokers and the consumers, as the
/// backend last reported them, and the strip's own edits and samples.
#[derive(Debug)]
pub struct ServicesStrip {
    pub demo: DemoState,
    pub services: Vec<ServiceStatus>,
    pub(super) knob_edits: HashMap<ServiceId, (u64, f64)>,
    pub broker: BrokerState,
    /// The NATS server watched (its URL) and whether it answers.
    pub nats: (String, BrokerState),
    /// A private nats-server is being started (or runs) for the app: the URL it replaces.
    pub(super) nats_starting: Option<String>,
    /// A private RabbitMQ node is being started for the app: the URL it replaces.
    pub(super) rabbit_starting: Option<String>,
    pub consumer: Option<ConsumerState>,
    /// The User Service's queue: its name and last depth (or why it is unknown).
    pub queue_depth: Option<(
        String,
        Result<crate::engine::amqp::probe::QueueDepth, BackendError>,
    )>,
    /// Ready counts of that queue over the last minute: (seconds since `epoch`, ready).
    pub(super) queue_samples: Samples,
    /// The User Service's durable JetStream consumer of the order stream.
    pub nats_consumer: Option<ConsumerState>,
    /// That consumer's name and last pending counts (or why they are unknown).
    pub nats_pending: Option<(
        String,
        Result<crate::engine::nats::streams::ConsumerSummary, BackendError>,
    )>,
    /// Its pending + ack pending over the last minute.
    pub(super) nats_samples: Samples,
    /// The User Service's Kafka group: its name and last lag on the orders topic (or why not).
    pub kafka_lag: Option<(
        String,
        Result<crate::engine::kafka::admin::GroupLag, BackendError>,
    )>,
    /// That lag over the last minute.
    pub(super) kafka_samples: Samples,
    /// When the app started (the time axis of the sparklines).
    pub(super) epoch: Instant,
    /// The Kafka broker watched (its URL) and whether it answers.
    pub kafka: (String, BrokerState),
    /// The User Service's Kafka group member.
    pub kafka_consumer: Option<ConsumerState>,
    pub(super) service_error: Option<BackendError>,
}

/// A value over the last minute: (seconds since the strip's epoch, value).
pub(super) type Samples = std::collections::VecDeque<(f64, f64)>;

/// Adds `value` (when known) at `now` and forgets what is older than the window (keeping one).
pub(super) fn sample(samples: &mut Samples, now: f64, value: Option<f64>) {
    if let Some(value) = value {
        samples.push_back((now, value));
    }
    while samples
        .front()
        .is_some_and(|(t, _)| now - t > QUEUE_WINDOW_SECS)
        && samples.len() > 1
    {
        samples.pop_front();
    }
}

impl SwitchboardApp {
    pub(super) fn top_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.label(RichText::new("Switchboard").heading().strong());
            ui.separator();
            ui.selectable_value(
                &mut self.settings.view,
                MainView::Requests,
                RichText::new("Requests").strong(),
            );
            let live = self.viewer.tabs.iter().filter(|t| t.is_live()).count();
            let messages = if live > 0 {
                format!("Messages ({live} live)")
            } else {
                "Messages".to_string()
            };
            ui.selectable_value(
                &mut self.settings.view,
                MainView::Messages,
                RichText::new(messages).strong(),
            );
            ui.separator();
            let (label, hint) = if self.settings.side_panel {
                (
                    "Hide panel",
                    "Hide the collections and history panel (more room for the editor and result)",
                )
            } else {
                ("Show panel", "Show the collections and history panel")
            };
            if ui.button(label).on_hover_text(hint).clicked() {
                self.settings.side_panel = !self.settings.side_panel;
            }
            if self.settings.view == MainView::Requests {
                let side = self.settings.layout == crate::ui::settings::RequestLayout::SideBySide;
                let (label, hint) = if side {
                    ("Stack", "Put the result below the editor")
                } else {
                    ("Side by side", "Put the result beside the editor")
                };
                if ui.button(label).on_hover_text(hint).clicked() {
                    self.settings.layout = if side {
                        crate::ui::settings::RequestLayout::Stacked
                    } else {
                        crate::ui::settings::RequestLayout::SideBySide
                    };
                }
            }
            ui.separator();
            ui.label("Timeout");
            ui.add(
                egui::DragValue::new(&mut self.settings.timeout_secs)
                    .range(0.1..=600.0)
                    .speed(0.5)
                    .suffix(" s"),
            )
            .on_hover_text("Every request gives up after this long");
            ui.separator();
            let theme = if self.settings.dark_mode {
                "Light theme"
            } else {
                "Dark theme"
            };
            if ui.button(theme).clicked() {
                self.settings.dark_mode = !self.settings.dark_mode;
            }
            if ui
                .selectable_label(self.show_settings, "Settings")
                .on_hover_text("What is kept of credentials, and where")
                .clicked()
            {
                self.show_settings = !self.show_settings;
            }
            ui.menu_button("Keys", |ui| {
                egui::Grid::new("keys").num_columns(2).show(ui, |ui| {
                    for (keys, what) in KEYS {
                        ui.label(RichText::new(*keys).monospace());
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
            ui.separator();
            self.traces_ui(ui);
        });
        self.services_ui(ui);
    }

    /// The traces the receiver holds that no exchange in the history started (a service's own
    /// work, another client's requests): kept apart, never attached to an exchange.
    fn other_traces_ui(&self, ui: &mut egui::Ui, up: &super::backend::TracesUp) {
        const SHOWN: usize = 10;
        let known: std::collections::HashSet<&str> = self
            .history_view
            .history
            .iter()
            .filter_map(|e| e.exchange.trace.as_ref().map(|t| t.trace_id.as_str()))
            .collect();
        let all: Vec<(String, usize)> = up
            .store
            .traces()
            .into_iter()
            .filter(|(id, _)| !known.contains(id.as_str()))
            .collect();
        let more = all.len().saturating_sub(SHOWN);
        let others: Vec<(String, usize)> = all.into_iter().take(SHOWN).collect();
        ui.label(RichText::new("Other traces").strong())
            .on_hover_text("Spans of traces that no request sent from here started, newest first");
        if others.is_empty() {
            ui.label(RichText::new("none yet").weak());
        }
        for (id, count) in others {
            let spans = up.store.spans(&id);
            let start_us = spans.iter().map(|s| s.start_unix_ns).min().unwrap_or(0) / 1_000;
            let placed: Vec<crate::engine::trace::TimelineSpan> = spans
                .iter()
                .map(|s| crate::engine::trace::TimelineSpan::place(s, start_us))
                .collect();
            let services: std::collections::BTreeSet<&str> =
                spans.iter().map(|s| s.service.as_str()).collect();
            egui::CollapsingHeader::new(format!(
                "{id} · {count} span{} · {}",
                if count == 1 { "" } else { "s" },
                services.into_iter().collect::<Vec<_>>().join(", ")
            ))
            .id_salt(("other-trace", &id))
            .show(ui, |ui| {
                ui.label(
                    RichText::new(crate::engine::trace::render_tree(&placed))
                        .monospace()
                        .small(),
                );
            });
        }
        if more > 0 {
            ui.label(RichText::new(format!("… and {more} older traces")).weak());
        }
    }

    /// The OTLP receiver, in the top bar: where services send spans, and how many came.
    fn traces_ui(&self, ui: &mut egui::Ui) {
        let Some(traces) = &self.traces else {
            return;
        };
        match traces {
            Ok(up) => {
                let counts = up.store.counts();
                let text = format!(
                    "Traces: {} · {} span{}",
                    up.endpoint,
                    counts.accepted,
                    if counts.accepted == 1 { "" } else { "s" }
                );
                let color = if up.fallback.is_some() {
                    ui.visuals().warn_fg_color
                } else {
                    ui.visuals().weak_text_color()
                };
                let mut tip = format!(
                    "The OTLP receiver: services that export spans here (OTEL_EXPORTER_OTLP_ENDPOINT={} for OTLP/HTTP{}) show them under the timeline of the request that started the trace.\n{} dropped (oldest traces first, to stay bounded), {} unreadable exports.",
                    up.endpoint,
                    up.grpc_endpoint
                        .as_deref()
                        .map(|g| format!(", {g} for OTLP/gRPC"))
                        .unwrap_or_default(),
                    counts.dropped,
                    counts.malformed
                );
                if let Some(why) = &up.fallback {
                    tip.push_str(&format!("\nNot on the default port: {why}"));
                }
                tip.push_str("\nClick for the traces no request here started.");
                // Stays open while its traces are expanded; a click outside closes it.
                egui::containers::menu::MenuButton::new(RichText::new(text).small().color(color))
                    .config(
                        egui::containers::menu::MenuConfig::new()
                            .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
                    )
                    .ui(ui, |ui| self.other_traces_ui(ui, up))
                    .0
                    .on_hover_text(tip);
            }
            Err(why) => {
                ui.label(
                    RichText::new("Traces off")
                        .small()
                        .color(ui.visuals().warn_fg_color),
                )
                .on_hover_text(why.to_string());
            }
        }
    }

    pub(super) fn services_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            // A chip keeps its text on one line; one that does not fit goes to the next row
            // (a group takes whatever width is left, so it is moved before it is drawn).
            ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
            match &self.strip.demo {
                DemoState::Off => {
                    ui.label(RichText::new("Demo services off (--no-demo)").weak());
                }
                DemoState::Starting => {
                    ui.spinner();
                    ui.label("Starting the demo services…");
                }
                DemoState::Failed(message) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("Demo services failed to start: {message}"));
                }
                DemoState::Up { .. } => {}
            }
            let services = self.strip.services.clone();
            for service in &services {
                chip(ui, service.id.name(), |ui| {
                    status_dot(ui, if service.running { Health::Up } else { Health::Down });
                    ui.label(RichText::new(service.id.name()).strong());
                    ui.label(RichText::new(&service.addrs).small().weak());
                    if service.running {
                        if ui.small_button("Stop").on_hover_text("Stop it and watch callers fail").clicked() {
                            self.command(Command::StopService(service.id));
                        }
                    } else if ui.small_button("Start").clicked() {
                        self.command(Command::StartService(service.id));
                    }
                    let (mut latency_ms, mut failure_rate) = self.strip.knob_edits.get(&service.id).copied().unwrap_or_default();
                    let mut percent = failure_rate * 100.0;
                    let a = ui
                        .add(egui::DragValue::new(&mut latency_ms).range(0..=60_000).speed(5).prefix("+").suffix(" ms"))
                        .on_hover_text("Added latency");
                    let b = ui
                        .add(egui::DragValue::new(&mut percent).range(0.0..=100.0).speed(1).suffix("% fail"))
                        .on_hover_text("Failure rate (503 / UNAVAILABLE)");
                    failure_rate = percent / 100.0;
                    if a.changed() || b.changed() {
                        self.set_knobs(service.id, latency_ms, failure_rate);
                    }
                    if let Some(check) = service.user_check {
                        self.user_check_ui(ui, check);
                    }
                });
            }
            chip(ui, "rabbitmq", |ui| {
                let (health, text) = match &self.strip.broker {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(why) => (Health::Down, format!("down ({why})")),
                };
                let detail = match &self.strip.broker {
                    BrokerState::Down(why) => format!(
                        "{}: {why} — start a private node here, or the system's: rabbitmq-server -detached",
                        crate::engine::amqp::redact_url(&self.settings.editors.amqp.url)
                    ),
                    _ => crate::engine::amqp::redact_url(&self.settings.editors.amqp.url),
                };
                status_dot(ui, health);
                ui.label(RichText::new("RabbitMQ").strong()).on_hover_text(&detail);
                ui.label(RichText::new(text).small()).on_hover_text(&detail);
                if matches!(self.strip.broker, BrokerState::Down(_)) {
                    if demo_services::rabbitmq_server::PrivateRabbit::available() {
                        let starting = self.strip.rabbit_starting.is_some();
                        // Its width is kept while it says "Starting…": the boxes after it
                        // stay under the pointer (a second click aimed at NATS's Start missed).
                        if steady(ui, "rabbit-start", |ui| {
                            ui.add_enabled(!starting, egui::Button::new(if starting { "Starting…" } else { "Start RabbitMQ" }))
                        })
                            .on_hover_text("Start a private RabbitMQ node (free ports, data in the data directory) that stops with the app; the demo and the AMQP editor move to it")
                            .clicked()
                        {
                            self.strip.rabbit_starting = Some(self.settings.editors.amqp.url.clone());
                            self.command(Command::StartRabbit);
                        }
                    } else {
                        ui.label(RichText::new("install rabbitmq-server (apt-get install rabbitmq-server)").small().weak());
                    }
                }
                // Stopping the User Service takes its consumer away: its place is kept.
                steady(ui, "amqp-consumer", |ui| {
                    let Some(consumer) = &self.strip.consumer else {
                        return ui.label("");
                    };
                    let text = match consumer {
                        ConsumerState::Disabled => "consumer off".to_string(),
                        ConsumerState::Connecting => "consumer connecting…".to_string(),
                        ConsumerState::Consuming { consumed, dead_lettered, .. } => {
                            format!("{consumed} consumed, {dead_lettered} dead-lettered")
                        }
                        ConsumerState::Down(_) => "consumer down".to_string(),
                        ConsumerState::Waiting(_) => "consumer waiting".to_string(),
                    };
                    // The reasons are long: on hover, so the strip keeps its shape.
                    let detail = match consumer {
                        ConsumerState::Consuming { last_reject: Some(reason), .. } => format!("last rejected: {reason}"),
                        ConsumerState::Down(why) | ConsumerState::Waiting(why) => why.clone(),
                        _ => "the demo User Service's consumer of order_queue".to_string(),
                    };
                    ui.label(RichText::new(text).small().weak()).on_hover_text(detail)
                });
                self.queue_depth_ui(ui);
            });
            chip(ui, "nats", |ui| {
                let (url, state) = &self.strip.nats;
                let (health, text) = match state {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(_) => (Health::Down, "down".to_string()),
                };
                let detail = match state {
                    BrokerState::Down(why) => format!("{url}: {why}"),
                    _ => url.clone(),
                };
                status_dot(ui, health);
                ui.label(RichText::new("NATS server").strong()).on_hover_text(&detail);
                ui.label(RichText::new(text).small()).on_hover_text(&detail);
                if matches!(state, BrokerState::Down(_)) {
                    if demo_services::nats_server::PrivateNats::available() {
                        if ui
                            .add_enabled(self.strip.nats_starting.is_none(), egui::Button::new("Start"))
                            .on_hover_text("Start a private nats-server (free port, JetStream, stored in the data directory) that stops with the app")
                            .clicked()
                        {
                            self.strip.nats_starting = Some(url.clone());
                            self.command(Command::StartNats);
                        }
                    } else {
                        ui.label(RichText::new("install nats-server (apt-get install nats-server)").small().weak());
                    }
                }
                self.nats_consumer_ui(ui);
            });
            chip(ui, "kafka", |ui| {
                let (url, state) = &self.strip.kafka;
                let (health, text) = match state {
                    BrokerState::Unknown => (Health::Starting, "checking…".to_string()),
                    BrokerState::Up => (Health::Up, "up".to_string()),
                    BrokerState::Down(_) => (Health::Down, "down".to_string()),
                };
                let detail = match state {
                    BrokerState::Down(why) => format!("{url}: {why}"),
                    _ => url.clone(),
                };
                status_dot(ui, health);
                ui.label(RichText::new("Kafka broker").strong()).on_hover_text(&detail);
                ui.label(RichText::new(text).small()).on_hover_text(&detail);
                // (The broker's address is on hover: the strip's row keeps room for the lag.)
                self.kafka_group_ui(ui);
            });
            if let DemoState::Up { notes } = &self.strip.demo {
                for note in notes {
                    ui.colored_label(ui.visuals().warn_fg_color, note);
                }
            }
            if let Some(error) = self.strip.service_error.clone() {
                // The button first: a long message is cut at the window's edge, not the button.
                if ui.small_button("dismiss").clicked() {
                    self.strip.service_error = None;
                }
                let text = error.to_string();
                let visible = (ui.clip_rect().right() - ui.cursor().left() - 8.0).max(80.0);
                ui.scope(|ui| {
                    ui.set_max_width(visible);
                    ui.add(
                        egui::Label::new(RichText::new(&text).color(ui.visuals().error_fg_color))
                            .truncate(),
                    )
                    .on_hover_text(&text);
                });
            }
        });
    }
}

impl SwitchboardApp {
    /// How the Order Service checks users: the sync/async switch of the write-up's lesson.
    fn user_check_ui(&mut self, ui: &mut egui::Ui, check: UserCheck) {
        let mut chosen = check;
        egui::ComboBox::from_label("user check")
            .selected_text(check.to_string())
            .show_ui(ui, |ui| {
                for (option, what) in [
                    (
                        UserCheck::Grpc,
                        "gRPC — ask the User Service before accepting (sync)",
                    ),
                    (
                        UserCheck::Http,
                        "HTTP — ask the User Service before accepting (sync)",
                    ),
                    (
                        UserCheck::None,
                        "none — accept, publish, let the consumer check (async)",
                    ),
                ] {
                    ui.selectable_value(&mut chosen, option, what);
                }
            })
            .response
            .on_hover_text(
                "How the Order Service checks the user of an order. With gRPC or HTTP, orders \
                 fail (502) while the User Service is down; with none they are accepted and wait \
                 in order_queue until it is back (unknown users are dead-lettered when consumed).",
            );
        if chosen != check {
            self.command(Command::SetUserCheck(chosen));
        }
    }

    /// The User Service's queue: how many orders wait, its consumers, and the last minute.
    fn queue_depth_ui(&mut self, ui: &mut egui::Ui) {
        // Drawn from the start (a placeholder until the first answer) so that the strip does
        // not change its layout under the user's pointer when the first depth arrives.
        if !matches!(self.strip.demo, DemoState::Up { .. }) {
            return;
        }
        let Some((queue, depth)) = &self.strip.queue_depth else {
            steady(ui, "queue-depth", |ui| {
                ui.label(RichText::new("order_queue: …").small().weak())
            });
            self.sparkline(
                ui,
                "queue-depth-sparkline",
                &self.strip.queue_samples,
                "waiting",
            );
            return;
        };
        match depth {
            Ok(d) => {
                let consumers = if d.consumers == 1 {
                    "1 consumer".to_string()
                } else {
                    format!("{} consumers", d.consumers)
                };
                // Room for "consumers" even when it says "1 consumer": the boxes after it do
                // not move when the count changes (the User Service stopped: 1 → 0).
                let plural = egui::WidgetText::from(
                    RichText::new(format!(
                        "{queue}: {} waiting · {} consumers",
                        d.ready, d.consumers
                    ))
                    .small(),
                )
                .into_galley(
                    ui,
                    Some(egui::TextWrapMode::Extend),
                    f32::INFINITY,
                    egui::TextStyle::Small,
                )
                .size()
                .x;
                steady(ui, "queue-depth", |ui| {
                    ui.set_min_width(plural);
                    ui.label(RichText::new(format!("{queue}: {} waiting · {consumers}", d.ready)).small())
                        .on_hover_text("Messages ready in the queue (a passive declare, twice a second); the line is the last minute")
                });
            }
            Err(why) => {
                // Short on the strip (the broker's own chip says why it is down), whole on hover.
                steady(ui, "queue-depth", |ui| {
                    ui.label(
                        RichText::new(format!("{queue}: {}", short_reason(why)))
                            .small()
                            .weak(),
                    )
                    .on_hover_text(format!("{queue}: {why}"))
                });
            }
        }
        self.sparkline(
            ui,
            "queue-depth-sparkline",
            &self.strip.queue_samples,
            "waiting",
        );
    }

    /// The NATS box's consumer: what the User Service's durable JetStream consumer took, and
    /// how many orders wait for it (pending + ack pending), with the last minute of that.
    fn nats_consumer_ui(&self, ui: &mut egui::Ui) {
        // Drawn from the start (placeholders) so the strip keeps its layout as answers come.
        let demo_nats = self.demo_config.as_ref().and_then(|c| c.nats.as_ref());
        let (Some(names), DemoState::Up { .. }) = (demo_nats, &self.strip.demo) else {
            return;
        };
        let mut detail = vec![format!(
            "The demo User Service's durable pull consumer {} of stream {} (explicit acks; unknown users and unreadable orders are terminated, never redelivered).",
            names.consumer, names.stream
        )];
        let took = match &self.strip.nats_consumer {
            None | Some(ConsumerState::Disabled) => None,
            Some(ConsumerState::Connecting) => Some("connecting…".to_string()),
            Some(ConsumerState::Consuming {
                consumed,
                dead_lettered,
                last_reject,
            }) => {
                detail.push(format!("{consumed} consumed, {dead_lettered} terminated."));
                if let Some(reason) = last_reject {
                    detail.push(format!("Last terminated: {reason}"));
                }
                Some(format!("{consumed} consumed"))
            }
            Some(ConsumerState::Down(why)) => {
                detail.push(format!("Down: {why}"));
                Some("down".to_string())
            }
            Some(ConsumerState::Waiting(why)) => {
                detail.push(format!("Waiting: {why}"));
                Some("waiting".to_string())
            }
        };
        let waiting = match &self.strip.nats_pending {
            None => "… pending".to_string(),
            Some((_, Ok(c))) => {
                detail.push(format!(
                    "Waiting: {} not delivered yet, {} delivered and not acked (consumer info, twice a second); the line is the last minute.",
                    c.num_pending, c.num_ack_pending
                ));
                format!("{} pending", c.num_pending + c.num_ack_pending)
            }
            Some((_, Err(why))) => {
                // Why on hover only: the box keeps its width (the broker's own state says more).
                detail.push(format!("Pending unknown: {why}"));
                "? pending".to_string()
            }
        };
        // The consumer's name is on hover: the row keeps room for the three brokers.
        let text = match took {
            Some(took) => format!("{took} · {waiting}"),
            None => waiting,
        };
        // Terminated orders (unknown users) turn it the warning colour; the count is on hover,
        // so the box keeps its width.
        let terminated = matches!(
            &self.strip.nats_consumer,
            Some(ConsumerState::Consuming { dead_lettered, .. }) if *dead_lettered > 0
        );
        let mut text = RichText::new(text).small();
        if terminated {
            text = text.color(ui.visuals().warn_fg_color);
        }
        steady(ui, "nats-consumer", |ui| {
            ui.label(text).on_hover_text(detail.join("\n"))
        });
        self.sparkline(
            ui,
            "nats-pending-sparkline",
            &self.strip.nats_samples,
            "pending",
        );
    }

    /// The Kafka box's group: what the User Service's member consumed, and how far the group is
    /// behind on the orders topic (its lag), with the last minute of that.
    fn kafka_group_ui(&self, ui: &mut egui::Ui) {
        let demo_kafka = self.demo_config.as_ref().and_then(|c| c.kafka.as_ref());
        let mut detail = vec!["The demo User Service's consumer group on topic orders".to_string()];
        let took = self
            .strip
            .kafka_consumer
            .as_ref()
            .map(|consumer| match consumer {
                ConsumerState::Disabled => "off".to_string(),
                ConsumerState::Connecting => "joining…".to_string(),
                ConsumerState::Consuming { consumed, .. } => format!("{consumed} consumed"),
                ConsumerState::Down(why) => {
                    detail.push(format!("Down: {why}"));
                    "down".to_string()
                }
                ConsumerState::Waiting(why) => {
                    detail.push(format!("Waiting: {why}"));
                    "starts on first use".to_string()
                }
            });
        let waiting = matches!(self.strip.kafka_consumer, Some(ConsumerState::Waiting(_)));
        let lag = match (demo_kafka, &self.strip.demo) {
            (Some(names), DemoState::Up { .. }) if !waiting => Some(match &self.strip.kafka_lag {
                None => "lag …".to_string(),
                Some((_, Ok(lag))) => {
                    detail.push(format!(
                        "Lag: records of topic {} not committed yet, over its {} partitions (committed offsets against the high watermarks, every second); the line is the last minute.",
                        names.topic, lag.partitions
                    ));
                    format!("lag {}", lag.lag)
                }
                Some((_, Err(why))) => {
                    detail.push(format!("Lag unknown: {why}"));
                    "lag ?".to_string()
                }
            }),
            _ => None,
        };
        let group = demo_kafka.map_or("user-service", |n| n.group.as_str());
        let text = match (took, &lag) {
            (Some(took), Some(lag)) => format!("group {group}: {took} · {lag}"),
            (Some(took), None) => format!("group {group}: {took}"),
            (None, Some(lag)) => format!("group {group}: {lag}"),
            (None, None) => return,
        };
        steady(ui, "kafka-group", |ui| {
            ui.label(RichText::new(text).small().weak())
                .on_hover_text(detail.join("\n"))
        });
        if lag.is_some() {
            self.sparkline(ui, "kafka-lag-sparkline", &self.strip.kafka_samples, "lag");
        }
    }

    /// The last minute of one of the strip's values.
    fn sparkline(&self, ui: &mut egui::Ui, id: &str, samples: &Samples, name: &str) {
        let now = self.strip.epoch.elapsed().as_secs_f64();
        let mut points: Vec<[f64; 2]> = samples.iter().map(|(t, v)| [t - now, *v]).collect();
        if let Some(&[_, last]) = points.last() {
            points.push([0.0, last]);
        }
        crate::ui::timeline_view::sparkline(
            ui,
            id,
            [SPARKLINE_WIDTH, 22.0],
            QUEUE_WINDOW_SECS,
            name,
            points,
        );
    }
}

/// The width of the strip's sparklines (three of them share the row at 1280 px).
const SPARKLINE_WIDTH: f32 = 64.0;

/// Why a polled value is unknown, short enough for the strip (the broker's own box says why it
/// is down; the whole message goes on hover).
fn short_reason(why: &BackendError) -> String {
    match why {
        BackendError::Exchange(e) if e.kind == crate::engine::ErrorKind::Refused => {
            e.message.clone()
        }
        BackendError::Exchange(e) if e.kind == crate::engine::ErrorKind::Auth => {
            "login refused".to_string()
        }
        _ => "broker unreachable".to_string(),
    }
}

/// Something in a strip box whose width never shrinks (the widest it was, remembered while the
/// app runs), so the boxes after it do not move under the pointer when its text gets shorter
/// or goes away (a stopped consumer, a count back to one digit).
fn steady<R>(ui: &mut egui::Ui, key: &str, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
    let id = egui::Id::unique(("strip-steady-width", key));
    let min = ui.data(|d| d.get_temp::<f32>(id)).unwrap_or(0.0);
    let shown = ui.scope(|ui| {
        ui.set_min_width(min);
        add(ui)
    });
    let width = shown.response.rect.width().max(min);
    ui.data_mut(|d| d.insert_temp(id, width));
    shown.inner
}

/// One box of the services strip, moved to the next row before it is drawn when it would not
/// fit (its width is the one it had in the last frame: a group takes whatever is left).
fn chip<R>(ui: &mut egui::Ui, name: &str, add: impl FnOnce(&mut egui::Ui) -> R) -> R {
    let key = egui::Id::unique(("strip-chip-width", name));
    let width = ui.data(|d| d.get_temp::<f32>(key)).unwrap_or(0.0);
    let left = ui.available_size_before_wrap().x;
    // (At the start of a row already: a new row would not be wider.)
    if left < width && left < ui.max_rect().width() - 1.0 {
        ui.end_row();
    }
    // One line, never wrapped inside: its width is its content's, whatever is left on the row.
    let shown = ui.group(|ui| ui.horizontal(add).inner);
    let drawn = shown.response.rect.width();
    ui.data_mut(|d| d.insert_temp(key, drawn));
    shown.inner
}

#[derive(Clone, Copy)]
pub(super) enum Health {
    Up,
    Down,
    Starting,
}

pub(super) fn status_dot(ui: &mut egui::Ui, health: Health) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    let (color, text) = match health {
        Health::Up => (Color32::from_rgb(0x4c, 0xc3, 0x5c), "up"),
        Health::Down => (Color32::from_rgb(0xe0, 0x4f, 0x4f), "down"),
        Health::Starting => (Color32::from_rgb(0xe0, 0xb0, 0x3c), "starting"),
    };
    ui.painter().circle_filled(rect.center(), 5.0, color);
    response.on_hover_text(text);
}
