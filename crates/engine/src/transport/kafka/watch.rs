//! (Over 800 lines on purpose: the tap and the group consumer share the fetch loop, gap
//! reporting and batching (943 lines of code); their tests are at the end.)
//!
//! Watching a Kafka topic: a **tap** (partitions assigned by hand, never a group member, never a
//! commit — nobody notices it; the default) or a **group** consume (joins the group, reads its
//! assignment from the committed offsets, commits what reached the user: destructive for that
//! group). Both fetch from each partition's leader on their own connections and report the
//! same [`WatchEvent`]s as the other brokers; a lost connection is a gap, then the watch goes
//! on where it stopped. [`browse`] reads one page of a partition by offset.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{RecordBatchDecoder, RecordSet, TimestampType};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::admin::list_offsets;
use super::cluster::Cluster;
use super::group::{GroupMember, needs_rejoin};
use super::wire::{WireError, error_name};
use crate::exchange::{ErrorKind, ExchangeError};
use crate::watched::{Delivered, KafkaPosition, Named, WatchEvent, WatchedMessage};

/// How a Kafka watch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaWatchMode {
    /// Partitions assigned by hand: no group, no commits.
    #[default]
    Tap,
    /// A member of a consumer group: commits.
    Group,
}

impl KafkaWatchMode {
    pub const ALL: [KafkaWatchMode; 2] = [Self::Tap, Self::Group];

    pub fn label(self) -> &'static str {
        match self {
            Self::Tap => "topic tap",
            Self::Group => "group consume",
        }
    }

    pub fn is_destructive(self) -> bool {
        self == Self::Group
    }

    pub fn explanation(self) -> &'static str {
        match self {
            Self::Tap => {
                "Reads the topic's partitions directly, from where 'from' says: never joins a consumer group and never commits, so no consumer notices it."
            }
            Self::Group => {
                "Joins the consumer group and COMMITS what you receive: the group's other members get those partitions' messages no more, and its offsets move."
            }
        }
    }
}

/// What to watch, as saved and as the CLI builds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaWatch {
    pub url: String,
    pub topic: String,
    /// One partition (a tap only); `None`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    /// `earliest`, `latest`, `offset:N`, `time:RFC3339`, `last:N`. Empty: `latest` for a tap;
    /// for a group, its committed offsets (this where nothing is committed; empty: `latest`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    /// Consume as this group; empty: a tap.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Stop after this many messages.
    #[serde(skip)]
    pub limit: Option<u64>,
}

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Earliest,
    Latest,
    Offset(i64),
    /// Milliseconds since the Unix epoch.
    Time(i64),
    /// The last N of each partition.
    Last(i64),
}

impl Start {
    pub fn parse(from: &str) -> Result<Self, ExchangeError> {
        let from = from.trim();
        let bad = |why: &str| {
            ExchangeError::invalid_input(format!(
                "invalid start {from:?}: {why} (earliest, latest, offset:N, time:RFC3339 or last:N)"
            ))
        };
        let number = |n: &str, what: &str| {
            n.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| bad(&format!("{what} is a number from 0")))
        };
        Ok(match from {
            "" | "latest" | "new" | "end" => Self::Latest,
            "earliest" | "beginning" | "all" => Self::Earliest,
            _ => {
                if let Some(n) = from.strip_prefix("offset:") {
                    Self::Offset(number(n, "an offset")?)
                } else if let Some(n) = from.strip_prefix("last:") {
                    Self::Last(number(n, "a count")?)
                } else if let Some(t) = from.strip_prefix("time:") {
                    let at = async_nats::datetime::parse_rfc3339(t.trim())
                        .map_err(|_| bad("the time is not RFC 3339 (2026-12-05T10:00:00Z)"))?;
                    Self::Time((at.unix_timestamp_nanos() / 1_000_000) as i64)
                } else {
                    return Err(bad("unknown start"));
                }
            }
        })
    }
}

