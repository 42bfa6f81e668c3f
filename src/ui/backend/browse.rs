//! The broker browsers: NATS streams and key-value entries, Kafka topics, groups and pages.

use super::*;

impl Backend {
    pub(super) async fn nats_streams(&mut self, url: String) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let result = crate::engine::nats::streams::list(&url, Duration::from_secs(10))
                .await
                .map_err(BackendError::from);
            outbox.send(Event::NatsStreams { url, result }).await;
        });
    }

    pub(super) async fn kafka(&mut self, ask: crate::ui::kafka_view::KafkaAction) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            use crate::engine::kafka::{admin, watch};
            use crate::ui::kafka_view::KafkaAction;
            let event = match ask {
                KafkaAction::Topics(url) => Event::KafkaTopics {
                    result: admin::topics(&url).await.map_err(BackendError::from),
                    url,
                },
                KafkaAction::Groups(url) => Event::KafkaGroups {
                    result: admin::groups(&url).await.map_err(BackendError::from),
                    url,
                },
                KafkaAction::Browse(ask) => Event::KafkaPage {
                    result: watch::browse(&ask.url, &ask.topic, ask.partition, ask.offset, ask.max)
                        .await
                        .map_err(BackendError::from),
                    ask,
                },
            };
            outbox.send(event).await;
        });
    }

    pub(super) async fn nats_kv(&mut self, ask: crate::ui::streams_view::KvAsk) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            use crate::engine::nats::streams;
            let t = Duration::from_secs(10);
            let (url, bucket, key) = (&ask.url, &ask.bucket, &ask.key);
            let result = match (&ask.put, ask.history) {
                (Some(value), _) => {
                    match streams::kv_put(url, bucket, key, value.clone().into_bytes(), t).await {
                        Ok(_) => streams::kv_get(url, bucket, key, t)
                            .await
                            .map(|e| e.into_iter().collect()),
                        Err(e) => Err(e),
                    }
                }
                (None, true) => streams::kv_history(url, bucket, key, t).await,
                (None, false) => streams::kv_get(url, bucket, key, t)
                    .await
                    .map(|e| e.into_iter().collect()),
            };
            let what = ask.describe();
            outbox
                .send(Event::NatsKv {
                    what,
                    result: result.map_err(BackendError::from),
                })
                .await;
        });
    }
}
