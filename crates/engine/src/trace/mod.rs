//! OpenTelemetry traces: the W3C trace context Switchboard sends with a request
//! (`traceparent`), the spans services export back to Switchboard's OTLP receiver
//! ([`receiver`]), kept per trace ([`SpanStore`]), and those spans placed on an exchange's clock.

pub mod receiver;
mod store;

/// The OTLP message types, for those who build export requests (tests, benchmarks).
pub use opentelemetry_proto as otlp;
pub use store::{Follower, SpanStore, StoreCounts};

use serde::{Deserialize, Serialize};

/// The header (and metadata / message header) name of the W3C trace context.
pub const TRACEPARENT: &str = "traceparent";

/// A W3C trace context: the trace an exchange belongs to and the span id Switchboard's side
/// of it has (the parent of the services' server spans).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits, not all zero.
    pub trace_id: String,
    /// 16 lowercase hex digits, not all zero.
    pub span_id: String,
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace with a random id (sampled).
    pub fn new_random() -> Self {
        let (a, b) = (random_u64(), random_u64());
        let span = random_u64();
        Self {
            trace_id: format!("{a:016x}{b:016x}"),
            span_id: format!("{:016x}", span.max(1)),
            sampled: true,
        }
    }

    /// `00-<trace id>-<span id>-<flags>`.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Reads a `traceparent` value (version 00); `None` when it is not one.
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        };
        if version != "00"
            || parts.next().is_some()
            || !hex(trace, 32)
            || !hex(span, 16)
            || !hex(flags, 2)
            || trace.bytes().all(|b| b == b'0')
            || span.bytes().all(|b| b == b'0')
        {
            return None;
        }
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(Self {
            trace_id: trace.to_string(),
            span_id: span.to_string(),
            sampled: flags & 1 == 1,
        })
    }
}

/// The trace an exchange started: the context it sent and when its clock started (µs since
/// the Unix epoch, to place the services' spans on it: `Exchange::place_spans`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExchangeTrace {
    pub trace_id: String,
    /// Switchboard's own span id: the parent the services' first spans name.
    pub span_id: String,
    pub started_unix_us: u64,
    /// Spans of the trace not kept on the exchange: past [`crate::exchange::MAX_SPANS_PER_EXCHANGE`]
    /// (the latest ones). Not in `spans`, not in Copy as JSON.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub spans_dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

tokio::task_local! {
    static SENT: TraceContext;
}

/// Runs `fut` so that the exchanges recorded inside it say they carry `context` (set by
/// [`inject`] into the request's headers): their [`ExchangeTrace`] is filled in when they end.
pub async fn traced<F: std::future::Future>(context: TraceContext, fut: F) -> F::Output {
    SENT.scope(context, fut).await
}

/// The context of the enclosing [`traced`] scope.
pub(crate) fn current() -> Option<TraceContext> {
    SENT.try_with(TraceContext::clone).ok()
}

/// A header list's trace context: a new one added at the end of the list — unless the user
/// set a `traceparent`, which is never rewritten: a valid one is the context, an invalid one is
/// sent as typed (to see what services make of it) and there is no trace to follow (`None`).
pub fn inject<H: TraceHeader>(headers: &mut Vec<H>) -> Option<TraceContext> {
    if let Some(given) = headers
        .iter()
        .find(|h| h.name().eq_ignore_ascii_case(TRACEPARENT))
    {
        return TraceContext::parse(given.value());
    }
    let context = TraceContext::new_random();
    headers.push(H::make(TRACEPARENT, &context.traceparent()));
    Some(context)
}

/// Load mode's trace context: the index of the `traceparent` each request renews (with
/// [`Traceparents::new_value`]) — added once at the end of `headers` — or `None` when the user set
/// one, which every request then sends as given (as [`inject`] keeps it).
pub fn renewable<H: TraceHeader>(headers: &mut Vec<H>, fresh: &mut Traceparents) -> Option<usize> {
    if headers
        .iter()
        .any(|h| h.name().eq_ignore_ascii_case(TRACEPARENT))
    {
        return None;
    }
    headers.push(H::make(TRACEPARENT, fresh.new_value()));
    Some(headers.len() - 1)
}

/// New `traceparent` values, fast enough for load mode: a new random trace id and span id
/// each (splitmix64 seeded from the OS's random source), written into one buffer.
#[derive(Debug, Clone)]
pub struct Traceparents {
    state: u64,
    buf: [u8; 55],
}

impl Default for Traceparents {
    fn default() -> Self {
        Self::new()
    }
}