impl KafkaWatch {
    pub fn tap(url: impl Into<String>, topic: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            topic: topic.into(),
            partition: None,
            from: String::new(),
            group: String::new(),
            limit: None,
        }
    }

    pub fn mode(&self) -> KafkaWatchMode {
        if self.group.trim().is_empty() {
            KafkaWatchMode::Tap
        } else {
            KafkaWatchMode::Group
        }
    }

    /// `tap orders from earliest`, `group user-service on orders`.
    pub fn describe(&self) -> String {
        let topic = match self.partition {
            Some(p) => format!("{}[{p}]", self.topic),
            None => self.topic.clone(),
        };
        match self.mode() {
            KafkaWatchMode::Tap => format!(
                "tap {topic} from {}",
                if self.from.is_empty() {
                    "latest"
                } else {
                    self.from.trim()
                }
            ),
            KafkaWatchMode::Group => format!("group {} on {topic}", self.group.trim()),
        }
    }

    pub fn check(&self) -> Result<Start, ExchangeError> {
        super::parse_url(&self.url)?;
        super::check_topic(self.topic.trim())?;
        if let Some(p) = self.partition {
            if p < 0 {
                return Err(ExchangeError::invalid_input(format!(
                    "invalid partition {p}: partitions count from 0"
                )));
            }
            if self.mode() == KafkaWatchMode::Group {
                return Err(ExchangeError::invalid_input(
                    "a group member reads the partitions the group assigns: --partition is for a tap",
                ));
            }
        }
        Start::parse(&self.from)
    }
}

/// The wait before connection attempt `attempt` (1 is the first).
pub fn reconnect_delay(attempt: usize) -> Duration {
    crate::nats::watch::reconnect_delay(attempt)
}

/// A record as a watched message.
fn message(topic: &str, partition: i32, r: &kafka_protocol::records::Record) -> WatchedMessage {
    let mut headers = Named::new();
    for (name, value) in &r.headers {
        let v = match value {
            None => serde_json::Value::Null,
            Some(b) => String::from_utf8_lossy(b).into_owned().into(),
        };
        headers.insert(name.to_string(), v);
    }
    WatchedMessage::kafka(
        KafkaPosition {
            topic: topic.to_string(),
            partition,
            offset: r.offset,
            timestamp_ms: r.timestamp,
            log_append_time: r.timestamp_type == TimestampType::LogAppend,
        },
        r.key.as_deref(),
        headers,
        r.value.as_deref().unwrap_or_default().to_vec(),
    )
}

/// Decodes a fetched partition's records from `from` on (a compressed batch can start before).
fn decode(
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
    from: i64,
) -> Result<Vec<WatchedMessage>, ExchangeError> {
    Ok(convert(
        topic,
        partition,
        &batches(topic, partition, records)?,
        from,
    ))
}

/// A fetched partition's record batches, decoded (and decompressed).
fn batches(
    topic: &str,
    partition: i32,
    records: Option<Bytes>,
) -> Result<Vec<RecordSet>, ExchangeError> {
    let Some(mut bytes) = records.filter(|b| !b.is_empty()) else {
        return Ok(Vec::new());
    };
    RecordBatchDecoder::decode_all(&mut bytes).map_err(|e| ExchangeError {
        kind: ErrorKind::Protocol,
        phase: None,
        message: format!("cannot decode the records of {topic}[{partition}]: {e}"),
    })
}

/// The offset after the last record of `sets` at or past `from` (transaction markers count:
/// they are read past, not shown).
fn next_offset(sets: &[RecordSet], from: i64) -> Option<i64> {
    sets.iter()
        .flat_map(|s| s.records.iter())
        .map(|r| r.offset)
        .filter(|o| *o >= from)
        .max()
        .map(|o| o + 1)
}

/// The records of `sets` from `from` on, as watched messages (transaction markers left out).
fn convert(topic: &str, partition: i32, sets: &[RecordSet], from: i64) -> Vec<WatchedMessage> {
    sets.iter()
        .flat_map(|s| s.records.iter())
        .filter(|r| !r.control && r.offset >= from)
        .map(|r| message(topic, partition, r))
        .collect()
}

