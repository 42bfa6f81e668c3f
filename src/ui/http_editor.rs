//! The HTTP editor: method, URL, headers, a text or multipart body, TLS files. Its model is the
//! engine's [`SavedHttp`] itself — what is saved, and what runs once its `{{variables}}` are
//! filled; which body is being edited (text or form: both are kept while editing, only the
//! chosen one is sent and saved) is the one choice beside it ([`BodyMode`]).

use egui::RichText;

use super::editors::{body_field, field, key_value_ui, tls_ui};
use super::settings::{BodyMode, HTTP_METHODS};
use crate::engine::collection::saved::{SavedFormPart, SavedHttp, SavedTls};
use crate::engine::fields::{SavedBody, SavedHeader};

/// The editor's default: the demo's user lookup.
pub fn default_request() -> SavedHttp {
    SavedHttp {
        method: "GET".to_string(),
        url: "http://127.0.0.1:8081/user/1".to_string(),
        headers: vec![SavedHeader::new("Accept", "application/json")],
        body: None,
        form: Vec::new(),
        timeout_ms: None,
        tls: SavedTls::default(),
    }
}

/// The text body as the editor shows it.
pub fn body_text(e: &SavedHttp) -> String {
    e.body.as_ref().map(SavedBody::to_text).unwrap_or_default()
}

/// The request as saved and sent: only the chosen body, parts with something in them, paths
/// and types trimmed.
pub fn for_mode(mut e: SavedHttp, mode: BodyMode) -> SavedHttp {
    match mode {
        BodyMode::Text => e.form.clear(),
        BodyMode::Form => e.body = None,
    }
    e.form
        .retain(|p| !p.name.trim().is_empty() || !p.value.is_empty() || !p.file.trim().is_empty());
    for p in &mut e.form {
        p.file = p.file.trim().to_string();
        p.content_type = p.content_type.trim().to_string();
    }
    e
}

/// The body mode a saved request calls for.
pub fn mode_of(e: &SavedHttp) -> BodyMode {
    if e.form.is_empty() {
        BodyMode::Text
    } else {
        BodyMode::Form
    }
}

/// Draws the editor.
pub fn http_ui(ui: &mut egui::Ui, e: &mut SavedHttp, mode: &mut BodyMode) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Method");
        egui::ComboBox::from_id_salt("http-method")
            .selected_text(RichText::new(&e.method).strong())
            .width(90.0)
            .show_ui(ui, |ui| {
                for m in HTTP_METHODS {
                    ui.selectable_value(&mut e.method, m.to_string(), m);
                }
            })
            .response
            .labelled_by(label.id);
        field(ui, "URL", &mut e.url, "http://127.0.0.1:8081/user/1");
    });
    key_value_ui(ui, "http-headers", "Headers", &mut e.headers);
    if e.method != "GET" && e.method != "HEAD" || e.body.is_some() || !e.form.is_empty() {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new("Body").strong());
            ui.selectable_value(mode, BodyMode::Text, "text");
            ui.selectable_value(mode, BodyMode::Form, "multipart form");
        });
        match mode {
            BodyMode::Text => {
                let text = body_field(ui, "Body text", &mut e.body, 4);
                json_content_type_offer_ui(ui, e, &text);
            }
            BodyMode::Form => form_ui(ui, &mut e.form),
        }
    }
    if e.url.trim_start().starts_with("https://") || !e.tls.is_empty() {
        let t = &mut e.tls;
        tls_ui(
            ui,
            "http-tls",
            "TLS",
            [&mut t.ca_file, &mut t.cert_file, &mut t.key_file],
        );
    }
}

/// A JSON body without a `Content-Type`: offer to set it (servers often refuse JSON sent as
/// nothing in particular), as Postman does.
fn json_content_type_offer_ui(ui: &mut egui::Ui, e: &mut SavedHttp, body: &str) {
    let has_content_type = e
        .headers
        .iter()
        .any(|h| h.enabled && h.name.trim().eq_ignore_ascii_case("content-type"));
    let is_json = matches!(
        serde_json::from_str::<serde_json::Value>(body.trim()),
        Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_))
    );
    if has_content_type || !is_json {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new("The body is JSON but no Content-Type is set.")
                .color(ui.visuals().warn_fg_color),
        );
        if ui
            .small_button("Set Content-Type: application/json")
            .clicked()
        {
            e.headers
                .push(SavedHeader::new("Content-Type", "application/json"));
        }
    });
}

