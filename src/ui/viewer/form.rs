//! The viewer's watch form: broker, mode (with what each mode does to other consumers) and where to start.

use super::*;

/// A text field with a menu of known names beside it.
pub(super) fn picked_field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    width: f32,
    known: &[String],
) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(width))
        .labelled_by(l.id);
    ui.add_enabled_ui(!known.is_empty(), |ui| {
        crate::ui::editors::choices_menu(
            ui,
            &format!("known-{label}"),
            "known…",
            value,
            known.iter().map(|n| (n.as_str(), n.as_str())),
        );
    });
}

pub(super) fn form_ui(
    ui: &mut egui::Ui,
    form: &mut WatchForm,
    amqp_url: &mut String,
    actions: &mut Vec<ViewerAction>,
) {
    ui.horizontal(|ui| {
        let l = ui.label("Broker");
        ui.selectable_value(&mut form.broker, WatchBroker::Amqp, "AMQP")
            .labelled_by(l.id);
        ui.selectable_value(&mut form.broker, WatchBroker::Nats, "NATS");
        ui.selectable_value(&mut form.broker, WatchBroker::Kafka, "Kafka");
    });
    if form.broker == WatchBroker::Nats {
        nats_form_ui(ui, &mut form.nats, actions);
        return;
    }
    if form.broker == WatchBroker::Kafka {
        kafka_form_ui(ui, &mut form.kafka, actions);
        return;
    }
    // Wraps on a narrow window, so *Start watch* and *Save watch…* stay reachable.
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Broker URL");
        ui.add(
            egui::TextEdit::singleline(amqp_url)
                .hint_text("amqp://guest:guest@127.0.0.1:5672/%2f")
                .desired_width(230.0),
        )
        .labelled_by(l.id)
        .on_hover_text("The same broker as the AMQP editor's");
        let label = ui.label("Mode");
        egui::ComboBox::from_id_salt("watch-mode")
            .selected_text(form.mode.label())
            .show_ui(ui, |ui| {
                for mode in WatchMode::ALL {
                    ui.selectable_value(&mut form.mode, mode, mode.label())
                        .on_hover_text(mode.explanation());
                }
            })
            .response
            .labelled_by(label.id);
        match form.mode {
            WatchMode::Tap => {
                picked_field(
                    ui,
                    "Exchange",
                    &mut form.exchange,
                    160.0,
                    &form.known_exchanges,
                );
                let l = ui.label("Binding");
                ui.add(egui::TextEdit::singleline(&mut form.binding).desired_width(120.0))
                    .labelled_by(l.id);
            }
            WatchMode::Peek | WatchMode::Consume => {
                picked_field(ui, "Queue", &mut form.queue, 180.0, &form.known_queues);
                if form.mode == WatchMode::Peek {
                    let l = ui.label("Up to");
                    ui.add(egui::DragValue::new(&mut form.peek_limit).range(1..=100_000))
                        .labelled_by(l.id);
                }
            }
        }
        start_buttons(ui, actions);
    });
    let color = if form.mode == WatchMode::Consume {
        ui.visuals().warn_fg_color
    } else {
        ui.visuals().weak_text_color()
    };
    ui.add(
        egui::Label::new(
            RichText::new(format!(
                "{}: {}",
                form.mode.label(),
                form.mode.explanation()
            ))
            .color(color),
        )
        .wrap(),
    );
}

/// The start and save buttons of the watch form.
pub(super) fn start_buttons(ui: &mut egui::Ui, actions: &mut Vec<ViewerAction>) {
    if ui.button(RichText::new("Start watch").strong()).clicked() {
        actions.push(ViewerAction::Start);
    }
    if ui
        .button("Save watch…")
        .on_hover_text("Keep this watch definition in a collection")
        .clicked()
    {
        actions.push(ViewerAction::SaveWatch);
    }
}