/// One fetch of `wanted` (partition → next offset) from `conn`; `max_wait` bounds how long the
/// broker holds it when nothing is there.
async fn fetch(
    conn: &mut super::wire::Conn,
    topic: &str,
    wanted: &[(i32, i64)],
    max_wait: Duration,
) -> Result<FetchResponse, WireError> {
    conn.call(&fetch_request(topic, wanted, max_wait)).await
}

/// The fetch request of `wanted` (partition → next offset).
fn fetch_request(topic: &str, wanted: &[(i32, i64)], max_wait: Duration) -> FetchRequest {
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = max_wait.as_millis() as i32;
    req.min_bytes = 1;
    req.max_bytes = 16 * 1024 * 1024;
    req.isolation_level = 0;
    req.session_id = 0;
    req.session_epoch = -1;
    let mut t = FetchTopic::default();
    t.topic = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = wanted
        .iter()
        .map(|(p, offset)| {
            let mut fp = FetchPartition::default();
            fp.partition = *p;
            fp.current_leader_epoch = -1;
            fp.fetch_offset = *offset;
            fp.last_fetched_epoch = -1;
            fp.log_start_offset = -1;
            fp.partition_max_bytes = 4 * 1024 * 1024;
            fp
        })
        .collect();
    req.topics = vec![t];
    req
}

fn failed(kind: ErrorKind, message: String) -> ExchangeError {
    ExchangeError {
        kind,
        phase: None,
        message,
    }
}

/// The start offset of each partition.
async fn start_offsets(
    cluster: &mut Cluster,
    topic: &str,
    partitions: &[(i32, i32)],
    start: Start,
    strict_partition: bool,
) -> Result<HashMap<i32, i64>, ExchangeError> {
    let marks = super::admin::watermarks(cluster, topic, partitions).await?;
    let mut out = HashMap::new();
    for (p, leader) in partitions {
        let (low, high) = marks.get(p).copied().unwrap_or((0, 0));
        let at = match start {
            Start::Earliest => low,
            Start::Latest => high,
            Start::Last(n) => (high - n).max(low),
            Start::Offset(n) if n >= low && n <= high => n,
            Start::Offset(n) if strict_partition => {
                return Err(ExchangeError::invalid_input(format!(
                    "offset {n} is out of range for {topic}[{p}]: it holds offsets {low}..{high} (the next one written is {high})"
                )));
            }
            Start::Offset(n) => n.clamp(low, high),
            // A time still to come: nothing was written then yet (some brokers, tansu's memory
            // storage among them, answer such a lookup with the log's start).
            Start::Time(ms) if ms > crate::recorder::unix_ms() as i64 => high,
            Start::Time(ms) => {
                let (conn, _) = cluster
                    .conn_for(*leader)
                    .await
                    .map_err(|e| e.error(&format!("broker {leader}")))?;
                let found = list_offsets(conn, topic, &[*p], ms).await?;
                found.get(p).copied().filter(|o| *o >= 0).unwrap_or(high)
            }
        };
        out.insert(*p, at);
    }
    Ok(out)
}

/// Runs a Kafka watch until `cancel` fires, the receiver is dropped, the limit is reached or it
/// fails. A group consume commits only what `delivered` says reached the user (everything handed
/// over, without it), and on the way out leaves the group.
pub async fn run(
    spec: KafkaWatch,
    events: mpsc::Sender<WatchEvent>,
    cancel: CancellationToken,
    delivered: Option<Delivered>,
) {
    if let Err(error) = run_inner(&spec, &events, &cancel, delivered).await {
        let _ = events.send(WatchEvent::Failed(error)).await;
    }
}

/// What a watch has handed over and not yet committed: `(partition, next offset)` per message.
struct Pending {
    handed: VecDeque<(i32, i64)>,
    /// Messages handed over before `handed`'s first (committed or dropped).
    done: u64,
}

