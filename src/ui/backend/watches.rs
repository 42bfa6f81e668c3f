//! Watches for the message viewer, and its files (pick, export, import).

use super::*;

impl Backend {
    pub(super) async fn start_watch(
        &mut self,
        id: u64,
        spec: Box<WatchRequest>,
        delivered: crate::engine::watch::Delivered,
    ) {
        let Self {
            outbox, watches, ..
        } = self;
        let cancel = CancellationToken::new();
        watches.insert(id, cancel.clone());
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(spec.run_as(
            tx,
            cancel,
            Some(delivered),
            crate::engine::watched::Form::Stored,
        ));
        let outbox = outbox.clone();
        tokio::spawn(async move {
            // Messages are converted to their stored form here, off the UI thread.
            let mut interner = crate::engine::store::Interner::default();
            let mut record_bytes = 256;
            while let Some(event) = rx.recv().await {
                let (event, after) = match event {
                    WatchEvent::Messages(first) => {
                        // Batches that queued up meanwhile go to the UI as one event:
                        // a fast broker must not be limited by events per frame. Each
                        // is converted as it is taken (no copying of whole batches), into
                        // one buffer of records.
                        let queued = (first.len() * (1 + rx.len())).min(COALESCE + 512);
                        let mut batch = Prepared::with_capacity(queued, record_bytes);
                        for m in first {
                            batch.add(m, &mut interner);
                        }
                        let after = coalesce(&mut rx, &mut batch, &mut interner, id);
                        // The next batch's buffer starts at this one's average record.
                        record_bytes = batch.average_record();
                        (Event::WatchMessages { id, batch }, after)
                    }
                    // Converted by the watch itself (a NATS tap).
                    WatchEvent::Stored(mut batch) => {
                        let after = coalesce(&mut rx, &mut batch, &mut interner, id);
                        (Event::WatchMessages { id, batch }, after)
                    }
                    event => (Event::Watch { id, event }, None),
                };
                outbox.send(event).await;
                if let Some(after) = after {
                    outbox.send(after).await;
                }
            }
        });
    }

    pub(super) async fn stop_watch(&mut self, id: u64) {
        let Self { watches, .. } = self;
        if let Some(cancel) = watches.remove(&id) {
            cancel.cancel();
        }
    }

    pub(super) async fn pick_path(&mut self, purpose: PathPurpose) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let dialog = rfd::AsyncFileDialog::new();
            let messages = || {
                dialog
                    .clone()
                    .add_filter("JSON Lines", &["jsonl", "json", "txt"])
            };
            let picked = match purpose {
                PathPurpose::Export => messages().set_file_name("messages.jsonl").save_file().await,
                PathPurpose::Import => messages().pick_file().await,
                PathPurpose::CollectionFolder => {
                    dialog
                        .set_title("Open a collection folder")
                        .pick_folder()
                        .await
                }
                PathPurpose::Postman => {
                    dialog
                        .set_title("Import a Postman collection (v2.1)")
                        .add_filter("Postman collection", &["json"])
                        .pick_file()
                        .await
                }
            };
            let path = picked.map(|f| f.path().to_path_buf());
            outbox.send(Event::PickedPath { purpose, path }).await;
        });
    }

    pub(super) async fn export(&mut self, path: PathBuf, messages: Vec<WatchedMessage>) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let target = path.clone();
            let result = tokio::task::spawn_blocking(move || export(&target, &messages))
                .await
                .unwrap_or_else(|e| Err(BackendError::Invalid(e.to_string())));
            outbox.send(Event::Exported { path, result }).await;
        });
    }

    pub(super) async fn import(&mut self, path: PathBuf) {
        let Self { outbox, .. } = self;
        let outbox = outbox.clone();
        tokio::spawn(async move {
            let source = path.clone();
            let result = tokio::task::spawn_blocking(move || {
                if source.is_dir() {
                    let e = std::io::Error::from(std::io::ErrorKind::IsADirectory);
                    return Err(BackendError::file(&source, &e));
                }
                let file =
                    std::fs::File::open(&source).map_err(|e| BackendError::file(&source, &e))?;
                crate::engine::store::import_jsonl(std::io::BufReader::new(file)).map_err(
                    |message| BackendError::Corrupt {
                        path: source.clone(),
                        message,
                    },
                )
            })
            .await
            .unwrap_or_else(|e| Err(BackendError::Invalid(e.to_string())));
            outbox.send(Event::Imported { path, result }).await;
        });
    }
}

/// Most watched messages merged into one event for the UI: its buffer (≈ 90 bytes a message)
/// stays under glibc's 128 KiB mmap threshold, so batches reuse heap memory instead of mapping
/// and zeroing fresh pages each time.
pub(super) const COALESCE: usize = 1024;

/// Adds the batches already queued in `rx` to `batch`, up to [`COALESCE`] messages; the first
/// other event met comes back, to be sent after the batch.
fn coalesce(
    rx: &mut mpsc::Receiver<WatchEvent>,
    batch: &mut Prepared,
    interner: &mut crate::engine::store::Interner,
    id: u64,
) -> Option<Event> {
    while batch.len() < COALESCE {
        match rx.try_recv() {
            Ok(WatchEvent::Messages(more)) => {
                for m in more {
                    batch.add(m, interner);
                }
            }
            Ok(WatchEvent::Stored(mut more)) => batch.append(&mut more),
            Ok(other) => return Some(Event::Watch { id, event: other }),
            Err(_) => break,
        }
    }
    None
}

/// Writes JSON Lines atomically: a temporary file next to the target, fsync, rename.
pub(super) fn export(
    path: &std::path::Path,
    messages: &[WatchedMessage],
) -> Result<usize, BackendError> {
    let mut out = Vec::new();
    crate::engine::store::export_jsonl(messages, &mut out)
        .map_err(|e| BackendError::file(path, &e))?;
    crate::engine::fsutil::write_atomic(path, &out).map_err(|e| BackendError::file(path, &e))?;
    Ok(messages.len())
}
