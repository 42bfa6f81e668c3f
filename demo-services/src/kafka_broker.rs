//! An embedded Kafka-protocol broker: tansu, with memory storage, on a task of this process —
//! so the demo's Kafka flow needs nothing installed. Started only on a loopback address where
//! nothing listens; a user's own cluster is never shadowed.
//!
//! The demo starts it **on first use** ([`OnDemandKafka`]): until then a listener of ours holds
//! the address (a port probe sees it answer, nobody else takes it) and the broker's code and
//! memory are not touched (≈ 9 MB of the idle app's resident memory, #21). The first connection
//! that sends a byte, or [`ring`] (the demo's producer), starts it on a private port that
//! advertises the held address, creates the demo's topic there, and only then are connections
//! passed on, that one and every later one: nobody ever sees the broker without its topic.
//! (tansu binds its own listener: handing the address over would leave a moment where a
//! client reaches it before the topic exists.)

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

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
        Self::start_advertising(addr, addr).await
    }

    /// Starts a broker listening on `addr` that names `advertised` as its address in metadata
    /// (where its clients connect after bootstrapping), and waits until it accepts.
    pub async fn start_advertising(
        addr: SocketAddr,
        advertised: SocketAddr,
    ) -> Result<Self, String> {
        loopback_only(addr)?;
        let url: url::Url = format!("tcp://{addr}")
            .parse()
            .map_err(|e| format!("broker address {addr}: {e}"))?;
        let advertised: url::Url = format!("tcp://{advertised}")
            .parse()
            .map_err(|e| format!("broker address {advertised}: {e}"))?;
        let storage: url::Url = "memory://tansu/"
            .parse()
            .map_err(|e| format!("storage URL: {e}"))?;
        let mut broker = Broker::<Controller<StorageContainer>, StorageContainer>::builder()
            .node_id(1)
            .cluster_id("switchboard-demo")
            .incarnation_id(uuid::Uuid::new_v4())
            .advertised_listener(advertised)
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

/// The embedded broker binds loopback addresses only: a user's network is never served.
fn loopback_only(addr: SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "the embedded broker binds loopback addresses only, not {addr}"
        ))
    }
}

/// Where an on-demand broker stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Its address is held; nobody has used it yet.
    Held,
    Starting,
    Running,
    /// It could not start (the message says why).
    Failed(String),
}

/// What [`ring`] and [`started`] reach an on-demand broker by.
#[derive(Debug, Clone)]
struct Door {
    phase: watch::Receiver<Phase>,
    wake: mpsc::Sender<()>,
}

/// The on-demand brokers of this process, by address.
fn doors() -> &'static Mutex<HashMap<SocketAddr, Door>> {
    static DOORS: OnceLock<Mutex<HashMap<SocketAddr, Door>>> = OnceLock::new();
    DOORS.get_or_init(Default::default)
}

fn door(addr: SocketAddr) -> Option<Door> {
    doors().lock().ok()?.get(&addr).cloned()
}

/// The embedded broker, started on first use (see the module's text); dropping it stops it.
#[derive(Debug)]
pub struct OnDemandKafka {
    pub addr: SocketAddr,
    phase: watch::Receiver<Phase>,
    task: tokio::task::JoinHandle<()>,
}

impl OnDemandKafka {
    /// Holds `addr` (loopback only) for a broker started on first use, which then creates
    /// `topic` with `partitions` before anyone is served.
    pub async fn hold(addr: SocketAddr, topic: &str, partitions: i32) -> Result<Self, String> {
        loopback_only(addr)?;
        if addr.port() == 0 {
            return Err(format!(
                "give the embedded broker a port ({addr}: port 0 would be a port nobody is told)"
            ));
        }
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot hold {addr} for the embedded Kafka broker: {e}"))?;
        let (phase_tx, phase) = watch::channel(Phase::Held);
        let (wake_tx, wake) = mpsc::channel(1);
        if let Ok(mut doors) = doors().lock() {
            doors.insert(
                addr,
                Door {
                    phase: phase.clone(),
                    wake: wake_tx,
                },
            );
        }
        let topic = (topic.to_string(), partitions);
        let task = tokio::spawn(doorbell(listener, addr, topic, phase_tx, wake));
        Ok(Self { addr, phase, task })
    }

    pub fn phase(&self) -> Phase {
        self.phase.borrow().clone()
    }
}

impl Drop for OnDemandKafka {
    fn drop(&mut self) {
        self.task.abort();
        if let Ok(mut doors) = doors().lock()
            && doors
                .get(&self.addr)
                .is_some_and(|d| d.phase.same_channel(&self.phase))
        {
            doors.remove(&self.addr);
        }
    }
}

