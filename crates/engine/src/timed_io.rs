//! A transport stream wrapper that records when request bytes were written and when the first
//! response byte was read — the real instants behind "request sent" and "first byte".
//!
//! On an HTTP/2 connection ([`IoMarks::http2`]) it reads the frames going by, so that a
//! request's marks count its own frames only (HEADERS, DATA… on a stream, up to END_STREAM),
//! not the connection's SETTINGS, SETTINGS ACK, WINDOW_UPDATE or PING, and so that the
//! connection's handshake (the preface and SETTINGS each way) has instants of its own.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::kernel_time::{KernelClock, Source, TxStamp};

/// Instants observed on a stream since the last [`IoMarks::arm`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarksSnapshot {
    pub first_write: Option<Instant>,
    /// The last write before the first read that followed a write.
    pub last_write: Option<Instant>,
    /// The first read after the request started being written.
    pub first_read: Option<Instant>,
    pub bytes_written: u64,
    pub bytes_read: u64,
    /// HTTP/2: the request's last frame (END_STREAM) was written; later writes are not its.
    request_done: bool,
    /// When the marks were armed (the request's start).
    armed_at: Option<Instant>,
    /// Bytes written on the connection (all of them, since it opened) up to and including the
    /// request's last write: the kernel's key for that write's timestamp.
    last_write_end: u64,
    /// When the kernel handed the request's last byte to the device.
    pub last_write_kernel: Option<Instant>,
    /// When the kernel received the segment the first read took.
    pub first_read_kernel: Option<Instant>,
    /// The last read (of anything) since the marks were armed.
    pub last_read: Option<Instant>,
    /// When the kernel received the oldest segment the last read took (marks
    /// [`following reads`](IoMarks::following_reads) only).
    pub last_read_kernel: Option<Instant>,
    /// The arrival peeked before the read under way.
    peeked: Option<Instant>,
}

impl MarksSnapshot {
    /// When the request's last byte left, and who says so: the kernel's transmit timestamp
    /// where there is one (it is taken inside the write, so never after our own instant).
    pub fn sent(&self) -> Option<(Instant, Source)> {
        let user = self.last_write?;
        Some(match self.last_write_kernel {
            Some(k) if k <= user && self.armed_at.is_none_or(|a| k >= a) => (k, Source::Kernel),
            _ => (user, Source::UserSpace),
        })
    }

    /// When the answer's first byte arrived, and who says so: the kernel's receive timestamp
    /// where there is one (never before the request left, never after we read it).
    pub fn answered(&self) -> Option<(Instant, Source)> {
        let user = self.first_read?;
        let sent = self.sent().map(|(t, _)| t);
        Some(match self.first_read_kernel {
            Some(k) if k <= user && sent.is_none_or(|s| k >= s) => (k, Source::Kernel),
            _ => (user, Source::UserSpace),
        })
    }

    /// When what the last read took arrived, and who says so (never before the marks were
    /// armed, never after we read it): for a protocol whose step ends with a reply, such as
    /// AMQP's Open-Ok.
    pub fn arrived(&self) -> Option<(Instant, Source)> {
        let user = self.last_read?;
        Some(match self.last_read_kernel {
            Some(k) if k <= user && self.armed_at.is_none_or(|a| k >= a) => (k, Source::Kernel),
            _ => (user, Source::UserSpace),
        })
    }
}

/// The HTTP/2 handshake as it went by on the wire (kept across [`IoMarks::arm`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Http2Handshake {
    /// The connection was handed to the HTTP/2 client (the handshake's start).
    pub started: Option<Instant>,
    /// The client's preface and SETTINGS frame written.
    pub preface_sent: Option<Instant>,
    /// The server's SETTINGS frame (its preface) read.
    pub server_settings: Option<Instant>,
    /// The server's acknowledgement of our SETTINGS read.
    pub settings_acked: Option<Instant>,
    /// The server's SETTINGS / its ACK instants are the kernel's arrivals of their segments.
    pub server_settings_kernel: bool,
    pub settings_acked_kernel: bool,
}

