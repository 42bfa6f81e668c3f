//! The brokers of one cluster: a bootstrap connection, the metadata it returns, and one
//! connection per broker opened when a partition's leader lives there.

use std::collections::HashMap;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::wire::{Conn, OpenTimes, WireError, error_name};
use crate::exchange::{ErrorKind, ExchangeError};

/// The demo's broker.
pub const DEFAULT_KAFKA_URL: &str = demo_contract::DEFAULT_KAFKA_URL;

/// The `host:port` list of a `kafka://host:port[,host:port]` URL (the scheme is optional; the
/// port defaults to 9092).
pub fn parse_url(url: &str) -> Result<Vec<String>, ExchangeError> {
    let bad = |why: &str| {
        ExchangeError::invalid_input(format!(
            "malformed Kafka URL {url:?}: {why} (expected kafka://host:9092[,host:port…])"
        ))
    };
    let rest = match url.trim().split_once("://") {
        Some(("kafka", rest)) => rest,
        Some((scheme, _)) => return Err(bad(&format!("unknown scheme {scheme:?}"))),
        None => url.trim(),
    };
    let rest = rest.trim_end_matches('/');
    if rest.contains('@') {
        return Err(bad(
            "credentials (SASL) are not supported yet: only plaintext brokers",
        ));
    }
    let mut out = Vec::new();
    for part in rest.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(bad("an empty broker address"));
        }
        let with_scheme = format!("kafka://{part}");
        let parsed = url::Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        if parsed.path().len() > 1 || parsed.query().is_some() {
            return Err(bad("a broker address has no path"));
        }
        out.push(format!("{host}:{}", parsed.port().unwrap_or(9092)));
    }
    Ok(out)
}

/// A partition's place in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMeta {
    pub id: i32,
    pub leader: i32,
    pub replicas: usize,
    pub error: i16,
}

/// A topic as metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMeta {
    pub name: String,
    pub internal: bool,
    pub partitions: Vec<PartitionMeta>,
}

/// The connections to one cluster.
pub struct Cluster {
    /// Connections by `host:port`; the first one opened is the bootstrap.
    conns: HashMap<String, Conn>,
    bootstrap: String,
    /// Broker addresses by node id (from the last metadata).
    pub brokers: HashMap<i32, String>,
    pub cluster_id: Option<String>,
    pub controller: i32,
    client_id: String,
}

impl Cluster {
    /// Opens the first reachable broker of `url`.
    pub async fn connect(
        url: &str,
        client_id: &str,
    ) -> Result<(Self, OpenTimes), (WireError, String)> {
        let addrs =
            parse_url(url).map_err(|e| (WireError::Protocol(e.message), url.to_string()))?;
        let mut last = None;
        for addr in &addrs {
            match Conn::open(addr, client_id).await {
                Ok((conn, times)) => {
                    let mut conns = HashMap::new();
                    conns.insert(addr.clone(), conn);
                    return Ok((
                        Self {
                            conns,
                            bootstrap: addr.clone(),
                            brokers: HashMap::new(),
                            cluster_id: None,
                            controller: -1,
                            client_id: client_id.to_string(),
                        },
                        times,
                    ));
                }
                Err(e) => last = Some((e, addr.clone())),
            }
        }
        Err(last.unwrap_or((
            WireError::Protocol("no broker address".into()),
            url.to_string(),
        )))
    }

    pub fn bootstrap_addr(&self) -> &str {
        &self.bootstrap
    }

    /// The bootstrap connection.
    pub fn boot(&mut self) -> Result<&mut Conn, WireError> {
        self.conns
            .get_mut(&self.bootstrap)
            .ok_or_else(|| WireError::Protocol("the bootstrap connection is gone".into()))
    }