/// Starts the on-demand broker of this process at `addr`, if there is one and it has not
/// started, and waits until it runs. `Ok` at once when this process holds no broker there.
pub async fn ring(addr: SocketAddr) -> Result<(), String> {
    let Some(door) = door(addr) else {
        return Ok(());
    };
    let _ = door.wake.try_send(());
    running(door.phase).await
}

/// Whether this process holds an on-demand broker at `addr` that is not running yet.
pub fn unstarted(addr: SocketAddr) -> bool {
    door(addr).is_some_and(|d| matches!(*d.phase.borrow(), Phase::Held | Phase::Starting))
}

/// Waits, without starting it, until the on-demand broker of this process at `addr` runs (at
/// once when this process holds none there); `Err` when it failed or was stopped.
pub async fn started(addr: SocketAddr) -> Result<(), String> {
    match door(addr) {
        Some(door) => running(door.phase).await,
        None => Ok(()),
    }
}

async fn running(mut phase: watch::Receiver<Phase>) -> Result<(), String> {
    let phase = phase
        .wait_for(|p| matches!(p, Phase::Running | Phase::Failed(_)))
        .await
        .map_err(|_| "the embedded Kafka broker was stopped".to_string())?;
    match &*phase {
        Phase::Failed(why) => Err(why.clone()),
        _ => Ok(()),
    }
}

/// Holds the address until a connection sends a byte or someone rings, then starts the
/// broker behind it with the topic created, and from then on passes every connection on.
/// Keeps the broker until the task is aborted.
async fn doorbell(
    listener: TcpListener,
    addr: SocketAddr,
    (topic, partitions): (String, i32),
    phase: watch::Sender<Phase>,
    mut wake: mpsc::Receiver<()>,
) {
    let (rung_tx, mut rung) = mpsc::channel::<TcpStream>(16);
    let mut first = None;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((conn, _)) = accepted else { continue };
                let rung_tx = rung_tx.clone();
                tokio::spawn(async move {
                    // A port probe connects and closes without a byte: it rings nothing.
                    let mut byte = [0u8; 1];
                    if matches!(conn.peek(&mut byte).await, Ok(n) if n > 0) {
                        let _ = rung_tx.send(conn).await;
                    }
                });
            }
            Some(conn) = rung.recv() => {
                first = Some(conn);
                break;
            }
            Some(()) = wake.recv() => break,
        }
    }
    phase.send_replace(Phase::Starting);
    let broker = match start_behind(addr, &topic, partitions).await {
        Ok(broker) => broker,
        Err(why) => {
            phase.send_replace(Phase::Failed(why));
            return;
        }
    };
    phase.send_replace(Phase::Running);
    tracing::info!("the embedded Kafka broker started on first use at {addr}");
    let upstream = broker.addr;
    if let Some(conn) = first {
        tokio::spawn(relay(conn, upstream));
    }
    // From now on every connection is passed on: those that rang while it started (their
    // tasks hold senders) and every new one. `broker` lives as long as this task.
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((conn, _)) = accepted {
                    tokio::spawn(relay(conn, upstream));
                }
            }
            Some(conn) = rung.recv() => {
                tokio::spawn(relay(conn, upstream));
            }
        }
    }
}

/// Starts the broker on a free private port, advertising `addr`, with `topic` created.
async fn start_behind(
    addr: SocketAddr,
    topic: &str,
    partitions: i32,
) -> Result<EmbeddedKafka, String> {
    let mut last = String::new();
    // A free port can be taken between finding it and binding it: a few tries.
    for _ in 0..3 {
        let private = free_port(addr.ip())?;
        match EmbeddedKafka::start_advertising(private, addr).await {
            Ok(broker) => {
                let url = broker.url();
                switchboard_engine::kafka::admin::create_topic(&url, topic, partitions)
                    .await
                    .map_err(|e| {
                        format!(
                            "the embedded Kafka broker could not create {topic}: {}",
                            e.message
                        )
                    })?;
                return Ok(broker);
            }
            Err(why) => last = why,
        }
    }
    Err(last)
}

fn free_port(ip: std::net::IpAddr) -> Result<SocketAddr, String> {
    let probe = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
        .map_err(|e| format!("no free port for the embedded Kafka broker: {e}"))?;
    probe.local_addr().map_err(|e| e.to_string())
}

/// Passes a connection on to the broker at `addr`, both ways, until either side closes.
async fn relay(mut conn: TcpStream, addr: SocketAddr) {
    let Ok(mut broker) = TcpStream::connect(addr).await else {
        return;
    };
    let _ = conn.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut broker).await;
}