impl Http2Handshake {
    /// When the handshake was complete as far as it has been seen.
    pub fn done_at(&self) -> Option<Instant> {
        [self.preface_sent, self.server_settings, self.settings_acked]
            .into_iter()
            .flatten()
            .max()
    }

    /// Whether [`Http2Handshake::done_at`] is the kernel's instant (an arrival it stamped).
    pub fn done_by_kernel(&self) -> bool {
        let Some(done) = self.done_at() else {
            return false;
        };
        (self.settings_acked == Some(done) && self.settings_acked_kernel)
            || (self.server_settings == Some(done) && self.server_settings_kernel)
    }
}

/// Shared between a [`TimedIo`] and whoever wants its marks.
#[derive(Debug, Default)]
pub struct IoMarks {
    inner: Mutex<MarksSnapshot>,
    /// The first bytes the peer ever sent on this connection (kept across [`IoMarks::arm`]):
    /// enough to tell what protocol it speaks.
    head: Mutex<Vec<u8>>,
    /// Reads HTTP/2 frames (set once, at creation).
    http2: bool,
    handshake: Mutex<Http2Handshake>,
    /// The socket's kernel timestamps, where the kernel gives them; dropped with the stream
    /// (it holds a duplicate of the socket, which would keep the connection open).
    kernel: Mutex<Option<KernelClock>>,
    /// Whether the stream's bytes are the socket's (no TLS between): the kernel's transmit
    /// timestamps are then keyed by the same byte counts as ours.
    plain: bool,
    /// A kernel clock is there: reads without one skip the peek.
    stamped: std::sync::atomic::AtomicBool,
    /// Every read's arrival is peeked, not only the answer's first ([`IoMarks::following_reads`]).
    every_read: bool,
    /// Bytes written on the connection since it opened.
    written_total: std::sync::atomic::AtomicU64,
    /// The kernel's transmit timestamps taken from the socket and not yet matched.
    sent_stamps: Mutex<Vec<TxStamp>>,
    /// Transmit stamps are on: from [`IoMarks::arm`] until the request is written.
    transmit_on: std::sync::atomic::AtomicBool,
    /// Sends while they were on (a long stream turns them off: see [`MAX_STAMPED_SENDS`]).
    stamped_sends: std::sync::atomic::AtomicU32,
}

/// Sends stamped at most per request: each stamp waits in the socket's error queue (charged to
/// its receive buffer) until the request's marks are read; a long client stream falls back to
/// user-space instants rather than fill it.
const MAX_STAMPED_SENDS: u32 = 256;

/// HTTP/2 frame types and flags these marks look at.
mod h2 {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const SETTINGS: u8 = 0x4;
    /// END_STREAM on DATA and HEADERS, ACK on SETTINGS.
    pub const END_STREAM_OR_ACK: u8 = 0x1;
    /// What a client writes first: `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`.
    pub const PREFACE_LEN: usize = 24;
}

/// The head of an HTTP/2 frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FrameHead {
    kind: u8,
    flags: u8,
    stream: u32,
}

/// Follows HTTP/2 frames through one direction of a connection, whatever the chunks.
#[derive(Debug, Default)]
struct FrameReader {
    /// Bytes still to pass before frames begin (the client's preface).
    skip: usize,
    head: [u8; 9],
    head_len: usize,
    payload_left: usize,
    in_payload: bool,
    frame: FrameHead,
}

impl FrameReader {
    /// Calls `on(frame, its bytes in this chunk, the frame ended in this chunk)` for each frame
    /// that `data` carries part of (a frame head counts when it is complete).
    fn feed(&mut self, mut data: &[u8], mut on: impl FnMut(FrameHead, usize, bool)) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
            } else if self.in_payload {
                let n = self.payload_left.min(data.len());
                self.payload_left -= n;
                data = &data[n..];
                let ended = self.payload_left == 0;
                if ended {
                    self.in_payload = false;
                }
                on(self.frame, n, ended);
            } else {
                let n = (9 - self.head_len).min(data.len());
                self.head[self.head_len..self.head_len + n].copy_from_slice(&data[..n]);
                self.head_len += n;
                data = &data[n..];
                if self.head_len == 9 {
                    self.head_len = 0;
                    let h = self.head;
                    self.payload_left =
                        usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                    self.frame = FrameHead {
                        kind: h[3],
                        flags: h[4],
                        stream: u32::from_be_bytes([h[5], h[6], h[7], h[8]]) & 0x7fff_ffff,
                    };
                    self.in_payload = self.payload_left > 0;
                    on(self.frame, 9, !self.in_payload);
                }
            }
        }
    }
}

