//! Membership of a consumer group (the classic protocol every broker speaks): find the
//! coordinator, join, sync (as the leader: a range assignment of the subscribed topic), fetch
//! and commit offsets, heartbeat, leave. Used by the group consume and by the demo's User
//! Service.

use std::collections::HashMap;

use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, FindCoordinatorRequest, GroupId,
    HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest,
    SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::cluster::Cluster;
use super::wire::{Conn, decode_versioned, encode_versioned, error_name};
use crate::exchange::{ErrorKind, ExchangeError};

/// Error codes a member handles by rejoining.
pub const REBALANCE_IN_PROGRESS: i16 = 27;
const UNKNOWN_MEMBER_ID: i16 = 25;
const ILLEGAL_GENERATION: i16 = 22;
const MEMBER_ID_REQUIRED: i16 = 79;

/// Session timeout asked when joining.
const SESSION_TIMEOUT_MS: i32 = 10_000;
/// Rebalance timeout asked when joining (a tansu join waits about half of it).
const REBALANCE_TIMEOUT_MS: i32 = 3_000;

/// Whether a group error means "join again".
pub fn needs_rejoin(code: i16) -> bool {
    matches!(
        code,
        REBALANCE_IN_PROGRESS | UNKNOWN_MEMBER_ID | ILLEGAL_GENERATION
    )
}

/// A member of `group` reading `topic`.
pub struct GroupMember {
    pub group: String,
    pub topic: String,
    pub member_id: String,
    pub generation: i32,
    /// The partitions of `topic` assigned to this member.
    pub assignment: Vec<i32>,
    conn: Conn,
}

fn group_error(what: &str, group: &str, code: i16) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Refused,
        phase: None,
        message: format!("{what} for group {group:?} failed: {}", error_name(code)),
    }
}

/// A range assignment: `partitions` split into consecutive runs, one per member in id order
/// (the first ones get one more when it does not divide).
pub fn range_assign(members: &[String], partitions: &[i32]) -> HashMap<String, Vec<i32>> {
    let mut members = members.to_vec();
    members.sort();
    let mut parts = partitions.to_vec();
    parts.sort_unstable();
    let n = members.len().max(1);
    let (each, extra) = (parts.len() / n, parts.len() % n);
    let mut out = HashMap::new();
    let mut at = 0;
    for (i, m) in members.into_iter().enumerate() {
        let take = each + usize::from(i < extra);
        out.insert(m, parts[at..at + take].to_vec());
        at += take;
    }
    out
}

