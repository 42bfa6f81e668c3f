//! The request editors, one per transport, pre-filled with working examples against the demo.

use egui::RichText;

/// A menu beside a text field (`text` on its button) whose entries, `(label, value)`, fill the
/// field with their value.
pub(crate) fn choices_menu<'a>(
    ui: &mut egui::Ui,
    id_salt: &str,
    text: &str,
    value: &mut String,
    choices: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    egui::ComboBox::from_id_salt(id_salt)
        .selected_text(text)
        .show_ui(ui, |ui| {
            for (label, choice) in choices {
                if ui.selectable_label(value == choice, label).clicked() {
                    *value = choice.to_string();
                }
            }
        });
}

/// A labelled single-line field (the label names it for screen readers and UI tests).
pub(crate) fn field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut String,
    hint: &str,
) -> egui::Response {
    let is_address = ADDRESS_LABELS.contains(&label);
    let label = ui.label(label);
    let response = ui
        .add(
            egui::TextEdit::singleline(value)
                .hint_text(hint)
                .desired_width(f32::INFINITY)
                .font(egui::TextStyle::Monospace),
        )
        .labelled_by(label.id);
    if is_address && ui.data_mut(|d| d.remove_temp::<bool>(focus_address_id()).is_some()) {
        // As a browser's Ctrl+L: the address is focused and selected, ready to be replaced.
        response.request_focus();
        let mut state =
            egui::text_edit::TextEditState::load(ui.ctx(), response.id).unwrap_or_default();
        state
            .cursor
            .set_char_range(Some(egui::text_selection::CCursorRange::select_all_str(
                value,
            )));
        state.store(ui.ctx(), response.id);
    }
    response
}

/// Two fields side by side, each with its label above it (the first `first_width` wide), or
/// one under the other when the editor is too narrow: a label never ends a row away from its
/// field.
pub(crate) fn field_pair(
    ui: &mut egui::Ui,
    first: (&str, &mut String, &str),
    first_width: f32,
    second: Option<(&str, &mut String, &str)>,
) {
    const SECOND_MIN: f32 = 180.0;
    let side_by_side = ui.available_width() >= first_width + SECOND_MIN;
    if !side_by_side || second.is_none() {
        field(ui, first.0, first.1, first.2);
        if let Some((label, value, hint)) = second {
            field(ui, label, value, hint);
        }
        return;
    }
    ui.horizontal(|ui| {
        ui.vertical(|ui| {
            ui.set_width(first_width);
            field(ui, first.0, first.1, first.2);
        });
        if let Some((label, value, hint)) = second {
            ui.vertical(|ui| {
                field(ui, label, value, hint);
            });
        }
    });
}

/// The fields Ctrl+L goes to: each editor's URL or address.
const ADDRESS_LABELS: [&str; 5] = ["URL", "Address", "Broker URL", "Server URL", "Brokers"];

fn focus_address_id() -> egui::Id {
    egui::Id::unique("switchboard-focus-address")
}

/// Ctrl+L: the current editor's URL/address field takes the focus when it is next drawn.
pub(crate) fn focus_address_next(ctx: &egui::Context) {
    ctx.data_mut(|d| d.insert_temp(focus_address_id(), true));
}

/// A labelled multi-line code field.
pub(crate) fn code_field(ui: &mut egui::Ui, label: &str, value: &mut String, rows: usize) {
    let label = ui.label(RichText::new(label).strong());
    ui.add(
        egui::TextEdit::multiline(value)
            .code_editor()
            .desired_rows(rows)
            .desired_width(f32::INFINITY),
    )
    .labelled_by(label.id);
}

/// A labelled multi-line code field editing a request's body (`None`: empty). The text is kept
/// between frames in egui's memory beside the body it stands for, so the body is turned into
/// text (a JSON body pretty-printed) only when it changed elsewhere — a saved request opened, a
/// template filled — not every frame; a huge body costs a comparison per frame, not a copy.
/// Returns the text as shown.
pub(crate) fn body_field(
    ui: &mut egui::Ui,
    label: &str,
    body: &mut Option<crate::engine::fields::SavedBody>,
    rows: usize,
) -> std::sync::Arc<String> {
    use crate::engine::fields::SavedBody;
    type Kept = (Option<SavedBody>, std::sync::Arc<String>);
    let id = ui.make_persistent_id(("body-text", label));
    let kept: Option<Kept> = ui.data_mut(|d| d.remove_temp::<Kept>(id));
    let (mut from, mut text) = match kept {
        Some((from, text)) if from == *body => (from, text),
        _ => (
            body.clone(),
            std::sync::Arc::new(body.as_ref().map(SavedBody::to_text).unwrap_or_default()),
        ),
    };
    let edited = {
        let text = std::sync::Arc::make_mut(&mut text);
        let label = ui.label(RichText::new(label).strong());
        ui.add(
            egui::TextEdit::multiline(text)
                .code_editor()
                .desired_rows(rows)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id)
        .changed()
    };
    if edited {
        *body = SavedBody::from_text(&text);
        from = body.clone();
    }
    ui.data_mut(|d| d.insert_temp::<Kept>(id, (from, text.clone())));
    text
}

/// A name/value row an editor shows: the app's own rows and a request type's header rows.
pub trait Row {
    fn blank() -> Self;
    /// (enabled, name, value).
    fn parts(&mut self) -> (&mut bool, &mut String, &mut String);
    /// Enabled with a name: it is sent.
    fn counts(&self) -> bool;
}

