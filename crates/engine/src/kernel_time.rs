//! The kernel's own instants for a TCP connection (Linux): the handshake's round trip
//! (`TCP_INFO`), when request bytes left (`SO_TIMESTAMPING` software transmit timestamps, read
//! from the socket's error queue) and when the answer's first segment arrived (software receive
//! timestamps, read with a `MSG_PEEK` before the read that takes it). A task that wakes up late
//! on a busy machine then no longer stretches a network phase: the phase ends when the kernel
//! saw the packet, and the wait for the task is the client's time.
//!
//! Where the kernel refuses (another OS, an option it does not know), [`KernelClock::enable`]
//! gives `None` and phases keep the user-space instants (marked `source: "user-space"`).

use std::time::Instant;

/// Where a phase's instants come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The kernel's timestamps of the packets (or its handshake round trip).
    Kernel,
    /// When Switchboard's task saw the socket ready: includes its wake-up.
    UserSpace,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::UserSpace => "user-space",
        }
    }
}

/// A transmit timestamp: the offset of the last byte of one send (bytes since stamping was
/// switched on) and when the kernel handed it to the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxStamp {
    pub last_byte: u32,
    pub at: Instant,
}

#[cfg(target_os = "linux")]
mod imp {
    use super::TxStamp;
    use nix::sys::socket::{
        ControlMessageOwned, MsgFlags, TimestampingFlag, getsockopt, recvmsg, setsockopt, sockopt,
    };
    use nix::{getsockopt_impl, sockopt_impl};
    use std::os::fd::{AsFd, AsRawFd, OwnedFd};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    /// Software receive stamps, byte-keyed transmit stamps without the data (`on`: and
    /// transmit stamps themselves).
    fn flags(transmit: bool) -> TimestampingFlag {
        let mut flags = TimestampingFlag::SOF_TIMESTAMPING_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_RX_SOFTWARE
            | TimestampingFlag::SOF_TIMESTAMPING_OPT_ID
            | TimestampingFlag::SOF_TIMESTAMPING_OPT_TSONLY;
        if transmit {
            flags |= TimestampingFlag::SOF_TIMESTAMPING_TX_SOFTWARE;
        }
        flags
    }

    /// `linux/errqueue.h`: a stamp taken when the data left for the device (not
    /// `SCM_TSTAMP_SCHED` / `SCM_TSTAMP_ACK`); the libc crate does not name it.
    const SCM_TSTAMP_SND: u32 = 0;

    sockopt_impl!(
        /// `TCP_INFO`: the connection's state as the kernel keeps it.
        TcpInfo,
        GetOnly,
        libc::IPPROTO_TCP,
        libc::TCP_INFO,
        libc::tcp_info
    );

    /// Kernel timestamps of one TCP socket (a duplicate of its descriptor, so it works whoever
    /// owns the stream: tokio, TLS above it). The socket is closed only when this is dropped
    /// too: whoever owns the stream drops it with the stream.
    #[derive(Debug)]
    pub struct KernelClock {
        fd: OwnedFd,
        /// Room for the control messages of one `recvmsg`, kept between calls (a peek and a
        /// read of the error queue each exchange).
        cmsg: Vec<u8>,
    }

    impl KernelClock {
        /// Switches software receive timestamps and byte-keyed transmit stamps (off until
        /// [`KernelClock::transmit_stamps`]) on for `socket` (connected: the kernel refuses
        /// byte keys on a socket that is not); `None` where the kernel refuses.
        pub fn enable(socket: &impl AsFd) -> Option<Self> {
            super::keep_receive_stamps_on(Duration::ZERO);
            setsockopt(socket, sockopt::Timestamping, &flags(false)).ok()?;
            let fd = socket.as_fd().try_clone_to_owned().ok()?;
            let cmsg = nix::cmsg_space!(
                nix::sys::socket::Timestamps,
                libc::sock_extended_err,
                libc::sockaddr_in6
            );
            Some(Self { fd, cmsg })
        }

        /// Transmit stamps on (while a request is being written) or off: each stamp waits in
        /// the socket's error queue, which counts against its receive buffer, so they are not
        /// left on for a whole connection (a long stream or download would fill it and stall
        /// what comes in). Byte keys go on counting across.
        pub fn transmit_stamps(&self, on: bool) -> bool {
            setsockopt(&self.fd, sockopt::Timestamping, &flags(on)).is_ok()
        }

        /// Stamping off for this socket (its marks are done with it).
        pub fn off(&self) -> bool {
            setsockopt(&self.fd, sockopt::Timestamping, &TimestampingFlag::empty()).is_ok()
        }