/// The Kafka part of the watch form: a topic tap (partitions assigned by hand) or a group
/// consume.
pub(super) fn kafka_form_ui(
    ui: &mut egui::Ui,
    w: &mut crate::engine::kafka::watch::KafkaWatch,
    actions: &mut Vec<ViewerAction>,
) {
    use crate::engine::kafka::watch::KafkaWatchMode;
    let narrow = |ui: &mut egui::Ui, label: &str, value: &mut String, width: f32, hint: &str| {
        let l = ui.label(label);
        ui.add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(width),
        )
        .labelled_by(l.id);
    };
    ui.horizontal_wrapped(|ui| {
        narrow(ui, "Brokers", &mut w.url, 200.0, "kafka://127.0.0.1:9092");
        narrow(ui, "Topic", &mut w.topic, 140.0, "orders");
        let mut all = w.partition.is_none();
        let l = ui.label("Partition");
        ui.checkbox(&mut all, "all").labelled_by(l.id);
        if all {
            w.partition = None;
        } else {
            let mut p = w.partition.unwrap_or(0);
            ui.add(egui::DragValue::new(&mut p).range(0..=100_000));
            w.partition = Some(p);
        }
        narrow(ui, "From", &mut w.from, 120.0, "latest");
        narrow(ui, "Group", &mut w.group, 120.0, "(none: a tap)");
        start_buttons(ui, actions);
    });
    let mode = w.mode();
    let color = if mode.is_destructive() {
        ui.visuals().warn_fg_color
    } else {
        ui.visuals().weak_text_color()
    };
    let mut text = format!("{}: {}", mode.label(), mode.explanation());
    if mode == KafkaWatchMode::Tap {
        text.push_str(" From: earliest, latest, offset:N, time:RFC3339 or last:N.");
    }
    ui.add(egui::Label::new(RichText::new(text).color(color)).wrap());
}

/// The NATS half of the watch form: subject tap, queue group, stream tap / consume / peek.
pub(super) fn nats_form_ui(ui: &mut egui::Ui, w: &mut NatsWatch, actions: &mut Vec<ViewerAction>) {
    let narrow = |ui: &mut egui::Ui, label: &str, value: &mut String, width: f32, hint: &str| {
        let l = ui.label(label);
        ui.add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(width),
        )
        .labelled_by(l.id);
    };
    ui.horizontal_wrapped(|ui| {
        narrow(ui, "Server", &mut w.url, 220.0, "nats://127.0.0.1:4222");
        let before = w.mode;
        let label = ui.label("Mode");
        egui::ComboBox::from_id_salt("nats-watch-mode")
            .selected_text(w.mode.label())
            .show_ui(ui, |ui| {
                for mode in NatsWatchMode::ALL {
                    ui.selectable_value(&mut w.mode, mode, mode.label())
                        .on_hover_text(mode.explanation());
                }
            })
            .response
            .labelled_by(label.id);
        if w.mode.is_stream() != before.is_stream() {
            // One field is the subject of a subscription and the filter of a stream read:
            // switching between them starts from what each usually is.
            if w.mode.is_stream() {
                w.subject.clear();
                if w.stream.trim().is_empty() {
                    w.stream = demo_contract::ORDERS_STREAM.to_string();
                }
            } else if w.subject.trim().is_empty() {
                w.subject = "orders.>".to_string();
            }
        }
        if w.mode.is_stream() {
            narrow(ui, "Stream", &mut w.stream, 120.0, "ORDERS");
            narrow(ui, "Filter", &mut w.subject, 140.0, "(all subjects)");
            narrow(ui, "From", &mut w.from, 120.0, "all | new | last | seq:N");
            if w.mode == NatsWatchMode::Consume {
                narrow(ui, "Durable", &mut w.durable, 120.0, "switchboard");
            }
            if w.mode == NatsWatchMode::Peek {
                let l = ui.label("Up to");
                let mut limit = w.peek_limit();
                ui.add(egui::DragValue::new(&mut limit).range(1..=100_000))
                    .labelled_by(l.id);
                w.peek_limit = Some(limit);
            }
        } else {
            narrow(ui, "Subject", &mut w.subject, 160.0, "orders.>");
            if w.mode == NatsWatchMode::QueueGroup {
                narrow(ui, "Queue group", &mut w.queue_group, 120.0, "user-service");
            }
        }
        start_buttons(ui, actions);
    });
    let color = if w.mode.is_destructive() {
        ui.visuals().warn_fg_color
    } else {
        ui.visuals().weak_text_color()
    };
    ui.add(
        egui::Label::new(
            RichText::new(format!("{}: {}", w.mode.label(), w.mode.explanation())).color(color),
        )
        .wrap(),
    );
}
