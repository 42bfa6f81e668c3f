//! Readable text for exchanges and watched messages.

use crate::engine::amqp::WatchedMessage;
use crate::engine::{Exchange, Header};

pub use crate::engine::timeline::format_us;

const BAR_WIDTH: usize = 40;

/// The exchange, its timeline as a text waterfall, and the response.
pub fn exchange_text(e: &Exchange) -> String {
    let mut out = String::new();
    out.push_str(&format!("{} {}\n", e.transport.label(), e.target));
    let status = e.outcome_label();
    out.push_str(&format!(
        "{} {status}  total {}  {}, received {} B\n",
        if e.ok { "✔" } else { "✘" },
        format_us(e.total_us),
        e.sent_text(),
        e.response.as_ref().map_or(0, |r| r.size_bytes),
    ));
    let total = e.total_us.max(1);
    let origin = e.timeline.iter().map(|p| p.start_us).min().unwrap_or(0);
    for phase in &e.timeline {
        let start =
            ((phase.start_us - origin) as u128 * BAR_WIDTH as u128 / total as u128) as usize;
        let len = ((phase.duration_us() as u128 * BAR_WIDTH as u128).div_ceil(total as u128)
            as usize)
            .max(1);
        let bar: String = " ".repeat(start.min(BAR_WIDTH))
            + "█"
                .repeat(len.min(BAR_WIDTH + 1 - start.min(BAR_WIDTH)))
                .as_str();
        let line = format!(
            "  {:<17} {:>11} +{:>11}  {:<w$} {}{}",
            phase.phase.label(),
            format_us(phase.start_us),
            format_us(phase.duration_us()),
            bar,
            if phase.failed { "FAILED " } else { "" },
            match (phase.source, phase.detail.as_deref()) {
                (Some(crate::engine::kernel_time::Source::Kernel), Some(detail)) => {
                    format!("[kernel] {detail}")
                }
                (Some(crate::engine::kernel_time::Source::Kernel), None) => "[kernel]".to_string(),
                (_, detail) => detail.unwrap_or_default().to_string(),
            },
            w = BAR_WIDTH + 1,
        );
        out.push_str(line.trim_end());
        out.push('\n');
    }
    if let Some(error) = &e.error {
        out.push_str(&format!("  error: {error}\n"));
    }
    if let Some(trace) = e.trace.as_ref().filter(|_| !e.spans.is_empty()) {
        out.push_str(&format!(
            "  inside the services (trace {}, {} span{}):\n",
            trace.trace_id,
            e.spans.len(),
            if e.spans.len() == 1 { "" } else { "s" }
        ));
        out.push_str(&crate::engine::trace::render_tree(&e.spans));
        if trace.spans_dropped > 0 {
            out.push_str(&format!(
                "  … {} more spans not kept (over {} per exchange)\n",
                trace.spans_dropped,
                crate::engine::MAX_SPANS_PER_EXCHANGE
            ));
        }
    }
    if let Some(response) = &e.response {
        if !response.line.is_empty() {
            out.push_str(&format!("{}\n", response.line));
        }
        push_headers(&mut out, &response.headers);
        let (body, omitted) = response.body.preview_text();
        if !body.is_empty() {
            out.push('\n');
            out.push_str(body.trim_end());
            out.push('\n');
            if omitted > 0 {
                out.push_str(&format!(
                    "… ({omitted} more bytes not shown; --json has {})\n",
                    if response.body.truncated {
                        "the first 32 MiB"
                    } else {
                        "the whole body"
                    }
                ));
            }
            if response.body.truncated {
                out.push_str(&format!(
                    "… (body truncated; {} bytes in all)\n",
                    response.size_bytes
                ));
            }
        }
        if !response.trailers.is_empty() {
            out.push_str("trailers:\n");
            push_headers(&mut out, &response.trailers);
        }
    }
    out.push('\n');
    out
}

