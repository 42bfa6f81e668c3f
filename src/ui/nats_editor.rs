//! The NATS editor: request/reply or publish (core, or JetStream with its ack). Its model is the
//! engine's [`NatsRequest`] itself — what is saved, what the CLI builds and what runs.

use egui::RichText;

use super::editors::{field, key_value_ui};
use crate::engine::fields::SavedBody;
use crate::engine::nats::{NatsOp, NatsRequest};

/// The editor's default: the demo's user lookup over NATS.
pub fn default_request() -> NatsRequest {
    NatsRequest::request(
        crate::engine::nats::DEFAULT_NATS_URL,
        demo_contract::USER_GET_SUBJECT,
        LOOKUP_BODY,
    )
}

const LOOKUP_BODY: &str = "{\n  \"user_id\": \"1\"\n}";
const ORDER_BODY: &str = "{\n  \"event\": \"OrderCreated\",\n  \"order_id\": \"o-1\",\n  \"user_id\": \"1\",\n  \"amount\": 9.5\n}";

/// Switching between request and publish on the demo's example swaps in the other example:
/// the user lookup for a request, an order event to the `ORDERS` stream for a publish. What
/// the user changed is left alone.
fn switch_example(e: &mut NatsRequest) {
    let body = e.body.as_ref().map(SavedBody::to_text).unwrap_or_default();
    match e.op {
        NatsOp::Publish if e.subject == demo_contract::USER_GET_SUBJECT => {
            e.subject = demo_contract::ORDERS_CREATED_SUBJECT.to_string();
            e.jetstream = true;
            if body == LOOKUP_BODY {
                e.body = SavedBody::from_text(ORDER_BODY);
            }
        }
        NatsOp::Request if e.subject == demo_contract::ORDERS_CREATED_SUBJECT => {
            e.subject = demo_contract::USER_GET_SUBJECT.to_string();
            if body == ORDER_BODY {
                e.body = SavedBody::from_text(LOOKUP_BODY);
            }
        }
        _ => {}
    }
}

/// Draws the editor (and, for a publish, its *Publish many* form).
pub fn nats_ui(ui: &mut egui::Ui, e: &mut NatsRequest, many: &mut super::settings::ManyForm) {
    let op_before = e.op;
    ui.horizontal_wrapped(|ui| {
        let l = ui.label("Operation");
        egui::ComboBox::from_id_salt("nats-op")
            .selected_text(e.op.label())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut e.op, NatsOp::Request, "request")
                    .on_hover_text(
                        "Publish with a reply inbox and wait for the first reply: a synchronous call over NATS",
                    );
                ui.selectable_value(&mut e.op, NatsOp::Publish, "publish")
                    .on_hover_text("Fire and forget (core), or store in a stream and wait for its ack (JetStream)");
            })
            .response
            .labelled_by(l.id);
        if e.op == NatsOp::Publish {
            ui.checkbox(&mut e.jetstream, "JetStream (wait for the stream's ack)");
        }
    });
    if e.op != op_before {
        switch_example(e);
    }
    ui.horizontal_wrapped(|ui| {
        field(ui, "Server URL", &mut e.url, "nats://127.0.0.1:4222");
    });
    let second = match (e.op == NatsOp::Publish, e.jetstream) {
        (false, _) => None,
        (true, true) => Some(("Nats-Msg-Id", &mut e.msg_id, "(none: no dedupe)")),
        (true, false) => Some(("Reply to", &mut e.reply_to, "(none)")),
    };
    super::editors::field_pair(ui, ("Subject", &mut e.subject, "user.get"), 220.0, second);
    key_value_ui(ui, "nats-headers", "Headers", &mut e.headers);
    if let Some(b64) = &e.body_base64 {
        // A binary body (a republished message, a file): sent byte for byte, not editable.
        let size = b64.trim().len() / 4 * 3;
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Body").strong());
            ui.label(format!("binary, about {size} bytes: sent byte for byte"));
            if ui
                .small_button("Replace with text")
                .on_hover_text("Drop the binary body and type a text one")
                .clicked()
            {
                e.body_base64 = None;
            }
        });
    } else {
        super::editors::body_field(ui, "Body", &mut e.body, 3);
    }
    let wildcard = e.subject.split('.').any(|t| t == "*" || t == ">");
    if wildcard {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "A message goes to one subject: `*` and `>` only subscribe (watch it in Messages).",
        );
    }
    if e.op == NatsOp::Publish {
        super::editors::many_ui(
            ui,
            "nats-many",
            "Publish many",
            "Replace {n} in the body (and, for JetStream, the Nats-Msg-Id) with 1, 2, 3…",
            many,
        );
    }
}

/// The NATS editor in the registry.
pub struct Editor;

impl super::request_editor::RequestEditor for Editor {
    fn tab(&self) -> super::settings::TransportTab {
        super::settings::TransportTab::Nats
    }

    fn ui(&self, ui: &mut egui::Ui, s: &mut super::settings::Settings) {
        nats_ui(ui, &mut s.editors.nats, &mut s.editors.nats_many);
    }

    fn send_label(&self, s: &super::settings::Settings) -> &'static str {
        match s.editors.nats.op {
            NatsOp::Publish => "Publish",
            NatsOp::Request => "Send",
        }
    }

    fn buttons(&self, s: &super::settings::Settings) -> Vec<super::request_editor::EditorButton> {
        match s.editors.nats.op {
            NatsOp::Publish => vec![super::request_editor::many_button(
                "Publish",
                s.editors.nats_many.count,
                "Publish many (see Publish many above): JetStream with up to 1000 acks in flight, core flushed as it goes",
            )],
            NatsOp::Request => Vec::new(),
        }
    }

    fn to_saved(
        &self,
        s: &super::settings::Settings,
        base: Option<&crate::engine::collection::SavedSpec>,
    ) -> crate::engine::collection::SavedSpec {
        use crate::engine::collection::SavedSpec;
        let mut n = s.editors.nats.clone();
        (n.timeout_ms, n.count) = match base {
            Some(SavedSpec::Nats(b)) => (b.timeout_ms, b.count),
            _ => (None, 1),
        };
        SavedSpec::Nats(n)
    }

    fn apply_saved(
        &self,
        s: &mut super::settings::Settings,
        spec: &crate::engine::collection::SavedSpec,
    ) -> bool {
        let crate::engine::collection::SavedSpec::Nats(n) = spec else {
            return false;
        };
        s.editors.nats = n.clone();
        true
    }
}
