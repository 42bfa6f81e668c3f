//! A produce on its own timed connection: `connect`, metadata (the partition's leader), a second connection when the leader is another broker, the record batch encoded (compressed when asked), `ack`.

use super::*;

/// A kept connection to a cluster with its topics' metadata: a produce on it starts at
/// `produce` (load, benchmarks, the demo's producer); [`execute`] opens one per request.
pub struct Producer {
    pub(super) cluster: Cluster,
    topics: std::collections::HashMap<String, TopicMeta>,
    round_robin: usize,
}

impl Producer {
    /// Connects (recording `connect` in `rec`).
    pub async fn connect(rec: &mut Recorder, url: &str) -> Result<Self, ExchangeError> {
        let addrs = parse_url(url)?;
        let shown = addrs.join(",");
        let (cluster, times) = rec
            .step(
                crate::net::phases::CONNECT,
                Cluster::connect(url, "switchboard"),
                |(e, addr)| e.classify(&addr),
            )
            .await?;
        rec.detail(connect_detail(cluster.bootstrap_addr(), &times));
        let _ = shown;
        Ok(Self {
            cluster,
            topics: std::collections::HashMap::new(),
            round_robin: 0,
        })
    }

    /// Connects with its own timeout (no timeline kept).
    pub async fn open(url: &str, timeout: Duration) -> Result<Self, ExchangeError> {
        let mut rec = Recorder::new(timeout);
        Self::connect(&mut rec, url).await
    }

    /// The topic's metadata, asked (and timed as `metadata`) on first use.
    pub(super) async fn topic(
        &mut self,
        rec: &mut Recorder,
        topic: &str,
    ) -> Result<TopicMeta, ExchangeError> {
        if let Some(meta) = self.topics.get(topic) {
            return Ok(meta.clone());
        }
        let start = Instant::now();
        let fetched = rec.within(self.cluster.topic(topic)).await;
        let meta = match fetched {
            Ok(Ok(meta)) => meta,
            Ok(Err(e)) => return Err(rec.fail(phases::METADATA, start, e.kind, e.message)),
            Err(_) => {
                let message = rec.timeout_message();
                return Err(rec.fail(phases::METADATA, start, ErrorKind::Timeout, message));
            }
        };
        rec.push(
            phases::METADATA,
            start,
            Instant::now(),
            Some(format!(
                "{topic}: {} partition{}, {} broker{}",
                meta.partitions.len(),
                if meta.partitions.len() == 1 { "" } else { "s" },
                self.cluster.brokers.len(),
                if self.cluster.brokers.len() == 1 {
                    ""
                } else {
                    "s"
                },
            )),
        );
        self.topics.insert(topic.to_string(), meta.clone());
        Ok(meta)
    }

    /// Produces one record of `req`, recording `metadata` (first time for the topic), a
    /// `connect` to the leader when it is another broker, `produce` and `ack`.
    pub async fn produce(
        &mut self,
        mut rec: Recorder,
        req: &KafkaRequest,
        headers: &[Header],
        body: &[u8],
    ) -> Exchange {
        let outcome = self.produce_outcome(&mut rec, req, headers, body).await;
        rec.finish(
            Transport::Kafka,
            req.target(),
            request_message(req, headers, body),
            outcome,
        )
    }

