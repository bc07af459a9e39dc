//! CPU-bound work on files (rendering a PDF and signing it, SM4 over a
//! download), off the async threads and at most as many at once as the
//! machine has cores.
//!
//! `spawn_blocking` alone starts a thread per task in flight: a restore
//! burst of 16 renders at once on 2 cores ran 16 threads, each render eight
//! times as long, each thread with a malloc arena of its own that keeps its
//! peak after the burst (the embedded gateway held 23 MB of anonymous memory
//! after a load run whose live heap never passed 8 MB). Waiting for a core
//! instead finishes the same work in the same time, the first results
//! sooner, and keeps the threads and their memory to the cores.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

/// The cores the process may use (its cgroup's quota included).
static CORES: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));

/// A permit per core.
static PERMITS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(*CORES)));

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
    run_on(&PERMITS, work).await
}

/// [`run`] with the permits of `cores`. The permit goes with the work, not
/// with the caller: a caller that stops waiting (a download whose client
/// went away) does not free the core while its work still runs on it.
async fn run_on<T, F>(cores: &Arc<Semaphore>, work: F) -> Result<T, CpuError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let permit = cores
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| CpuError(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let _core = permit;
        work()
    })
    .await
    .map_err(|e| CpuError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_work_runs_at_once_than_there_are_cores() {
        let cores = Arc::new(Semaphore::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (cores, running, most) = (cores.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    run_on(&cores, move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                        i
                    })
                    .await
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap().unwrap());
        }
        assert_eq!(results, (0..8).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_and_frees_its_core() {
        let cores = Arc::new(Semaphore::new(2));
        let e = run_on(&cores, || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("CPU task failed"), "{e}");
        assert_eq!(cores.available_permits(), 2);
        assert_eq!(run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_keeps_the_core_until_the_work_ends() {
        let cores = Arc::new(Semaphore::new(1));
        let (started, ran) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let caller = {
            let (cores, started, ran) = (cores.clone(), started.clone(), ran.clone());
            tokio::spawn(async move {
                run_on(&cores, move || {
                    started.store(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(300));
                    ran.store(1, Ordering::SeqCst);
                })
                .await
            })
        };
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        caller.abort();
        let _ = caller.await;
        assert_eq!(
            cores.available_permits(),
            0,
            "the work still holds its core"
        );
        // The next work starts only once the abandoned work has ended.
        let after = run_on(&cores, move || ran.load(Ordering::SeqCst))
            .await
            .unwrap();
        assert_eq!(after, 1);
        assert_eq!(cores.available_permits(), 1);
    }
}
