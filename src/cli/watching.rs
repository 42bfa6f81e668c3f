//! `switchboard watch`: every broker's watch modes, printed as lines or JSON Lines, through a
//! writer that stops cleanly when the reader goes away.

use super::*;

/// Watches a queue or exchange; message headers are printed masked unless
/// `show_credentials`.
pub(super) async fn watch(a: args::WatchArgs, show_credentials: bool) -> anyhow::Result<ExitCode> {
    use crate::engine::WatchRequest;
    kafka::check_scheme(&a.url)?;
    let spec = if kafka::is_kafka_url(&a.url) {
        WatchRequest::Kafka(kafka::watch(&a)?)
    } else if nats::is_nats_url(&a.url) {
        WatchRequest::Nats(nats::watch(&a)?)
    } else {
        WatchRequest::Amqp(amqp_watch(&a)?)
    };
    let wanted = if spec.is_peek() { None } else { a.count };
    let mut spec = spec;
    spec.set_limit(wanted);
    run_watch_request(a, spec, wanted, show_credentials).await
}

/// The AMQP watch of `watch amqp://…`.
pub(super) fn amqp_watch(a: &args::WatchArgs) -> anyhow::Result<crate::engine::watch::WatchSpec> {
    use crate::engine::watch::{WatchMode, WatchSpec};
    use args::ModeArg;
    if a.topic.is_some() || a.group.is_some() || a.partition.is_some() {
        anyhow::bail!("--topic, --partition and --group are for Kafka (a kafka:// URL)");
    }
    if a.from.is_some() {
        anyhow::bail!("--from is for NATS streams and Kafka topics; an AMQP watch starts now");
    }
    if a.subject.is_some() || a.stream.is_some() {
        anyhow::bail!(
            "--subject and --stream are for NATS (a nats:// URL); an AMQP watch takes --exchange or --queue"
        );
    }
    let spec = match (&a.queue, &a.exchange, a.mode) {
        (None, Some(exchange), None | Some(ModeArg::Tap)) => {
            WatchSpec::tap(&a.url, exchange, &a.binding)
        }
        (Some(queue), None, None | Some(ModeArg::Consume)) => {
            WatchSpec::queue(&a.url, WatchMode::Consume, queue)
        }
        (Some(queue), None, Some(ModeArg::Peek)) => WatchSpec {
            peek_limit: u32::try_from(a.count.unwrap_or(100)).unwrap_or(u32::MAX),
            ..WatchSpec::queue(&a.url, WatchMode::Peek, queue)
        },
        (_, Some(_), Some(_)) => {
            anyhow::bail!("--exchange is tapped; peek and consume need --queue")
        }
        (Some(_), _, Some(ModeArg::Tap)) => anyhow::bail!("tap needs --exchange, not --queue"),
        _ => anyhow::bail!("give either --queue NAME or --exchange NAME"),
    };
    let wanted = if spec.mode == WatchMode::Peek {
        None
    } else {
        a.count
    };
    Ok(WatchSpec {
        limit: wanted,
        ..spec
    })
}

