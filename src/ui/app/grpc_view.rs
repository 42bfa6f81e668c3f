//! gRPC extras in the editor: the method browser, the live response stream and the interactive (client/bidi) stream.

use super::*;

/// The gRPC editor's state beyond its request: the methods discovered, an interactive stream and the messages of the last streaming call.
#[derive(Debug)]
pub struct GrpcView {
    /// Methods found for a gRPC address (by the editor's descriptor source), or why not.
    pub grpc_methods: Option<(
        String,
        Result<Vec<crate::engine::descriptors::MethodInfo>, BackendError>,
    )>,
    /// An open interactive stream: its request id and how many messages were sent on it.
    pub open_stream: Option<(u64, usize)>,
    /// Messages of the running or last gRPC response stream, live.
    pub stream_view: Option<(u64, Vec<crate::engine::grpc::Received>)>,
    pub discovering: bool,
}

impl SwitchboardApp {
    pub(super) fn interactive_stream_ui(&mut self, ui: &mut egui::Ui) {
        let streaming_in = matches!(
            self.grpc_method_kind(),
            Some("client stream" | "bidi stream")
        );
        let open = self.grpc_view.open_stream.filter(|(id, _)| {
            self.in_flight
                .get(&TransportTab::Grpc)
                .is_some_and(|f| f.id == *id)
        });
        if !streaming_in && open.is_none() {
            return;
        }
        ui.horizontal_wrapped(|ui| match open {
            None => {
                if ui
                    .button("Open stream")
                    .on_hover_text(
                        "Start the call, then send the editor's JSON as messages one by one",
                    )
                    .clicked()
                {
                    self.open_stream();
                }
            }
            Some((id, sent)) => {
                ui.label(RichText::new(format!("Stream open: {sent} sent")).strong());
                if ui
                    .button("Send message")
                    .on_hover_text("Send the request JSON above as the next message")
                    .clicked()
                {
                    let json = crate::ui::grpc_editor::message_text(&self.settings.editors.grpc);
                    self.command(Command::StreamSend { id, json });
                }
                if ui
                    .button("Half-close")
                    .on_hover_text("No more messages: the server answers or ends its stream")
                    .clicked()
                {
                    self.command(Command::HalfClose { id });
                }
            }
        });
    }

    /// The messages of a gRPC response stream as they arrive (virtualized: fine with 100,000).
    pub(super) fn stream_ui(&self, ui: &mut egui::Ui) {
        let Some((id, messages)) = &self.grpc_view.stream_view else {
            return;
        };
        let live = self
            .in_flight
            .get(&TransportTab::Grpc)
            .is_some_and(|f| f.id == *id);
        ui.label(
            RichText::new(format!(
                "Response stream: {} messages{}",
                messages.len(),
                if live {
                    " (live — Cancel stops it and keeps them)"
                } else {
                    ""
                }
            ))
            .strong(),
        );
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace) + 2.0;
        egui::ScrollArea::vertical()
            .id_salt("stream-messages")
            .max_height(180.0)
            .auto_shrink([false, true])
            .stick_to_bottom(true)
            .show_rows(ui, row_height, messages.len(), |ui, rows| {
                for i in rows {
                    let m = &messages[i];
                    ui.add(
                        egui::Label::new(
                            RichText::new(format!(
                                "#{:<5} {:>11} {:>6} B  {}",
                                i + 1,
                                format_us(m.at_us),
                                m.size_bytes,
                                m.json
                            ))
                            .monospace()
                            .size(12.0),
                        )
                        .truncate(),
                    );
                }
            });
    }

    pub(super) fn grpc_browser_ui(&mut self, ui: &mut egui::Ui) {
        use crate::ui::settings::GrpcSource;
        ui.horizontal_wrapped(|ui| {
            ui.label("Types from");
            let source = &mut self.settings.editors.grpc_source;
            ui.selectable_value(source, GrpcSource::Reflection, "server reflection");
            ui.selectable_value(source, GrpcSource::ProtoFiles, ".proto files");
            ui.selectable_value(source, GrpcSource::Protoset, "protoset");
            ui.selectable_value(source, GrpcSource::Builtin, "built-in user.proto");
            if ui
                .add_enabled(
                    !self.grpc_view.discovering,
                    egui::Button::new("Discover methods"),
                )
                .clicked()
            {
                self.discover();
            }
            if self.grpc_view.discovering {
                ui.spinner();
            }
        });
        if self.settings.editors.grpc_source == GrpcSource::ProtoFiles {
            ui.horizontal_wrapped(|ui| {
                let g = &mut self.settings.editors.grpc;
                crate::ui::grpc_editor::paths_field(
                    ui,
                    "Files",
                    "api/shop.proto other.proto",
                    320.0,
                    &mut g.protos,
                );
                crate::ui::grpc_editor::paths_field(
                    ui,
                    "Import paths",
                    "api third_party",
                    220.0,
                    &mut g.import_paths,
                );
            });
        }
        if self.settings.editors.grpc_source == GrpcSource::Protoset {
            ui.horizontal_wrapped(|ui| {
                let l = ui.label("Protoset");
                ui.add(
                    egui::TextEdit::singleline(&mut self.settings.editors.grpc.protoset)
                        .hint_text("api.protoset")
                        .desired_width(320.0),
                )
                .labelled_by(l.id);
            });
        }
        let g = &mut self.settings.editors.grpc;
        editors::tls_ui(
            ui,
            "grpc-tls",
            "TLS (https:// addresses)",
            [
                &mut g.tls.ca_file,
                &mut g.tls.cert_file,
                &mut g.tls.key_file,
            ],
        );
        let mut chosen = None;
        match &self.grpc_view.grpc_methods {
            Some((addr, Ok(methods))) => {
                egui::CollapsingHeader::new(format!("Methods of {addr} ({})", methods.len()))
                    .id_salt("grpc-methods")
                    .default_open(true)
                    .show(ui, |ui| {
                        egui::Grid::new("grpc-methods-grid")
                            .striped(true)
                            .num_columns(3)
                            .show(ui, |ui| {
                                for m in methods {
                                    let selected = self.settings.editors.grpc.method == m.path;
                                    if ui
                                        .selectable_label(
                                            selected,
                                            RichText::new(&m.path).monospace(),
                                        )
                                        .on_hover_text("Use it, with a request template")
                                        .clicked()
                                    {
                                        chosen = Some(m.clone());
                                    }
                                    ui.label(RichText::new(m.kind).weak());
                                    // The template fills one member per oneof; the
                                    // others are named here, outside the JSON.
                                    let mut types = format!("{} -> {}", m.input, m.output);
                                    for hint in &m.hints {
                                        types.push_str(" · ");
                                        types.push_str(hint);
                                    }
                                    ui.label(RichText::new(types).small().weak());
                                    ui.end_row();
                                }
                            });
                    });
            }
            Some((_, Err(message))) => {
                // The engine's advice names CLI flags; here the choice is "Types from".
                let text = message.to_string().replace(
                    crate::engine::descriptors::NO_REFLECTION_HINT,
                    "choose .proto files or a protoset under \"Types from\"",
                );
                ui.colored_label(ui.visuals().error_fg_color, text);
            }
            None => {}
        }
        if let Some(m) = chosen {
            self.settings.editors.grpc.method = m.path;
            self.settings.editors.grpc.message =
                crate::engine::fields::SavedBody::from_text(&m.template);
        }
    }
}
