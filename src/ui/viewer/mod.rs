//! The live queue message viewer: several watches in tabs, each with counters, a filter, a
//! virtualized table with live tail, a detail pane, export/import and republish.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Instant;

use egui::RichText;
use egui_extras::{Column, TableBuilder};
use serde::{Deserialize, Serialize};

use super::backend::PathPurpose;
use super::payload_view::{body_ui, headers_ui};
use crate::engine::WatchRequest;
use crate::engine::nats::watch::{NatsWatch, NatsWatchMode};
use crate::engine::store::{Entry, Filter, MessageStore, Prepared, StoredMessage};
use crate::engine::watch::{WatchEvent, WatchMode, WatchedMessage};
use crate::engine::watched::{Named, text_of};
use crate::engine::{Header, Transport};

mod form;
mod tab;
mod table;

use form::form_ui;
use tab::tab_ui;
use table::{detail_ui, table_ui, table_width};

/// The "new watch" form (persisted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchForm {
    /// Which broker the form watches.
    pub broker: WatchBroker,
    pub mode: WatchMode,
    pub exchange: String,
    pub binding: String,
    pub queue: String,
    pub peek_limit: u32,
    /// The NATS watch: the engine's type itself.
    pub nats: NatsWatch,
    /// The Kafka watch: the engine's type itself.
    pub kafka: crate::engine::kafka::watch::KafkaWatch,
    /// AMQP exchanges and queues the picker offers: the demo's, then those watched before
    /// (AMQP itself cannot list them).
    pub known_exchanges: Vec<String>,
    pub known_queues: Vec<String>,
}

impl WatchForm {
    /// Puts `name` first in `list` (once), keeping at most 20.
    pub fn remember(list: &mut Vec<String>, name: &str) {
        let name = name.trim();
        if name.is_empty() {
            return;
        }
        list.retain(|n| n != name);
        list.insert(0, name.to_string());
        list.truncate(20);
    }
}

/// The watch form's broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum WatchBroker {
    #[default]
    Amqp,
    Nats,
    Kafka,
}

impl Default for WatchForm {
    fn default() -> Self {
        Self {
            broker: WatchBroker::Amqp,
            mode: WatchMode::Tap,
            exchange: "orders".to_string(),
            binding: "#".to_string(),
            queue: "order_queue.dead".to_string(),
            peek_limit: 100,
            nats: NatsWatch::subject(crate::engine::nats::DEFAULT_NATS_URL, "orders.>"),
            kafka: crate::engine::kafka::watch::KafkaWatch::tap(
                crate::engine::kafka::DEFAULT_KAFKA_URL,
                demo_contract::ORDERS_TOPIC,
            ),
            known_exchanges: vec![demo_contract::ORDERS_EXCHANGE.to_string()],
            known_queues: vec![
                demo_contract::ORDER_QUEUE.to_string(),
                "order_queue.dead".to_string(),
            ],
        }
    }
}

/// Where a tab's watch stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TabStatus {
    Connecting,
    Watching { queue: String },
    Reconnecting(String),
    PeekDone(usize),
    Failed(String),
    Stopped,
    Imported(String),
}

/// Columns of the message table, also the sort keys: the same for every transport but the
/// fields each transport adds ([`WatchedMessage::columns`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Time,
    Source,
    Key,
    /// The transport's n-th field column.
    Field(usize),
    Size,
    Redelivered,
}

/// The columns of a table of `transport` messages: sort key and heading.
fn columns(transport: Transport) -> Vec<(SortKey, &'static str)> {
    let c = WatchedMessage::columns(transport);
    let mut out = vec![
        (SortKey::Time, "received"),
        (SortKey::Source, c.source),
        (SortKey::Key, c.key),
    ];
    out.extend(
        c.fields
            .iter()
            .enumerate()
            .map(|(i, (heading, _))| (SortKey::Field(i), *heading)),
    );
    out.push((SortKey::Size, "size"));
    // A Kafka record is never redelivered: a reader moves its own offset.
    if transport != Transport::Kafka {
        out.push((SortKey::Redelivered, "redelivered"));
    }
    out
}