pub(super) async fn run_watch_request(
    a: args::WatchArgs,
    spec: crate::engine::WatchRequest,
    wanted: Option<u64>,
    show_credentials: bool,
) -> anyhow::Result<ExitCode> {
    use crate::engine::watch::{self, WatchEvent};
    let mut stop = super::StopSignal::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let cancel = tokio_util::sync::CancellationToken::new();
    // A consume acknowledges only what was printed; the rest stays in (or goes back to) the queue.
    let (delivered, delivered_rx) = watch::delivery_counter();
    let task = tokio::spawn(spec.clone().run(tx, cancel.clone(), Some(delivered_rx)));
    let mut writer = StdoutWriter::spawn(delivered)?;
    let deadline = a.timeout.map(|t| tokio::time::Instant::now() + t);
    let sleep_until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep_until);
    let mut received: u64 = 0;
    let mut lost_at: Option<std::time::Instant> = None;
    let timed_out = |received: u64| match wanted {
        Some(n) => Err(format!(
            "timed out after {}s: received {received} of {n} messages",
            a.timeout.unwrap_or_default().as_secs_f64()
        )),
        None => Ok(()),
    };
    // Set when the user or the timeout stops the watch: then lines not yet written are not
    // waited for.
    let mut interrupted = false;
    let outcome: Result<(), String> = loop {
        if wanted.is_some_and(|n| received >= n) {
            break Ok(());
        }
        let event = tokio::select! {
            _ = &mut sleep_until => {
                interrupted = true;
                break timed_out(received);
            }
            () = stop.recv() => {
                interrupted = true;
                break Ok(());
            }
            // The reader went away while nothing arrived (`| head -1` on a quiet queue): a
            // quiet end now, not at the next message.
            Ok(()) = writer.reader_gone.changed() => {
                interrupted = true;
                break Ok(());
            }
            // The writer stopped between messages: a failed write (a full disk) is the
            // watch's error now, not at the next message; a reader gone is a quiet end.
            written = &mut writer.done => {
                interrupted = true;
                break match written {
                    Ok(Some(failure)) => Err(failure),
                    _ => Ok(()),
                };
            }
            event = rx.recv() => event,
        };
        match event {
            Some(WatchEvent::Connected { queue, reconnected }) => {
                if reconnected {
                    let gap = lost_at.take().map_or(0.0, |t| t.elapsed().as_secs_f64());
                    errln!("watch: reconnected after a {gap:.1} s gap; {received} messages so far");
                } else if !a.json {
                    let queue = match spec.transport() {
                        crate::engine::Transport::Amqp => format!(" (queue {queue})"),
                        _ => String::new(),
                    };
                    errln!(
                        "watching: {}{queue} — {} (Ctrl-C to stop)",
                        spec.describe(),
                        spec.explanation()
                    );
                }
            }
            Some(WatchEvent::Messages(batch)) => {
                let mut lines = Vec::with_capacity(batch.len());
                for message in batch {
                    if wanted.is_some_and(|n| received + lines.len() as u64 >= n) {
                        break;
                    }
                    let message = if show_credentials {
                        message
                    } else {
                        crate::engine::credentials::Redact::redacted(&message)
                    };
                    lines.push(if a.json {
                        format!("{}\n", serde_json::to_string(&message).unwrap_or_default())
                    } else {
                        print::message_text(&message)
                    });
                }
                received += lines.len() as u64;
                // A blocked standard output must not block Ctrl-C or the timeout.
                tokio::select! {
                    sent = writer.lines.send(lines) => if sent.is_err() {
                        // The reader went away (`| head -1`): a quiet end, as `cat` has.
                        interrupted = true;
                        break writer.failure().await.map_or(Ok(()), Err);
                    },
                    () = stop.recv() => {
                        interrupted = true;
                        break Ok(());
                    }
                    _ = &mut sleep_until => {
                        interrupted = true;
                        break timed_out(received);
                    }
                }
            }
            Some(WatchEvent::Lost { reason, retry_in }) => {
                lost_at.get_or_insert_with(std::time::Instant::now);
                if reason.ends_with("waiting for it to come back") {
                    errln!(
                        "watch: {reason}; next look in {:.2} s",
                        retry_in.as_secs_f64()
                    );
                } else {
                    errln!(
                        "watch: connection lost ({reason}); reconnecting in {:.2} s",
                        retry_in.as_secs_f64()
                    );
                }
            }
            Some(WatchEvent::Notice(notice)) => errln!("watch: {notice}"),
            // The CLI runs its watches in the watched form: stored batches never come.
            Some(WatchEvent::Stored(_)) => {}
            Some(WatchEvent::PeekDone { count }) => {
                if !a.json {
                    if spec.transport() == crate::engine::Transport::Amqp {
                        errln!(
                            "peeked {count} messages and put them back (now marked redelivered)"
                        );
                    } else {
                        errln!("peeked {count} messages (read by sequence, nothing acked)");
                    }
                }
                break Ok(());
            }
            Some(WatchEvent::Failed(error)) => break Err(error.to_string()),
            None => break Err("the watch ended".to_string()),
        }
    };
    // Everything handed over is written before a normal end (like `cat`), unless the user
    // presses Ctrl-C meanwhile; only what was written counts as shown.
    let StdoutWriter { lines, done, .. } = writer;
    drop(lines);
    let mut outcome = outcome;
    if !interrupted && outcome.is_ok() {
        tokio::select! {
            // A write that failed (a full disk; not a reader gone) fails the watch.
            written = done => {
                if let Ok(Some(failure)) = written {
                    outcome = Err(failure);
                }
            }
            () = stop.recv() => {}
        }
    }
    cancel.cancel();
    // Messages not written were not shown: they are not acknowledged and go back.
    drop(rx);
    let _ = task.await;
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(message) => Ok(fail(&message)),
    }
}