impl Traceparents {
    pub fn new() -> Self {
        Self {
            state: random_u64(),
            buf: *b"00-00000000000000000000000000000000-0000000000000000-01",
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `00-<new trace id>-<new span id>-01` (neither id all zeros).
    pub fn new_value(&mut self) -> &str {
        let (a, b) = (self.next_u64(), self.next_u64());
        let b = if a == 0 && b == 0 { 1 } else { b };
        let span = self.next_u64().max(1);
        write_hex(&mut self.buf[3..19], a);
        write_hex(&mut self.buf[19..35], b);
        write_hex(&mut self.buf[36..52], span);
        std::str::from_utf8(&self.buf).unwrap_or_default()
    }
}

/// `n` as 16 lowercase hex digits into `out` (16 bytes).
fn write_hex(out: &mut [u8], n: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = DIGITS[((n >> (60 - 4 * i)) & 0xf) as usize];
    }
}

/// A header of one of the request types (name and value), for [`inject`] and [`renewable`].
pub trait TraceHeader {
    fn name(&self) -> &str;
    fn value(&self) -> &str;
    fn make(name: &str, value: &str) -> Self;
    /// Replaces the value (keeping its allocation).
    fn set_value(&mut self, value: &str);
}

impl TraceHeader for crate::exchange::Header {
    fn name(&self) -> &str {
        &self.name
    }
    fn value(&self) -> &str {
        &self.value
    }
    fn make(name: &str, value: &str) -> Self {
        Self::new(name, value)
    }
    fn set_value(&mut self, value: &str) {
        self.value.clear();
        self.value.push_str(value);
    }
}

impl TraceHeader for crate::fields::SavedHeader {
    fn name(&self) -> &str {
        &self.name
    }
    fn value(&self) -> &str {
        if self.enabled { &self.value } else { "" }
    }
    fn make(name: &str, value: &str) -> Self {
        Self {
            name: name.to_string(),
            value: value.to_string(),
            enabled: true,
        }
    }
    fn set_value(&mut self, value: &str) {
        self.value.clear();
        self.value.push_str(value);
    }
}

/// 64 random bits: std's hasher keys come from the OS's random source once per process and
/// are stepped for each new hasher; the time and a counter make every call different.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.write_u128(now.as_nanos());
    h.finish()
}

/// One span a service exported, as Switchboard keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Span {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The exporting resource's `service.name` (`unknown_service` when it has none).
    pub service: String,
    pub name: String,
    /// server / client / producer / consumer / internal.
    pub kind: String,
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
    /// `ok`, `error` (with its message after a colon) or `unset`.
    pub status: String,
    /// Attributes in the order the service sent them.
    #[serde(default)]
    pub attributes: Vec<(String, serde_json::Value)>,
}

/// A span placed on an exchange's clock: µs from the exchange's start (negative when a
/// service's clock says it began before the request left).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineSpan {
    pub trace_id: String,
    pub span_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    pub service: String,
    pub name: String,
    pub kind: String,
    pub start_us: i64,
    pub end_us: i64,
    pub status: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl TimelineSpan {
    /// Its name, with the messaging system when it names one (`orders publish · rabbitmq`):
    /// an exchange and a topic may share a name.
    pub fn label(&self) -> String {
        match self
            .attributes
            .get("messaging.system")
            .and_then(|v| v.as_str())
        {
            Some(system) => format!("{} · {system}", self.name),
            None => self.name.clone(),
        }
    }

    /// `span` on the clock of an exchange that started at `started_unix_us`.
    pub fn place(span: &Span, started_unix_us: u64) -> Self {
        let at = |ns: u64| (ns / 1_000) as i64 - started_unix_us as i64;
        Self {
            trace_id: span.trace_id.clone(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone(),
            service: span.service.clone(),
            name: span.name.clone(),
            kind: span.kind.clone(),
            start_us: at(span.start_unix_ns),
            end_us: at(span.end_unix_ns),
            status: span.status.clone(),
            attributes: span.attributes.iter().cloned().collect(),
        }
    }
}

/// Orders spans as a tree: each span after its parent, children by start time; spans whose
/// parent is not among them are roots. Returns each span with its depth. Iterative and
/// O(n log n): a trace may hold tens of thousands of spans, or a chain that deep.
pub fn tree(spans: &[TimelineSpan]) -> Vec<(usize, &TimelineSpan)> {
    use std::collections::{HashMap, HashSet};
    let mut sorted: Vec<&TimelineSpan> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start_us, s.end_us));
    let ids: HashSet<&str> = sorted.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<&TimelineSpan>> = HashMap::new();
    let mut roots = Vec::new();
    for s in &sorted {
        match s.parent_span_id.as_deref() {
            Some(p) if ids.contains(p) && p != s.span_id => children.entry(p).or_default().push(*s),
            _ => roots.push(*s),
        }
    }
    let mut out = Vec::with_capacity(spans.len());
    let mut seen: HashSet<&str> = HashSet::with_capacity(spans.len());
    // Depth-first with an explicit stack (reversed, so the earliest child comes out first).
    let mut stack: Vec<(usize, &TimelineSpan)> = roots.iter().rev().map(|s| (0, *s)).collect();
    while let Some((depth, s)) = stack.pop() {
        if !seen.insert(s.span_id.as_str()) {
            continue;
        }
        out.push((depth, s));
        if let Some(kids) = children.get(s.span_id.as_str()) {
            stack.extend(kids.iter().rev().map(|k| (depth + 1, *k)));
        }
    }
    // Spans only reachable through a cycle of parents: shown as roots, not lost.
    for s in sorted {
        if seen.insert(s.span_id.as_str()) {
            out.push((0, s));
        }
    }
    out
}