/// What a cell of `key` shows for `m`.
fn cell_text(m: &StoredMessage, key: SortKey, fields: &Named) -> String {
    match key {
        SortKey::Time => format_time(m.received_at_ms),
        // AMQP's default exchange has no name; a core NATS message has no stream.
        SortKey::Source if m.source.is_empty() && m.transport == Transport::Amqp => {
            "(default)".to_string()
        }
        SortKey::Source => m.source.to_string(),
        SortKey::Key => m.key.to_string(),
        SortKey::Field(i) => {
            let name = WatchedMessage::columns(m.transport)
                .fields
                .get(i)
                .map(|(_, name)| *name);
            match (name, name.and_then(|n| fields.get(n))) {
                // Kafka's record timestamp, as a time of day like the receive time.
                (Some("timestamp_ms"), Some(v)) => {
                    v.as_u64().map(format_time).unwrap_or_else(|| text_of(v))
                }
                (_, v) => v.map(text_of).unwrap_or_default(),
            }
        }
        SortKey::Size => format_bytes(m.body.len() as u64),
        SortKey::Redelivered if m.redelivered => "yes".to_string(),
        SortKey::Redelivered => String::new(),
    }
}

/// One watch (or imported file) and what it has collected.
pub struct ViewerTab {
    pub id: u64,
    pub title: String,
    pub spec: Option<WatchRequest>,
    /// The broker its messages come from (its table columns follow).
    pub transport: Transport,
    pub status: TabStatus,
    pub store: MessageStore,
    pub filter_text: String,
    filter: Filter,
    /// Sequence numbers shown, in display order.
    pub view: Shown,
    scanned_to: u64,
    pub selected: Option<u64>,
    pub live_tail: bool,
    /// Matching messages that arrived while live tail was paused.
    pub new_since_pause: usize,
    sort: Option<(SortKey, bool)>,
    sort_dirty: bool,
    rate_samples: VecDeque<(Instant, u64)>,
    /// Messages received per second over the last minute: (second since `opened`, count).
    per_second: VecDeque<(u64, u64)>,
    opened: Instant,
    /// Show the newest message at the top (live tail then keeps the top in view).
    pub newest_first: bool,
    /// Columns the user hid.
    pub hidden: Vec<SortKey>,
    scroll_to_end: bool,
    last_offset: f32,
    /// Since when (Unix ms) and why the watch is disconnected.
    lost: Option<(u64, String)>,
    /// Tells the watch how many messages this tab has stored: a consume acks only those.
    delivered: Option<tokio::sync::watch::Sender<u64>>,
}

impl ViewerTab {
    pub fn new(id: u64, title: String, spec: Option<WatchRequest>, capacity: usize) -> Self {
        Self {
            id,
            title,
            transport: spec
                .as_ref()
                .map_or(Transport::Amqp, WatchRequest::transport),
            spec,
            status: TabStatus::Connecting,
            store: MessageStore::with_capacity(capacity),
            filter_text: String::new(),
            filter: Filter::default(),
            view: Shown::default(),
            scanned_to: 0,
            selected: None,
            live_tail: true,
            new_since_pause: 0,
            sort: None,
            sort_dirty: false,
            rate_samples: VecDeque::new(),
            per_second: VecDeque::new(),
            opened: Instant::now(),
            newest_first: false,
            hidden: Vec::new(),
            scroll_to_end: false,
            last_offset: 0.0,
            lost: None,
            delivered: None,
        }
    }

    /// The counter a consuming watch waits on before it acknowledges messages (see
    /// [`crate::engine::watch::run_confirmed`]).
    pub fn delivery_counter(&mut self) -> crate::engine::watch::Delivered {
        let (tx, rx) = crate::engine::watch::delivery_counter();
        self.delivered = Some(tx);
        rx
    }

    pub fn is_live(&self) -> bool {
        matches!(
            self.status,
            TabStatus::Connecting | TabStatus::Watching { .. } | TabStatus::Reconnecting(_)
        )
    }

