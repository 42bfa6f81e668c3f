//! The timeline waterfall: one bar per phase on a shared time axis, labelled with its duration;
//! hover a bar for exact microseconds. Several exchanges can share one axis (compare).

use egui::{Align2, Color32, FontId, Rect, RichText, Sense, Stroke, StrokeKind, pos2, vec2};

use crate::engine::timeline::PhaseClass;
use crate::engine::{Exchange, PhaseKind};

const ROW_HEIGHT: f32 = 20.0;
const LABEL_WIDTH: f32 = 130.0;
const DURATION_WIDTH: f32 = 90.0;
/// Phases drawn at most per exchange (a long stream has one per message).
const MAX_DRAWN_PHASES: usize = 160;

pub use crate::engine::timeline::format_us;

/// The colour of a phase: connection set-up warm, sending blue, waiting green, receiving teal.
pub fn phase_color(kind: PhaseKind) -> Color32 {
    match kind.class() {
        PhaseClass::Resolve => Color32::from_rgb(0x26, 0xa6, 0x9a),
        PhaseClass::Connect => Color32::from_rgb(0xf0, 0x9a, 0x3e),
        PhaseClass::Secure => Color32::from_rgb(0xab, 0x6c, 0xe0),
        PhaseClass::Send => Color32::from_rgb(0x4f, 0x8f, 0xe8),
        PhaseClass::Wait => Color32::from_rgb(0x5c, 0xb8, 0x5c),
        PhaseClass::Receive => Color32::from_rgb(0x3d, 0xb5, 0xd6),
        PhaseClass::Client => Color32::from_rgb(0x9a, 0x9a, 0x9a),
    }
}

