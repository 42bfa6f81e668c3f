//! The persisted history of sent exchanges: a JSON-lines file in the data directory, bounded
//! by count and size, owner-only.
//!
//! Appends are one line each; when the file holds a fifth more lines than the bound (or grows
//! past the size cap) it is rewritten atomically with the newest entries. A torn last line
//! (a crash mid-append) or any unreadable line is skipped on load and counted.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::collection::SavedRequest;
use super::exchange::Exchange;
use super::fsutil;

/// One sent exchange and, to re-open it, the request it came from (before variables were
/// filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub exchange: Exchange,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<SavedRequest>,
}

impl HistoryEntry {
    /// True when `query` (lower-case) appears in the target, status, error, request name or
    /// bodies.
    pub fn matches(&self, query: &str) -> bool {
        matches(&self.exchange, self.request.as_ref(), query)
    }
}

/// [`HistoryEntry::matches`] without owning the entry.
pub fn matches(x: &Exchange, request: Option<&SavedRequest>, query: &str) -> bool {
    if query.is_empty() {
        return true;
    }
    let has = |s: &str| s.to_lowercase().contains(query);
    has(&x.target)
        || x.status.as_deref().is_some_and(has)
        || x.error.as_ref().is_some_and(|e| has(&e.message))
        || has(x.transport.label())
        || request.is_some_and(|r| has(&r.name))
        || has(&x.request.line)
        || has(&String::from_utf8_lossy(&x.request.body.bytes))
        || x.response
            .as_ref()
            .is_some_and(|r| has(&String::from_utf8_lossy(&r.body.bytes)))
}

/// Bounds of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_bytes: u64,
    /// Bodies above this are cut (and marked truncated) in the history.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_entries: 1000,
            max_bytes: 64 * 1024 * 1024,
            max_body_bytes: 256 * 1024,
        }
    }
}

/// The history file. Entries are not kept here (the UI holds them): only the sizes of the
/// lines that count, to know when to compact.
#[derive(Debug)]
pub struct History {
    path: PathBuf,
    limits: Limits,
    /// Sizes of the kept entries' lines, oldest first.
    kept: VecDeque<u64>,
    file_lines: usize,
    file_bytes: u64,
}

/// What loading found besides the entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub skipped_lines: usize,
}

/// A line that brings the spans of an entry's trace, which arrive after the entry was written:
/// more of them (`add`, what is written now: each record only the spans not recorded before, so
/// spans that trickle in do not write the whole list again each time) or, in files of earlier
/// versions, all of them (they replace the ones it had).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SpansRecord {
    spans_of: String,
    spans: Vec<crate::trace::TimelineSpan>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    add: bool,
}

/// The lines of a history file that hold entries, with the entries, newest within the bounds;
/// and how many lines were unreadable. Span records are merged into the latest entry of their
/// trace (whose line is then written anew, spans included).
fn read_lines(bytes: &[u8], limits: &Limits) -> (Vec<(Vec<u8>, HistoryEntry)>, usize) {
    let mut skipped = 0;
    let mut lines: VecDeque<(Vec<u8>, HistoryEntry)> = VecDeque::new();
    let mut total = 0u64;
    for line in bytes.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if let Ok(record) = serde_json::from_slice::<SpansRecord>(line) {
            // Every entry of the trace (Place order keeps its POST and its delivery).
            let owners = lines.iter_mut().filter(|(_, e)| {
                e.exchange
                    .trace
                    .as_ref()
                    .is_some_and(|t| t.trace_id == record.spans_of)
            });
            for (owner_line, entry) in owners {
                let record = record.clone();
                let spans = &mut entry.exchange.spans;
                if record.add {
                    let known: std::collections::HashSet<String> =
                        spans.iter().map(|s| s.span_id.clone()).collect();
                    spans.extend(
                        record
                            .spans
                            .into_iter()
                            .filter(|s| !known.contains(&s.span_id)),
                    );
                    spans.sort_by_key(|s| (s.start_us, s.end_us));
                    spans.truncate(crate::exchange::MAX_SPANS_PER_EXCHANGE);
                } else {
                    *spans = record.spans;
                }
                if let Ok(merged) = serde_json::to_vec(entry) {
                    total = total + merged.len() as u64 - owner_line.len() as u64;
                    *owner_line = merged;
                }
            }
            continue;
        }
        match serde_json::from_slice::<HistoryEntry>(line) {
            Ok(entry) => {
                total += line.len() as u64 + 1;
                lines.push_back((line.to_vec(), entry));
                while lines.len() > limits.max_entries
                    || total > limits.max_bytes && lines.len() > 1
                {
                    if let Some((gone, _)) = lines.pop_front() {
                        total -= gone.len() as u64 + 1;
                    }
                }
            }
            Err(_) => skipped += 1,
        }
    }
    (lines.into(), skipped)
}