    async fn produce_outcome(
        &mut self,
        rec: &mut Recorder,
        req: &KafkaRequest,
        headers: &[Header],
        body: &[u8],
    ) -> Outcome {
        let fail = |error| Outcome::Failed {
            error,
            response: None,
        };
        let meta = match self.topic(rec, &req.topic).await {
            Ok(meta) => meta,
            Err(e) => return fail(e),
        };
        let partition = match req.partition {
            Some(p) if meta.partitions.iter().any(|m| m.id == p) => p,
            Some(p) => {
                return fail(ExchangeError {
                    kind: ErrorKind::InvalidInput,
                    phase: None,
                    message: format!(
                        "partition {p} is out of range: topic {:?} has partitions 0..{}",
                        req.topic,
                        meta.partitions.len().saturating_sub(1)
                    ),
                });
            }
            None if let Some(key) = &req.key => {
                partition_for_key(key.as_bytes(), meta.partitions.len())
            }
            None => {
                self.round_robin = self.round_robin.wrapping_add(1);
                (self.round_robin % meta.partitions.len().max(1)) as i32
            }
        };
        let leader = meta
            .partitions
            .iter()
            .find(|p| p.id == partition)
            .map_or(-1, |p| p.leader);
        let created_ms = unix_ms() as i64;
        let batch = match encode_batch(req, headers, body, created_ms) {
            Ok(b) => b,
            Err(e) => return fail(ExchangeError::invalid_input(e)),
        };
        // What goes on the wire: the record batch, compressed when asked.
        let batch_bytes = batch.len();
        let produce = produce_request(req, partition, batch, rec.timeout);

        // The leader's connection (a `connect` phase when it is not open yet).
        let start = Instant::now();
        let needs_open = !self.cluster.is_open(leader);
        let opened = rec.within(self.cluster.conn_for(leader)).await;
        let conn = match opened {
            Ok(Ok((conn, times))) => {
                if let (true, Some(t)) = (needs_open, times) {
                    let addr = conn.addr.clone();
                    rec.push(
                        crate::net::phases::CONNECT,
                        start,
                        Instant::now(),
                        Some(format!("leader {leader}: {}", connect_detail(&addr, &t))),
                    );
                }
                conn
            }
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&format!("leader {leader}"));
                return fail(rec.fail(crate::net::phases::CONNECT, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                return fail(rec.fail(
                    crate::net::phases::CONNECT,
                    start,
                    ErrorKind::Timeout,
                    message,
                ));
            }
        };
        let addr = conn.addr.clone();

        // produce: the request written and flushed.
        let start = Instant::now();
        let sent = rec.within(conn.send(&produce)).await;
        let (id, version) = match sent {
            Ok(Ok(sent)) => sent,
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&addr);
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::PRODUCE, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::PRODUCE, start, ErrorKind::Timeout, message));
            }
        };
        rec.push(
            phases::PRODUCE,
            start,
            Instant::now(),
            Some(match req.compression {
                Compression::None => format!(
                    "partition {partition}, {} B value in a {batch_bytes} B record batch",
                    body.len()
                ),
                c => format!(
                    "partition {partition}, {} B value in a {batch_bytes} B record batch ({}: {:.0}% of the uncompressed)",
                    body.len(),
                    c.label(),
                    100.0 * batch_bytes as f64 / uncompressed_batch(req, headers, body).max(1) as f64
                ),
            }),
        );
        if req.acks == Acks::None {
            return Outcome::Answered {
                ok: true,
                status: "sent (acks=0)".to_string(),
                response: Message {
                    line: format!(
                        "sent to partition {partition} (acks=0: the broker answers nothing)"
                    ),
                    headers: vec![Header::new("partition", partition.to_string())],
                    ..Message::default()
                },
            };
        }
        // ack: the broker's response.
        let start = Instant::now();
        let answered = rec
            .within(async {
                conn.wait_readable().await?;
                conn.recv::<ProduceRequest>(id, version).await
            })
            .await;
        let response = match answered {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let (kind, message) = e.classify(&addr);
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::ACK, start, kind, message));
            }
            Err(_) => {
                let message = rec.timeout_message();
                self.cluster.drop_conn(leader);
                return fail(rec.fail(phases::ACK, start, ErrorKind::Timeout, message));
            }
        };
        let Some(part) = response
            .responses
            .iter()
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == partition)
        else {
            return fail(rec.fail(
                phases::ACK,
                start,
                ErrorKind::Protocol,
                format!("the broker's produce response holds no partition {partition}"),
            ));
        };
        if part.error_code != 0 {
            let why = part
                .error_message
                .as_ref()
                .map(|m| format!(": {}", m.as_str()))
                .unwrap_or_default();
            let kind = if part.error_code == 10 {
                ErrorKind::InvalidInput
            } else {
                ErrorKind::Refused
            };
            if matches!(part.error_code, 3 | 6) {
                // Unknown partition or leader moved: ask again next time.
                self.topics.remove(&req.topic);
            }
            return fail(rec.fail(
                phases::ACK,
                start,
                kind,
                format!(
                    "the broker refused the record: {}{why}",
                    error_name(part.error_code)
                ),
            ));
        }
        let timestamp = if part.log_append_time_ms >= 0 {
            (part.log_append_time_ms, "log append")
        } else {
            (created_ms, "create")
        };
        rec.push(
            phases::ACK,
            start,
            Instant::now(),
            Some(format!(
                "acks={}: partition {partition} offset {}",
                req.acks.label(),
                part.base_offset
            )),
        );
        Outcome::Answered {
            ok: true,
            status: format!("ack p{partition} @{}", part.base_offset),
            response: Message {
                line: format!("ack partition {partition} offset {}", part.base_offset),
                headers: vec![
                    Header::new("partition", partition.to_string()),
                    Header::new("offset", part.base_offset.to_string()),
                    Header::new("timestamp_ms", timestamp.0.to_string()),
                    Header::new("timestamp_type", timestamp.1),
                ],
                ..Message::default()
            },
        }
    }
}

/// A produce request of one batch to `partition`.
pub(super) fn produce_request(
    req: &KafkaRequest,
    partition: i32,
    batch: Bytes,
    timeout: Duration,
) -> ProduceRequest {
    let mut produce = ProduceRequest::default();
    produce.acks = req.acks.wire();
    produce.timeout_ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    let mut pdata = PartitionProduceData::default();
    pdata.index = partition;
    pdata.records = Some(batch);
    let mut tdata = TopicProduceData::default();
    tdata.name = TopicName(StrBytes::from_string(req.topic.clone()));
    tdata.partition_data = vec![pdata];
    produce.topic_data = vec![tdata];
    produce
}

/// The size the record batch would have without compression (for the produce phase's detail).
pub(super) fn uncompressed_batch(req: &KafkaRequest, headers: &[Header], body: &[u8]) -> usize {
    let plain = KafkaRequest {
        compression: Compression::None,
        ..req.clone()
    };
    encode_batch(&plain, headers, body, 0).map_or(0, |b| b.len())
}

/// One record in a batch (v2), compressed as asked.
pub(super) fn encode_batch(
    req: &KafkaRequest,
    headers: &[Header],
    body: &[u8],
    created_ms: i64,
) -> Result<Bytes, String> {
    let mut record_headers = IndexMap::new();
    for h in headers {
        record_headers.insert(StrBytes::from_string(h.name.clone()), header_value(h));
    }
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: created_ms,
        key: req
            .key
            .as_ref()
            .map(|k| Bytes::from(k.clone().into_bytes())),
        value: Some(Bytes::from(body.to_vec())),
        headers: record_headers,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: req.compression.codec(),
        },
    )
    .map_err(|e| {
        format!(
            "cannot encode the record ({}): {e}",
            req.compression.label()
        )
    })?;
    Ok(buf.freeze())
}
