//! What is kept on disk: collections (changes and runs) and the persisted history.

use super::*;

impl Backend {
    pub(super) async fn collection(&mut self, root: PathBuf, op: Box<CollectionOp>) {
        let Self { outbox, files, .. } = self;
        let outbox = outbox.clone();
        let files = files.clone();
        tokio::spawn(async move {
            let progress_outbox = outbox.clone();
            let event = tokio::task::spawn_blocking(move || {
                let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
                // An import says how far it got, at most ~20 times a second.
                let mut last: Option<std::time::Instant> = None;
                let mut progress = |written: usize, total: usize| {
                    let due = last.is_none_or(|at| at.elapsed().as_millis() >= 50);
                    if due || written == total {
                        last = Some(std::time::Instant::now());
                        progress_outbox.offer(Event::ImportProgress {
                            root: root.clone(),
                            written,
                            total,
                        });
                    }
                };
                let result = files.apply_counted(&root, &op, &mut progress);
                let collection = files.load(&root).map(Box::new);
                Event::Collection {
                    root,
                    op,
                    result,
                    collection,
                    secrets: Box::new(files.secrets()),
                }
            })
            .await;
            if let Ok(event) = event {
                outbox.send(event).await;
            }
        });
    }

    pub(super) async fn run_collection(
        &mut self,
        id: u64,
        root: PathBuf,
        options: Box<crate::engine::collection::run::RunOptions>,
    ) {
        let Self {
            outbox,
            files,
            running,
            ..
        } = self;
        let outbox = outbox.clone();
        let files = files.clone();
        running.insert(
            id,
            tokio::spawn(async move {
                let loaded = tokio::task::spawn_blocking(move || {
                    let files = files.lock().unwrap_or_else(|p| p.into_inner());
                    files.load(&root).map(|c| (c, files.secrets()))
                })
                .await
                .unwrap_or_else(|e| Err(BackendError::Invalid(e.to_string())));
                match loaded {
                    Err(e) => outbox.send(Event::RunResult { id, result: Err(e) }).await,
                    Ok((collection, secrets)) => {
                        let (tx, forward) =
                            outbox.forwarder(collection.items.len() + 1, move |r| {
                                Event::RunResult {
                                    id,
                                    result: Ok(Box::new(r)),
                                }
                            });
                        let result = crate::engine::collection::run::run(
                            &collection,
                            &secrets,
                            &options,
                            |r| {
                                let _ = tx.try_send(r.clone());
                            },
                        )
                        .await;
                        drop(tx);
                        let _ = forward.await;
                        if let Err(e) = result {
                            outbox
                                .send(Event::RunResult {
                                    id,
                                    result: Err(e.into()),
                                })
                                .await;
                        }
                    }
                }
                outbox.done(id).await;
            }),
        );
    }

    pub(super) async fn find_collections(&mut self, install_sample: bool) {
        let Self { outbox, files, .. } = self;
        let outbox = outbox.clone();
        let files = files.clone();
        tokio::spawn(async move {
            let result = tokio::task::spawn_blocking(move || {
                files
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .startup(install_sample)
            })
            .await
            .unwrap_or_else(|e| Err(BackendError::Invalid(e.to_string())));
            outbox.send(Event::CollectionsFound(result)).await;
        });
    }

    pub(super) async fn record_history(&mut self, entry: Box<HistoryEntry>) {
        let Self { history, .. } = self;
        if let Some(tx) = &history {
            // Dropped rather than blocking when the writer is far behind.
            let _ = tx.try_send(HistoryOp::Push(entry));
        }
    }

    pub(super) fn record_spans(
        &mut self,
        trace_id: String,
        spans: Vec<crate::engine::trace::TimelineSpan>,
    ) {
        if let Some(tx) = &self.history {
            let _ = tx.try_send(HistoryOp::Spans { trace_id, spans });
        }
    }

    pub(super) async fn clear_history(&mut self) {
        let Self { history, .. } = self;
        if let Some(tx) = &history {
            let _ = tx.try_send(HistoryOp::Clear);
        }
    }
}

pub(super) enum HistoryOp {
    Push(Box<HistoryEntry>),
    Spans {
        trace_id: String,
        spans: Vec<crate::engine::trace::TimelineSpan>,
    },
    Clear,
}

/// The history writer: a thread that owns the history file, loads it first (reporting the
/// entries to the UI), then appends what it is sent, in order.
pub(super) fn spawn_history(
    data_dir: &std::path::Path,
    outbox: Outbox,
) -> Option<std::sync::mpsc::SyncSender<HistoryOp>> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<HistoryOp>(1024);
    let data_dir = data_dir.to_path_buf();
    let spawned = std::thread::Builder::new()
        .name("switchboard-history".into())
        .spawn(move || {
            let (mut history, entries, note) = crate::ui::files::open_history(&data_dir);
            if outbox
                .events
                .blocking_send(Event::HistoryLoaded { entries, note })
                .is_ok()
            {
                (outbox.repaint)();
            }
            while let Ok(op) = rx.recv() {
                let Some(h) = history.as_mut() else {
                    continue;
                };
                let result = match op {
                    HistoryOp::Push(entry) => h.push(*entry),
                    HistoryOp::Spans { trace_id, spans } => h.push_spans(&trace_id, &spans),
                    HistoryOp::Clear => h.clear(),
                };
                if let Err(e) = result {
                    tracing::warn!("history: {e}");
                }
            }
        });
    spawned.ok().map(|_| tx)
}
