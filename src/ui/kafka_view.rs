//! The Kafka browser (in *Messages*, broker Kafka): topics with their partitions and
//! watermarks, consumer groups with their committed offsets and lag, and a page-by-page read of
//! one partition by offset (asked of the broker each time: a large topic is never held in
//! memory). *Tap* puts a topic into the watch form.

use egui::RichText;

use crate::engine::kafka::admin::{GroupInfo, TopicInfo};
use crate::engine::kafka::watch::{KafkaWatch, Page};
use crate::ui::backend::BackendError;

/// What the browser shows.
#[derive(Debug)]
pub struct KafkaBrowser {
    pub topics: Option<(String, Result<Vec<TopicInfo>, BackendError>)>,
    pub groups: Option<(String, Result<Vec<GroupInfo>, BackendError>)>,
    /// The page shown: what was asked, and the page (or why not).
    pub page: Option<(BrowseAsk, Result<Page, BackendError>)>,
    pub loading: bool,
    /// The browse form.
    pub partition: i32,
    pub offset: i64,
    pub page_size: usize,
    /// The record of the page whose detail is shown (its offset).
    pub selected: Option<i64>,
}

impl Default for KafkaBrowser {
    fn default() -> Self {
        Self {
            topics: None,
            groups: None,
            page: None,
            loading: false,
            partition: 0,
            offset: 0,
            page_size: 50,
            selected: None,
        }
    }
}

/// A page to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowseAsk {
    pub url: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub max: usize,
}

/// What the browser asks the backend for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KafkaAction {
    Topics(String),
    Groups(String),
    Browse(BrowseAsk),
}

/// Draws the browser; returns what to ask the broker for.
pub fn kafka_ui(
    ui: &mut egui::Ui,
    b: &mut KafkaBrowser,
    form: &mut KafkaWatch,
) -> Option<KafkaAction> {
    let mut ask = None;
    egui::CollapsingHeader::new("Topics, groups and browse")
        .id_salt("kafka-browser")
        .default_open(false)
        .show(ui, |ui| {
            let url = form.url.trim().to_string();
            ui.horizontal(|ui| {
                if ui
                    .add_enabled(!b.loading, egui::Button::new("List topics"))
                    .on_hover_text("Partitions, leaders, low/high watermarks and message counts")
                    .clicked()
                {
                    b.loading = true;
                    ask = Some(KafkaAction::Topics(url.clone()));
                }
                if ui
                    .add_enabled(!b.loading, egui::Button::new("List groups"))
                    .on_hover_text("Consumer groups: state, members, committed offsets and lag")
                    .clicked()
                {
                    b.loading = true;
                    ask = Some(KafkaAction::Groups(url.clone()));
                }
                if b.loading {
                    ui.spinner();
                }
            });
            if let Some((from, listed)) = &b.topics {
                topics_ui(ui, from, listed, form);
            }
            if let Some((from, listed)) = &b.groups {
                groups_ui(ui, from, listed);
            }
            ui.separator();
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Browse").strong());
                ui.label(format!("topic {}", form.topic.trim()));
                let l = ui.label("partition");
                ui.add(egui::DragValue::new(&mut b.partition).range(0..=100_000))
                    .labelled_by(l.id);
                let l = ui.label("from offset");
                ui.add(egui::DragValue::new(&mut b.offset).range(0..=i64::MAX))
                    .labelled_by(l.id);
                let l = ui.label("page");
                ui.add(egui::DragValue::new(&mut b.page_size).range(1..=1000))
                    .labelled_by(l.id);
                let go = |offset: i64| {
                    Some(KafkaAction::Browse(BrowseAsk {
                        url: url.clone(),
                        topic: form.topic.trim().to_string(),
                        partition: b.partition,
                        offset,
                        max: b.page_size,
                    }))
                };
                if ui
                    .add_enabled(!b.loading, egui::Button::new("Read"))
                    .on_hover_text("Read one page from the broker (nothing is joined or committed)")
                    .clicked()
                {
                    b.loading = true;
                    ask = go(b.offset);
                }
                if let Some((asked, Ok(page))) = &b.page {
                    let back = (asked.offset - b.page_size as i64).max(page.low);
                    if ui
                        .add_enabled(
                            !b.loading && asked.offset > page.low,
                            egui::Button::new("< Previous"),
                        )
                        .clicked()
                    {
                        b.loading = true;
                        b.offset = back;
                        ask = go(back);
                    }
                    if ui
                        .add_enabled(
                            !b.loading && page.next < page.high,
                            egui::Button::new("Next >"),
                        )
                        .clicked()
                    {
                        b.loading = true;
                        b.offset = page.next;
                        ask = go(page.next);
                    }
                }
            });
            if let Some((asked, page)) = &b.page {
                page_ui(ui, asked, page, &mut b.selected);
            }
        });
    ask
}

