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
}

impl Http2Handshake {
    /// When the handshake was complete as far as it has been seen.
    pub fn done_at(&self) -> Option<Instant> {
        [self.preface_sent, self.server_settings, self.settings_acked]
            .into_iter()
            .flatten()
            .max()
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
}

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

    /// Starts a new measurement (forgets earlier marks).
    pub fn arm(&self) {
        *self.lock() = MarksSnapshot::default();
    }

    pub fn snapshot(&self) -> MarksSnapshot {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MarksSnapshot> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// HTTP/2 frames written: a request's frames are its marks, up to its END_STREAM.
    fn on_h2_write(&self, frames: &mut FrameReader, data: &[u8]) {
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
            marks.first_write.get_or_insert(now);
            marks.last_write = Some(now);
            if ended
                && matches!(frame.kind, h2::DATA | h2::HEADERS)
                && frame.flags & h2::END_STREAM_OR_ACK != 0
            {
                marks.request_done = true;
            }
        });
        drop(marks);
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
            if settings.0 {
                handshake.server_settings.get_or_insert(now);
            }
            if settings.1 {
                handshake.settings_acked.get_or_insert(now);
            }
        }
    }

    fn on_write(&self, n: usize) {
        let now = Instant::now();
        let mut marks = self.lock();
        marks.bytes_written += n as u64;
        if marks.first_read.is_none() {
            marks.first_write.get_or_insert(now);
            marks.last_write = Some(now);
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
        if marks.first_write.is_some() && marks.first_read.is_none() {
            marks.first_read = Some(now);
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

    fn wrote(&mut self, data: &[u8]) {
        match &mut self.frames {
            Some(frames) => self.marks.on_h2_write(&mut frames.0, data),
            None => self.marks.on_write(data.len()),
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
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
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            this.wrote(&buf[..n]);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result
            && n > 0
        {
            // The bytes written are the first `n` of the slices, in order.
            let mut left = n;
            for buf in bufs {
                let take = left.min(buf.len());
                if take > 0 {
                    this.wrote(&buf[..take]);
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
        io.wrote(&wire[..30]);
        io.wrote(&wire[30..]);
        assert!(marks.handshake().preface_sent.is_some());
        marks.arm();
        io.wrote(&frame(0x8, 0, 0, 4));
        assert_eq!(marks.snapshot().first_write, None);
        let mut request = frame(h2::HEADERS, 0x4, 1, 60);
        request.extend(frame(h2::SETTINGS, h2::END_STREAM_OR_ACK, 0, 0));
        request.extend(frame(h2::DATA, h2::END_STREAM_OR_ACK, 1, 12));
        for chunk in request.chunks(7) {
            io.wrote(chunk);
        }
        io.wrote(&frame(0x6, 0, 0, 8));
        io.wrote(&frame(h2::DATA, 0, 3, 5));
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
}
