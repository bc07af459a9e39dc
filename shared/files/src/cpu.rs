//! CPU-bound work on files (rendering a PDF and signing it, SM4 over a
//! download), off the async threads and at most as many at once as the
//! machine has cores.
//!
//! `spawn_blocking` alone starts a thread per task in flight: a restore
//! burst of 16 renders at once on 2 cores ran 16 threads, each render eight
//! times as long, each thread with a malloc arena of its own that keeps its
//! peak after the burst (the embedded gateway held 24 MB of anonymous memory
//! after a load run whose live heap never passed 8 MB). Waiting for a core
//! instead finishes the same work in the same time, the first results
//! sooner, and keeps the threads and their memory to the cores.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

/// The cores the process may use (its cgroup's quota included).
static CORES: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));

/// A permit per core.
static PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(*CORES));

/// The work ended without a result: it panicked (or the runtime is
/// shutting down).
#[derive(Debug, thiserror::Error)]
#[error("CPU task failed: {0}")]
pub struct CpuError(String);

/// Runs `work` on the blocking pool once a core is free, and returns what
/// it returned.
pub async fn run<T, F>(work: F) -> Result<T, CpuError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let permit = PERMITS
        .acquire()
        .await
        .map_err(|e| CpuError(e.to_string()))?;
    let result = tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| CpuError(e.to_string()));
    drop(permit);
    result
}

/// How many `run` calls may work at once.
pub fn cores() -> usize {
    *CORES
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_work_runs_at_once_than_there_are_cores() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..cores() * 4)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(results, (0..cores() * 4).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= cores());
        assert!(most.load(Ordering::SeqCst) >= 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_and_frees_its_core() {
        let e = run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert!(e.to_string().contains("CPU task failed"), "{e}");
        // Every core is free again: as many tasks as cores meet at a
        // barrier, which they could not all reach had a permit been lost.
        let meet = Arc::new(std::sync::Barrier::new(cores()));
        let tasks: Vec<_> = (0..cores())
            .map(|_| {
                let meet = meet.clone();
                tokio::spawn(run(move || {
                    meet.wait();
                }))
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(std::time::Duration::from_secs(20), t)
                .await
                .expect("every core's permit is free again")
                .unwrap()
                .unwrap();
        }
    }
}