/// How many of the peer's first bytes [`IoMarks::first_bytes`] keeps.
const HEAD_BYTES: usize = 32;

impl IoMarks {
    /// Marks for an HTTP/2 connection: they follow its frames.
    pub fn http2() -> Self {
        Self {
            http2: true,
            ..Self::default()
        }
    }

    pub fn is_http2(&self) -> bool {
        self.http2
    }

    /// Notes the start of the HTTP/2 handshake: now.
    pub fn handshake_started(&self) {
        let mut handshake = self.handshake.lock().unwrap_or_else(|p| p.into_inner());
        handshake.started = Some(Instant::now());
    }

    /// The HTTP/2 handshake's instants seen so far.
    pub fn handshake(&self) -> Http2Handshake {
        *self.handshake.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Timestamps from the kernel for this connection's socket (`plain`: no TLS between the
    /// socket and these marks).
    pub fn with_kernel(mut self, kernel: Option<KernelClock>, plain: bool) -> Self {
        self.stamped = std::sync::atomic::AtomicBool::new(kernel.is_some());
        self.kernel = Mutex::new(kernel);
        self.plain = plain;
        self
    }

    /// Marks that note when every read's data arrived ([`MarksSnapshot::arrived`]), for a
    /// protocol of steps that each end with a reply (AMQP): a peek before each read, so only
    /// for connections whose reads are few or whose marks are [`retired`](IoMarks::retire).
    pub fn following_reads(mut self) -> Self {
        self.every_read = true;
        self
    }

    /// No more kernel instants for this connection (a watch or a publishing run after its
    /// setup is timed): the socket stops stamping and reads stop peeking.
    pub fn retire(&self) {
        self.stamped
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.transmit_off();
        if let Some(kernel) = self.kernel_lock().take() {
            kernel.off();
        }
    }

    /// Starts a new measurement (forgets earlier marks).
    pub fn arm(&self) {
        *self.lock() = MarksSnapshot {
            armed_at: Some(Instant::now()),
            ..MarksSnapshot::default()
        };
        if let Some(kernel) = self.kernel_lock().as_ref() {
            self.sent_stamps
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
            use std::sync::atomic::Ordering::Relaxed;
            self.stamped_sends.store(0, Relaxed);
            if !self.transmit_on.load(Relaxed) && kernel.transmit_stamps(true) {
                self.transmit_on.store(true, Relaxed);
            }
        }
    }

    /// The request is written (or too long to stamp): no more transmit stamps.
    fn transmit_off(&self) {
        if self
            .transmit_on
            .swap(false, std::sync::atomic::Ordering::Relaxed)
            && let Some(kernel) = self.kernel_lock().as_ref()
        {
            kernel.transmit_stamps(false);
        }
    }

    /// The marks so far, with the kernel's instant of the request's last write when it has
    /// stamped it.
    pub fn snapshot(&self) -> MarksSnapshot {
        self.transmit_off();
        let mut marks = self.lock();
        if let Some(kernel) = self.kernel_lock().as_mut()
            && marks.last_write.is_some()
            && marks.last_write_kernel.is_none()
        {
            let mut stamps = self.sent_stamps.lock().unwrap_or_else(|p| p.into_inner());
            let key = self
                .plain
                .then(|| marks.last_write_end.checked_sub(1).map(|k| k as u32))
                .flatten();
            stamps.extend(kernel.take_sent(key));
            marks.last_write_kernel = self.match_sent(&marks, &stamps);
        }
        *marks
    }

    /// The kernel's stamp of the request's last write: by its byte key when the socket's bytes
    /// are ours, else the last stamp between the request's start and our instant of that write.
    fn match_sent(&self, marks: &MarksSnapshot, stamps: &[TxStamp]) -> Option<Instant> {
        let user = marks.last_write?;
        if self.plain {
            // Keys are 32-bit byte offsets (the last byte of each send), wrapping.
            let key = marks.last_write_end.checked_sub(1)? as u32;
            return stamps.iter().find(|s| s.last_byte == key).map(|s| s.at);
        }
        let armed = marks.armed_at?;
        stamps
            .iter()
            .filter(|s| s.at >= armed && s.at <= user)
            .map(|s| s.at)
            .max()
    }

    /// Whether the next read is to be peeked at first ([`IoMarks::before_read`]): when it may
    /// take the answer's first byte (or, for connections that follow every read, any reply).
    /// `Some(waiting)`: a peek, and whether the request is out with no answer begun.
    fn peek_wanted(&self) -> Option<bool> {
        if !self.stamped.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let waiting = {
            let marks = self.lock();
            marks.first_write.is_some() && marks.first_read.is_none()
        };
        // HTTP/2: the server's SETTINGS and its ACK of ours end the handshake when they arrive.
        let handshaking = self.http2 && self.handshake().settings_acked.is_none();
        (waiting || self.every_read || handshaking).then_some(waiting)
    }

    /// Before a read that may take the answer's first byte: notes when the kernel received
    /// the oldest segment waiting (a peek, which takes nothing).
    fn before_read(&self, waiting: bool) {
        // (The kernel lock is never held while taking the marks' lock: snapshot takes them
        // the other way round.)
        let at = match self.kernel_lock().as_mut() {
            Some(kernel) => kernel.peek_arrival(),
            None => return,
        };
        let mut marks = self.lock();
        // Overwritten each time: a read that took only connection frames (HTTP/2) leaves
        // the next segment to be the answer's.
        if waiting {
            marks.first_read_kernel = at;
        }
        marks.peeked = at;
    }

    fn kernel_lock(&self) -> std::sync::MutexGuard<'_, Option<KernelClock>> {
        self.kernel.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count_written(&self, n: usize) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        if self.transmit_on.load(Relaxed)
            && self.stamped_sends.fetch_add(1, Relaxed) >= MAX_STAMPED_SENDS
        {
            self.transmit_off();
        }
        self.written_total
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed)
            + n as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MarksSnapshot> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// HTTP/2 frames written: a request's frames are its marks, up to its END_STREAM.
    fn on_h2_write(&self, frames: &mut FrameReader, data: &[u8], send_end: u64, started: Instant) {
        let now = Instant::now();
        let mut marks = self.lock();
        let mut preface_sent = false;
        frames.feed(data, |frame, n, ended| {
            if frame.stream == 0 {
                preface_sent |=
                    ended && frame.kind == h2::SETTINGS && frame.flags & h2::END_STREAM_OR_ACK == 0;
                return;
            }
            if marks.request_done {
                return;
            }
            marks.bytes_written += n as u64;
            marks.first_write.get_or_insert(started);
            marks.last_write = Some(now);
            marks.last_write_end = send_end;
            if ended
                && matches!(frame.kind, h2::DATA | h2::HEADERS)
                && frame.flags & h2::END_STREAM_OR_ACK != 0
            {
                marks.request_done = true;
            }
        });
        let done = marks.request_done;
        drop(marks);
        if done {
            self.transmit_off();
        }
        if preface_sent {
            let mut handshake = self.handshake.lock().unwrap_or_else(|p| p.into_inner());
            handshake.preface_sent.get_or_insert(now);
        }
    }