    /// Applies an event of this tab's watch.
    pub fn apply(&mut self, event: WatchEvent) {
        match event {
            WatchEvent::Connected { queue, reconnected } => {
                if reconnected {
                    let now = crate::engine::recorder::unix_ms();
                    let consequence = match &self.spec {
                        Some(WatchRequest::Amqp(s)) if s.mode == WatchMode::Tap => {
                            "messages published meanwhile were not seen by this tap"
                        }
                        Some(WatchRequest::Nats(s)) if !s.mode.is_stream() => {
                            "messages published meanwhile were not seen by this subscription"
                        }
                        Some(WatchRequest::Nats(_)) => {
                            "the stream kept what was published meanwhile: it arrives now"
                        }
                        _ => "messages that waited in the queue arrive now",
                    };
                    let reason = match self.lost.take() {
                        Some((since, why)) => format!(
                            "connection lost for {:.1} s ({why}); {consequence}",
                            now.saturating_sub(since) as f64 / 1000.0
                        ),
                        None => "reconnected after a lost connection".to_string(),
                    };
                    self.store.push_gap(now, reason);
                    self.refresh();
                }
                self.status = TabStatus::Watching { queue };
            }
            WatchEvent::Messages(batch) => self.ingest(batch),
            WatchEvent::Stored(batch) => self.ingest_prepared(batch),
            WatchEvent::Lost { reason, retry_in } => {
                if self.lost.is_none() {
                    self.lost = Some((crate::engine::recorder::unix_ms(), reason.clone()));
                }
                self.status = TabStatus::Reconnecting(format!(
                    "{reason}; retrying in {:.1} s",
                    retry_in.as_secs_f64()
                ));
            }
            WatchEvent::Notice(notice) => {
                self.store
                    .push_gap(crate::engine::recorder::unix_ms(), notice);
                self.refresh();
            }
            WatchEvent::PeekDone { count } => self.status = TabStatus::PeekDone(count),
            WatchEvent::Failed(error) => self.status = TabStatus::Failed(error.to_string()),
        }
    }

    pub fn ingest(&mut self, batch: Vec<WatchedMessage>) {
        if self.store.received == 0
            && let Some(first) = batch.first()
        {
            self.transport = first.transport;
        }
        for message in batch {
            self.store.push(message);
        }
        self.after_ingest();
    }

    /// Stores messages already converted off the UI thread.
    pub fn ingest_prepared(&mut self, batch: Prepared) {
        if self.store.received == 0
            && let Some(transport) = batch.transport()
        {
            self.transport = transport;
        }
        self.store.push_prepared(&batch);
        if let Some(delivered) = &self.delivered {
            delivered.send_replace(self.store.received);
        }
        self.after_ingest();
    }