impl Pending {
    /// The offsets to commit once `count` messages reached the user.
    fn take_delivered(&mut self, count: u64) -> HashMap<i32, i64> {
        let mut out = HashMap::new();
        while self.done < count {
            let Some((p, next)) = self.handed.pop_front() else {
                break;
            };
            out.insert(p, next);
            self.done += 1;
        }
        out
    }
}

struct Session {
    cluster: Cluster,
    /// Partition → its leader.
    leaders: Vec<(i32, i32)>,
    member: Option<GroupMember>,
    /// What the user must be told before the messages (a partition read again).
    notices: Vec<String>,
}

/// Connects, looks the topic up and (for a group) joins; returns the session and the offsets
/// to read from (`next` when resuming after a gap).
async fn open(
    spec: &KafkaWatch,
    start: Start,
    next: &HashMap<i32, i64>,
) -> Result<(Session, HashMap<i32, i64>), ExchangeError> {
    let (mut cluster, _) = Cluster::connect(&spec.url, "switchboard-watch")
        .await
        .map_err(|(e, addr)| e.error(&addr))?;
    let topic = spec.topic.trim();
    let meta = cluster.topic(topic).await?;
    let mut leaders: Vec<(i32, i32)> = meta.partitions.iter().map(|p| (p.id, p.leader)).collect();
    if let Some(p) = spec.partition {
        if !leaders.iter().any(|(id, _)| *id == p) {
            return Err(ExchangeError::invalid_input(format!(
                "partition {p} is out of range: topic {topic:?} has partitions 0..{}",
                leaders.len().saturating_sub(1)
            )));
        }
        leaders.retain(|(id, _)| *id == p);
    }
    let mut member = None;
    if spec.mode() == KafkaWatchMode::Group {
        let all: Vec<i32> = leaders.iter().map(|(p, _)| *p).collect();
        let m = GroupMember::join(&mut cluster, spec.group.trim(), topic, &all).await?;
        leaders.retain(|(p, _)| m.assignment.contains(p));
        member = Some(m);
    }
    let mut offsets = HashMap::new();
    let fresh: Vec<(i32, i32)> = leaders
        .iter()
        .filter(|(p, _)| !next.contains_key(p))
        .copied()
        .collect();
    let mut from_start: HashMap<i32, i64> = HashMap::new();
    let mut notices = Vec::new();
    if let Some(m) = member.as_mut() {
        let parts: Vec<i32> = fresh.iter().map(|(p, _)| *p).collect();
        for (p, c) in m.committed(&parts).await? {
            if c >= 0 {
                offsets.insert(p, c);
            }
        }
    }
    let unset: Vec<(i32, i32)> = fresh
        .iter()
        .filter(|(p, _)| !offsets.contains_key(p))
        .copied()
        .collect();
    if !unset.is_empty() {
        from_start =
            start_offsets(&mut cluster, topic, &unset, start, spec.partition.is_some()).await?;
    }
    offsets.extend(from_start);
    let resumed: Vec<(i32, i32)> = leaders
        .iter()
        .filter(|(p, _)| next.contains_key(p))
        .copied()
        .collect();
    if !resumed.is_empty() {
        // Where it stopped — unless the log is now shorter (recreated, or truncated): then
        // from its start.
        let marks = super::admin::watermarks(&mut cluster, topic, &resumed).await?;
        for (p, _) in &resumed {
            let n = next.get(p).copied().unwrap_or(0);
            let (low, high) = marks.get(p).copied().unwrap_or((0, 0));
            if n > high || n < low {
                notices.push(format!(
                    "partition {p} now holds offsets {low}..{high}, not the {n} the watch had reached (the topic was recreated or truncated): reading it again from {low}"
                ));
                offsets.insert(*p, low);
            } else {
                offsets.insert(*p, n);
            }
        }
    }
    Ok((
        Session {
            cluster,
            leaders,
            member,
            notices,
        },
        offsets,
    ))
}