/// A multipart form's parts. A part is a file when it has a path; a part switched to *file*
/// before its path is typed is remembered as such for the frames in between.
fn form_ui(ui: &mut egui::Ui, rows: &mut Vec<SavedFormPart>) {
    let mut remove = None;
    let mut no_file = Vec::new();
    // The text fields share what the row leaves them (checkboxes and Remove take ~200 px):
    // the whole row fits the editor at 1280×800; narrower still, it scrolls sideways.
    let room = (ui.available_width() - 200.0).max(240.0);
    let (name_w, value_w, type_w) = (room * 0.25, room * 0.5, room * 0.25);
    egui::ScrollArea::horizontal()
        .id_salt("http-form-scroll")
        .show(ui, |ui| {
            egui::Grid::new("http-form")
                .num_columns(6)
                .spacing([6.0, 2.0])
                .show(ui, |ui| {
                    for (i, row) in rows.iter_mut().enumerate() {
                        ui.checkbox(&mut row.enabled, "")
                            .on_hover_text("Send this part");
                        ui.add_sized(
                            [name_w, 20.0],
                            egui::TextEdit::singleline(&mut row.name)
                                .hint_text("name")
                                .font(egui::TextStyle::Monospace),
                        );
                        let flag = ui.make_persistent_id(("http-form-file", i));
                        let mut is_file = !row.file.is_empty()
                            || (row.value.is_empty()
                                && ui.data(|d| d.get_temp(flag)).unwrap_or(false));
                        if ui
                            .checkbox(&mut is_file, "file")
                            .on_hover_text(
                                "The value is a file's path (relative to the collection folder)",
                            )
                            .changed()
                        {
                            if is_file {
                                row.file = std::mem::take(&mut row.value);
                            } else {
                                row.value = std::mem::take(&mut row.file);
                            }
                        }
                        ui.data_mut(|d| d.insert_temp(flag, is_file));
                        if is_file && row.file.trim().is_empty() && row.enabled {
                            no_file.push(if row.name.trim().is_empty() {
                                format!("Part {}", i + 1)
                            } else {
                                format!("Part “{}”", row.name.trim())
                            });
                        }
                        let (text, hint) = if is_file {
                            (&mut row.file, "path/to/file")
                        } else {
                            (&mut row.value, "value")
                        };
                        ui.add_sized(
                            [value_w, 20.0],
                            egui::TextEdit::singleline(text)
                                .hint_text(hint)
                                .font(egui::TextStyle::Monospace),
                        );
                        ui.add_sized(
                            [type_w, 20.0],
                            egui::TextEdit::singleline(&mut row.content_type)
                                .hint_text("type (optional)")
                                .font(egui::TextStyle::Monospace),
                        );
                        if ui.small_button("Remove").clicked() {
                            remove = Some(i);
                        }
                        ui.end_row();
                    }
                });
        });
    for name in no_file {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!(
                "{name} has no file yet: until it has a path it is sent as an empty text field."
            ),
        );
    }
    if let Some(i) = remove {
        rows.remove(i);
    }
    if ui.small_button("+ Add part").clicked() {
        rows.push(SavedFormPart::text("", ""));
    }
}

/// The HTTP editor in the registry.
pub struct Editor;

impl super::request_editor::RequestEditor for Editor {
    fn tab(&self) -> super::settings::TransportTab {
        super::settings::TransportTab::Http
    }

    fn ui(&self, ui: &mut egui::Ui, s: &mut super::settings::Settings) {
        http_ui(ui, &mut s.editors.http, &mut s.editors.http_body_mode);
    }

    fn to_saved(
        &self,
        s: &super::settings::Settings,
        base: Option<&crate::engine::collection::SavedSpec>,
    ) -> crate::engine::collection::SavedSpec {
        use crate::engine::collection::SavedSpec;
        let mut h = for_mode(s.editors.http.clone(), s.editors.http_body_mode);
        h.headers.retain(|h| !h.is_blank());
        h.tls = h.tls.trimmed();
        h.timeout_ms = match base {
            Some(SavedSpec::Http(b)) => b.timeout_ms,
            _ => None,
        };
        SavedSpec::Http(h)
    }

    fn apply_saved(
        &self,
        s: &mut super::settings::Settings,
        spec: &crate::engine::collection::SavedSpec,
    ) -> bool {
        let crate::engine::collection::SavedSpec::Http(h) = spec else {
            return false;
        };
        s.editors.http_body_mode = mode_of(h);
        s.editors.http = h.clone();
        true
    }
}