/// Draws the waterfalls of `exchanges` on one axis whose end is the longest total.
pub fn waterfall_ui(ui: &mut egui::Ui, exchanges: &[(&str, &Exchange)]) {
    // Spans that end later (a consumer processing the event after the response) extend it.
    let axis_us = exchanges
        .iter()
        .flat_map(|(_, e)| {
            let spans_end = e.spans_end_us().max(0) as u64;
            e.timeline.iter().map(|p| p.end_us).chain([spans_end])
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let width = ui
        .available_width()
        .max(LABEL_WIDTH + DURATION_WIDTH + 100.0);
    let bar_width = width - LABEL_WIDTH - DURATION_WIDTH;
    axis_ui(ui, width, bar_width, axis_us);
    for (name, exchange) in exchanges {
        if exchanges.len() > 1 {
            ui.label(
                egui::RichText::new(format!(
                    "{name}: {}  ({})",
                    exchange.target,
                    format_us(exchange.total_us)
                ))
                .strong(),
            );
        }
        if exchange.timeline.is_empty() {
            let text = match &exchange.error {
                Some(error) => format!("nothing was sent: {}", error.message),
                None => "no phases recorded".to_string(),
            };
            ui.colored_label(ui.visuals().error_fg_color, text);
            continue;
        }
        let phases = exchange.timeline.len();
        for (i, phase) in exchange.timeline.iter().enumerate() {
            // A long stream has a phase per message: draw the first and the last ones.
            if phases > MAX_DRAWN_PHASES && i >= MAX_DRAWN_PHASES - 40 && i < phases - 40 {
                if i == MAX_DRAWN_PHASES - 40 {
                    ui.label(
                        RichText::new(format!(
                            "… {} more phases (all of them are in Copy as JSON)",
                            phases - MAX_DRAWN_PHASES
                        ))
                        .weak(),
                    );
                }
                continue;
            }
            let (rect, response) = ui.allocate_exact_size(vec2(width, ROW_HEIGHT), Sense::hover());
            let painter = ui.painter_at(rect);
            let text_color = ui.visuals().text_color();
            painter.text(
                pos2(rect.left() + 4.0, rect.center().y),
                Align2::LEFT_CENTER,
                phase.phase.label(),
                FontId::proportional(13.0),
                text_color,
            );
            let x = |us: u64| rect.left() + LABEL_WIDTH + bar_width * (us as f32 / axis_us as f32);
            let bar = Rect::from_min_max(
                pos2(x(phase.start_us), rect.top() + 3.0),
                pos2(
                    x(phase.end_us).max(x(phase.start_us) + 2.0),
                    rect.bottom() - 3.0,
                ),
            );
            let cancelled = exchange
                .error
                .as_ref()
                .is_some_and(|e| e.kind == crate::engine::ErrorKind::Cancelled);
            let color = if phase.failed && cancelled {
                // The user's cancel: neutral, not a failure.
                ui.visuals().weak_text_color()
            } else if phase.failed {
                ui.visuals().error_fg_color
            } else {
                phase_color(phase.phase)
            };
            painter.rect_filled(bar, 2.0, color);
            if phase.failed {
                painter.rect_stroke(bar, 2.0, Stroke::new(1.0, text_color), StrokeKind::Outside);
            }
            painter.text(
                pos2(rect.right() - 4.0, rect.center().y),
                Align2::RIGHT_CENTER,
                format_us(phase.duration_us()),
                FontId::monospace(12.0),
                text_color,
            );
            let mut tip = format!(
                "{}\nstart {} µs\nend {} µs\nduration {} µs",
                phase.phase.label(),
                phase.start_us,
                phase.end_us,
                phase.duration_us()
            );
            if let Some(detail) = &phase.detail {
                tip.push_str(&format!("\n{detail}"));
            }
            match phase.source {
                Some(crate::engine::kernel_time::Source::Kernel) => {
                    tip.push_str("\ninstants from the kernel (packet timestamps)");
                }
                Some(crate::engine::kernel_time::Source::UserSpace) => {
                    tip.push_str("\ninstants seen by Switchboard's task (include its wake-up)");
                }
                None => {}
            }
            if phase.failed
                && let Some(error) = &exchange.error
            {
                if cancelled {
                    tip.push_str("\ncancelled");
                } else {
                    tip.push_str(&format!("\nFAILED: {}", error.message));
                }
            }
            let label = format!(
                "phase {} {}",
                phase.phase.label(),
                format_us(phase.duration_us())
            );
            response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
            response.on_hover_text(tip);
            // The failing phase carries the error right under it.
            if phase.failed
                && i + 1 == exchange.timeline.len()
                && let Some(error) = &exchange.error
            {
                // Under the bars, wrapped within their column.
                ui.horizontal(|ui| {
                    ui.add_space(LABEL_WIDTH);
                    let color = if cancelled {
                        ui.visuals().weak_text_color()
                    } else {
                        ui.visuals().error_fg_color
                    };
                    ui.add(egui::Label::new(RichText::new(&error.message).color(color)).wrap());
                });
            }
        }
        if let Some(trace) = &exchange.trace {
            // When Switchboard itself produced the message, its wait in the broker starts
            // where the exchange's last send ended.
            let sent_us = exchange
                .timeline
                .iter()
                .filter(|p| p.phase.class() == crate::engine::timeline::PhaseClass::Send)
                .map(|p| p.end_us as i64)
                .max();
            spans_ui(
                ui,
                trace,
                &exchange.spans,
                sent_us,
                width,
                bar_width,
                axis_us,
            );
        }
    }
}

/// The services' spans of the exchange's trace, below its phases: one row per span, indented
/// under its parent, coloured by service, on the same axis.
fn spans_ui(
    ui: &mut egui::Ui,
    trace: &crate::engine::trace::ExchangeTrace,
    spans: &[crate::engine::trace::TimelineSpan],
    sent_us: Option<i64>,
    width: f32,
    bar_width: f32,
    axis_us: u64,
) {
    /// Spans drawn at most (a trace with thousands is summarised).
    const MAX_SPANS: usize = 60;
    if spans.is_empty() {
        return;
    }
    /// A service's name in the header is cut here (a name of hundreds of characters would
    /// wrap the header over lines).
    const SERVICE_CHARS: usize = 40;
    let services: std::collections::BTreeSet<String> = spans
        .iter()
        .map(|s| match s.service.char_indices().nth(SERVICE_CHARS) {
            Some((cut, _)) => format!("{}…", &s.service[..cut]),
            None => s.service.clone(),
        })
        .collect();
    ui.label(
        RichText::new(format!(
            "Inside the services · {} span{} from {}",
            spans.len(),
            if spans.len() == 1 { "" } else { "s" },
            services.into_iter().collect::<Vec<_>>().join(", ")
        ))
        .small()
        .weak(),
    )
    .on_hover_text(format!("trace {}", trace.trace_id));
    let by_id: std::collections::HashMap<&str, &crate::engine::trace::TimelineSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let tree = crate::engine::trace::tree(spans);
    let text_color = ui.visuals().text_color();
    for (depth, span) in tree.iter().take(MAX_SPANS) {
        let (rect, response) = ui.allocate_exact_size(vec2(width, ROW_HEIGHT), Sense::hover());
        let painter = ui.painter_at(rect);
        let indent = 4.0 + 10.0 * (*depth).min(6) as f32;
        // The service in the label column; the span's own name beside its bar (a narrow column
        // would cut every name to the same prefix).
        let mut job = egui::text::LayoutJob::single_section(
            span.service.clone(),
            egui::TextFormat::simple(FontId::proportional(12.0), text_color),
        );
        job.wrap = egui::text::TextWrapping::truncate_at_width(LABEL_WIDTH - indent - 4.0);
        let galley = painter.layout_job(job);
        painter.galley(
            pos2(
                rect.left() + indent,
                rect.center().y - galley.size().y / 2.0,
            ),
            galley,
            text_color,
        );
        let at = |us: i64| {
            let us = us.clamp(0, axis_us as i64) as f32;
            rect.left() + LABEL_WIDTH + bar_width * (us / axis_us as f32)
        };
        let color = service_color(&span.service);
        let bar = Rect::from_min_max(
            pos2(at(span.start_us), rect.top() + 5.0),
            pos2(
                at(span.end_us).max(at(span.start_us) + 2.0),
                rect.bottom() - 5.0,
            ),
        );
        let failed = span.status.starts_with("error");
        painter.rect_filled(bar, 2.0, color);
        let names_end = rect.right() - DURATION_WIDTH;
        let width = painter
            .layout_no_wrap(span.label(), FontId::proportional(11.0), text_color)
            .size()
            .x;
        let (name_at, over_bar) = if bar.right() + 4.0 + width <= names_end {
            (bar.right() + 4.0, false)
        } else if bar.left() - 4.0 - width >= rect.left() + LABEL_WIDTH {
            (bar.left() - 4.0 - width, false)
        } else {
            // No room either side: over the bar, dark on its light colour.
            let at = (bar.left() + 2.0)
                .min(names_end - width)
                .max(rect.left() + LABEL_WIDTH);
            (at, true)
        };
        let name_color = ui.visuals().weak_text_color();
        let name = painter.layout_no_wrap(span.label(), FontId::proportional(11.0), name_color);
        let name_pos = pos2(name_at, rect.center().y - name.size().y / 2.0);
        if over_bar {
            // No room beside the bar: the name on a patch of the panel's colour, readable over
            // the bar and the wait line alike (dark text was lost on the dark panel).
            painter.rect_filled(
                Rect::from_min_size(name_pos, name.size()).expand(1.0),
                2.0,
                ui.visuals().panel_fill.gamma_multiply(0.85),
            );
        }
        painter.galley(name_pos, name, name_color);
        if failed {
            painter.rect_stroke(
                bar,
                2.0,
                Stroke::new(1.5, ui.visuals().error_fg_color),
                StrokeKind::Outside,
            );
        }
        // The asynchronous hop: the time the message waited between its producer (a
        // service's span, or Switchboard's own publish) and this consumer, drawn as a thin
        // line along the row's foot (through its middle it struck the span's name out).
        let from = match span.parent_span_id.as_deref() {
            Some(p) if span.kind == "consumer" => match by_id.get(p) {
                Some(parent) if parent.kind == "producer" => Some(parent.end_us),
                Some(_) => None,
                None if p == trace.span_id => sent_us,
                None => None,
            },
            _ => None,
        };
        let waited = from.map(|from| (from, span.start_us - from));
        if let Some((from, wait)) = waited
            && wait > 0
        {
            let y = rect.bottom() - 2.0;
            let stroke = Stroke::new(1.0, ui.visuals().weak_text_color());
            painter.line_segment([pos2(at(from), y), pos2(at(span.start_us), y)], stroke);
            painter.line_segment([pos2(at(from), y - 3.0), pos2(at(from), y)], stroke);
        }
        let duration = (span.end_us - span.start_us).max(0) as u64;
        painter.text(
            pos2(rect.right() - 4.0, rect.center().y),
            Align2::RIGHT_CENTER,
            format_us(duration),
            FontId::monospace(12.0),
            text_color,
        );
        let short = |text: &str| match text.char_indices().nth(120) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_string(),
        };
        let mut tip = format!(
            "{} · {} ({})\nstart {} µs\nduration {} µs\nstatus {}",
            short(&span.service),
            short(&span.name),
            span.kind,
            span.start_us,
            duration,
            short(&span.status)
        );
        if let Some((_, wait)) = waited {
            tip.push_str(&format!(
                "\nwaited {} in the broker before it was consumed",
                format_us(wait.max(0) as u64)
            ));
        }
        // A hover stays readable whatever a service sent: long values are cut, and only the
        // first attributes are listed (all of them are in Copy as JSON).
        const TIP_ATTRIBUTES: usize = 30;
        const TIP_VALUE_CHARS: usize = 200;
        let cut = |text: String| match text.char_indices().nth(TIP_VALUE_CHARS) {
            Some((at, _)) => {
                // A value the receiver already cut says its size before the cut: that one.
                let size = text
                    .rfind("…(")
                    .filter(|_| text.ends_with(" bytes)"))
                    .map_or_else(
                        || format!("…({} bytes)", text.len()),
                        |i| text[i..].to_string(),
                    );
                format!("{}{size}", &text[..at])
            }
            None => text,
        };
        for (key, value) in span.attributes.iter().take(TIP_ATTRIBUTES) {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            tip.push_str(&format!("\n{} = {}", cut(key.clone()), cut(value)));
        }
        if span.attributes.len() > TIP_ATTRIBUTES {
            tip.push_str(&format!(
                "\n… {} more attributes (in Copy as JSON)",
                span.attributes.len() - TIP_ATTRIBUTES
            ));
        }
        let label = format!(
            "span {} {} {}",
            span.service,
            span.name,
            format_us(duration)
        );
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        response.on_hover_text(tip);
    }
    let not_drawn = tree.len().saturating_sub(MAX_SPANS);
    if not_drawn > 0 || trace.spans_dropped > 0 {
        let mut note = String::from("…");
        if not_drawn > 0 {
            note.push_str(&format!(" {not_drawn} more spans (in Copy as JSON)"));
        }
        if trace.spans_dropped > 0 {
            note.push_str(&format!(
                "{} {} spans not kept (over {} per exchange; not in Copy as JSON)",
                if not_drawn > 0 { ";" } else { "" },
                trace.spans_dropped,
                crate::engine::MAX_SPANS_PER_EXCHANGE
            ));
        }
        ui.label(RichText::new(note).weak());
    }
}

/// A service's colour: the same service, the same colour, in every trace.
fn service_color(service: &str) -> Color32 {
    const PALETTE: [Color32; 6] = [
        Color32::from_rgb(0xe0, 0x7b, 0x91),
        Color32::from_rgb(0x8e, 0x7c, 0xc3),
        Color32::from_rgb(0xd4, 0xa0, 0x17),
        Color32::from_rgb(0x4d, 0xb6, 0xac),
        Color32::from_rgb(0x79, 0x86, 0xcb),
        Color32::from_rgb(0xa1, 0x88, 0x7f),
    ];
    let hash = service
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    PALETTE[hash as usize % PALETTE.len()]
}

fn axis_ui(ui: &mut egui::Ui, width: f32, bar_width: f32, axis_us: u64) {
    let (rect, _) = ui.allocate_exact_size(vec2(width, 16.0), Sense::hover());
    let painter = ui.painter_at(rect);
    let color = ui.visuals().weak_text_color();
    // As many ticks as their labels ("1003.40 ms" is about 60 px) have room for.
    let steps = ((bar_width / 95.0) as usize).clamp(1, 4);
    for i in 0..=steps {
        let frac = i as f32 / steps as f32;
        let x = rect.left() + LABEL_WIDTH + bar_width * frac;
        painter.line_segment(
            [pos2(x, rect.bottom() - 4.0), pos2(x, rect.bottom())],
            Stroke::new(1.0, color),
        );
        let align = if i == steps {
            Align2::RIGHT_BOTTOM
        } else {
            Align2::CENTER_BOTTOM
        };
        painter.text(
            pos2(x, rect.bottom() - 4.0),
            align,
            format_tick((axis_us as f64 * f64::from(frac)) as u64, axis_us),
            FontId::proportional(11.0),
            color,
        );
    }
}

/// A tick of an axis `axis_us` long, in the unit its end is written in: one unit per axis
/// (not `6048.57 ms` beside `12.10 s`).
fn format_tick(us: u64, axis_us: u64) -> String {
    if axis_us < 1000 {
        format!("{us} µs")
    } else if axis_us < 10_000_000 {
        format!("{:.2} ms", us as f64 / 1000.0)
    } else {
        format!("{:.2} s", us as f64 / 1_000_000.0)
    }
}

/// A filled line over the last `window` seconds (x from `-window` to 0, y from 0), no axes,
/// no interaction: the strip's and the viewer's sparklines.
pub fn sparkline(
    ui: &mut egui::Ui,
    id: impl std::hash::Hash + std::fmt::Debug,
    [width, height]: [f32; 2],
    window: f64,
    name: &str,
    points: Vec<[f64; 2]>,
) -> egui::Response {
    egui_plot::Plot::new(id)
        .width(width)
        .height(height)
        .show_axes(false)
        .show_grid(false)
        .show_x(false)
        .show_y(false)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .include_x(-window)
        .include_x(0.0)
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |plot| {
            plot.line(egui_plot::Line::new(name, points).fill(0.0))
        })
        .response
}