impl History {
    pub fn default_path() -> PathBuf {
        super::collection::vars::data_dir().join("history.jsonl")
    }

    /// Opens (or starts) the history at `path`; returns it with its entries, oldest first.
    pub fn open(
        path: &Path,
        limits: Limits,
    ) -> std::io::Result<(Self, Vec<HistoryEntry>, LoadReport)> {
        let mut history = Self {
            path: path.to_path_buf(),
            limits,
            kept: VecDeque::new(),
            file_lines: 0,
            file_bytes: 0,
        };
        let mut report = LoadReport::default();
        let mut entries = Vec::new();
        match std::fs::read(path) {
            Ok(bytes) => {
                history.file_bytes = bytes.len() as u64;
                history.file_lines = bytes
                    .split(|&b| b == b'\n')
                    .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                    .count();
                let (lines, skipped) = read_lines(&bytes, &limits);
                report.skipped_lines = skipped;
                for (line, entry) in lines {
                    history.kept.push_back(line.len() as u64 + 1);
                    entries.push(entry);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok((history, entries, report))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many entries count (at most the bound).
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Appends an entry (bodies cut to the limit) and compacts the file when due.
    pub fn push(&mut self, mut entry: HistoryEntry) -> std::io::Result<()> {
        let cap = self.limits.max_body_bytes;
        for body in std::iter::once(&mut entry.exchange.request.body)
            .chain(entry.exchange.response.as_mut().map(|r| &mut r.body))
        {
            if body.bytes.len() > cap {
                body.bytes.truncate(cap);
                body.truncated = true;
            }
        }
        let line = serde_json::to_vec(&entry).map_err(std::io::Error::other)?;
        self.kept.push_back(line.len() as u64 + 1);
        while self.kept.len() > self.limits.max_entries {
            self.kept.pop_front();
        }
        self.append(line)
    }

    /// Appends one line to the file (owner-only) and compacts it when due.
    fn append(&mut self, mut line: Vec<u8>) -> std::io::Result<()> {
        line.push(b'\n');
        if let Some(dir) = self.path.parent() {
            fsutil::private_dir(dir)?;
        }
        let mut file = fsutil::open_append_private(&self.path)?;
        file.write_all(&line)?;
        self.file_lines += 1;
        self.file_bytes += line.len() as u64;
        if self.file_lines > self.limits.max_entries + self.limits.max_entries / 5
            || self.file_bytes > self.limits.max_bytes
        {
            self.compact()?;
        }
        Ok(())
    }

    /// Adds `spans` (those not recorded before) to the entry of trace `trace_id`: a line
    /// appended now, merged into the entry when the file is read (or compacted).
    pub fn push_spans(
        &mut self,
        trace_id: &str,
        spans: &[crate::trace::TimelineSpan],
    ) -> std::io::Result<()> {
        let record = SpansRecord {
            spans_of: trace_id.to_string(),
            spans: spans.to_vec(),
            add: true,
        };
        let line = serde_json::to_vec(&record).map_err(std::io::Error::other)?;
        self.append(line)
    }

    /// Rewrites the file with just the entries that count (the newest, within the bounds).
    pub fn compact(&mut self) -> std::io::Result<()> {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        // Down to four fifths of the size cap, so the next appends do not compact again.
        let target = Limits {
            max_bytes: self.limits.max_bytes / 5 * 4,
            ..self.limits
        };
        let (lines, _) = read_lines(&bytes, &target);
        let mut out = Vec::with_capacity(bytes.len());
        self.kept.clear();
        for (line, _) in &lines {
            out.extend_from_slice(line);
            out.push(b'\n');
            self.kept.push_back(line.len() as u64 + 1);
        }
        if let Some(dir) = self.path.parent() {
            fsutil::private_dir(dir)?;
        }
        fsutil::write_atomic_private(&self.path, &out)?;
        self.file_lines = lines.len();
        self.file_bytes = out.len() as u64;
        Ok(())
    }

    /// Forgets everything, on disk too.
    pub fn clear(&mut self) -> std::io::Result<()> {
        self.kept.clear();
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.file_lines = 0;
        self.file_bytes = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, Transport};

    fn exchange(i: usize, body: &[u8]) -> Exchange {
        Exchange {
            transport: Transport::Http,
            target: format!("http://127.0.0.1:8081/user/{i}"),
            started_at_ms: i as u64,
            ok: true,
            status: Some("200 OK".into()),
            error: None,
            total_us: 1000,
            timeline: Vec::new(),
            request: Message::default(),
            response: Some(Message {
                body: crate::Body::new(body.to_vec()),
                ..Message::default()
            }),
            trace: None,
            spans: Vec::new(),
        }
    }

    fn temp_path() -> PathBuf {
        // Tests run side by side: a number of its own for each.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        std::env::temp_dir()
            .join(format!(
                "sb-history-{}-{}-{}",
                std::process::id(),
                crate::recorder::unix_ms(),
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ))
            .join("history.jsonl")
    }

    #[test]
    fn spans_that_arrive_later_are_kept_with_their_entry_across_restarts_and_compaction() {
        let path = temp_path();
        let limits = Limits {
            max_entries: 4,
            max_bytes: 1 << 20,
            max_body_bytes: 1024,
        };
        let (mut history, _, _) = History::open(&path, limits).unwrap();
        let traced = |i: usize, trace: &str| {
            let mut e = exchange(i, b"{}");
            e.trace = Some(crate::trace::ExchangeTrace {
                trace_id: trace.into(),
                span_id: "00f067aa0ba902b7".into(),
                started_unix_us: 1,
                spans_dropped: 0,
            });
            HistoryEntry {
                exchange: e,
                request: None,
            }
        };
        let span = |name: &str| crate::trace::TimelineSpan {
            trace_id: "t1".into(),
            span_id: "s".into(),
            parent_span_id: None,
            service: "user-service".into(),
            name: name.into(),
            kind: "server".into(),
            start_us: 5,
            end_us: 9,
            status: "unset".into(),
            attributes: Default::default(),
        };
        history.push(traced(0, "t1")).unwrap();
        history.push(traced(1, "t2")).unwrap();
        // Spans come in twice: the later record adds to the earlier (one sent again is kept
        // once).
        let with_id = |name: &str, id: &str| crate::trace::TimelineSpan {
            span_id: id.into(),
            ..span(name)
        };
        history.push_spans("t1", &[with_id("first", "s1")]).unwrap();
        history
            .push_spans("t1", &[with_id("first", "s1"), with_id("second", "s2")])
            .unwrap();
        // A trace no kept entry has is ignored, not attached elsewhere.
        history.push_spans("nobody", &[span("stray")]).unwrap();
        let (_, entries, report) = History::open(&path, limits).unwrap();
        assert_eq!(report.skipped_lines, 0);
        assert_eq!(entries.len(), 2);
        let names: Vec<&str> = entries[0]
            .exchange
            .spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["first", "second"]);
        assert!(entries[1].exchange.spans.is_empty());
        // A record of an earlier version (all the spans, no `add`) replaces them.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(
                format!(
                    "{}\n",
                    serde_json::to_string(&SpansRecord {
                        spans_of: "t1".into(),
                        spans: vec![with_id("only", "s9")],
                        add: false,
                    })
                    .unwrap()
                )
                .as_bytes(),
            )
            .unwrap();
        let (_, entries, _) = History::open(&path, limits).unwrap();
        assert_eq!(entries[0].exchange.spans.len(), 1);
        history
            .push_spans("t1", &[with_id("first", "s1"), with_id("second", "s2")])
            .unwrap();
        // Compacting writes the merged entry: the spans stay.
        history.compact().unwrap();
        let (_, entries, _) = History::open(&path, limits).unwrap();
        assert_eq!(entries[0].exchange.spans.len(), 3);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    }

    #[test]
    fn keeps_the_newest_entries_across_restarts_and_skips_torn_lines() {
        let path = temp_path();
        let limits = Limits {
            max_entries: 10,
            max_bytes: 1 << 20,
            max_body_bytes: 16,
        };
        let (mut history, _, _) = History::open(&path, limits).unwrap();
        for i in 0..25 {
            history
                .push(HistoryEntry {
                    exchange: exchange(i, b"{\"name\": \"a rather long body\"}"),
                    request: None,
                })
                .unwrap();
        }
        assert_eq!(history.len(), 10);
        let (_, entries, _) = History::open(&path, limits).unwrap();
        assert_eq!(entries.len(), 10);
        assert_eq!(entries[0].exchange.started_at_ms, 15);
        let body = &entries[9].exchange.response.as_ref().unwrap().body;
        assert!(body.truncated && body.bytes.len() == 16);
        // The file was compacted: at most 20 % more lines than the bound.
        let lines = std::fs::read_to_string(&path).unwrap().lines().count();
        assert!(lines <= 12, "{lines} lines");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A crash mid-append leaves a torn line: it is skipped, the rest loads.
        let mut file = fsutil::open_append_private(&path).unwrap();
        file.write_all(b"{\"exchange\": {\"transport\": \"ht")
            .unwrap();
        drop(file);
        let (mut reopened, entries, report) = History::open(&path, limits).unwrap();
        assert_eq!(report.skipped_lines, 1);
        assert_eq!(entries.len(), 10);
        assert_eq!(entries[9].exchange.started_at_ms, 24);
        assert!(entries[9].matches("/user/24"));
        assert!(!entries[9].matches("/user/23"));
        reopened.clear().unwrap();
        assert!(!path.exists());
        assert!(History::open(&path, limits).unwrap().1.is_empty());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