fn push_headers(out: &mut String, headers: &[Header]) {
    for h in headers {
        out.push_str(&format!("  {}: {}\n", h.name, h.value));
    }
}

/// One watched message: a summary line, its headers, then the body. Control characters a
/// terminal would act on (escape sequences, carriage returns) are shown escaped.
pub fn message_text(m: &WatchedMessage) -> String {
    use crate::engine::Transport;
    let source = match (m.source.is_empty(), m.transport) {
        (false, _) => &*m.source,
        (true, Transport::Amqp) => "(default)",
        (true, _) => "-",
    };
    let key = match m.transport {
        // A Kafka key is data, not an address: labelled, and null told apart from empty.
        Transport::Kafka => match (m.fields.get("key"), m.field("key_base64")) {
            (Some(serde_json::Value::Null), _) => "key=(null)".to_string(),
            (_, Some(b64)) => format!("key_base64={b64}"),
            _ => format!("key={:?}", m.key),
        },
        _ => m.key.to_string(),
    };
    let mut out = format!(
        "{} {} {}{} {} B",
        m.received_at_ms,
        escaped(source),
        escaped(&key),
        if m.redelivered { " [redelivered]" } else { "" },
        m.size_bytes(),
    );
    for (_, name) in WatchedMessage::columns(m.transport).fields {
        if let Some(value) = m.field(name) {
            out.push_str(&format!(" {name}={}", escaped(&value)));
        }
    }
    out.push('\n');
    for (name, value) in &m.headers {
        let value = crate::engine::watched::text_of(value);
        out.push_str(&format!("  {}: {}\n", escaped(name), escaped(&value)));
    }
    if !m.headers.is_empty() && !m.body.is_empty() {
        out.push('\n');
    }
    let (body, omitted) = m.body.preview_text();
    for line in body.trim_end().lines() {
        out.push_str("  ");
        out.push_str(&escaped(line));
        out.push('\n');
    }
    if omitted > 0 {
        out.push_str(&format!(
            "  … ({omitted} more bytes not shown; --json has the whole body)\n"
        ));
    }
    out
}

/// `text` with control characters (but tabs) escaped, so printing it cannot move the cursor,
/// clear the screen or recolour the terminal.
pub fn escaped(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A load report: throughput, errors by kind, latency percentiles and a text histogram.
pub fn load_text(r: &crate::engine::load::LoadReport) -> String {
    let mut out = format!(
        "{} requests in {:.2} s: {:.1} req/s, {} ok, {} failed\n",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.throughput(),
        r.ok,
        r.requests - r.ok
    );
    for (kind, n) in &r.errors {
        match r.examples.get(kind) {
            Some(example) => out.push_str(&format!("  {n:>8}  {kind}: {example}\n")),
            None => out.push_str(&format!("  {n:>8}  {kind}\n")),
        }
    }
    if r.requests == 0 {
        return out;
    }
    out.push_str("latency:\n");
    for (name, us) in [
        ("min", r.latency_us.min()),
        ("p50", r.percentile_us(50.0)),
        ("p90", r.percentile_us(90.0)),
        ("p99", r.percentile_us(99.0)),
        ("p99.9", r.percentile_us(99.9)),
        ("max", r.latency_us.max()),
    ] {
        out.push_str(&format!("  {name:<6} {:>12}\n", format_us(us)));
    }
    let rows = r.buckets();
    let widest = rows.iter().map(|(_, c)| *c).max().unwrap_or(1).max(1);
    for (end, count) in rows {
        let bar = "#".repeat(((count * 40).div_ceil(widest)) as usize);
        out.push_str(&format!("  < {:>11} {count:>8} {bar}\n", format_us(end)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_tabs_kept() {
        assert_eq!(escaped("plain\ttext"), "plain\ttext");
        assert_eq!(escaped("\u{1b}[2Jgone\r"), "\\u{1b}[2Jgone\\r");
    }
}
