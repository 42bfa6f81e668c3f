//! Topics (partitions, leaders, low and high watermarks, message counts), consumer groups (state,
//! members, committed offsets and lag), creating a topic, and offsets by time.

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, ListOffsetsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use serde::Serialize;

use super::cluster::{ADMIN_TIMEOUT, Cluster};
use super::wire::{Conn, error_name};
use crate::exchange::{ErrorKind, ExchangeError};

/// ListOffsets' special timestamps.
pub const EARLIEST: i64 = -2;
pub const LATEST: i64 = -1;

fn timed_out(what: &str) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Timeout,
        phase: None,
        message: format!("{what} timed out after {} s", ADMIN_TIMEOUT.as_secs()),
    }
}

/// Connects for an admin call (errors named for the user).
pub async fn connect(url: &str) -> Result<Cluster, ExchangeError> {
    super::parse_url(url)?;
    match tokio::time::timeout(ADMIN_TIMEOUT, Cluster::connect(url, "switchboard-admin")).await {
        Ok(Ok((cluster, _))) => Ok(cluster),
        Ok(Err((e, addr))) => Err(e.error(&addr)),
        Err(_) => Err(timed_out(&format!("connecting to {url}"))),
    }
}

/// The offset at `timestamp` (or [`EARLIEST`] / [`LATEST`]) of each of `partitions`.
pub async fn list_offsets(
    conn: &mut Conn,
    topic: &str,
    partitions: &[i32],
    timestamp: i64,
) -> Result<HashMap<i32, i64>, ExchangeError> {
    let addr = conn.addr.clone();
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    let mut t = ListOffsetsTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partitions = partitions
        .iter()
        .map(|p| {
            let mut lp = ListOffsetsPartition::default();
            lp.partition_index = *p;
            lp.current_leader_epoch = -1;
            lp.timestamp = timestamp;
            lp
        })
        .collect();
    req.topics = vec![t];
    let response = conn.call(&req).await.map_err(|e| e.error(&addr))?;
    let mut out = HashMap::new();
    for p in response.topics.iter().flat_map(|t| t.partitions.iter()) {
        if p.error_code != 0 {
            return Err(ExchangeError {
                kind: ErrorKind::Refused,
                phase: None,
                message: format!(
                    "listing offsets of {topic}[{}] failed: {}",
                    p.partition_index,
                    error_name(p.error_code)
                ),
            });
        }
        out.insert(p.partition_index, p.offset);
    }
    Ok(out)
}

/// Low and high watermarks of each partition of `topic`, asked of each partition's leader.
pub async fn watermarks(
    cluster: &mut Cluster,
    topic: &str,
    partitions: &[(i32, i32)],
) -> Result<HashMap<i32, (i64, i64)>, ExchangeError> {
    let mut by_leader: HashMap<i32, Vec<i32>> = HashMap::new();
    for (p, leader) in partitions {
        by_leader.entry(*leader).or_default().push(*p);
    }
    let mut out = HashMap::new();
    for (leader, parts) in by_leader {
        let (conn, _) = cluster
            .conn_for(leader)
            .await
            .map_err(|e| e.error(&format!("broker {leader}")))?;
        let low = list_offsets(conn, topic, &parts, EARLIEST).await?;
        let high = list_offsets(conn, topic, &parts, LATEST).await?;
        for p in parts {
            out.insert(
                p,
                (
                    low.get(&p).copied().unwrap_or(0),
                    high.get(&p).copied().unwrap_or(0),
                ),
            );
        }
    }
    Ok(out)
}

/// One partition in the topics view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartitionInfo {
    pub partition: i32,
    pub leader: i32,
    pub replicas: usize,
    pub low: i64,
    pub high: i64,
    pub messages: i64,
}

/// One topic in the topics view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicInfo {
    pub topic: String,
    pub internal: bool,
    pub partitions: Vec<PartitionInfo>,
    pub messages: i64,
}

