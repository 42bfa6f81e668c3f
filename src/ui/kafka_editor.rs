//! The Kafka editor: a produce (topic, partition or key hash, key, headers, value, acks,
//! compression). Its model is the engine's [`KafkaRequest`] itself — what is saved, what the
//! CLI builds and what runs.

use egui::RichText;

use super::editors::{field, key_value_ui};
use crate::engine::kafka::{Acks, Compression, KafkaRequest};

/// The editor's default: an order event to the demo's `orders` topic, keyed by its user.
pub fn default_request() -> KafkaRequest {
    KafkaRequest::produce(
        crate::engine::kafka::DEFAULT_KAFKA_URL,
        demo_contract::ORDERS_TOPIC,
        "1",
        ORDER_BODY,
    )
}

const ORDER_BODY: &str = "{\n  \"event\": \"OrderCreated\",\n  \"order_id\": \"o-1\",\n  \"user_id\": \"1\",\n  \"amount\": 9.5\n}";

/// A labelled single-line field of a given width, on the current row.
fn narrow(ui: &mut egui::Ui, label: &str, value: &mut String, width: f32, hint: &str) {
    let l = ui.label(label);
    ui.add(
        egui::TextEdit::singleline(value)
            .hint_text(hint)
            .desired_width(width)
            .font(egui::TextStyle::Monospace),
    )
    .labelled_by(l.id);
}

/// Draws the editor.
pub fn kafka_ui(ui: &mut egui::Ui, e: &mut KafkaRequest, many: &mut super::settings::ManyForm) {
    ui.horizontal_wrapped(|ui| {
        field(ui, "Brokers", &mut e.url, "kafka://127.0.0.1:9092");
    });
    ui.horizontal_wrapped(|ui| {
        narrow(ui, "Topic", &mut e.topic, 220.0, "orders");
        let mut key = e.key.clone().unwrap_or_default();
        narrow(ui, "Key", &mut key, 160.0, "(null)");
        let mut empty = key.is_empty() && e.key.is_some();
        if key.is_empty() {
            ui.checkbox(&mut empty, "empty, not null").on_hover_text(
                "Kafka tells an empty key (hashed to a partition like any key) from a null one (round robin)",
            );
        }
        let wanted = if key.is_empty() && !empty {
            None
        } else {
            Some(key)
        };
        if wanted != e.key {
            e.key = wanted;
        }
        let mut by_hash = e.partition.is_none();
        let l = ui.label("Partition");
        ui.checkbox(&mut by_hash, "by key")
            .labelled_by(l.id)
            .on_hover_text(
                "The key's murmur2 hash picks the partition (as Java clients); without a key, round robin",
            );
        if by_hash {
            e.partition = None;
        } else {
            let mut p = e.partition.unwrap_or(0);
            ui.add(egui::DragValue::new(&mut p).range(0..=100_000));
            e.partition = Some(p);
        }
    });
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Acks");
        egui::ComboBox::from_id_salt("kafka-acks")
            .selected_text(e.acks.label())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut e.acks, Acks::None, "0")
                    .on_hover_text("Nothing: the record is written and the exchange ends");
                ui.selectable_value(&mut e.acks, Acks::Leader, "1")
                    .on_hover_text("The partition's leader wrote it");
                ui.selectable_value(&mut e.acks, Acks::All, "all")
                    .on_hover_text("Every in-sync replica has it");
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("Compression");
        egui::ComboBox::from_id_salt("kafka-compression")
            .selected_text(e.compression.label())
            .show_ui(ui, |ui| {
                for c in Compression::ALL {
                    ui.selectable_value(&mut e.compression, c, c.label());
                }
            })
            .response
            .labelled_by(l.id);
    });
    key_value_ui(ui, "kafka-headers", "Headers", &mut e.headers);
    if let Some(b64) = &e.body_base64 {
        let size = b64.trim().len() / 4 * 3;
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Value").strong());
            ui.label(format!("binary, about {size} bytes: sent byte for byte"));
            if ui
                .small_button("Replace with text")
                .on_hover_text("Drop the binary value and type a text one")
                .clicked()
            {
                e.body_base64 = None;
            }
        });
    } else {
        super::editors::body_field(ui, "Value", &mut e.body, 3);
    }
    super::editors::many_ui(
        ui,
        "kafka-many",
        "Produce many",
        "Replace {n} in the value and the key with 1, 2, 3…",
        many,
    );
}

/// The Kafka editor in the registry.
pub struct Editor;

impl super::request_editor::RequestEditor for Editor {
    fn tab(&self) -> super::settings::TransportTab {
        super::settings::TransportTab::Kafka
    }

    fn ui(&self, ui: &mut egui::Ui, s: &mut super::settings::Settings) {
        kafka_ui(ui, &mut s.editors.kafka, &mut s.editors.kafka_many);
    }

    fn send_label(&self, _: &super::settings::Settings) -> &'static str {
        "Publish"
    }

    fn buttons(&self, s: &super::settings::Settings) -> Vec<super::request_editor::EditorButton> {
        vec![super::request_editor::many_button(
            "Produce",
            s.editors.kafka_many.count,
            "Produce many (see Produce many above): up to 1000 produce requests in flight on each leader's connection",
        )]
    }

    fn to_saved(
        &self,
        s: &super::settings::Settings,
        base: Option<&crate::engine::collection::SavedSpec>,
    ) -> crate::engine::collection::SavedSpec {
        use crate::engine::collection::SavedSpec;
        let mut k = s.editors.kafka.clone();
        (k.timeout_ms, k.count) = match base {
            Some(SavedSpec::Kafka(b)) => (b.timeout_ms, b.count),
            _ => (None, 1),
        };
        SavedSpec::Kafka(k)
    }

    fn apply_saved(
        &self,
        s: &mut super::settings::Settings,
        spec: &crate::engine::collection::SavedSpec,
    ) -> bool {
        let crate::engine::collection::SavedSpec::Kafka(k) = spec else {
            return false;
        };
        s.editors.kafka = k.clone();
        true
    }
}