    fn after_ingest(&mut self) {
        self.refresh();
        let now = Instant::now();
        let second = now.duration_since(self.opened).as_secs();
        let before = self.rate_samples.back().map_or(0, |(_, n)| *n);
        let arrived = self.store.received.saturating_sub(before);
        match self.per_second.back_mut() {
            Some((s, count)) if *s == second => *count += arrived,
            _ => self.per_second.push_back((second, arrived)),
        }
        while self
            .per_second
            .front()
            .is_some_and(|(s, _)| second.saturating_sub(*s) >= RATE_WINDOW_SECS)
        {
            self.per_second.pop_front();
        }
        self.rate_samples.push_back((now, self.store.received));
        while self.rate_samples.len() > 2
            && self
                .rate_samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t).as_secs_f64() > 2.0)
        {
            self.rate_samples.pop_front();
        }
    }

    /// Messages per second for each of the last minute's seconds, oldest first (0 where none
    /// arrived), up to now.
    pub fn rate_history(&self) -> Vec<u64> {
        let now = self.opened.elapsed().as_secs();
        let start = now.saturating_sub(RATE_WINDOW_SECS - 1);
        (start..=now)
            .map(|s| {
                self.per_second
                    .iter()
                    .find(|(at, _)| *at == s)
                    .map_or(0, |(_, n)| *n)
            })
            .collect()
    }

    /// Messages per second over the last couple of seconds.
    pub fn rate(&self) -> f64 {
        let (Some((t0, n0)), Some((t1, n1))) =
            (self.rate_samples.front(), self.rate_samples.back())
        else {
            return 0.0;
        };
        let secs = t1.duration_since(*t0).as_secs_f64();
        if secs < 0.05 || t1.elapsed().as_secs_f64() > 2.0 {
            0.0
        } else {
            (n1 - n0) as f64 / secs
        }
    }

    /// Brings `view` up to date with the store (new entries, evictions).
    fn refresh(&mut self) {
        let first = self.store.first_seq();
        if self.filter.is_empty() && self.sort.is_none() {
            // Everything, in order: a range, not a list of every sequence number (8 bytes a
            // message at a million), and no scan of what arrived.
            let next = self.store.next_seq();
            if !self.live_tail {
                self.new_since_pause += next.saturating_sub(self.scanned_to.max(first)) as usize;
            }
            self.view = Shown::range(first..next);
            self.scanned_to = next;
            return;
        }
        let added = self
            .store
            .matching_from(self.scanned_to.max(first), &self.filter);
        if !self.live_tail {
            self.new_since_pause += added.len();
        }
        let view = self.view.list();
        view.extend(added);
        self.scanned_to = self.store.next_seq();
        if view.first().is_some_and(|s| *s < first) {
            if self.sort.is_none() {
                let keep_from = view.partition_point(|s| *s < first);
                view.drain(..keep_from);
            } else {
                view.retain(|s| *s >= first);
            }
        }
        if self.sort.is_some() {
            self.sort_dirty = true;
        }
    }

    pub fn set_filter(&mut self, text: &str) {
        self.filter_text = text.to_string();
        self.filter = Filter::parse(text);
        self.view = if self.filter.is_empty() && self.sort.is_none() {
            Shown::range(self.store.first_seq()..self.store.next_seq())
        } else {
            Shown::list_of(
                self.store
                    .matching_from(self.store.first_seq(), &self.filter),
            )
        };
        self.scanned_to = self.store.next_seq();
        self.sort_dirty = self.sort.is_some();
        // The table shrinks or grows: that is not the user scrolling.
        self.last_offset = 0.0;
    }

    pub fn message(&self, seq: u64) -> Option<StoredMessage<'_>> {
        match self.store.get(seq)? {
            Entry::Message(m) => Some(m),
            Entry::Gap(_) => None,
        }
    }

    /// The messages the view shows (filtered), in order.
    pub fn visible_messages(&self) -> Vec<WatchedMessage> {
        self.view
            .iter()
            .filter_map(|s| self.message(s))
            .map(|m| m.to_watched())
            .collect()
    }

    /// Resumes the live tail and jumps to the newest message.
    pub fn jump_to_end(&mut self) {
        self.live_tail = true;
        self.new_since_pause = 0;
        self.scroll_to_end = true;
    }

    fn sort_view(&mut self) {
        let Some((key, ascending)) = self.sort else {
            return;
        };
        let store = &self.store;
        let view = self.view.list();
        let text_key = |seq: u64| -> String {
            match store.get(seq) {
                Some(Entry::Message(m)) => cell_text(&m, key, &m.fields()),
                _ => String::new(),
            }
        };
        match key {
            SortKey::Time => view.sort_unstable(),
            SortKey::Size => view.sort_by_key(|s| match store.get(*s) {
                Some(Entry::Message(m)) => m.body.len(),
                _ => 0,
            }),
            SortKey::Redelivered => view
                .sort_by_key(|s| matches!(store.get(*s), Some(Entry::Message(m)) if m.redelivered)),
            _ => view.sort_by_cached_key(|s| text_key(*s)),
        }
        if !ascending {
            view.reverse();
        }
        self.sort_dirty = false;
    }
}

/// The sequence numbers a tab shows, in display order: every stored entry (no filter, no sort)
/// as a range, else a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shown {
    /// Set: every sequence number in it, and `list` is unused.
    range: Option<std::ops::Range<u64>>,
    list: Vec<u64>,
}

impl Shown {
    pub fn range(range: std::ops::Range<u64>) -> Self {
        Self {
            range: Some(range),
            list: Vec::new(),
        }
    }

    pub fn list_of(list: Vec<u64>) -> Self {
        Self { range: None, list }
    }