/// A topic's partitions that exist (id ≥ 0) and their leaders.
fn live_partitions(meta: &super::cluster::TopicMeta) -> Vec<(i32, i32)> {
    meta.partitions
        .iter()
        .filter(|p| p.id >= 0)
        .map(|p| (p.id, p.leader))
        .collect()
}

/// A partition's lag for a group: what is past its commit, or its whole log when it has none
/// (`committed` < 0), as kafka-consumer-groups counts it.
fn partition_lag(committed: i64, low: i64, high: i64) -> i64 {
    if committed >= 0 {
        (high - committed).max(0)
    } else {
        (high - low).max(0)
    }
}

/// Every topic of the cluster, sorted by name.
pub async fn topics(url: &str) -> Result<Vec<TopicInfo>, ExchangeError> {
    let mut cluster = connect(url).await?;
    let fut = async {
        let addr = cluster.bootstrap_addr().to_string();
        let metas = cluster.metadata(None).await.map_err(|e| e.error(&addr))?;
        let mut out = Vec::new();
        for meta in metas {
            let parts = live_partitions(&meta);
            let marks = watermarks(&mut cluster, &meta.name, &parts).await?;
            let partitions: Vec<PartitionInfo> = meta
                .partitions
                .iter()
                .filter(|p| p.id >= 0)
                .map(|p| {
                    let (low, high) = marks.get(&p.id).copied().unwrap_or((0, 0));
                    PartitionInfo {
                        partition: p.id,
                        leader: p.leader,
                        replicas: p.replicas,
                        low,
                        high,
                        messages: (high - low).max(0),
                    }
                })
                .collect();
            out.push(TopicInfo {
                messages: partitions.iter().map(|p| p.messages).sum(),
                topic: meta.name,
                internal: meta.internal,
                partitions,
            });
        }
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        Ok(out)
    };
    tokio::time::timeout(ADMIN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(timed_out("listing topics")))
}

/// Creates `topic` with `partitions` (replication 1); `Ok(false)` when it already exists.
pub async fn create_topic(url: &str, topic: &str, partitions: i32) -> Result<bool, ExchangeError> {
    super::check_topic(topic)?;
    let mut cluster = connect(url).await?;
    let addr = cluster.bootstrap_addr().to_string();
    let mut req = CreateTopicsRequest::default();
    let mut t = CreatableTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.num_partitions = partitions;
    t.replication_factor = 1;
    req.topics = vec![t];
    req.timeout_ms = 10_000;
    let fut = async {
        cluster
            .boot()
            .map_err(|e| e.error(&addr))?
            .call(&req)
            .await
            .map_err(|e| e.error(&addr))
    };
    let response = tokio::time::timeout(ADMIN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(timed_out("creating a topic")))?;
    match response.topics.first().map(|t| t.error_code) {
        Some(0) => Ok(true),
        Some(36) => Ok(false),
        Some(code) => Err(ExchangeError {
            kind: ErrorKind::Refused,
            phase: None,
            message: format!("creating topic {topic:?} failed: {}", error_name(code)),
        }),
        None => Err(ExchangeError {
            kind: ErrorKind::Protocol,
            phase: None,
            message: "the broker's CreateTopics response is empty".into(),
        }),
    }
}

/// A partition's committed offset and lag in a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    /// `-1`: nothing committed.
    pub committed: i64,
    pub high: i64,
    /// Messages not yet committed (from the low watermark when nothing is committed).
    pub lag: i64,
}

/// A consumer group in the groups view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub group: String,
    pub state: String,
    pub protocol: String,
    pub members: Vec<String>,
    pub offsets: Vec<GroupOffset>,
    pub lag: i64,
}