async fn run_inner(
    spec: &KafkaWatch,
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    delivered: Option<Delivered>,
) -> Result<(), ExchangeError> {
    let start = spec.check()?;
    let topic = spec.topic.trim().to_string();
    let mut next: HashMap<i32, i64> = HashMap::new();
    let mut sent: u64 = 0;
    let mut pending = Pending {
        handed: VecDeque::new(),
        done: 0,
    };
    let mut attempt = 0usize;
    let mut reconnected = false;
    loop {
        attempt += 1;
        let opened = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            r = tokio::time::timeout(Duration::from_secs(15), open(spec, start, &next)) => r,
        };
        let (mut session, offsets) = match opened {
            Ok(Ok(opened)) => opened,
            // Refused, missing topic, bad partition…: said once, the watch ends.
            // After a gap a missing topic may be on its way back (a broker with memory
            // storage, a topic deleted and recreated): looked for again, like a lost broker.
            Ok(Err(e))
                if !reconnected || !(retryable(&e) || e.message.contains("does not exist")) =>
            {
                return Err(e);
            }
            Ok(Err(e)) => {
                if !gap(events, cancel, e.message, attempt).await {
                    return Ok(());
                }
                continue;
            }
            Err(_) if !reconnected => {
                return Err(failed(
                    ErrorKind::Timeout,
                    format!("connecting to {} timed out", spec.url),
                ));
            }
            Err(_) => {
                if !gap(events, cancel, "connecting timed out".into(), attempt).await {
                    return Ok(());
                }
                continue;
            }
        };
        next = offsets;
        let what = match &session.member {
            Some(m) => format!(
                "{} as group {} (partitions {:?})",
                topic, m.group, m.assignment
            ),
            None => format!(
                "{topic} partitions {:?}",
                session.leaders.iter().map(|(p, _)| *p).collect::<Vec<_>>()
            ),
        };
        if events
            .send(WatchEvent::Connected {
                queue: what,
                reconnected,
            })
            .await
            .is_err()
        {
            return Ok(());
        }
        for notice in std::mem::take(&mut session.notices) {
            if events.send(WatchEvent::Notice(notice)).await.is_err() {
                return Ok(());
            }
        }
        let outcome = read(
            spec,
            &topic,
            &mut session,
            &mut next,
            &mut sent,
            &mut pending,
            events,
            cancel,
            delivered.as_ref(),
        )
        .await;
        if let Some(member) = session.member.as_mut() {
            let count = delivered.as_ref().map_or(sent, |d| *d.borrow());
            let _ = member.commit(&pending.take_delivered(count)).await;
            if !matches!(outcome, Ok(Read::Lost(_))) {
                member.leave().await;
            }
        }
        match outcome {
            Ok(Read::Done) => return Ok(()),
            Ok(Read::Lost(reason)) => {
                reconnected = true;
                attempt = 1;
                if !gap(events, cancel, reason, attempt + 1).await {
                    return Ok(());
                }
            }
            Err(e) => return Err(e),
        }
    }
}

fn retryable(e: &ExchangeError) -> bool {
    matches!(
        e.kind,
        ErrorKind::ConnectionRefused | ErrorKind::Io | ErrorKind::Protocol | ErrorKind::Timeout
    )
}

/// Reports a gap and waits before the next attempt; false when cancelled or nobody listens.
async fn gap(
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    reason: String,
    attempt: usize,
) -> bool {
    let retry_in = reconnect_delay(attempt).max(Duration::from_millis(250));
    if events
        .send(WatchEvent::Lost { reason, retry_in })
        .await
        .is_err()
    {
        return false;
    }
    tokio::select! {
        _ = cancel.cancelled() => false,
        _ = tokio::time::sleep(retry_in) => true,
    }
}

enum Read {
    Done,
    Lost(String),
}