/// Writes watched messages to standard output on a thread of its own, so a reader that does not
/// read (a pager, a full pipe) never blocks Ctrl-C or the watch; counts into `delivered` only
/// what was written.
pub(super) struct StdoutWriter {
    pub(super) lines: tokio::sync::mpsc::Sender<Vec<String>>,
    /// Fires when the thread ends: everything written, the reader gone (`None`), or a write failed.
    pub(super) done: tokio::sync::oneshot::Receiver<Option<String>>,
    /// Changes when standard output is a pipe whose reader closed it.
    pub(super) reader_gone: tokio::sync::watch::Receiver<()>,
}

impl StdoutWriter {
    pub(super) fn spawn(delivered: tokio::sync::watch::Sender<u64>) -> anyhow::Result<Self> {
        let (lines, mut rx) = tokio::sync::mpsc::channel::<Vec<String>>(4);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("watch-stdout".into())
            .spawn(move || {
                use std::io::Write;
                let mut written = 0u64;
                let mut failure = None;
                'all: while let Some(batch) = rx.blocking_recv() {
                    let mut out = std::io::stdout().lock();
                    for line in batch {
                        if let Err(e) = out.write_all(line.as_bytes()) {
                            failure = write_failure(&e);
                            break 'all;
                        }
                        written += 1;
                        delivered.send_replace(written);
                    }
                    if let Err(e) = out.flush() {
                        failure = write_failure(&e);
                        break;
                    }
                }
                let _ = done_tx.send(failure);
            })?;
        let reader_gone = stdout_reader_gone()?;
        Ok(Self {
            lines,
            done,
            reader_gone,
        })
    }

    /// Why the writer stopped taking lines: `None` when the reader closed the pipe.
    async fn failure(&mut self) -> Option<String> {
        match (&mut self.done).await {
            Ok(failure) => failure,
            Err(_) => Some("standard output closed".to_string()),
        }
    }
}

/// Changes when standard output is a pipe whose reader closed it (a pager quit, `head` done),
/// whether or not anything is written: a thread waits for poll() to report an error on the
/// write end, which it never does for a terminal or a file.
pub(super) fn stdout_reader_gone() -> anyhow::Result<tokio::sync::watch::Receiver<()>> {
    let (gone_tx, reader_gone) = tokio::sync::watch::channel(());
    std::thread::Builder::new()
        .name("watch-stdout-reader".into())
        .spawn(move || {
            use rustix::event::{PollFd, PollFlags, poll};
            let stdout = std::io::stdout();
            loop {
                let mut fds = [PollFd::new(&stdout, PollFlags::empty())];
                match poll(&mut fds, None) {
                    Ok(_) if fds[0].revents().intersects(PollFlags::ERR | PollFlags::HUP) => {
                        gone_tx.send_replace(());
                        return;
                    }
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    // An invalid or unpollable descriptor: nothing to watch.
                    Err(_) => return,
                }
                if fds[0].revents().contains(PollFlags::NVAL) {
                    return;
                }
            }
        })?;
    Ok(reader_gone)
}

/// A write error worth reporting; a reader that closed the pipe is not one.
pub(super) fn write_failure(e: &std::io::Error) -> Option<String> {
    (e.kind() != std::io::ErrorKind::BrokenPipe)
        .then(|| format!("cannot write to standard output: {e}"))
}
