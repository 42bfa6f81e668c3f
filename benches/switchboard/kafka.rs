//! Kafka: produce round trips and fetch/ingest against the bare wire codec, on the embedded broker.

use super::*;

/// Kafka: a produce through the engine against a bare kafka-protocol loop, and a viewer tap
/// against a bare fetch loop — on an embedded broker of the bench's own.
pub(super) fn kafka_figures(quick: bool, runs: usize) -> Vec<Figure> {
    use switchboard::engine::kafka::{KafkaRequest, Producer, admin};
    let runtime = bench_runtime();
    let n = if quick { 300 } else { 3000 };
    // The same count in quick runs: with fewer the connection setup and 60 fps frames dominate.
    let tap_n: u64 = 100_000;
    let broker = runtime
        .block_on(demo_services::kafka_broker::EmbeddedKafka::start_free())
        .expect("embedded broker");
    let url = broker.url();
    let addr = broker.addr.to_string();
    runtime.block_on(async {
        admin::create_topic(&url, "p50", 1).await.unwrap();
        admin::create_topic(&url, "tap", 1).await.unwrap();
        fill(&addr, "tap", tap_n).await;
    });
    let (mut p50, mut base_p50, mut tap, mut tap_base) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        runtime.block_on(async {
            let body = br#"{"event":"OrderCreated","user_id":"1","amount":9.5}"#;
            let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(&addr, "bare")
                .await
                .unwrap();
            let _ = bare_produce(&mut conn, "p50", body).await;
            let mut b = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                assert!(bare_produce(&mut conn, "p50", body).await);
                b.push(start.elapsed().as_secs_f64() * 1_000_000.0);
            }
            let req = KafkaRequest::produce(&url, "p50", "1", std::str::from_utf8(body).unwrap());
            let (headers, value) = switchboard::engine::kafka::prepare(&req).unwrap();
            let mut producer = Producer::open(&url, Duration::from_secs(10)).await.unwrap();
            let rec = || switchboard::engine::recorder::Recorder::new(Duration::from_secs(10));
            let _ = producer.produce(rec(), &req, &headers, &value).await;
            let mut e = Vec::with_capacity(n);
            for _ in 0..n {
                let start = Instant::now();
                let ex = producer.produce(rec(), &req, &headers, &value).await;
                assert!(ex.ok, "{:?}", ex.error);
                e.push(start.elapsed().as_secs_f64() * 1_000_000.0);
            }
            p50.push(percentile(&e, 0.5));
            base_p50.push(percentile(&b, 0.5));
            tap_base.push(bare_fetch(&addr, "tap", tap_n).await);
        });
        tap.push(kafka_viewer_tap(&runtime, &url, "tap", tap_n));
    }
    drop(broker);
    vec![
        Figure {
            name: "kafka_produce_ack_p50",
            unit: "us",
            samples: p50,
            baseline: Some(base_p50),
        },
        Figure {
            name: "kafka_tap_ingest_rate",
            unit: "msg/s",
            samples: tap,
            baseline: Some(tap_base),
        },
    ]
}

/// One record batch of `body` (v2, no compression).
pub(super) fn kafka_batch(body: &[u8]) -> bytes::Bytes {
    use switchboard::engine::kafka::protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
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
        timestamp: 0,
        key: Some(bytes::Bytes::from_static(b"1")),
        value: Some(bytes::Bytes::copy_from_slice(body)),
        headers: Default::default(),
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        [&record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

pub(super) fn produce_request(
    topic: &str,
    body: &[u8],
) -> switchboard::engine::kafka::protocol::messages::ProduceRequest {
    use switchboard::engine::kafka::protocol::messages::produce_request::{
        PartitionProduceData, TopicProduceData,
    };
    use switchboard::engine::kafka::protocol::messages::{ProduceRequest, TopicName};
    use switchboard::engine::kafka::protocol::protocol::StrBytes;
    let mut p = PartitionProduceData::default();
    p.index = 0;
    p.records = Some(kafka_batch(body));
    let mut t = TopicProduceData::default();
    t.name = TopicName(StrBytes::from_string(topic.to_string()));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = -1;
    req.timeout_ms = 10_000;
    req.topic_data = vec![t];
    req
}

/// A bare produce (acks=all) and its response on one connection.
pub(super) async fn bare_produce(
    conn: &mut switchboard::engine::kafka::wire::Conn,
    topic: &str,
    body: &[u8],
) -> bool {
    let response = conn.call(&produce_request(topic, body)).await.unwrap();
    response
        .responses
        .iter()
        .flat_map(|t| t.partition_responses.iter())
        .all(|p| p.error_code == 0)
}

/// Writes `n` small records to `topic` (partition 0), 1000 requests in flight.
pub(super) async fn fill(addr: &str, topic: &str, n: u64) {
    use switchboard::engine::kafka::protocol::messages::ProduceRequest;
    let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(addr, "fill")
        .await
        .unwrap();
    let body = br#"{"event":"OrderCreated","user_id":"1","amount":9.5}"#;
    let mut left = n;
    while left > 0 {
        let chunk = left.min(1000);
        let mut sent = Vec::new();
        for _ in 0..chunk {
            sent.push(conn.send(&produce_request(topic, body)).await.unwrap());
        }
        for (id, version) in sent {
            conn.recv::<ProduceRequest>(id, version).await.unwrap();
        }
        left -= chunk;
    }
}

/// A bare fetch loop from offset 0 decoding `n` records of `topic`: records per second.
pub(super) async fn bare_fetch(addr: &str, topic: &str, n: u64) -> f64 {
    use switchboard::engine::kafka::protocol::messages::fetch_request::{
        FetchPartition, FetchTopic,
    };
    use switchboard::engine::kafka::protocol::messages::{BrokerId, FetchRequest, TopicName};
    use switchboard::engine::kafka::protocol::protocol::StrBytes;
    use switchboard::engine::kafka::protocol::records::RecordBatchDecoder;
    let start = Instant::now();
    let (mut conn, _) = switchboard::engine::kafka::wire::Conn::open(addr, "bare")
        .await
        .unwrap();
    let mut offset = 0i64;
    let mut got = 0u64;
    while got < n {
        let mut fp = FetchPartition::default();
        fp.partition = 0;
        fp.fetch_offset = offset;
        fp.current_leader_epoch = -1;
        fp.last_fetched_epoch = -1;
        fp.log_start_offset = -1;
        fp.partition_max_bytes = 4 * 1024 * 1024;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_string(topic.to_string()));
        t.partitions = vec![fp];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_wait_ms = 100;
        req.min_bytes = 1;
        req.max_bytes = 16 * 1024 * 1024;
        req.session_epoch = -1;
        req.topics = vec![t];
        let response = conn.call(&req).await.unwrap();
        for part in response.responses.iter().flat_map(|t| t.partitions.iter()) {
            if let Some(mut records) = part.records.clone() {
                for set in RecordBatchDecoder::decode_all(&mut records).unwrap() {
                    let from = offset;
                    for r in set.records.iter().filter(|r| r.offset >= from) {
                        got += 1;
                        offset = r.offset + 1;
                    }
                }
            }
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// The viewer tapping `topic` from the earliest offset with the UI drawing each frame:
/// messages per second until `n` are stored.
pub(super) fn kafka_viewer_tap(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    topic: &str,
    n: u64,
) -> f64 {
    let mut watch = switchboard::engine::kafka::watch::KafkaWatch::tap(url, topic);
    watch.from = "earliest".into();
    viewer_ingest(runtime, switchboard::engine::WatchRequest::Kafka(watch), n)
}
