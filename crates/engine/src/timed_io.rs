//! A transport stream wrapper that records when request bytes were written and when the first
//! response byte was read — the real instants behind "request sent" and "first byte".

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
}

/// Shared between a [`TimedIo`] and whoever wants its marks.
#[derive(Debug, Default)]
pub struct IoMarks {
    inner: Mutex<MarksSnapshot>,
    /// The first bytes the peer ever sent on this connection (kept across [`IoMarks::arm`]):
    /// enough to tell what protocol it speaks.
    head: Mutex<Vec<u8>>,
}

/// How many of the peer's first bytes [`IoMarks::first_bytes`] keeps.
const HEAD_BYTES: usize = 32;

impl IoMarks {
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
}

impl<T> TimedIo<T> {
    pub fn new(inner: T, marks: Arc<IoMarks>) -> Self {
        Self { inner, marks }
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
            this.marks.on_write(n);
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
            this.marks.on_write(n);
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