    pub fn len(&self) -> usize {
        match &self.range {
            Some(r) => (r.end - r.start) as usize,
            None => self.list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `index`th shown sequence number.
    pub fn get(&self, index: usize) -> Option<u64> {
        match &self.range {
            Some(r) => Some(r.start + index as u64).filter(|s| *s < r.end),
            None => self.list.get(index).copied(),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let range = self.range.clone().unwrap_or(0..0);
        range.chain(self.list.iter().copied())
    }

    /// As a list, to sort or edit (a range becomes one).
    pub fn list(&mut self) -> &mut Vec<u64> {
        if let Some(r) = self.range.take() {
            self.list = r.collect();
        }
        &mut self.list
    }
}

/// How far back a tab's rate sparkline goes.
const RATE_WINDOW_SECS: u64 = 60;

/// What the viewer asks the app to do.
#[derive(Debug, Clone)]
pub enum ViewerAction {
    /// Start the watch the form describes.
    Start,
    Stop(u64),
    Close(u64),
    PickPath(PathPurpose),
    Export(PathBuf, Vec<WatchedMessage>),
    Import(PathBuf),
    Republish(Box<WatchedMessage>),
    /// Save the watch form in a collection.
    SaveWatch,
    /// Ask the NATS server for its streams, or a key-value entry.
    Streams(super::streams_view::StreamsAction),
    Kafka(super::kafka_view::KafkaAction),
}

/// All watch tabs and the form to add one.
#[derive(Default)]
pub struct Viewer {
    pub tabs: Vec<ViewerTab>,
    pub active: Option<u64>,
    /// Typed path for export/import (filled by the file dialog when there is one).
    pub path_text: String,
    pub notice: Option<Result<String, String>>,
    /// *Copy as JSON* keeps message credentials (the Settings window's choice; masked
    /// otherwise).
    pub copy_in_clear: bool,
    /// The NATS streams browser.
    pub streams: super::streams_view::StreamsBrowser,
    /// The Kafka browser: topics, groups, pages.
    pub kafka: super::kafka_view::KafkaBrowser,
    /// Ctrl+F was pressed: the open tab's filter takes the focus when it is next drawn.
    pub focus_filter: bool,
}

impl Viewer {
    pub fn tab_mut(&mut self, id: u64) -> Option<&mut ViewerTab> {
        self.tabs.iter_mut().find(|t| t.id == id)
    }

    pub fn active_tab(&self) -> Option<&ViewerTab> {
        let id = self.active?;
        self.tabs.iter().find(|t| t.id == id)
    }

    pub fn active_tab_mut(&mut self) -> Option<&mut ViewerTab> {
        let id = self.active?;
        self.tab_mut(id)
    }
}

pub fn format_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ms % 1000
    )
}

fn format_bytes(n: u64) -> String {
    if n < 10 * 1024 {
        format!("{n} B")
    } else if n < 10 * 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The whole viewer: form, tabs, and the active tab.
pub fn viewer_ui(
    ui: &mut egui::Ui,
    viewer: &mut Viewer,
    form: &mut WatchForm,
    amqp_url: &mut String,
) -> Vec<ViewerAction> {
    let mut actions = Vec::new();
    form_ui(ui, form, amqp_url, &mut actions);
    if form.broker == WatchBroker::Nats
        && let Some(ask) = super::streams_view::streams_ui(ui, &mut viewer.streams, &mut form.nats)
    {
        actions.push(ViewerAction::Streams(ask));
    }
    if form.broker == WatchBroker::Kafka
        && let Some(ask) = super::kafka_view::kafka_ui(ui, &mut viewer.kafka, &mut form.kafka)
    {
        actions.push(ViewerAction::Kafka(ask));
    }
    ui.horizontal(|ui| {
        let label = ui.label("File");
        ui.add(
            egui::TextEdit::singleline(&mut viewer.path_text)
                .hint_text("messages.jsonl")
                .desired_width(260.0),
        )
        .labelled_by(label.id);
        if ui
            .button("Browse…")
            .on_hover_text("Pick a file (typing a path works too)")
            .clicked()
        {
            actions.push(ViewerAction::PickPath(PathPurpose::Export));
        }
        if ui
            .button("Import")
            .on_hover_text("Open a `switchboard watch --json` file in a new tab")
            .clicked()
        {
            if viewer.path_text.trim().is_empty() {
                actions.push(ViewerAction::PickPath(PathPurpose::Import));
            } else {
                actions.push(ViewerAction::Import(PathBuf::from(viewer.path_text.trim())));
            }
        }
    });
    // On a line of its own, wrapped: a long path never pushes the buttons off screen.
    match &viewer.notice {
        Some(Ok(text)) => {
            ui.add(egui::Label::new(RichText::new(text).weak()).wrap());
        }
        Some(Err(text)) => {
            ui.add(egui::Label::new(RichText::new(text).color(ui.visuals().error_fg_color)).wrap());
        }
        None => {}
    }
    ui.separator();
    if viewer.tabs.is_empty() {
        ui.label(RichText::new("Start a watch to see messages as they flow.").weak());
        return actions;
    }
    ui.horizontal_wrapped(|ui| {
        for tab in &viewer.tabs {
            let text = format!("{} ({})", tab.title, tab.store.received);
            if ui
                .selectable_label(viewer.active == Some(tab.id), text)
                .clicked()
            {
                viewer.active = Some(tab.id);
            }
        }
    });
    let path = viewer.path_text.trim().to_string();
    let copy_in_clear = viewer.copy_in_clear;
    let focus_filter = std::mem::take(&mut viewer.focus_filter);
    if let Some(tab) = viewer.active_tab_mut() {
        tab_ui(ui, tab, &path, copy_in_clear, focus_filter, &mut actions);
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::table::body_preview;
    use super::*;

    #[test]
    fn the_body_preview_is_one_line_and_says_when_it_is_not_text() {
        assert_eq!(
            body_preview(b"{\n  \"event\": \"OrderCreated\",\r\n\t\"n\": 1}"),
            "{ \"event\": \"OrderCreated\", \"n\": 1}"
        );
        assert_eq!(body_preview(b""), "(empty)");
        assert_eq!(body_preview(&[0xff, 0xfe, 0, 1]), "(binary, 4 B)");
        // Long text is cut, even inside a multi-byte character.
        let long = "é".repeat(1000);
        assert_eq!(body_preview(long.as_bytes()).chars().count(), 160);
        assert_eq!(body_preview(b"bell\x07 esc\x1b[2J"), "bell esc [2J");
    }

    /// Unfiltered and unsorted, a tab shows every stored entry as a range (no list of a million
    /// sequence numbers); a filter or a sort makes a list, and clearing them a range again.
    #[test]
    fn the_view_is_a_range_until_filtered_or_sorted() {
        let message = |body: &str| {
            WatchedMessage::nats("orders.created", None, Named::new(), body.into(), None)
        };
        let mut tab = ViewerTab::new(1, "t".into(), None, 5);
        tab.ingest((0..8).map(|i| message(&format!("m{i}"))).collect());
        assert_eq!(tab.view, Shown::range(3..8), "evicted ones are gone");
        assert_eq!(tab.view.get(0), Some(3));
        assert_eq!(tab.view.get(5), None);
        tab.set_filter("m5");
        assert_eq!(tab.view, Shown::list_of(vec![5]));
        tab.ingest(vec![message("m55"), message("x")]);
        assert_eq!(tab.view.iter().collect::<Vec<_>>(), [5, 8]);
        tab.set_filter("");
        assert_eq!(tab.view, Shown::range(5..10));
        tab.live_tail = false;
        tab.ingest(vec![message("a"), message("b")]);
        assert_eq!(tab.new_since_pause, 2);
        assert_eq!(tab.view.len(), 5);
    }

    #[test]
    fn a_reconnect_after_a_loss_leaves_a_gap_that_says_how_long() {
        let mut tab = ViewerTab::new(1, "t".into(), None, 10);
        tab.apply(WatchEvent::Connected {
            queue: "q".into(),
            reconnected: false,
        });
        tab.apply(WatchEvent::Lost {
            reason: "CONNECTION_FORCED".into(),
            retry_in: std::time::Duration::from_millis(250),
        });
        assert!(matches!(tab.status, TabStatus::Reconnecting(_)));
        tab.apply(WatchEvent::Connected {
            queue: "q2".into(),
            reconnected: true,
        });
        let Some(Entry::Gap(gap)) = tab.store.get(0) else {
            panic!("{:?}", tab.store.get(0))
        };
        assert!(
            gap.reason.starts_with("connection lost for"),
            "{}",
            gap.reason
        );
        assert!(gap.reason.contains("CONNECTION_FORCED"));
        assert_eq!(tab.view.iter().collect::<Vec<_>>(), [0]);
    }
}