    /// HTTP/2 frames read: the first of a stream is the answer's first byte; the server's
    /// SETTINGS and its ACK of ours end the handshake.
    fn on_h2_read(&self, frames: &mut FrameReader, data: &[u8]) {
        let now = Instant::now();
        let mut marks = self.lock();
        marks.bytes_read += data.len() as u64;
        // When the kernel received what this read took (peeked before it), if it said.
        let arrival = marks.peeked.take().filter(|k| *k <= now);
        // (server SETTINGS seen, ACK of ours seen): one read may carry both.
        let mut settings = (false, false);
        frames.feed(data, |frame, _, ended| {
            if frame.stream == 0 {
                if ended && frame.kind == h2::SETTINGS {
                    if frame.flags & h2::END_STREAM_OR_ACK != 0 {
                        settings.1 = true;
                    } else {
                        settings.0 = true;
                    }
                }
            } else if marks.first_write.is_some() && marks.first_read.is_none() {
                marks.first_read = Some(now);
            }
        });
        drop(marks);
        if settings.0 || settings.1 {
            let mut handshake = self.handshake.lock().unwrap_or_else(|p| p.into_inner());
            if settings.0 && handshake.server_settings.is_none() {
                handshake.server_settings = Some(arrival.unwrap_or(now));
                handshake.server_settings_kernel = arrival.is_some();
            }
            if settings.1 && handshake.settings_acked.is_none() {
                handshake.settings_acked = Some(arrival.unwrap_or(now));
                handshake.settings_acked_kernel = arrival.is_some();
            }
        }
    }

