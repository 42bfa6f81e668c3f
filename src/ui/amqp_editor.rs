//! The AMQP editor: a publish to an exchange with its properties and headers, *Publish many*,
//! and *Place order* through the Order Service. Its model is the engine's [`SavedAmqp`] itself —
//! what is saved, and what runs once its `{{variables}}` are filled.

use super::editors::{body_field, code_field, field, field_pair, key_value_ui, many_ui};
use super::settings::{ManyForm, OrderForm};
use crate::engine::collection::saved::{MoreProps, SavedAmqp};
use crate::engine::fields::{SavedBody, SavedHeader};

/// The editor's default: an `OrderCreated` event to the demo's exchange.
pub fn default_request() -> SavedAmqp {
    SavedAmqp {
        url: crate::engine::amqp::DEFAULT_AMQP_URL.to_string(),
        exchange: "orders".to_string(),
        routing_key: "order.created".to_string(),
        content_type: "application/json".to_string(),
        message_id: String::new(),
        correlation_id: String::new(),
        persistent: true,
        more: MoreProps::default(),
        headers: vec![SavedHeader::new("x-source", "switchboard")],
        body: SavedBody::from_text(DEFAULT_BODY),
        mandatory: true,
        count: 1,
        timeout_ms: None,
    }
}

/// An order event as the demo's Order Service publishes it.
pub const DEFAULT_BODY: &str = "{\n  \"event\": \"OrderCreated\",\n  \"order_id\": \"manual-1\",\n  \"user_id\": \"1\",\n  \"items\": [{\"sku\": \"book\", \"quantity\": 1}],\n  \"created_at_ms\": 0\n}";

/// Draws the editor with its *Publish many* and *Place order* sections.
pub fn amqp_ui(ui: &mut egui::Ui, e: &mut SavedAmqp, order: &mut OrderForm, many: &mut ManyForm) {
    field(
        ui,
        "Broker URL",
        &mut e.url,
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    );
    field_pair(
        ui,
        (
            "Exchange",
            &mut e.exchange,
            "orders (empty: default exchange)",
        ),
        220.0,
        Some(("Routing key", &mut e.routing_key, "order.created")),
    );
    egui::CollapsingHeader::new("Properties")
        .id_salt("amqp-props")
        .default_open(false)
        .show(ui, |ui| {
            egui::Grid::new("amqp-props-grid")
                .num_columns(2)
                .show(ui, |ui| {
                    let m = &mut e.more;
                    for (label, value, hint) in [
                        ("content_type", &mut e.content_type, "application/json"),
                        ("message_id", &mut e.message_id, "(none)"),
                        ("correlation_id", &mut e.correlation_id, "(none)"),
                        ("type", &mut m.kind, "(none) e.g. OrderCreated"),
                        ("reply_to", &mut m.reply_to, "(none) a queue for replies"),
                        (
                            "expiration",
                            &mut m.expiration,
                            "(none) TTL in ms, e.g. 60000",
                        ),
                        ("app_id", &mut m.app_id, "(none)"),
                        (
                            "user_id",
                            &mut m.user_id,
                            "(none) must be the connection's user",
                        ),
                    ] {
                        let l = ui.label(label);
                        ui.add(
                            egui::TextEdit::singleline(value)
                                .hint_text(hint)
                                .desired_width(300.0),
                        )
                        .labelled_by(l.id);
                        ui.end_row();
                    }
                    ui.label("priority");
                    ui.horizontal_wrapped(|ui| {
                        let mut set = m.priority.is_some();
                        if ui.checkbox(&mut set, "set").changed() {
                            m.priority = set.then_some(m.priority.unwrap_or(0));
                        }
                        if let Some(p) = &mut m.priority {
                            ui.add(egui::DragValue::new(p).range(0..=255));
                        }
                    });
                    ui.end_row();
                    ui.label("delivery_mode");
                    ui.checkbox(&mut e.persistent, "persistent (2)");
                    ui.end_row();
                });
        });
    // Shown with the properties folded too: the publish would be refused.
    let expiration = e.more.expiration.trim();
    if !expiration.is_empty() && !crate::engine::amqp::expiration_ok(expiration) {
        ui.colored_label(
            ui.visuals().error_fg_color,
            "Property expiration is a whole number of milliseconds (e.g. 60000).",
        );
    }
    key_value_ui(ui, "amqp-headers", "Headers", &mut e.headers);
    let body = body_field(ui, "Body", &mut e.body, 3);
    if e.content_type.to_ascii_lowercase().contains("json")
        && !body.trim().is_empty()
        && let Err(err) = serde_json::from_str::<serde_json::Value>(&body)
    {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "The content type says JSON, but the body is not valid JSON ({err}): consumers that parse it will reject it."
            ),
        );
    }
    many_ui(
        ui,
        "amqp-many",
        "Publish many",
        "Replace {n} in the body and message_id with 1, 2, 3…",
        many,
    );
    egui::CollapsingHeader::new("Place order (through the Order Service)")
        .id_salt("amqp-order")
        .default_open(false)
        .show(ui, |ui| {
            field(
                ui,
                "Order URL",
                &mut order.url,
                "http://127.0.0.1:8082/orders",
            );
            code_field(ui, "Order", &mut order.body, 1);
        });
}

/// The AMQP editor in the registry.
pub struct Editor;

impl super::request_editor::RequestEditor for Editor {
    fn tab(&self) -> super::settings::TransportTab {
        super::settings::TransportTab::Amqp
    }

    fn ui(&self, ui: &mut egui::Ui, s: &mut super::settings::Settings) {
        amqp_ui(
            ui,
            &mut s.editors.amqp,
            &mut s.editors.order,
            &mut s.editors.amqp_many,
        );
    }

    fn send_label(&self, _: &super::settings::Settings) -> &'static str {
        "Publish"
    }

    fn buttons(&self, s: &super::settings::Settings) -> Vec<super::request_editor::EditorButton> {
        use super::request_editor::{EditorAction, EditorButton, many_button};
        vec![
            EditorButton {
                label: "Place order".to_string(),
                hover: "POST the order to the Order Service: see its synchronous user check and the queue message it publishes",
                action: EditorAction::PlaceOrder,
            },
            many_button(
                "Publish",
                s.editors.amqp_many.count,
                "Publish many copies (see Publish many above) with pipelined confirms",
            ),
        ]
    }

    fn to_saved(
        &self,
        s: &super::settings::Settings,
        base: Option<&crate::engine::collection::SavedSpec>,
    ) -> crate::engine::collection::SavedSpec {
        use crate::engine::collection::SavedSpec;
        let mut a = s.editors.amqp.clone();
        a.headers.retain(|h| !h.is_blank());
        (a.mandatory, a.count, a.timeout_ms) = match base {
            Some(SavedSpec::Amqp(b)) => (b.mandatory, b.count, b.timeout_ms),
            _ => (true, 1, None),
        };
        SavedSpec::Amqp(a)
    }

    fn apply_saved(
        &self,
        s: &mut super::settings::Settings,
        spec: &crate::engine::collection::SavedSpec,
    ) -> bool {
        let crate::engine::collection::SavedSpec::Amqp(a) = spec else {
            return false;
        };
        s.editors.amqp = a.clone();
        true
    }
}