/// How deep a tree is indented at most (a chain thousands deep stays readable).
pub const MAX_INDENT_DEPTH: usize = 12;

/// The span tree as text, one span per line under a waterfall:
/// `  order-service  POST /orders (server)  +120 µs  1.2 ms  ok`.
pub fn render_tree(spans: &[TimelineSpan]) -> String {
    let mut out = String::new();
    for (depth, s) in tree(spans) {
        let took = s.end_us.saturating_sub(s.start_us).max(0) as u64;
        let at = if s.start_us < 0 {
            format!("-{}", crate::timeline::format_us(s.start_us.unsigned_abs()))
        } else {
            crate::timeline::format_us(s.start_us as u64)
        };
        out.push_str(&format!(
            "{:indent$}{}  {} ({})  at {at}, took {}{}\n",
            "",
            s.service,
            s.label(),
            s.kind,
            crate::timeline::format_us(took),
            if s.status.starts_with("error") {
                format!("  {}", s.status)
            } else {
                String::new()
            },
            indent = 2 + depth.min(MAX_INDENT_DEPTH) * 2
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn load_traceparents_are_valid_and_new_each_time_and_a_users_is_kept() {
        use super::*;
        let mut fresh = Traceparents::new();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let value = fresh.new_value().to_string();
            let context = TraceContext::parse(&value).expect(&value);
            assert!(context.sampled);
            assert!(seen.insert(context.trace_id), "trace id repeated: {value}");
        }
        // Two generators (two load workers) do not repeat each other either.
        let mut other = Traceparents::new();
        for _ in 0..10_000 {
            let id = TraceContext::parse(other.new_value())
                .expect("valid")
                .trace_id;
            assert!(seen.insert(id));
        }

        let mut headers = vec![crate::exchange::Header::new("Accept", "*/*")];
        let slot = renewable(&mut headers, &mut fresh).expect("added");
        assert_eq!((slot, headers.len()), (1, 2));
        assert_eq!(headers[1].name, TRACEPARENT);
        let before = headers[1].value.clone();
        headers[slot].set_value(fresh.new_value());
        assert_ne!(headers[1].value, before);
        assert!(TraceContext::parse(&headers[1].value).is_some());

        let users = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = vec![crate::exchange::Header::new("TraceParent", users)];
        assert_eq!(renewable(&mut headers, &mut fresh), None);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].value, users);
    }

    #[test]
    fn a_chain_100_000_deep_is_ordered_without_recursion_and_indented_within_bounds() {
        let n = 100_000;
        let spans: Vec<TimelineSpan> = (0..n)
            .map(|i| TimelineSpan {
                trace_id: "t".into(),
                span_id: format!("{i:016x}"),
                parent_span_id: (i > 0).then(|| format!("{:016x}", i - 1)),
                service: "s".into(),
                name: "n".into(),
                kind: "internal".into(),
                start_us: i as i64,
                end_us: i as i64 + 1,
                status: "unset".into(),
                attributes: Default::default(),
            })
            .collect();
        let ordered = tree(&spans);
        assert_eq!(ordered.len(), n);
        assert_eq!(ordered[n - 1].0, n - 1);
        let text = render_tree(&spans[..50]);
        let widest = text.lines().map(|l| l.len() - l.trim_start().len()).max();
        assert_eq!(widest, Some(2 + MAX_INDENT_DEPTH * 2));
    }

    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_what_is_not_one() {
        let c = TraceContext::new_random();
        assert_eq!(c.trace_id.len(), 32);
        assert_eq!(TraceContext::parse(&c.traceparent()), Some(c.clone()));
        assert_ne!(TraceContext::new_random().trace_id, c.trace_id);
        for bad in [
            "",
            "00-abc-def-01",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x",
        ] {
            assert_eq!(TraceContext::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_tree_puts_children_under_parents_and_orphans_at_the_root() {
        let span = |id: &str, parent: Option<&str>, start: i64| TimelineSpan {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: parent.map(str::to_string),
            service: "s".into(),
            name: id.into(),
            kind: "server".into(),
            start_us: start,
            end_us: start + 10,
            status: "ok".into(),
            attributes: Default::default(),
        };
        let spans = [
            span("c2", Some("a"), 30),
            span("a", Some("switchboard"), 0),
            span("c1", Some("a"), 20),
            span("g", Some("c1"), 25),
            span("lost", Some("gone"), 5),
        ];
        let order: Vec<(usize, &str)> = tree(&spans)
            .into_iter()
            .map(|(d, s)| (d, s.span_id.as_str()))
            .collect();
        assert_eq!(
            order,
            [(0, "a"), (1, "c1"), (2, "g"), (1, "c2"), (0, "lost")]
        );
    }
}