    fn on_write(&self, n: usize, send_end: u64, started: Instant) {
        let now = Instant::now();
        let mut marks = self.lock();
        marks.bytes_written += n as u64;
        if marks.first_read.is_none() {
            marks.first_write.get_or_insert(started);
            marks.last_write = Some(now);
            marks.last_write_end = send_end;
        }
    }

    /// The first bytes the peer sent on this connection (up to 32).
    pub fn first_bytes(&self) -> Vec<u8> {
        self.head.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn on_read(&self, data: &[u8]) {
        {
            let mut head = self.head.lock().unwrap_or_else(|p| p.into_inner());
            let room = HEAD_BYTES.saturating_sub(head.len());
            head.extend_from_slice(&data[..room.min(data.len())]);
        }
        if self.http2 {
            return;
        }
        let n = data.len();
        let now = Instant::now();
        let mut marks = self.lock();
        marks.bytes_read += n as u64;
        marks.last_read = Some(now);
        marks.last_read_kernel = marks.peeked.take();
        if marks.first_write.is_some() && marks.first_read.is_none() {
            marks.first_read = Some(now);
            drop(marks);
            // The answer is coming: the request was written.
            self.transmit_off();
        }
    }
}

/// A stream that reports its reads and writes to [`IoMarks`].
#[derive(Debug)]
pub struct TimedIo<T> {
    inner: T,
    marks: Arc<IoMarks>,
    /// HTTP/2 frames each way, when the marks follow them.
    frames: Option<Box<(FrameReader, FrameReader)>>,
}

impl<T> TimedIo<T> {
    pub fn new(inner: T, marks: Arc<IoMarks>) -> Self {
        let frames = marks.http2.then(|| {
            Box::new((
                FrameReader {
                    skip: h2::PREFACE_LEN,
                    ..FrameReader::default()
                },
                FrameReader::default(),
            ))
        });
        Self {
            inner,
            marks,
            frames,
        }
    }

    /// `data` was written by a send that began at `started` and whose last byte is the
    /// connection's `send_end`th.
    fn wrote(&mut self, data: &[u8], send_end: u64, started: Instant) {
        match &mut self.frames {
            Some(frames) => self
                .marks
                .on_h2_write(&mut frames.0, data, send_end, started),
            None => self.marks.on_write(data.len(), send_end, started),
        }
    }
}

impl<T> Drop for TimedIo<T> {
    /// The kernel clock's duplicate of the socket goes with the stream, so that the connection
    /// closes when the stream does, however long its marks are kept.
    fn drop(&mut self) {
        self.marks.kernel_lock().take();
    }
}

/// A stream that can say whether its socket is readable without reading (no system call: the
/// runtime's readiness), so a peek is not made at an empty socket.
pub trait Readable {
    /// Ready when a read may find data (or an error); else the waker is kept for when it may.
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()>;
}

impl Readable for tokio::net::TcpStream {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        // An error is for the read to report.
        self.poll_read_ready(cx).map(|_| ())
    }
}

impl<A: Readable, B> Readable for tokio_util::either::Either<A, B> {
    /// A TLS stream (right) may hold decrypted data while its socket is empty: always ready.
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            tokio_util::either::Either::Left(a) => a.poll_readable(cx),
            tokio_util::either::Either::Right(_) => Poll::Ready(()),
        }
    }
}

