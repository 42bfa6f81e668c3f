//! An embedded Kafka-protocol broker: tansu, with memory storage, on a task of this process —
//! so the demo's Kafka flow needs nothing installed. Started only on a loopback address where
//! nothing listens; a user's own cluster is never shadowed.

use std::net::SocketAddr;
use std::time::Duration;

use tansu_broker::broker::Broker;
use tansu_broker::coordinator::group::administrator::Controller;
use tansu_storage::StorageContainer;

/// A running embedded broker; dropping it stops it (its task is aborted, with its connections).
#[derive(Debug)]
pub struct EmbeddedKafka {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EmbeddedKafka {
    /// `kafka://host:port` of the broker.
    pub fn url(&self) -> String {
        format!("kafka://{}", self.addr)
    }

    /// Starts a broker listening on `addr` (loopback only) and waits until it accepts.
    pub async fn start(addr: SocketAddr) -> Result<Self, String> {
        if !addr.ip().is_loopback() {
            return Err(format!(
                "the embedded broker binds loopback addresses only, not {addr}"
            ));
        }
        let url: url::Url = format!("tcp://{addr}")
            .parse()
            .map_err(|e| format!("broker address {addr}: {e}"))?;
        let storage: url::Url = "memory://tansu/"
            .parse()
            .map_err(|e| format!("storage URL: {e}"))?;
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(1)
            .cluster_id("switchboard-demo")
            .incarnation_id(uuid::Uuid::new_v4())
            .advertised_listener(url.clone())
            .storage(storage)
            .listener(url)
            .silent(true)
            .build()
            .await
            .map_err(|e| format!("cannot build the embedded Kafka broker: {e}"))?;
        let task = tokio::spawn(async move {
            if let Err(e) = broker.serve(tokio::time::Instant::now()).await {
                tracing::warn!(error = %e, "the embedded Kafka broker stopped");
            }
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(Self { addr, task });
            }
            if task.is_finished() {
                return Err(format!(
                    "the embedded Kafka broker could not listen on {addr} (port in use?)"
                ));
            }
            if tokio::time::Instant::now() > deadline {
                task.abort();
                return Err(format!(
                    "the embedded Kafka broker did not listen on {addr} within 5 s"
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts a broker on a free loopback port (for tests).
    pub async fn start_free() -> Result<Self, String> {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let addr = probe.local_addr().map_err(|e| e.to_string())?;
        drop(probe);
        Self::start(addr).await
    }

    /// Stops the broker (everything it held is gone: memory storage).
    pub fn stop(self) {}
}

impl Drop for EmbeddedKafka {
    fn drop(&mut self) {
        self.task.abort();
    }
}