fn topics_ui(
    ui: &mut egui::Ui,
    from: &str,
    listed: &Result<Vec<TopicInfo>, BackendError>,
    form: &mut KafkaWatch,
) {
    match listed {
        Err(e) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("cannot list the topics: {e}"),
            );
        }
        Ok(topics) if topics.is_empty() => {
            ui.label(RichText::new(format!("no topics at {from}")).weak());
        }
        Ok(topics) => {
            egui::Grid::new("kafka-topics")
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "topic",
                        "partitions",
                        "messages",
                        "offsets (low..high per partition)",
                        "",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for t in topics {
                        ui.label(&t.topic);
                        ui.label(t.partitions.len().to_string());
                        ui.label(t.messages.to_string());
                        let ranges: Vec<String> = t
                            .partitions
                            .iter()
                            .map(|p| format!("{}: {}..{}", p.partition, p.low, p.high))
                            .collect();
                        ui.label(ranges.join("  "));
                        if ui
                            .small_button("Tap")
                            .on_hover_text("Put this topic in the watch form")
                            .clicked()
                        {
                            form.topic = t.topic.clone();
                        }
                        ui.end_row();
                    }
                });
        }
    }
}

fn groups_ui(ui: &mut egui::Ui, from: &str, listed: &Result<Vec<GroupInfo>, BackendError>) {
    match listed {
        Err(e) => {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("cannot list the consumer groups: {e}"),
            );
        }
        Ok(groups) if groups.is_empty() => {
            ui.label(RichText::new(format!("no consumer groups at {from}")).weak());
        }
        Ok(groups) => {
            egui::Grid::new("kafka-groups")
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "group",
                        "state",
                        "members",
                        "lag",
                        "committed / end per partition",
                    ] {
                        ui.label(RichText::new(h).strong());
                    }
                    ui.end_row();
                    for g in groups {
                        ui.label(&g.group);
                        ui.label(if g.state.is_empty() { "-" } else { &g.state });
                        ui.label(g.members.len().to_string())
                            .on_hover_text(g.members.join("\n"));
                        let lag = RichText::new(g.lag.to_string());
                        ui.label(if g.lag > 0 {
                            lag.color(ui.visuals().warn_fg_color)
                        } else {
                            lag
                        });
                        let offsets: Vec<String> = g
                            .offsets
                            .iter()
                            .map(|o| {
                                let c = if o.committed < 0 {
                                    "-".to_string()
                                } else {
                                    o.committed.to_string()
                                };
                                format!("{}[{}] {c}/{}", o.topic, o.partition, o.high)
                            })
                            .collect();
                        ui.label(offsets.join("  "));
                        ui.end_row();
                    }
                });
        }
    }
}

fn page_ui(
    ui: &mut egui::Ui,
    asked: &BrowseAsk,
    page: &Result<Page, BackendError>,
    selected: &mut Option<i64>,
) {
    match page {
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, e.to_string());
        }
        Ok(page) => {
            ui.label(
                RichText::new(format!(
                    "{}[{}]: offsets {}..{} — showing {} from {}",
                    asked.topic,
                    asked.partition,
                    page.low,
                    page.high,
                    page.messages.len(),
                    page.messages
                        .first()
                        .and_then(|m| m.kafka_offset())
                        .unwrap_or(page.next),
                ))
                .weak(),
            );
            egui::ScrollArea::vertical()
                .id_salt("kafka-page")
                .max_height(220.0)
                .show(ui, |ui| {
                    egui::Grid::new("kafka-page-grid")
                        .striped(true)
                        .show(ui, |ui| {
                            for h in ["offset", "key", "timestamp", "value"] {
                                ui.label(RichText::new(h).strong());
                            }
                            ui.end_row();
                            for m in &page.messages {
                                let offset = m.kafka_offset().unwrap_or(-1);
                                if ui
                                    .selectable_label(*selected == Some(offset), offset.to_string())
                                    .on_hover_text("Show this record's headers and value")
                                    .clicked()
                                {
                                    *selected = (*selected != Some(offset)).then_some(offset);
                                }
                                ui.label(&*m.key);
                                let ts = m.fields.get("timestamp_ms").and_then(|v| v.as_u64());
                                ui.label(ts.map(super::viewer::format_time).unwrap_or_default());
                                let (text, _) = m.body.preview_text();
                                let line: String =
                                    text.split_whitespace().collect::<Vec<_>>().join(" ");
                                ui.label(
                                    RichText::new(super::payload_view::truncate(&line, 90))
                                        .monospace(),
                                );
                                ui.end_row();
                            }
                        });
                });
            // The chosen record in full: its position, headers and value.
            if let Some(m) = page
                .messages
                .iter()
                .find(|m| m.kafka_offset().is_some_and(|o| Some(o) == *selected))
            {
                ui.separator();
                record_ui(ui, m);
            }
        }
    }
}

fn record_ui(ui: &mut egui::Ui, m: &crate::engine::watch::WatchedMessage) {
    use crate::engine::watched::text_of;
    let named = |map: &crate::engine::watched::Named| -> Vec<crate::engine::Header> {
        map.iter()
            .map(|(k, v)| crate::engine::Header::new(k.clone(), text_of(v)))
            .collect()
    };
    ui.label(
        RichText::new(format!(
            "{}[{}] offset {} — key {}",
            m.source,
            m.kafka_partition().unwrap_or(-1),
            m.kafka_offset().unwrap_or(-1),
            if m.fields.get("key").is_some_and(|v| v.is_null()) {
                "(null)".to_string()
            } else {
                format!("{:?}", m.key)
            }
        ))
        .strong(),
    );
    ui.columns(2, |cols| {
        super::payload_view::headers_ui(
            &mut cols[0],
            "Partition, offset and timestamp",
            &named(&m.fields.to_named()),
        );
        super::payload_view::headers_ui(&mut cols[1], "Headers", &named(&m.headers));
    });
    super::payload_view::body_ui(ui, &m.body, m.body.bytes.len() as u64);
}
