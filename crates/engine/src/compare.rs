//! What differs between exchanges: status, headers, JSON body fields and the phases each
//! timeline has — what *Compare* highlights.

use crate::exchange::{Exchange, Message};
use crate::payload::BodyView;

/// One thing that is not the same in every compared exchange: what it is, and its value in
/// each exchange (`None` where that exchange has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `status`, `response header content-type`, `response body $.email`, `phase tls`…
    pub what: String,
    pub values: Vec<Option<String>>,
}

/// At most this many body fields are compared per side (a huge body must not stall a frame).
const MAX_FIELDS: usize = 2_000;

/// The differences between `exchanges`, in reading order: status, then for the request and
/// the response their headers and JSON body fields, then phases only some timelines have.
pub fn differences(exchanges: &[&Exchange]) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut push = |what: String, values: Vec<Option<String>>| {
        if values.windows(2).any(|w| w[0] != w[1]) {
            out.push(Difference { what, values });
        }
    };
    push(
        "status".to_string(),
        exchanges.iter().map(|e| e.status.clone()).collect(),
    );
    for side in ["request", "response"] {
        let messages: Vec<Option<&Message>> = exchanges
            .iter()
            .map(|e| match side {
                "request" => Some(&e.request),
                _ => e.response.as_ref(),
            })
            .collect();
        let headers: Vec<Vec<(String, String)>> = messages
            .iter()
            .map(|m| {
                m.map(|m| {
                    m.headers
                        .iter()
                        .chain(&m.trailers)
                        .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
                        .collect()
                })
                .unwrap_or_default()
            })
            .collect();
        for name in union(headers.iter().map(|h| h.iter().map(|(n, _)| n.clone()))) {
            let values = headers
                .iter()
                .map(|h| {
                    let v: Vec<&str> = h
                        .iter()
                        .filter(|(n, _)| *n == name)
                        .map(|(_, v)| v.as_str())
                        .collect();
                    (!v.is_empty()).then(|| v.join(", "))
                })
                .collect::<Vec<_>>();
            // Each exchange starts a trace of its own: that they all carry one is the same.
            if name == crate::trace::TRACEPARENT && values.iter().all(Option::is_some) {
                continue;
            }
            push(format!("{side} header {name}"), values);
        }
        let fields: Vec<Vec<(String, String)>> = messages
            .iter()
            .map(|m| match m.map(|m| m.body.view()) {
                Some(BodyView::Json(v)) => {
                    let mut f = Vec::new();
                    flatten("$", &v, &mut f);
                    f
                }
                Some(BodyView::Text(t)) => vec![("(text)".to_string(), t)],
                Some(BodyView::Binary) => vec![(
                    "(binary)".to_string(),
                    format!("{} B", m.map_or(0, |m| m.body.bytes.len())),
                )],
                _ => Vec::new(),
            })
            .collect();
        for path in union(fields.iter().map(|f| f.iter().map(|(p, _)| p.clone()))) {
            let values = fields
                .iter()
                .map(|f| f.iter().find(|(p, _)| *p == path).map(|(_, v)| v.clone()))
                .collect();
            push(format!("{side} body {path}"), values);
        }
    }
    let phases: Vec<Vec<(&str, u64)>> = exchanges
        .iter()
        .map(|e| {
            e.timeline
                .iter()
                .map(|p| (p.phase.label(), p.duration_us()))
                .collect()
        })
        .collect();
    for label in union(phases.iter().map(|p| p.iter().map(|(l, _)| l.to_string()))) {
        let present: Vec<Option<u64>> = phases
            .iter()
            .map(|p| {
                let d: Vec<u64> = p
                    .iter()
                    .filter(|(l, _)| *l == label)
                    .map(|(_, d)| *d)
                    .collect();
                (!d.is_empty()).then(|| d.iter().sum())
            })
            .collect();
        // Durations always differ; a phase only some timelines have is the difference.
        if present.iter().any(Option::is_none) {
            out.push(Difference {
                what: format!("phase {label}"),
                values: present
                    .iter()
                    .map(|d| d.map(|us| format!("{:.2} ms", us as f64 / 1000.0)))
                    .collect(),
            });
        }
    }
    out
}

/// Every name of every list, once, in the order first seen.
fn union<I, N>(lists: I) -> Vec<String>
where
    I: Iterator<Item = N>,
    N: Iterator<Item = String>,
{
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for list in lists {
        for name in list {
            if seen.insert(name.clone()) {
                out.push(name);
            }
        }
    }
    out
}

/// JSON leaves as `$.a.b[0]` → compact value.
fn flatten(path: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_FIELDS {
        return;
    }
    match v {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&format!("{path}.{k}"), v, out);
            }
        }
        serde_json::Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        leaf => out.push((path.to_string(), leaf.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::Header;
    use crate::net::phases::{CONNECT, TLS};
    use crate::payload::Body;
    use crate::timeline::{Phase, PhaseKind};

    fn exchange(status: &str, body: &str, header: &str, phases: &[PhaseKind]) -> Exchange {
        Exchange {
            transport: crate::Transport::Http,
            target: "http://x/user/1".to_string(),
            started_at_ms: 0,
            ok: true,
            status: Some(status.to_string()),
            error: None,
            total_us: 10,
            timeline: phases
                .iter()
                .map(|&phase| Phase {
                    phase,
                    start_us: 0,
                    end_us: 10,
                    detail: None,
                    failed: false,
                    source: None,
                })
                .collect(),
            request: Message::default(),
            response: Some(Message {
                line: String::new(),
                headers: vec![Header::new("Content-Type", header)],
                trailers: vec![],
                body: Body::new(body.as_bytes().to_vec()),
                size_bytes: body.len() as u64,
            }),
            trace: None,
            spans: Vec::new(),
        }
    }

    #[test]
    fn status_headers_body_fields_and_missing_phases_are_named() {
        let a = exchange(
            "200 OK",
            r#"{"id":"1","name":"Alice","tags":["a"]}"#,
            "application/json",
            &[CONNECT, TLS],
        );
        let b = exchange(
            "404 Not Found",
            r#"{"id":"1","name":"Bob"}"#,
            "text/plain",
            &[TLS],
        );
        let d = differences(&[&a, &b]);
        let what: Vec<&str> = d.iter().map(|d| d.what.as_str()).collect();
        assert_eq!(
            what,
            [
                "status",
                "response header content-type",
                "response body $.name",
                "response body $.tags[0]",
                "phase connect",
            ]
        );
        assert_eq!(
            d[2].values,
            [Some("\"Alice\"".to_string()), Some("\"Bob\"".to_string())]
        );
        assert_eq!(d[3].values[1], None);
        assert!(differences(&[&a, &a]).is_empty());
    }

    #[test]
    fn each_exchanges_own_traceparent_is_not_a_difference_but_a_missing_one_is() {
        let traced = |value: &str| {
            let mut e = exchange("200 OK", "{}", "application/json", &[CONNECT]);
            e.request.headers = vec![Header::new("traceparent", value)];
            e
        };
        let a = traced("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        let b = traced("00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01");
        assert!(differences(&[&a, &b]).is_empty());
        let untraced = exchange("200 OK", "{}", "application/json", &[CONNECT]);
        let d = differences(&[&a, &untraced]);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].what, "request header traceparent");
    }
}