impl Row for crate::engine::fields::SavedHeader {
    fn blank() -> Self {
        Self::new("", "")
    }

    fn parts(&mut self) -> (&mut bool, &mut String, &mut String) {
        (&mut self.enabled, &mut self.name, &mut self.value)
    }

    fn counts(&self) -> bool {
        self.enabled && !self.name.is_empty()
    }
}

/// A table of name/value rows with enable toggles, remove buttons and an add button.
pub fn key_value_ui<R: Row>(ui: &mut egui::Ui, id: &str, title: &str, rows: &mut Vec<R>) {
    egui::CollapsingHeader::new(format!(
        "{title} ({})",
        rows.iter().filter(|r| r.counts()).count()
    ))
    .id_salt(id)
    .default_open(true)
    .show(ui, |ui| {
        let mut remove = None;
        // A row just added takes the cursor (its name field), next frame.
        let focus_id = egui::Id::unique(id).with("focus-new-row");
        let focus_row: Option<usize> = ui.data_mut(|d| d.remove_temp(focus_id));
        // Fields shrink on a narrow window (or a narrow editor beside its result) so that the
        // remove button stays visible: at the narrowest it is a cross.
        let available = ui.available_width();
        let narrow = available < 400.0;
        let (remove_label, remove_width) = if narrow {
            ("×", 22.0)
        } else {
            ("Remove", 60.0)
        };
        // The toggle, three gaps and the button.
        let reserve = 24.0 + 3.0 * 6.0 + remove_width + 20.0;
        let name_width = (available * 0.3).clamp(70.0, 200.0);
        let value_width = (available - name_width - reserve).clamp(60.0, 360.0);
        egui::Grid::new(id)
            .num_columns(4)
            .spacing([6.0, 2.0])
            .show(ui, |ui| {
                for (i, row) in rows.iter_mut().enumerate() {
                    let (enabled, name, value) = row.parts();
                    ui.checkbox(enabled, "").on_hover_text("Send this row");
                    let key = ui.add_sized(
                        [name_width, 20.0],
                        egui::TextEdit::singleline(name)
                            .hint_text("name")
                            .font(egui::TextStyle::Monospace),
                    );
                    if focus_row == Some(i) {
                        key.request_focus();
                    }
                    ui.add_sized(
                        [value_width, 20.0],
                        egui::TextEdit::singleline(value)
                            .hint_text("value")
                            .font(egui::TextStyle::Monospace),
                    );
                    let button = ui.small_button(remove_label);
                    // Named "Remove" for screen readers (and tests) whatever it shows.
                    button.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, "Remove")
                    });
                    if button.on_hover_text("Remove this row").clicked() {
                        remove = Some(i);
                    }
                    ui.end_row();
                }
            });
        if let Some(i) = remove {
            rows.remove(i);
        }
        if ui
            .small_button(format!(
                "+ Add {}",
                title.to_lowercase().trim_end_matches('s')
            ))
            .clicked()
        {
            rows.push(R::blank());
            let new_row = rows.len() - 1;
            ui.data_mut(|d| d.insert_temp(focus_id, new_row));
            ui.ctx().request_repaint();
        }
    });
}

/// TLS files: extra CA, client certificate and key (PEM paths).
pub fn tls_ui(ui: &mut egui::Ui, id: &str, title: &str, [ca, cert, key]: [&mut String; 3]) {
    let set = [&*ca, &*cert, &*key]
        .iter()
        .filter(|v| !v.trim().is_empty())
        .count();
    egui::CollapsingHeader::new(if set > 0 {
        format!("{title} ({set} set)")
    } else {
        title.to_string()
    })
    .id_salt(id)
    .default_open(false)
    .show(ui, |ui| {
        egui::Grid::new((id, "grid")).num_columns(2).show(ui, |ui| {
            for (label, value, hint) in [
                ("CA certificate", ca, "ca.pem (besides the public roots)"),
                ("Client certificate", cert, "client.pem (mutual TLS)"),
                ("Client key", key, "client.key"),
            ] {
                let l = ui.label(label);
                ui.add(
                    egui::TextEdit::singleline(value)
                        .hint_text(hint)
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
                ui.end_row();
            }
        });
    });
}

/// The *Publish many* section of an editor: copies, rate, numbering.
pub fn many_ui(
    ui: &mut egui::Ui,
    id: &str,
    title: &str,
    numbered_hint: &str,
    many: &mut super::settings::ManyForm,
) {
    egui::CollapsingHeader::new(title)
        .id_salt(id)
        .default_open(false)
        .show(ui, |ui| {
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Copies");
                ui.add(
                    egui::DragValue::new(&mut many.count)
                        .range(1..=10_000_000)
                        .speed(10),
                )
                .labelled_by(l.id);
                let l = ui.label("Rate");
                ui.add(
                    egui::DragValue::new(&mut many.rate)
                        .range(0.0..=1_000_000.0)
                        .speed(10)
                        .suffix(" msg/s"),
                )
                .labelled_by(l.id)
                .on_hover_text("0 = as fast as the server takes (or confirms) them");
                ui.checkbox(&mut many.numbered, "Numbered")
                    .on_hover_text(numbered_hint);
            });
        });
}
