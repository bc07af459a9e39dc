//! Where the whole machine's CPU went during a load, from `/proc`: the
//! gateway's processes, PostgreSQL, RabbitMQ, the bench itself (the
//! platform stand-in, with the `pdftotext` it ran) and the rest.
//!
//! The throughput goal is for the whole machine, which the gateway shares
//! with its database and broker: the sum per lifecycle is the cost a core
//! pays for one, so `cores / sum` bounds the lifecycles a second this
//! machine can run at that cost, whatever the gateway does with its part.

/// CPU seconds, by part, at one moment.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    /// Every core's busy time (`/proc/stat`: all but idle and iowait).
    busy: f64,
    /// Every core's idle and iowait time.
    idle: f64,
    postgres: f64,
    rabbitmq: f64,
    /// This process and the children it has waited for.
    bench: f64,
}

/// One process's line of `/proc/PID/stat`: its command name, and the
/// fields after it (the name may hold spaces).
struct ProcStat {
    comm: String,
    fields: Vec<u64>,
}

impl ProcStat {
    fn read(path: &str) -> Option<Self> {
        let s = std::fs::read_to_string(path).ok()?;
        let (head, rest) = s.rsplit_once(')')?;
        Some(Self {
            comm: head.split_once('(')?.1.to_owned(),
            fields: rest
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect(),
        })
    }

    /// CPU seconds (user + system; with the children it waited for, if
    /// asked). utime and stime are fields 14 and 15 of the line, 11 and 12
    /// after the name; cutime and cstime 13 and 14.
    fn seconds(&self, tick: f64, with_children: bool) -> f64 {
        let at = |i: usize| self.fields.get(i).copied().unwrap_or(0) as f64 / tick;
        let own = at(11) + at(12);
        if with_children {
            own + at(13) + at(14)
        } else {
            own
        }
    }
}

/// CPU seconds (user + system) process `pid` has used.
pub fn cpu_seconds(pid: u32, tick: f64) -> Option<f64> {
    Some(ProcStat::read(&format!("/proc/{pid}/stat"))?.seconds(tick, false))
}

/// The kernel's clock ticks a second, in which `/proc` counts CPU time.
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

impl Sample {
    pub fn take(tick: f64) -> Self {
        let mut s = Sample::default();
        if let Some(cpu) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
        {
            // cpu user nice system idle iowait irq softirq steal ...
            let v: Vec<f64> = cpu
                .split_whitespace()
                .skip(1)
                .take(8)
                .filter_map(|x| x.parse().ok())
                .collect();
            if v.len() == 8 {
                s.idle = (v[3] + v[4]) / tick;
                s.busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tick;
            }
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return s;
        };
        for e in dir.flatten() {
            let name = e.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Some(p) = ProcStat::read(&format!("/proc/{pid}/stat")) else {
                continue;
            };
            match p.comm.as_str() {
                "postgres" => s.postgres += p.seconds(tick, false),
                "beam.smp" | "erl_child_setup" | "epmd" | "inet_gethost" => {
                    s.rabbitmq += p.seconds(tick, false)
                }
                _ => {}
            }
        }
        if let Some(p) = ProcStat::read("/proc/self/stat") {
            s.bench = p.seconds(tick, true);
        }
        s
    }
}

/// Prints the machine's CPU per `unit` (a lifecycle, a restore) between two
/// samples, by part, given the gateway's processes' own share (which the
/// caller measured per process) in seconds; `count` units were done.
pub fn report(before: Sample, after: Sample, gateway: f64, count: usize, unit: &str) {
    let per = |secs: f64| secs * 1000.0 / count as f64;
    let busy = after.busy - before.busy;
    let idle = after.idle - before.idle;
    let postgres = after.postgres - before.postgres;
    let rabbitmq = after.rabbitmq - before.rabbitmq;
    let bench = after.bench - before.bench;
    let rest = busy - gateway - postgres - rabbitmq - bench;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("CPU per {unit}, the whole machine ({cores} cores, /proc):");
    println!("  {:<30} {:.2} ms", "the gateway's processes", per(gateway));
    println!("  {:<30} {:.2} ms", "PostgreSQL", per(postgres));
    println!("  {:<30} {:.2} ms", "RabbitMQ", per(rabbitmq));
    println!(
        "  {:<30} {:.2} ms",
        "the bench (platform stand-in)",
        per(bench)
    );
    println!(
        "  {:<30} {:.2} ms (processes that ended, the kernel's threads, the rest)",
        "other",
        per(rest.max(0.0))
    );
    println!(
        "  {:<30} {:.2} ms: at this cost {cores} cores do at most {:.0} a second ({:.0} % of the machine was idle)",
        "busy in all",
        per(busy),
        cores as f64 * count as f64 / busy.max(f64::MIN_POSITIVE),
        100.0 * idle / (busy + idle).max(f64::MIN_POSITIVE)
    );
}