impl GroupMember {
    /// Finds the coordinator and joins `group` for `topic` (whose partitions are
    /// `partitions`), rejoining while the group rebalances.
    pub async fn join(
        cluster: &mut Cluster,
        group: &str,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Self, ExchangeError> {
        let boot_addr = cluster.bootstrap_addr().to_string();
        let mut find = FindCoordinatorRequest::default();
        find.key = StrBytes::from_string(group.to_string());
        find.key_type = 0;
        let found = cluster
            .boot()
            .map_err(|e| e.error(&boot_addr))?
            .call(&find)
            .await
            .map_err(|e| e.error(&boot_addr))?;
        if found.error_code != 0 {
            return Err(group_error(
                "finding the coordinator",
                group,
                found.error_code,
            ));
        }
        let addr = format!("{}:{}", found.host.as_str(), found.port);
        let (conn, _) = Conn::open(&addr, cluster.client_id())
            .await
            .map_err(|e| e.error(&addr))?;
        let mut member = Self {
            group: group.to_string(),
            topic: topic.to_string(),
            member_id: String::new(),
            generation: -1,
            assignment: Vec::new(),
            conn,
        };
        member.rejoin(partitions).await?;
        Ok(member)
    }

    /// Joins (again) and syncs; fills `generation` and `assignment`.
    pub async fn rejoin(&mut self, partitions: &[i32]) -> Result<(), ExchangeError> {
        let addr = self.conn.addr.clone();
        let mut subscription = ConsumerProtocolSubscription::default();
        subscription.topics = vec![StrBytes::from_string(self.topic.clone())];
        let metadata = encode_versioned(&subscription).map_err(|e| e.error(&addr))?;
        for _attempt in 0..10 {
            let mut join = JoinGroupRequest::default();
            join.group_id = GroupId(StrBytes::from_string(self.group.clone()));
            join.session_timeout_ms = SESSION_TIMEOUT_MS;
            join.rebalance_timeout_ms = REBALANCE_TIMEOUT_MS;
            join.member_id = StrBytes::from_string(self.member_id.clone());
            join.protocol_type = StrBytes::from_static_str("consumer");
            let mut protocol = JoinGroupRequestProtocol::default();
            protocol.name = StrBytes::from_static_str("range");
            protocol.metadata = metadata.clone();
            join.protocols = vec![protocol];
            let joined = self.conn.call(&join).await.map_err(|e| e.error(&addr))?;
            if joined.error_code == MEMBER_ID_REQUIRED {
                self.member_id = joined.member_id.to_string();
                continue;
            }
            if joined.error_code == UNKNOWN_MEMBER_ID {
                self.member_id.clear();
                continue;
            }
            if joined.error_code == REBALANCE_IN_PROGRESS {
                continue;
            }
            if joined.error_code != 0 {
                return Err(group_error("joining", &self.group, joined.error_code));
            }
            self.member_id = joined.member_id.to_string();
            self.generation = joined.generation_id;
            let mut sync = SyncGroupRequest::default();
            sync.group_id = GroupId(StrBytes::from_string(self.group.clone()));
            sync.generation_id = self.generation;
            sync.member_id = StrBytes::from_string(self.member_id.clone());
            sync.protocol_type = Some(StrBytes::from_static_str("consumer"));
            sync.protocol_name = Some(StrBytes::from_static_str("range"));
            if joined.leader.as_str() == self.member_id {
                // Every member subscribes to this topic in this client; members of other
                // clients that subscribe elsewhere get nothing of it.
                let mut ours = Vec::new();
                let mut others = Vec::new();
                for m in &joined.members {
                    let subscribed =
                        decode_versioned::<ConsumerProtocolSubscription>(m.metadata.clone())
                            .map(|s| s.topics.iter().any(|t| t.as_str() == self.topic))
                            .unwrap_or(false);
                    if subscribed {
                        ours.push(m.member_id.to_string());
                    } else {
                        others.push(m.member_id.to_string());
                    }
                }
                let plan = range_assign(&ours, partitions);
                for id in ours.iter().chain(others.iter()) {
                    let mut assignment = ConsumerProtocolAssignment::default();
                    if let Some(parts) = plan.get(id).filter(|p| !p.is_empty()) {
                        let mut tp = AssignedTopic::default();
                        tp.topic = TopicName(StrBytes::from_string(self.topic.clone()));
                        tp.partitions = parts.clone();
                        assignment.assigned_partitions = vec![tp];
                    }
                    let mut a = SyncGroupRequestAssignment::default();
                    a.member_id = StrBytes::from_string(id.clone());
                    a.assignment = encode_versioned(&assignment).map_err(|e| e.error(&addr))?;
                    sync.assignments.push(a);
                }
            }
            let synced = self.conn.call(&sync).await.map_err(|e| e.error(&addr))?;
            if needs_rejoin(synced.error_code) {
                continue;
            }
            if synced.error_code != 0 {
                return Err(group_error("syncing", &self.group, synced.error_code));
            }
            self.assignment = if synced.assignment.is_empty() {
                Vec::new()
            } else {
                decode_versioned::<ConsumerProtocolAssignment>(synced.assignment.clone())
                    .map_err(|e| e.error(&addr))?
                    .assigned_partitions
                    .iter()
                    .filter(|t| t.topic.as_str() == self.topic)
                    .flat_map(|t| t.partitions.iter().copied())
                    .collect()
            };
            self.assignment.sort_unstable();
            return Ok(());
        }
        Err(ExchangeError {
            kind: ErrorKind::Refused,
            phase: None,
            message: format!(
                "group {:?} kept rebalancing: no stable membership after 10 joins",
                self.group
            ),
        })
    }

    /// The group's committed offsets of `partitions` (`-1`: none).
    pub async fn committed(
        &mut self,
        partitions: &[i32],
    ) -> Result<HashMap<i32, i64>, ExchangeError> {
        committed_offsets(&mut self.conn, &self.group, &self.topic, partitions).await
    }

    /// Commits `offsets` (the next offset to read, per partition). Returns a group error code
    /// that asks for a rejoin, or 0.
    pub async fn commit(&mut self, offsets: &HashMap<i32, i64>) -> Result<i16, ExchangeError> {
        if offsets.is_empty() {
            return Ok(0);
        }
        let addr = self.conn.addr.clone();
        let mut req = OffsetCommitRequest::default();
        req.group_id = GroupId(StrBytes::from_string(self.group.clone()));
        req.generation_id_or_member_epoch = self.generation;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        req.retention_time_ms = -1;
        let mut topic = OffsetCommitRequestTopic::default();
        topic.name = TopicName(StrBytes::from_string(self.topic.clone()));
        let mut parts: Vec<_> = offsets.iter().collect();
        parts.sort();
        for (p, o) in parts {
            let mut part = OffsetCommitRequestPartition::default();
            part.partition_index = *p;
            part.committed_offset = *o;
            part.committed_leader_epoch = -1;
            topic.partitions.push(part);
        }
        req.topics = vec![topic];
        let response = self.conn.call(&req).await.map_err(|e| e.error(&addr))?;
        for p in response.topics.iter().flat_map(|t| t.partitions.iter()) {
            if needs_rejoin(p.error_code) {
                return Ok(p.error_code);
            }
            if p.error_code != 0 {
                return Err(group_error("committing offsets", &self.group, p.error_code));
            }
        }
        Ok(0)
    }

    /// A heartbeat: 0, or the code asking for a rejoin.
    pub async fn heartbeat(&mut self) -> Result<i16, ExchangeError> {
        let addr = self.conn.addr.clone();
        let mut req = HeartbeatRequest::default();
        req.group_id = GroupId(StrBytes::from_string(self.group.clone()));
        req.generation_id = self.generation;
        req.member_id = StrBytes::from_string(self.member_id.clone());
        let response = self.conn.call(&req).await.map_err(|e| e.error(&addr))?;
        if response.error_code == 0 || needs_rejoin(response.error_code) {
            return Ok(response.error_code);
        }
        Err(group_error("heartbeat", &self.group, response.error_code))
    }

    /// Leaves the group (best effort: the session would expire anyway).
    pub async fn leave(&mut self) {
        let mut req = LeaveGroupRequest::default();
        req.group_id = GroupId(StrBytes::from_string(self.group.clone()));
        req.member_id = StrBytes::from_string(self.member_id.clone());
        let mut me = MemberIdentity::default();
        me.member_id = StrBytes::from_string(self.member_id.clone());
        req.members = vec![me];
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.conn.call(&req)).await;
    }
}