    /// Metadata for `topics` (all topics when `None`); never creates a topic.
    pub async fn metadata(
        &mut self,
        topics: Option<&[String]>,
    ) -> Result<Vec<TopicMeta>, WireError> {
        let mut req = MetadataRequest::default();
        req.allow_auto_topic_creation = false;
        req.topics = topics.map(|names| {
            names
                .iter()
                .map(|n| {
                    let mut t = MetadataRequestTopic::default();
                    t.name = Some(TopicName(StrBytes::from_string(n.clone())));
                    t
                })
                .collect()
        });
        let response: MetadataResponse = self.boot()?.call(&req).await?;
        self.brokers = response
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        self.cluster_id = response.cluster_id.as_ref().map(|c| c.to_string());
        self.controller = response.controller_id.0;
        Ok(response
            .topics
            .iter()
            .map(|t| TopicMeta {
                name: t.name.as_ref().map(|n| n.to_string()).unwrap_or_default(),
                internal: t.is_internal,
                partitions: {
                    let mut ps: Vec<PartitionMeta> = t
                        .partitions
                        .iter()
                        .map(|p| PartitionMeta {
                            id: p.partition_index,
                            leader: p.leader_id.0,
                            replicas: p.replica_nodes.len(),
                            error: p.error_code,
                        })
                        .collect();
                    ps.sort_by_key(|p| p.id);
                    ps
                },
            })
            .zip(response.topics.iter().map(|t| t.error_code))
            .map(|(mut meta, code)| {
                if code != 0 && meta.partitions.is_empty() {
                    meta.partitions.push(PartitionMeta {
                        id: -1,
                        leader: -1,
                        replicas: 0,
                        error: code,
                    });
                }
                meta
            })
            .collect())
    }

    /// The one topic `name`: an error when it does not exist (never auto-created).
    pub async fn topic(&mut self, name: &str) -> Result<TopicMeta, ExchangeError> {
        let addr = self.bootstrap.clone();
        let topics = self
            .metadata(Some(&[name.to_string()]))
            .await
            .map_err(|e| e.error(&addr))?;
        let topic = topics
            .into_iter()
            .find(|t| t.name == name)
            .ok_or_else(|| no_topic(name))?;
        match topic.partitions.first() {
            Some(p) if p.id < 0 && p.error == 3 => Err(no_topic(name)),
            Some(p) if p.id < 0 => Err(ExchangeError {
                kind: ErrorKind::Refused,
                phase: None,
                message: format!(
                    "metadata for topic {name:?} failed: {}",
                    error_name(p.error)
                ),
            }),
            None => Err(no_topic(name)),
            Some(_) => Ok(topic),
        }
    }

    /// The connection to broker `node` (opened on first use); the bootstrap when unknown.
    pub async fn conn_for(
        &mut self,
        node: i32,
    ) -> Result<(&mut Conn, Option<OpenTimes>), WireError> {
        let addr = self
            .brokers
            .get(&node)
            .cloned()
            .unwrap_or_else(|| self.bootstrap.clone());
        let mut opened = None;
        if !self.conns.contains_key(&addr) {
            let (conn, times) = Conn::open(&addr, &self.client_id).await?;
            self.conns.insert(addr.clone(), conn);
            opened = Some(times);
        }
        let conn = self
            .conns
            .get_mut(&addr)
            .ok_or_else(|| WireError::Protocol("connection vanished".into()))?;
        Ok((conn, opened))
    }

    /// Whether a connection to `node` is already open.
    pub fn is_open(&self, node: i32) -> bool {
        let addr = self.brokers.get(&node).unwrap_or(&self.bootstrap);
        self.conns.contains_key(addr)
    }

    /// Forgets the connection to `node` (after an error on it).
    pub fn drop_conn(&mut self, node: i32) {
        if let Some(addr) = self.brokers.get(&node).cloned() {
            self.conns.remove(&addr);
        }
    }

    pub fn broker_id(node: i32) -> BrokerId {
        BrokerId(node)
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// "topic does not exist", as every command says it.
pub fn no_topic(name: &str) -> ExchangeError {
    ExchangeError {
        kind: ErrorKind::Refused,
        phase: None,
        message: format!(
            "topic {name:?} does not exist (Switchboard never creates topics by reading or writing them; `switchboard kafka topics` lists those there)"
        ),
    }
}

/// A timeout for a whole admin call.
pub(crate) const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_list_brokers_with_the_default_port() {
        assert_eq!(
            parse_url("kafka://127.0.0.1:9092").unwrap(),
            vec!["127.0.0.1:9092"]
        );
        assert_eq!(
            parse_url("kafka://a,b:19092/").unwrap(),
            vec!["a:9092", "b:19092"]
        );
        assert_eq!(parse_url("localhost:1").unwrap(), vec!["localhost:1"]);
        for bad in [
            "http://x:1",
            "kafka://",
            "kafka://a,,b",
            "kafka://u:p@h:1",
            "kafka://h:1/x",
        ] {
            assert_eq!(
                parse_url(bad).unwrap_err().kind,
                ErrorKind::InvalidInput,
                "{bad}"
            );
        }
    }
}