#[allow(clippy::too_many_arguments)]
async fn read(
    spec: &KafkaWatch,
    topic: &str,
    session: &mut Session,
    next: &mut HashMap<i32, i64>,
    sent: &mut u64,
    pending: &mut Pending,
    events: &mpsc::Sender<WatchEvent>,
    cancel: &CancellationToken,
    delivered: Option<&Delivered>,
) -> Result<Read, ExchangeError> {
    let mut last_beat = Instant::now();
    // A tap sends a leader its next fetch before converting what the last one brought, so the
    // broker works on it meanwhile (leader → the request's correlation id and version). A
    // group member does not: its commits and heartbeats may share the connection.
    let mut prefetched: HashMap<i32, (i32, i16)> = HashMap::new();
    loop {
        if spec.limit.is_some_and(|l| *sent >= l) {
            // A group commits what reached the user: wait (a little) until all of it has.
            if let (Some(_), Some(d)) = (&session.member, delivered) {
                let mut d = d.clone();
                let give_up = tokio::time::sleep(Duration::from_secs(5));
                tokio::pin!(give_up);
                while *d.borrow() < *sent {
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = &mut give_up => break,
                        changed = d.changed() => if changed.is_err() { break },
                    }
                }
            }
            return Ok(Read::Done);
        }
        // A group member: heartbeat, commit what reached the user, rejoin when asked.
        if let Some(member) = session.member.as_mut() {
            let count = delivered.map_or(*sent, |d| *d.borrow());
            let mut code = match member.commit(&pending.take_delivered(count)).await {
                Ok(code) => code,
                Err(e) if retryable(&e) => return Ok(Read::Lost(e.message)),
                Err(e) => return Err(e),
            };
            if code == 0 && last_beat.elapsed() >= Duration::from_secs(3) {
                last_beat = Instant::now();
                code = match member.heartbeat().await {
                    Ok(code) => code,
                    Err(e) if retryable(&e) => return Ok(Read::Lost(e.message)),
                    Err(e) => return Err(e),
                };
            }
            if needs_rejoin(code) {
                let all: Vec<i32> = {
                    let meta = session.cluster.topic(topic).await?;
                    meta.partitions.iter().map(|p| p.id).collect()
                };
                // What was handed over but not delivered goes back to the group.
                pending.handed.clear();
                pending.done = *sent;
                member.rejoin(&all).await?;
                let assigned = member.assignment.clone();
                let committed = member.committed(&assigned).await?;
                let meta = session.cluster.topic(topic).await?;
                session.leaders = meta
                    .partitions
                    .iter()
                    .filter(|p| assigned.contains(&p.id))
                    .map(|p| (p.id, p.leader))
                    .collect();
                next.clear();
                let unset: Vec<(i32, i32)> = session
                    .leaders
                    .iter()
                    .filter(|(p, _)| committed.get(p).is_none_or(|c| *c < 0))
                    .copied()
                    .collect();
                let start = Start::parse(&spec.from)?;
                next.extend(
                    start_offsets(&mut session.cluster, topic, &unset, start, false).await?,
                );
                for (p, c) in committed {
                    if c >= 0 && assigned.contains(&p) {
                        next.insert(p, c);
                    }
                }
                let _ = events
                    .send(WatchEvent::Connected {
                        queue: format!(
                            "{topic} as group {} (partitions {assigned:?}, rebalanced)",
                            member.group
                        ),
                        reconnected: false,
                    })
                    .await;
            }
        }
        if session.leaders.is_empty() {
            // A group member with nothing assigned: wait, heartbeat, and see.
            tokio::select! {
                _ = cancel.cancelled() => return Ok(Read::Done),
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            continue;
        }
        let mut by_leader: HashMap<i32, Vec<(i32, i64)>> = HashMap::new();
        for (p, leader) in &session.leaders {
            by_leader
                .entry(*leader)
                .or_default()
                .push((*p, next.get(p).copied().unwrap_or(0)));
        }
        // Short: some brokers (tansu) answer a fetch only when its wait is over, data or not.
        let wait = Duration::from_millis(100);
        let mut batch = Vec::new();
        for (leader, wanted) in by_leader {
            let fetched = tokio::select! {
                _ = cancel.cancelled() => return Ok(Read::Done),
                r = async {
                    let (conn, _) = session.cluster.conn_for(leader).await?;
                    match prefetched.remove(&leader) {
                        Some((id, version)) => conn.recv::<FetchRequest>(id, version).await,
                        None => fetch(conn, topic, &wanted, wait).await,
                    }
                } => r,
            };
            let response = match fetched {
                Ok(r) => r,
                Err(e @ WireError::Io(_)) => {
                    session.cluster.drop_conn(leader);
                    return Ok(Read::Lost(e.error(&format!("broker {leader}")).message));
                }
                // Bytes that do not decode will not decode better next time.
                Err(e) => return Err(e.error(&format!("broker {leader}"))),
            };
            if response.error_code != 0 {
                return Ok(Read::Lost(format!(
                    "fetch failed: {}",
                    error_name(response.error_code)
                )));
            }
            let mut fetched_sets = Vec::new();
            for part in response.responses.iter().flat_map(|t| t.partitions.iter()) {
                let p = part.partition_index;
                let from = next.get(&p).copied().unwrap_or(0);
                match part.error_code {
                    0 => {}
                    1 => {
                        // Out of range (the log was truncated under us): from the earliest.
                        let marks =
                            super::admin::watermarks(&mut session.cluster, topic, &[(p, leader)])
                                .await?;
                        let low = marks.get(&p).map_or(0, |m| m.0);
                        next.insert(p, low);
                        continue;
                    }
                    3 | 6 => {
                        return Ok(Read::Lost(format!(
                            "{topic}[{p}]: {} — looking the leader up again",
                            error_name(part.error_code)
                        )));
                    }
                    code => {
                        return Err(failed(
                            ErrorKind::Refused,
                            format!("fetching {topic}[{p}] failed: {}", error_name(code)),
                        ));
                    }
                }
                let sets = batches(topic, p, part.records.clone())?;
                if let Some(after) = next_offset(&sets, from) {
                    next.insert(p, after);
                }
                fetched_sets.push((p, sets, from));
            }
            if session.member.is_none() {
                let wanted: Vec<(i32, i64)> = wanted
                    .iter()
                    .map(|(p, _)| (*p, next.get(p).copied().unwrap_or(0)))
                    .collect();
                let sent_ahead = match session.cluster.conn_for(leader).await {
                    Ok((conn, _)) => conn.send(&fetch_request(topic, &wanted, wait)).await,
                    Err(e) => Err(e),
                };
                match sent_ahead {
                    Ok(request) => {
                        prefetched.insert(leader, request);
                    }
                    Err(e) => {
                        session.cluster.drop_conn(leader);
                        return Ok(Read::Lost(e.error(&format!("broker {leader}")).message));
                    }
                }
            }
            for (p, sets, from) in fetched_sets {
                batch.extend(convert(topic, p, &sets, from));
            }
        }
        if let Some(limit) = spec.limit {
            batch.truncate(limit.saturating_sub(*sent) as usize);
        }
        if batch.is_empty() {
            continue;
        }
        if session.member.is_some() {
            for m in &batch {
                if let (Some(p), Some(o)) = (m.kafka_partition(), m.kafka_offset()) {
                    pending.handed.push_back((p, o + 1));
                }
            }
        }
        *sent += batch.len() as u64;
        for chunk in crate::watched::batches(batch) {
            if events.send(WatchEvent::Messages(chunk)).await.is_err() {
                return Ok(Read::Done);
            }
        }
    }
}