impl Readable for tokio::io::Empty {
    fn poll_readable(&self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl<T: AsyncRead + Readable + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        if let Some(waiting) = this.marks.peek_wanted() {
            // Peek only at a socket said to be readable: at an empty one the peek is a
            // system call for nothing (the read after it waits for readiness anyway).
            if this.inner.poll_readable(cx).is_pending() {
                return Poll::Pending;
            }
            this.marks.before_read(waiting);
        }
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let data = &buf.filled()[before..];
            if !data.is_empty() {
                this.marks.on_read(data);
                if let Some(frames) = &mut this.frames {
                    this.marks.on_h2_read(&mut frames.1, data);
                }
            }
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let started = Instant::now();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            let send_end = this.marks.count_written(n);
            this.wrote(&buf[..n], send_end, started);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let started = Instant::now();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            // The bytes written are the first `n` of the slices, in order: one send.
            let send_end = this.marks.count_written(n);
            let mut left = n;
            for buf in bufs {
                let take = left.min(buf.len());
                if take > 0 {
                    this.wrote(&buf[..take], send_end, started);
                }
                left -= take;
                if left == 0 {
                    break;
                }
            }
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One send of `data` through `io`.
    fn send<T>(io: &mut TimedIo<T>, data: &[u8]) {
        let end = io.marks.count_written(data.len());
        io.wrote(data, end, Instant::now());
    }

    fn frame(kind: u8, flags: u8, stream: u32, payload: usize) -> Vec<u8> {
        let mut out = vec![
            (payload >> 16) as u8,
            (payload >> 8) as u8,
            payload as u8,
            kind,
            flags,
        ];
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend(std::iter::repeat_n(0u8, payload));
        out
    }

    #[test]
    fn http2_marks_count_the_request_frames_only_whatever_the_chunks() {
        let marks = Arc::new(IoMarks::http2());
        let mut io = TimedIo::new(tokio::io::empty(), marks.clone());
        // The preface and SETTINGS, split mid-frame; then, after arm, a WINDOW_UPDATE and a
        // SETTINGS ACK around the request's HEADERS and DATA (END_STREAM), then a PING.
        let mut wire = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        wire.extend(frame(h2::SETTINGS, 0, 0, 18));
        send(&mut io, &wire[..30]);
        send(&mut io, &wire[30..]);
        assert!(marks.handshake().preface_sent.is_some());
        marks.arm();
        send(&mut io, &frame(0x8, 0, 0, 4));
        assert_eq!(marks.snapshot().first_write, None);
        let mut request = frame(h2::HEADERS, 0x4, 1, 60);
        request.extend(frame(h2::SETTINGS, h2::END_STREAM_OR_ACK, 0, 0));
        request.extend(frame(h2::DATA, h2::END_STREAM_OR_ACK, 1, 12));
        for chunk in request.chunks(7) {
            send(&mut io, chunk);
        }
        send(&mut io, &frame(0x6, 0, 0, 8));
        send(&mut io, &frame(h2::DATA, 0, 3, 5));
        let m = marks.snapshot();
        assert_eq!(m.bytes_written, (9 + 60) + (9 + 12));
        assert!(m.first_write.is_some() && m.last_write >= m.first_write);
        assert!(m.request_done);

        // Reading: the server's SETTINGS, its ACK of ours, then the answer on stream 1.
        let mut frames = FrameReader::default();
        marks.on_h2_read(&mut frames, &frame(h2::SETTINGS, 0, 0, 6));
        assert_eq!(marks.snapshot().first_read, None);
        marks.on_h2_read(
            &mut frames,
            &frame(h2::SETTINGS, h2::END_STREAM_OR_ACK, 0, 0),
        );
        marks.on_h2_read(&mut frames, &frame(h2::HEADERS, 0x4, 1, 20));
        let h = marks.handshake();
        assert!(h.server_settings.is_some() && h.settings_acked.is_some());
        assert!(marks.snapshot().first_read.is_some());
        assert_eq!(
            h.done_at(),
            h.settings_acked.max(h.server_settings).max(h.preface_sent)
        );
    }

    #[test]
    fn the_kernel_stamp_of_the_last_write_is_found_by_its_byte_key_or_its_time() {
        let t0 = Instant::now();
        let us = |n: u64| t0 + std::time::Duration::from_micros(n);
        let marks = IoMarks::default().with_kernel(None, true);
        send_plain(&marks, 100); // an earlier exchange on the kept-alive connection
        marks.arm();
        send_plain(&marks, 40);
        send_plain(&marks, 60);
        let m = *marks.lock();
        assert_eq!(m.last_write_end, 200);
        let stamps = [
            TxStamp {
                last_byte: 99,
                at: us(1),
            },
            TxStamp {
                last_byte: 139,
                at: us(2),
            },
            TxStamp {
                last_byte: 199,
                at: us(3),
            },
        ];
        assert_eq!(marks.match_sent(&m, &stamps), Some(us(3)));
        assert_eq!(
            marks.match_sent(&m, &stamps[..2]),
            None,
            "no stamp for the last send"
        );
        // Through TLS the keys count other bytes: the last stamp between arm and our instant.
        let tls = IoMarks::default().with_kernel(None, false);
        let armed = Instant::now();
        tls.arm();
        send_plain(&tls, 10);
        let m = *tls.lock();
        let user = m.last_write.unwrap();
        let before_arm = armed - std::time::Duration::from_micros(5);
        let late = user + std::time::Duration::from_micros(5);
        let inside = m.armed_at.unwrap();
        let stamps = [
            TxStamp {
                last_byte: 1,
                at: before_arm,
            },
            TxStamp {
                last_byte: 2,
                at: inside,
            },
            TxStamp {
                last_byte: 3,
                at: late,
            },
        ];
        assert_eq!(tls.match_sent(&m, &stamps), Some(inside));
    }

    #[test]
    fn kernel_instants_are_used_only_where_they_fit_between_ours() {
        let t0 = Instant::now();
        let us = |n: u64| t0 + std::time::Duration::from_micros(n);
        let mut m = MarksSnapshot {
            armed_at: Some(us(0)),
            first_write: Some(us(10)),
            last_write: Some(us(20)),
            first_read: Some(us(100)),
            last_write_kernel: Some(us(15)),
            first_read_kernel: Some(us(60)),
            ..MarksSnapshot::default()
        };
        assert_eq!(m.sent(), Some((us(15), Source::Kernel)));
        assert_eq!(m.answered(), Some((us(60), Source::Kernel)));
        // A receive stamp before the request left, a send stamp after our instant: ours.
        m.first_read_kernel = Some(us(12));
        assert_eq!(m.answered(), Some((us(100), Source::UserSpace)));
        m.last_write_kernel = Some(us(25));
        assert_eq!(m.sent(), Some((us(20), Source::UserSpace)));
        m.last_write_kernel = None;
        m.first_read_kernel = None;
        assert_eq!(m.sent(), Some((us(20), Source::UserSpace)));
        assert_eq!(m.answered(), Some((us(100), Source::UserSpace)));
    }

    fn send_plain(marks: &IoMarks, n: usize) {
        let end = marks.count_written(n);
        marks.on_write(n, end, Instant::now());
    }

    /// Transmit stamps are on only while a request is written: off at its answer, off after
    /// too many sends (their error queue counts against the receive buffer), and on again at
    /// the next request.
    #[cfg(target_os = "linux")]
    #[test]
    fn transmit_stamps_are_on_only_while_a_request_is_written() {
        use std::sync::atomic::Ordering::Relaxed;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let marks = IoMarks::default().with_kernel(KernelClock::enable(&socket), true);
        assert!(!marks.transmit_on.load(Relaxed), "off until a request");
        marks.arm();
        assert!(marks.transmit_on.load(Relaxed));
        send_plain(&marks, 10);
        marks.on_read(b"HTTP/1.1 200 OK");
        assert!(
            !marks.transmit_on.load(Relaxed),
            "off once the answer comes"
        );
        marks.arm();
        assert!(
            marks.transmit_on.load(Relaxed),
            "on again for the next request"
        );
        for _ in 0..=MAX_STAMPED_SENDS {
            send_plain(&marks, 1);
        }
        assert!(
            !marks.transmit_on.load(Relaxed),
            "a long stream turns them off"
        );
    }
}
