//! CPU-bound work on files (rendering a PDF and signing it, SM4 over a
//! download), on threads of its own, one per core, that the operating
//! system runs after the process's other threads.
//!
//! `spawn_blocking` alone starts a thread per task in flight: a restore
//! burst of 16 renders at once on 2 cores ran 16 threads, each render eight
//! times as long, each thread with a malloc arena of its own that keeps its
//! peak after the burst (the embedded gateway held 23 MB of anonymous memory
//! after a load run whose live heap never passed 8 MB). Waiting for a core
//! instead finishes the same work in the same time, the first results
//! sooner, and keeps the threads and their memory to the cores.
//!
//! The threads run at a nice value of their own (`files.cpu_nice`, 10 by
//! default; Linux keeps a nice value per thread). A render takes
//! milliseconds of CPU, and at the same priority it held a core while the
//! short steps around it waited: in the embedded gateway, the SQLite
//! connection's thread and the tasks whose statements it runs, so every
//! transaction held the one connection longer. At nice 10 those get the
//! core as soon as they are ready and the renders the time left; nothing
//! is starved (a nice-10 thread still gets about a tenth of a core that
//! others want).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};

/// The nice value of a process that sets none (`files.cpu_nice`'s default).
pub const DEFAULT_NICE: i32 = 10;

/// The nice value set before the threads start.
static NICE: OnceLock<i32> = OnceLock::new();

/// The cores the process may use (its cgroup's quota included).
static CORES: LazyLock<usize> =
    LazyLock::new(|| std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get));

/// A thread per core, started on first use.
static POOL: LazyLock<Pool> =
    LazyLock::new(|| Pool::start(*CORES, NICE.get().copied().unwrap_or(DEFAULT_NICE)));

/// Sets the CPU threads' nice value (0 to 19), before their first work.
/// The first value set is the process's: the threads are started once, and
/// a thread can lower its priority but not raise it again.
pub fn set_nice(nice: i32) {
    let _ = NICE.set(nice);
}

/// The work ended without a result: it panicked, or its thread could not
/// be started.
#[derive(Debug, thiserror::Error)]
#[error("CPU task failed: {0}")]
pub struct CpuError(String);

/// Runs `work` on a CPU thread once one is free, and returns what it
/// returned.
pub async fn run<T, F>(work: F) -> Result<T, CpuError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    POOL.run(work).await
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that take jobs from one queue, in the order they came.
struct Pool {
    jobs: Sender<Job>,
}

impl Pool {
    /// Starts `threads` threads at nice `nice`. A thread that cannot be
    /// started is logged; the work waits for the others (and with none,
    /// every call fails with a [`CpuError`] instead of hanging).
    fn start(threads: usize, nice: i32) -> Self {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            if let Err(e) = std::thread::Builder::new()
                .name(format!("gw-cpu-{i}"))
                .spawn(move || work_at(nice, &queue))
            {
                tracing::error!(error = %e, "cannot start a CPU thread");
            }
        }
        Self { jobs }
    }

    /// The job goes with its thread, not with the caller: a caller that
    /// stops waiting (a download whose client went away) does not free the
    /// core while its work still runs on it.
    async fn run<T, F>(&self, work: F) -> Result<T, CpuError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(catch_unwind(AssertUnwindSafe(work)));
            }))
            .map_err(|_| CpuError("no CPU thread is running".into()))?;
        match rx.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(panic)) => Err(CpuError(panic_message(panic.as_ref()))),
            Err(_) => Err(CpuError("no CPU thread is running".into())),
        }
    }
}

/// A CPU thread: lowers its own priority, then runs jobs until the queue
/// closes. A panic in a job is caught inside the job, so the thread lives on.
fn work_at(nice: i32, queue: &Mutex<Receiver<Job>>) {
    if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        // Only a seccomp policy refuses a thread lowering its own priority;
        // the work then runs at the process's priority, as it did before.
        tracing::warn!(error = %e, nice, "cannot lower the CPU thread's priority");
    }
    loop {
        // The lock is held while waiting, not while working.
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the work panicked".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn nice_of_this_thread() -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_work_runs_at_once_than_there_are_threads() {
        let pool = Arc::new(Pool::start(2, DEFAULT_NICE));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    pool.run(move || {
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
    async fn the_work_runs_below_the_callers_priority_and_the_caller_keeps_its_own() {
        let caller = nice_of_this_thread();
        let pool = Pool::start(1, 7);
        let worker = pool.run(nice_of_this_thread).await.unwrap();
        assert_eq!(worker, caller.max(7), "the CPU thread's nice value");
        assert_eq!(nice_of_this_thread(), caller, "the calling thread's");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_process_threads_take_the_nice_value_set_before_their_first_work() {
        let caller = nice_of_this_thread();
        set_nice(12);
        set_nice(3);
        assert_eq!(run(nice_of_this_thread).await.unwrap(), caller.max(12));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_an_error_and_the_thread_works_on() {
        let pool = Pool::start(1, DEFAULT_NICE);
        let e = pool.run(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert_eq!(e.to_string(), "CPU task failed: boom");
        let e = pool
            .run(|| -> u8 { panic!("{}", String::from("formatted")) })
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "CPU task failed: formatted");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_stops_waiting_keeps_the_core_until_the_work_ends() {
        let pool = Arc::new(Pool::start(1, DEFAULT_NICE));
        let (started, ran) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let caller = {
            let (pool, started, ran) = (pool.clone(), started.clone(), ran.clone());
            tokio::spawn(async move {
                pool.run(move || {
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
        // The next work starts only once the abandoned work has ended.
        let after = pool.run(move || ran.load(Ordering::SeqCst)).await.unwrap();
        assert_eq!(after, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_no_thread_a_call_fails_instead_of_waiting() {
        let (jobs, queue) = channel::<Job>();
        drop(queue);
        let pool = Pool { jobs };
        let e = pool.run(|| 1).await.unwrap_err();
        assert!(e.to_string().contains("no CPU thread"), "{e}");
    }
}