        /// The handshake's round trip as the kernel measured it (SYN sent → SYN-ACK in),
        /// read right after the connection is made.
        pub fn handshake_rtt(socket: &impl AsFd) -> Option<Duration> {
            let info = getsockopt(socket, TcpInfo).ok()?;
            (info.tcpi_rtt > 0).then(|| Duration::from_micros(u64::from(info.tcpi_rtt)))
        }

        /// When the oldest segment waiting to be read arrived; `None` when nothing waits.
        pub fn peek_arrival(&mut self) -> Option<Instant> {
            let mut byte = [0u8; 1];
            let mut iov = [std::io::IoSliceMut::new(&mut byte)];
            let msg = recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut self.cmsg),
                MsgFlags::MSG_PEEK | MsgFlags::MSG_DONTWAIT,
            )
            .ok()?;
            if msg.bytes == 0 {
                return None;
            }
            let mut found = None;
            for c in msg.cmsgs().ok()? {
                if let ControlMessageOwned::ScmTimestampsns(ts) = c {
                    found = to_instant(ts.system.tv_sec(), ts.system.tv_nsec());
                }
            }
            found
        }

        /// Takes the transmit timestamps queued since the last call, oldest first, stopping
        /// after the one of the send whose last byte is `until` when that is known (one call
        /// instead of reading on to an empty queue; later ones wait for the next time).
        pub fn take_sent(&mut self, until: Option<u32>) -> Vec<TxStamp> {
            let mut out = Vec::new();
            // Bounded: the queue holds what was sent since the last call, never more than the
            // socket's receive buffer allows.
            for _ in 0..4096 {
                let mut buf = [0u8; 0];
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let Ok(msg) = recvmsg::<()>(
                    self.fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut self.cmsg),
                    MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
                ) else {
                    break;
                };
                let (mut at, mut key) = (None, None);
                let Ok(cmsgs) = msg.cmsgs() else { break };
                for c in cmsgs {
                    match c {
                        ControlMessageOwned::ScmTimestampsns(ts) => {
                            at = to_instant(ts.system.tv_sec(), ts.system.tv_nsec());
                        }
                        ControlMessageOwned::Ipv4RecvErr(err, _)
                        | ControlMessageOwned::Ipv6RecvErr(err, _)
                            if err.ee_origin == libc::SO_EE_ORIGIN_TIMESTAMPING
                                && err.ee_info == SCM_TSTAMP_SND =>
                        {
                            key = Some(err.ee_data);
                        }
                        _ => {}
                    }
                }
                if let (Some(at), Some(last_byte)) = (at, key) {
                    out.push(TxStamp { last_byte, at });
                    if until == Some(last_byte) {
                        break;
                    }
                }
            }
            out
        }
    }

    /// The socket that keeps the system's receive stamping on (see
    /// [`super::keep_receive_stamps_on`]) and whether a datagram it sent itself came back
    /// stamped.
    struct Keeper {
        socket: std::net::UdpSocket,
        ready: bool,
    }

    static KEEPER: std::sync::Mutex<Option<Keeper>> = std::sync::Mutex::new(None);

    pub fn keep_receive_stamps_on(wait: Duration) -> bool {
        let Ok(mut keeper) = KEEPER.lock() else {
            return false;
        };
        if keeper.is_none() {
            let Ok(socket) = std::net::UdpSocket::bind("127.0.0.1:0") else {
                return false;
            };
            if setsockopt(&socket, sockopt::Timestamping, &flags(false)).is_err()
                || socket.set_nonblocking(true).is_err()
            {
                return false;
            }
            *keeper = Some(Keeper {
                socket,
                ready: false,
            });
        }
        let Some(keeper) = keeper.as_mut() else {
            return false;
        };
        let deadline = Instant::now() + wait;
        while !keeper.ready {
            keeper.ready = keeper.probe();
            if keeper.ready || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        keeper.ready
    }

    impl Keeper {
        /// Sends itself one datagram and reads it back: stamped once stamping is in effect.
        fn probe(&self) -> bool {
            let Ok(own) = self.socket.local_addr() else {
                return false;
            };
            if self.socket.send_to(&[0], own).is_err() {
                return false;
            }
            let mut stamped = false;
            // Loopback delivers at once; a few tries cover the datagram still being queued.
            for _ in 0..100 {
                let mut byte = [0u8; 1];
                let mut iov = [std::io::IoSliceMut::new(&mut byte)];
                let mut cmsg = nix::cmsg_space!(nix::sys::socket::Timestamps);
                let Ok(msg) = recvmsg::<()>(
                    self.socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::MSG_DONTWAIT,
                ) else {
                    std::thread::sleep(Duration::from_micros(100));
                    continue;
                };
                if let Ok(cmsgs) = msg.cmsgs() {
                    stamped = cmsgs
                        .into_iter()
                        .any(|c| matches!(c, ControlMessageOwned::ScmTimestampsns(_)));
                }
                break;
            }
            stamped
        }
    }

    /// A `CLOCK_REALTIME` instant of the kernel as an [`Instant`]: read against both clocks
    /// now (a microsecond apart), so a clock step before now does not matter.
    fn to_instant(sec: i64, nsec: i64) -> Option<Instant> {
        let then = Duration::new(u64::try_from(sec).ok()?, u32::try_from(nsec).ok()?);
        let (mono, real) = (Instant::now(), SystemTime::now());
        let now = real.duration_since(UNIX_EPOCH).ok()?;
        let ago = now.checked_sub(then).unwrap_or_default();
        mono.checked_sub(ago)
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::TxStamp;
    use std::time::{Duration, Instant};

    pub fn keep_receive_stamps_on(_wait: Duration) -> bool {
        false
    }

    /// No kernel timestamps here: every phase is user-space.
    #[derive(Debug)]
    pub struct KernelClock;

    impl KernelClock {
        pub fn enable<T>(_socket: &T) -> Option<Self> {
            None
        }
        pub fn handshake_rtt<T>(_socket: &T) -> Option<Duration> {
            None
        }
        pub fn peek_arrival(&mut self) -> Option<Instant> {
            None
        }
        pub fn take_sent(&mut self, _until: Option<u32>) -> Vec<TxStamp> {
            Vec::new()
        }
        pub fn transmit_stamps(&self, _on: bool) -> bool {
            false
        }
        pub fn off(&self) -> bool {
            false
        }
    }
}

pub use imp::KernelClock;

/// Linux switches receive stamping on for the whole system when the first socket asks for it
/// and off when the last one closes — both later, from a work queue. A connection's answer
/// that arrives before that has no stamp (its phase falls back to user-space), and with one
/// connection at a time it flaps on and off between exchanges. One socket kept for the
/// process's life (made on the first call, or by [`KernelClock::enable`]) keeps it on; the
/// front ends call this at start with a short `wait`, so the first exchange is stamped too.
/// True when stamping was seen in effect (a datagram to itself came back stamped).
pub fn keep_receive_stamps_on(wait: std::time::Duration) -> bool {
    imp::keep_receive_stamps_on(wait)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn the_kernel_stamps_a_send_and_an_arrival_between_the_user_space_instants() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::Builder::new()
            .name("echo".into())
            .spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut b = [0u8; 5];
                s.read_exact(&mut b).unwrap();
                s.write_all(b"world").unwrap();
                let _ = s.read(&mut b);
            })
            .unwrap();
        // The system's stamping goes on a little after the first socket asks (a work queue).
        assert!(keep_receive_stamps_on(std::time::Duration::from_secs(5)));
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        assert!(KernelClock::handshake_rtt(&c).is_some());
        let mut clock = KernelClock::enable(&c).expect("software timestamps on loopback");
        assert!(clock.transmit_stamps(true));
        let before = Instant::now();
        c.write_all(b"hello").unwrap();
        let after = Instant::now();
        // The answer arrives; peek says when, without taking it.
        let mut arrival = None;
        for _ in 0..500 {
            arrival = clock.peek_arrival();
            if arrival.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let arrival = arrival.expect("the answer's arrival");
        let sent = clock.take_sent(None);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].last_byte, 4, "the send's last byte is the 5th");
        // Clock conversion is good to a few µs; the kernel stamped the send inside write().
        let slack = std::time::Duration::from_micros(50);
        assert!(sent[0].at + slack >= before && sent[0].at <= after + slack);
        assert!(arrival > sent[0].at && arrival <= Instant::now());
        let mut b = [0u8; 5];
        c.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"world");
        assert!(clock.peek_arrival().is_none(), "nothing left to read");
        assert!(clock.take_sent(None).is_empty(), "the queue was taken");
        // Off: a send is not stamped (nothing waits in the error queue).
        assert!(clock.transmit_stamps(false));
        c.write_all(b"again").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(clock.take_sent(None).is_empty(), "no stamp while off");
        // The clock holds a duplicate of the socket: both go before the peer sees it closed.
        drop(clock);
        drop(c);
        server.join().unwrap();
    }
}