/// One page of a partition: the messages from `offset` on (at most `max`), the partition's
/// watermarks, and the offset after the page. Nothing is joined or committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub messages: Vec<WatchedMessage>,
    pub low: i64,
    pub high: i64,
    pub next: i64,
}

/// Reads one page of `topic[partition]` from `offset`.
pub async fn browse(
    url: &str,
    topic: &str,
    partition: i32,
    offset: i64,
    max: usize,
) -> Result<Page, ExchangeError> {
    super::check_topic(topic)?;
    let fut = async {
        let (mut cluster, _) = Cluster::connect(url, "switchboard-browse")
            .await
            .map_err(|(e, addr)| e.error(&addr))?;
        let meta = cluster.topic(topic).await?;
        let Some(leader) = meta
            .partitions
            .iter()
            .find(|p| p.id == partition)
            .map(|p| p.leader)
        else {
            return Err(ExchangeError::invalid_input(format!(
                "partition {partition} is out of range: topic {topic:?} has partitions 0..{}",
                meta.partitions.len().saturating_sub(1)
            )));
        };
        let marks = super::admin::watermarks(&mut cluster, topic, &[(partition, leader)]).await?;
        let (low, high) = marks.get(&partition).copied().unwrap_or((0, 0));
        let mut at = offset.clamp(low, high);
        let mut messages = Vec::new();
        while messages.len() < max && at < high {
            let (conn, _) = cluster
                .conn_for(leader)
                .await
                .map_err(|e| e.error(&format!("broker {leader}")))?;
            let response = fetch(conn, topic, &[(partition, at)], Duration::from_millis(100))
                .await
                .map_err(|e| e.error(&format!("broker {leader}")))?;
            let Some(part) = response
                .responses
                .iter()
                .flat_map(|t| t.partitions.iter())
                .next()
            else {
                break;
            };
            if part.error_code != 0 {
                return Err(failed(
                    ErrorKind::Refused,
                    format!(
                        "fetching {topic}[{partition}] failed: {}",
                        error_name(part.error_code)
                    ),
                ));
            }
            let got = decode(topic, partition, part.records.clone(), at)?;
            let Some(last) = got.last().and_then(WatchedMessage::kafka_offset) else {
                break;
            };
            at = last + 1;
            messages.extend(got);
        }
        messages.truncate(max);
        let next = messages
            .last()
            .and_then(WatchedMessage::kafka_offset)
            .map_or(at, |o| o + 1);
        Ok(Page {
            messages,
            low,
            high,
            next,
        })
    };
    tokio::time::timeout(super::cluster::ADMIN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(failed(
                ErrorKind::Timeout,
                format!("browsing {topic}[{partition}] timed out"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_parse_and_bad_ones_say_what_is_allowed() {
        assert_eq!(Start::parse("").unwrap(), Start::Latest);
        assert_eq!(Start::parse("earliest").unwrap(), Start::Earliest);
        assert_eq!(Start::parse("offset:5").unwrap(), Start::Offset(5));
        assert_eq!(Start::parse("last:10").unwrap(), Start::Last(10));
        assert_eq!(
            Start::parse("time:2026-12-05T10:00:00Z").unwrap(),
            Start::Time(1_796_464_800_000)
        );
        for bad in ["offset:-1", "offset:x", "last:", "time:yesterday", "middle"] {
            let e = Start::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput);
            assert!(e.message.contains("earliest, latest"), "{}", e.message);
        }
    }

    #[test]
    fn a_group_reads_what_it_is_assigned() {
        let mut w = KafkaWatch::tap("kafka://127.0.0.1:9092", "orders");
        assert_eq!(w.mode(), KafkaWatchMode::Tap);
        w.partition = Some(1);
        assert!(w.check().is_ok());
        w.group = "g".into();
        assert_eq!(w.mode(), KafkaWatchMode::Group);
        assert!(
            w.check()
                .unwrap_err()
                .message
                .contains("--partition is for a tap")
        );
    }

    #[test]
    fn commits_follow_what_reached_the_user() {
        let mut p = Pending {
            handed: VecDeque::from(vec![(0, 1), (1, 5), (0, 2)]),
            done: 0,
        };
        let c = p.take_delivered(2);
        assert_eq!(c.get(&0), Some(&1));
        assert_eq!(c.get(&1), Some(&5));
        let c = p.take_delivered(3);
        assert_eq!(c.get(&0), Some(&2));
        assert!(p.take_delivered(3).is_empty());
    }
}