/// `group`'s committed offsets of `topic`'s `partitions` (`-1`: none), read on `conn` (the
/// group's coordinator).
pub async fn committed_offsets(
    conn: &mut Conn,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Result<HashMap<i32, i64>, ExchangeError> {
    let addr = conn.addr.clone();
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(StrBytes::from_string(group.to_string()));
    let mut t = OffsetFetchRequestTopic::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_indexes = partitions.to_vec();
    req.topics = Some(vec![t]);
    let response = conn.call(&req).await.map_err(|e| e.error(&addr))?;
    if response.error_code != 0 {
        return Err(group_error(
            "reading committed offsets",
            group,
            response.error_code,
        ));
    }
    Ok(response
        .topics
        .iter()
        .filter(|t| t.name.as_str() == topic)
        .flat_map(|t| t.partitions.iter())
        .map(|p| (p.partition_index, p.committed_offset))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_assignment_splits_in_runs() {
        let members = vec!["b".to_string(), "a".to_string()];
        let plan = range_assign(&members, &[2, 0, 1]);
        assert_eq!(plan["a"], vec![0, 1]);
        assert_eq!(plan["b"], vec![2]);
        let plan = range_assign(&["only".to_string()], &[0, 1, 2]);
        assert_eq!(plan["only"], vec![0, 1, 2]);
        let many: Vec<String> = (0..4).map(|i| format!("m{i}")).collect();
        let plan = range_assign(&many, &[0, 1]);
        assert_eq!(plan.values().map(Vec::len).sum::<usize>(), 2);
    }
}