/// Every consumer group, with its members and per-partition committed offsets and lag.
pub async fn groups(url: &str) -> Result<Vec<GroupInfo>, ExchangeError> {
    let mut cluster = connect(url).await?;
    let fut = async {
        let addr = cluster.bootstrap_addr().to_string();
        let boot = cluster.boot().map_err(|e| e.error(&addr))?;
        let listed = boot
            .call(&ListGroupsRequest::default())
            .await
            .map_err(|e| e.error(&addr))?;
        if listed.error_code != 0 {
            return Err(ExchangeError {
                kind: ErrorKind::Refused,
                phase: None,
                message: format!("listing groups failed: {}", error_name(listed.error_code)),
            });
        }
        let mut names: Vec<String> = listed
            .groups
            .iter()
            .map(|g| g.group_id.to_string())
            .collect();
        names.sort();
        let metas = cluster.metadata(None).await.map_err(|e| e.error(&addr))?;
        let mut marks: HashMap<(String, i32), (i64, i64)> = HashMap::new();
        for meta in &metas {
            let parts = live_partitions(meta);
            for (p, m) in watermarks(&mut cluster, &meta.name, &parts).await? {
                marks.insert((meta.name.clone(), p), m);
            }
        }
        let mut out = Vec::new();
        for name in names {
            let mut conn = coordinator(&mut cluster, &name).await?;
            let mut describe = DescribeGroupsRequest::default();
            describe.groups = vec![GroupId(StrBytes::from_string(name.clone()))];
            let described = conn
                .call(&describe)
                .await
                .map_err(|e| e.error(&conn.addr.clone()))?;
            let d = described.groups.first();
            let mut offsets = Vec::new();
            for meta in &metas {
                let parts: Vec<i32> = meta
                    .partitions
                    .iter()
                    .map(|p| p.id)
                    .filter(|p| *p >= 0)
                    .collect();
                let committed =
                    super::group::committed_offsets(&mut conn, &name, &meta.name, &parts).await?;
                // A topic the group reads (it committed somewhere in it): every partition, those
                // without a commit too — their whole log is lag (as kafka-consumer-groups).
                if !committed.values().any(|c| *c >= 0) {
                    continue;
                }
                for p in parts {
                    let c = committed.get(&p).copied().unwrap_or(-1);
                    let (low, high) = marks
                        .get(&(meta.name.clone(), p))
                        .copied()
                        .unwrap_or((0, 0));
                    offsets.push(GroupOffset {
                        topic: meta.name.clone(),
                        partition: p,
                        committed: c,
                        high,
                        lag: partition_lag(c, low, high),
                    });
                }
            }
            out.push(GroupInfo {
                state: d.map(|d| d.group_state.to_string()).unwrap_or_default(),
                protocol: d.map(|d| d.protocol_data.to_string()).unwrap_or_default(),
                members: d
                    .map(|d| {
                        d.members
                            .iter()
                            .map(|m| {
                                [
                                    m.member_id.as_str(),
                                    m.client_id.as_str(),
                                    m.client_host.as_str(),
                                ]
                                .into_iter()
                                .filter(|s| !s.is_empty())
                                .collect::<Vec<_>>()
                                .join(" ")
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                lag: offsets.iter().map(|o| o.lag).sum(),
                group: name,
                offsets,
            });
        }
        Ok(out)
    };
    tokio::time::timeout(ADMIN_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(timed_out("listing groups")))
}

/// A connection to `group`'s coordinator.
pub async fn coordinator(cluster: &mut Cluster, group: &str) -> Result<Conn, ExchangeError> {
    let addr = cluster.bootstrap_addr().to_string();
    let mut find = FindCoordinatorRequest::default();
    find.key = StrBytes::from_string(group.to_string());
    let found = cluster
        .boot()
        .map_err(|e| e.error(&addr))?
        .call(&find)
        .await
        .map_err(|e| e.error(&addr))?;
    if found.error_code != 0 {
        return Err(ExchangeError {
            kind: ErrorKind::Refused,
            phase: None,
            message: format!(
                "finding the coordinator of group {group:?} failed: {}",
                error_name(found.error_code)
            ),
        });
    }
    let at = format!("{}:{}", found.host.as_str(), found.port);
    let (conn, _) = Conn::open(&at, cluster.client_id())
        .await
        .map_err(|e| e.error(&at))?;
    Ok(conn)
}

/// A group's committed offsets of one topic (`-1`: none), for tests and the UI.
pub async fn group_offsets(
    url: &str,
    group: &str,
    topic: &str,
) -> Result<HashMap<i32, i64>, ExchangeError> {
    let mut cluster = connect(url).await?;
    let meta = cluster.topic(topic).await?;
    let parts: Vec<i32> = meta.partitions.iter().map(|p| p.id).collect();
    let mut conn = coordinator(&mut cluster, group).await?;
    tokio::time::timeout(
        ADMIN_TIMEOUT,
        super::group::committed_offsets(&mut conn, group, topic, &parts),
    )
    .await
    .unwrap_or_else(|_| Err(timed_out("reading committed offsets")))
}

/// The group ids the cluster knows.
pub async fn group_names(url: &str) -> Result<Vec<String>, ExchangeError> {
    let mut cluster = connect(url).await?;
    let addr = cluster.bootstrap_addr().to_string();
    let boot = cluster.boot().map_err(|e| e.error(&addr))?;
    let listed = tokio::time::timeout(
        Duration::from_secs(10),
        boot.call(&ListGroupsRequest::default()),
    )
    .await
    .map_err(|_| timed_out("listing groups"))?
    .map_err(|e| e.error(&addr))?;
    Ok(listed
        .groups
        .iter()
        .map(|g| g.group_id.to_string())
        .collect())
}

/// How far a group is behind on one topic: the sum over its partitions of what it has not
/// committed yet (from the low watermark where it committed nothing), as in [`groups`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GroupLag {
    pub lag: i64,
    pub partitions: usize,
}

/// A kept connection (bootstrap and the group's coordinator) for asking one group's lag on one
/// topic, cheap enough to poll every second (the services strip's Kafka lag); reconnects on the
/// next call after a failure.
pub struct GroupLagProbe {
    url: String,
    open: Option<(Cluster, Conn)>,
}

impl GroupLagProbe {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            open: None,
        }
    }

    /// `group`'s lag on `topic`, or why not (broker down, no such topic: one line each).
    pub async fn lag(
        &mut self,
        group: &str,
        topic: &str,
        timeout: Duration,
    ) -> Result<GroupLag, ExchangeError> {
        let answer = tokio::time::timeout(timeout, self.ask(group, topic))
            .await
            .unwrap_or_else(|_| {
                Err(ExchangeError {
                    kind: ErrorKind::Timeout,
                    phase: None,
                    message: format!("no answer within {} ms", timeout.as_millis()),
                })
            });
        if answer.is_err() {
            self.open = None;
        }
        answer
    }

    async fn ask(&mut self, group: &str, topic: &str) -> Result<GroupLag, ExchangeError> {
        if self.open.is_none() {
            let mut cluster = connect(&self.url).await?;
            let conn = coordinator(&mut cluster, group).await?;
            self.open = Some((cluster, conn));
        }
        let Some((cluster, conn)) = self.open.as_mut() else {
            return Err(ExchangeError {
                kind: ErrorKind::Io,
                phase: None,
                message: "not connected".into(),
            });
        };
        let meta = cluster.topic(topic).await?;
        let parts = live_partitions(&meta);
        let marks = watermarks(cluster, topic, &parts).await?;
        let ids: Vec<i32> = parts.iter().map(|(p, _)| *p).collect();
        let committed = super::group::committed_offsets(conn, group, topic, &ids).await?;
        let lag = ids
            .iter()
            .map(|p| {
                let (low, high) = marks.get(p).copied().unwrap_or((0, 0));
                partition_lag(committed.get(p).copied().unwrap_or(-1), low, high)
            })
            .sum();
        Ok(GroupLag {
            lag,
            partitions: ids.len(),
        })
    }
}
