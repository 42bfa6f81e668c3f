//! Gives back to the system the memory the allocator keeps after a burst of work, once the app
//! has been quiet for a moment. glibc returns freed memory only from the top of each arena: after
//! a thousand lookups, or a viewer tab closed, megabytes of freed chunks below live ones stay
//! resident until `malloc_trim` hands their pages back (measured: 9 MB after 1,000 lookups).

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel};
use std::time::Duration;

/// How long the app must have been quiet (no backend event) before memory is given back.
pub const QUIET: Duration = Duration::from_millis(750);

/// The UI says "something happened" with [`Trimmer::activity`]; a thread of its own trims once
/// the app has been quiet for [`QUIET`], and then waits for the next activity.
#[derive(Debug)]
pub struct Trimmer {
    activity: SyncSender<()>,
}

impl Trimmer {
    /// Starts the trimming thread; it ends when the trimmer is dropped.
    pub fn start() -> Self {
        let (activity, rx) = sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("memory-trim".into())
            .spawn(move || trim_when_quiet(&rx, release));
        if let Err(e) = spawned {
            tracing::warn!("memory is not given back after bursts: {e}");
        }
        Self { activity }
    }

    /// Something happened (never blocks: one pending note is enough).
    pub fn activity(&self) {
        let _ = self.activity.try_send(());
    }
}

/// Waits for activity, then for `QUIET` without any, then calls `trim`; again until the sender
/// is gone.
fn trim_when_quiet(rx: &Receiver<()>, mut trim: impl FnMut()) {
    while rx.recv().is_ok() {
        loop {
            match rx.recv_timeout(QUIET) {
                Ok(()) => continue,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        trim();
        // What came during the trim is part of the same quiet spell.
        if let Err(TryRecvError::Disconnected) = rx.try_recv() {
            return;
        }
    }
}

/// Asks glibc to return every arena's free pages to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release() {
    let start = std::time::Instant::now();
    // SAFETY: malloc_trim takes no pointers and has no caller-side invariants; glibc serialises
    // it with every other allocator call.
    let gave_back = unsafe { libc::malloc_trim(0) } == 1;
    tracing::debug!(
        gave_back,
        took_us = start.elapsed().as_micros() as u64,
        "malloc_trim"
    );
}

/// Other allocators give memory back by themselves (or have no such call).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release() {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn a_burst_of_activity_is_trimmed_once_after_it_goes_quiet() {
        let (tx, rx) = sync_channel(1);
        let trims = Arc::new(AtomicUsize::new(0));
        let counted = trims.clone();
        let thread = std::thread::Builder::new()
            .name("trim-test".into())
            .spawn(move || {
                trim_when_quiet(&rx, || {
                    counted.fetch_add(1, Ordering::SeqCst);
                })
            })
            .unwrap();
        let burst = Instant::now();
        while burst.elapsed() < QUIET * 2 {
            let _ = tx.try_send(());
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(trims.load(Ordering::SeqCst), 0, "trimmed while still busy");
        }
        std::thread::sleep(QUIET * 2);
        assert_eq!(trims.load(Ordering::SeqCst), 1);
        let _ = tx.try_send(());
        std::thread::sleep(QUIET * 2);
        assert_eq!(trims.load(Ordering::SeqCst), 2);
        drop(tx);
        thread.join().unwrap();
    }
}
