//! The service host: what every service shares, written once.
//!
//! A service says what it is made of ([`Service::build`] gives its
//! [`Parts`]: public and admin routes, consumers, background tasks); the
//! host does the rest ([`Application`]): it connects the bus and the
//! database (or takes shared ones), binds the listeners, serves, runs the
//! consumers and the outbox relay, and on SIGTERM drains in order:
//! consumers stop taking messages and finish (and acknowledge) those in
//! hand, HTTP servers finish their requests, the relay publishes what was
//! committed, then the connections close.
//!
//! The single-process gateway builds the same services on one bus and one
//! database with [`Layout::OnePublicPort`].

pub mod cli;
mod connect;
pub mod dlq;
mod health;
pub mod metrics;
pub mod operations;
mod serve;

pub use connect::{connect, connect_bus, connect_db, init_telemetry, migrate_db, topology};
pub use health::health_routes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use axum::Router;
use futures::future::BoxFuture;
use gw_bus::consumer::{self, ConsumerSettings, Consumers, Supervision};
use gw_bus::{Bus, Handler};
use gw_bus_sql::Relay;
use gw_config::Counterparts;
use gw_storage::Db;
use gw_workflow::Workflow;
use tokio_util::sync::CancellationToken;

/// Every binary that runs a service allocates with jemalloc, not glibc's
/// malloc, because glibc kept what a burst allocated: ingress held 94 MB
/// after 2000 restore calls at once (344 MB after 10 000) for as long as it
/// ran, where jemalloc gives freed pages back within about a second (27
/// MB). It costs about 1.5 MB more per idle service (smaller per-thread
/// caches keep it at that) and takes a little less CPU under load. Its
/// settings are compiled in from `.cargo/config.toml`; README, "Allocator".
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub use gw_config::Settings;
pub use tokio_util::sync::CancellationToken as Shutdown;

/// What a service is built from: the process's settings and connections.
#[derive(Clone)]
pub struct Context {
    pub settings: Settings,
    pub bus: Bus,
    pub db: Db,
    /// The handlers' transactions (with the process's relay to wake).
    pub flow: Workflow,
    /// The platforms we serve, keys built once.
    pub counterparts: Counterparts,
}

impl Context {
    /// A consumer of `queue` with the workers' defaults (`amqp.prefetch`,
    /// `amqp.max_attempts`, `amqp.retry_tiers`).
    pub fn consumer(&self, (queue, handler): (&'static str, Arc<dyn Handler>)) -> Consumer {
        let a = &self.settings.amqp;
        Consumer {
            settings: ConsumerSettings::new(
                queue,
                a.prefetch,
                a.max_attempts,
                a.retry_tiers.clone(),
            ),
            handler,
        }
    }
}

/// One queue consumed by a service.
pub struct Consumer {
    pub settings: ConsumerSettings,
    pub handler: Arc<dyn Handler>,
}

/// A background task: runs until its token is cancelled.
pub type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// What a built service consists of.
#[derive(Default)]
pub struct Parts {
    /// Routes the platform or the public reaches (cashier, files, ...).
    pub public: Option<Router>,
    /// The operators' routes (already behind the admin token).
    pub admin: Option<Router>,
    pub consumers: Vec<Consumer>,
    pub tasks: Vec<Task>,
    /// What the service does when a message of one of its queues dies
    /// (by queue), in the transaction that records the dead letter.
    pub on_dead_letter: Vec<(&'static str, Arc<dyn dlq::OnDeadLetter>)>,
}

/// A service: its name, where it listens, and how it is built. Declare
/// the first two with [`service!`]; write [`Build`] by hand.
pub trait Service: Build + Send + Sync {
    fn name(&self) -> &'static str;
    /// Where its public routes listen when it runs on its own, and the key.
    fn public_listen(&self, _settings: &Settings) -> Option<(SocketAddr, &'static str)> {
        None
    }
    /// Where its admin routes listen, and the key.
    fn admin_listen(&self, _settings: &Settings) -> Option<(SocketAddr, &'static str)> {
        None
    }
}

/// How a service is built from the process's connections.
#[async_trait]
pub trait Build {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts>;
}

/// Declares a service: a unit struct, its name, and the settings its
/// public and admin routes listen on, e.g.
/// `gw_host::service!(Payment, "payment", public: payment.listen, admin: payment.admin_listen);`
#[macro_export]
macro_rules! service {
    ($(#[$doc:meta])* $name:ident, $text:literal $(, public: $ps:ident . $pk:ident)? $(, admin: $as:ident . $ak:ident)? $(,)?) => {
        $(#[$doc])*
        pub struct $name;

        impl $crate::Service for $name {
            fn name(&self) -> &'static str {
                $text
            }
            $(
                fn public_listen(
                    &self,
                    s: &$crate::Settings,
                ) -> Option<(std::net::SocketAddr, &'static str)> {
                    Some((s.$ps.$pk, concat!(stringify!($ps), ".", stringify!($pk))))
                }
            )?
            $(
                fn admin_listen(
                    &self,
                    s: &$crate::Settings,
                ) -> Option<(std::net::SocketAddr, &'static str)> {
                    Some((s.$as.$ak, concat!(stringify!($as), ".", stringify!($ak))))
                }
            )?
        }
    };
}

/// How the public routes of the services are served.
#[derive(Debug, Clone, Copy)]
pub enum Layout {
    /// Each service on its own public address (one service per process).
    Separate,
    /// Every public route on one address (the single-process gateway).
    OnePublicPort(SocketAddr, &'static str),
}

struct Bound {
    name: String,
    listener: tokio::net::TcpListener,
    router: Router,
}

/// Services built and bound, ready to run.
pub struct Application {
    bus: Bus,
    db: Db,
    /// Where each consumer stands (`/readyz`).
    consumer_status: Consumers,
    relay: Relay,
    owns_connections: bool,
    listeners: Vec<Bound>,
    consumers: Vec<Consumer>,
    tasks: Vec<Task>,
    ports: BTreeMap<String, u16>,
    /// The archiver of the consumed queues' dead letters.
    archiver: dlq::Archiver,
    retention: gw_config::RetentionSettings,
    /// `http.idle_timeout`.
    idle_timeout: std::time::Duration,
}

async fn bind(addr: SocketAddr, setting: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({setting})"))
}

impl Application {
    /// Connects to the configured broker (or the embedded bus) and database
    /// and builds `services`, each on its own addresses.
    pub async fn build(settings: Settings, services: &[&dyn Service]) -> anyhow::Result<Self> {
        let name = services.first().map(|s| s.name()).unwrap_or("gateway");
        let (bus, db) = connect(&settings, name).await?;
        let mut app = Self::build_with(settings, bus, db, services, Layout::Separate).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds `services` on a bus and a database the caller owns (they stay
    /// open when the application stops).
    pub async fn build_with(
        settings: Settings,
        bus: Bus,
        db: Db,
        services: &[&dyn Service],
        layout: Layout,
    ) -> anyhow::Result<Self> {
        let relay = Relay::new(db.clone(), bus.clone());
        let flow = Workflow::new(db.clone(), gw_bus_sql::Outbox::of(&bus, &relay));
        let ctx = Context {
            counterparts: settings.counterparts(),
            flow: flow.clone(),
            settings,
            bus: bus.clone(),
            db: db.clone(),
        };
        let mut app = Self {
            bus,
            db,
            consumer_status: Consumers::default(),
            relay,
            owns_connections: false,
            listeners: Vec::new(),
            consumers: Vec::new(),
            tasks: Vec::new(),
            ports: BTreeMap::new(),
            archiver: dlq::Archiver {
                flow,
                bus: ctx.bus.clone(),
                queues: Vec::new(),
            },
            retention: ctx.settings.retention.clone(),
            idle_timeout: ctx.settings.http.idle_timeout,
        };
        let dead_letters = dlq::DeadLetters {
            db: ctx.db.clone(),
            bus: ctx.bus.clone(),
            service: String::new(),
        };
        let mut shared_public: Option<Router> = None;
        for service in services {
            let name = service.name();
            let parts = service
                .build(&ctx)
                .await
                .with_context(|| format!("cannot build {name}"))?;
            if let Some(router) = parts.public {
                match layout {
                    Layout::OnePublicPort(..) => {
                        shared_public = Some(match shared_public.take() {
                            Some(r) => r.merge(router),
                            None => router,
                        });
                    }
                    Layout::Separate => {
                        let (addr, setting) = service
                            .public_listen(&ctx.settings)
                            .with_context(|| format!("{name} has public routes but no address"))?;
                        app.listen(name, bind(addr, setting).await?, router)?;
                    }
                }
            }
            if let Some(router) = parts.admin {
                let (addr, setting) = service
                    .admin_listen(&ctx.settings)
                    .with_context(|| format!("{name} has admin routes but no address"))?;
                let dlq = gw_web::require_admin_token(
                    dlq::routes(dlq::DeadLetters {
                        service: name.to_owned(),
                        ..dead_letters.clone()
                    })
                    .merge(operations::routes(ctx.db.clone())),
                    &ctx.settings.admin.token,
                );
                let router = router
                    .merge(dlq)
                    .merge(metrics::routes(ctx.db.clone(), app.consumer_status.clone()));
                app.listen(&format!("{name}.admin"), bind(addr, setting).await?, router)?;
            }
            for c in &parts.consumers {
                let queue = c.settings.queue.clone();
                let on_dead = parts
                    .on_dead_letter
                    .iter()
                    .find(|(q, _)| *q == queue)
                    .map(|(_, h)| h.clone());
                app.archiver.queues.push(dlq::Watched { queue, on_dead });
            }
            app.consumers.extend(parts.consumers);
            app.tasks.extend(parts.tasks);
        }
        if let (Layout::OnePublicPort(addr, setting), Some(router)) = (layout, shared_public) {
            app.listen("public", bind(addr, setting).await?, router)?;
        }
        Ok(app)
    }

    fn listen(
        &mut self,
        name: &str,
        listener: tokio::net::TcpListener,
        router: Router,
    ) -> anyhow::Result<()> {
        let port = listener.local_addr()?.port();
        self.ports.insert(name.to_owned(), port);
        self.listeners.push(Bound {
            name: name.to_owned(),
            listener,
            router: router
                .route_layer(axum::middleware::from_fn(gw_web::trace::server_span))
                .merge(health_routes(&self.bus, &self.db, &self.consumer_status)),
        });
        Ok(())
    }

    /// The port of a listener: a service's name (its public routes),
    /// `<name>.admin`, or `public` (every public route, one-port layout).
    pub fn port(&self, listener: &str) -> Option<u16> {
        self.ports.get(listener).copied()
    }

    /// Every listener and its port.
    pub fn ports(&self) -> &BTreeMap<String, u16> {
        &self.ports
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_on_signal()).await
    }

    /// Runs until `shutdown`, then drains (see the crate documentation).
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut work: Vec<tokio::task::JoinHandle<anyhow::Result<()>>> = Vec::new();
        let supervision = Supervision::new(
            self.consumer_status.clone(),
            health::probe(&self.bus, &self.db),
        );
        for c in self.consumers {
            let (bus, stop, sup) = (self.bus.clone(), shutdown.clone(), supervision.clone());
            work.push(tokio::spawn(async move {
                consumer::run(bus, c.settings, c.handler, stop, sup)
                    .await
                    .map_err(anyhow::Error::from)
            }));
        }
        for b in self.listeners {
            let stop = shutdown.clone();
            tracing::info!(listener = %b.name, address = ?b.listener.local_addr().ok(), "listening");
            let idle = self.idle_timeout;
            work.push(tokio::spawn(serve::serve(b.listener, b.router, idle, stop)));
        }
        for t in self.tasks {
            work.push(tokio::spawn(t(shutdown.clone())));
        }
        if !self.archiver.queues.is_empty() {
            work.push(tokio::spawn(self.archiver.run(shutdown.clone())));
        }
        work.push(tokio::spawn(retention(
            self.db.clone(),
            self.retention.clone(),
            shutdown.clone(),
        )));
        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(self.relay.clone().run(relay_stop.clone()));
        let result = join_all(work).await;
        // Everything that could write to the outbox has stopped: publish
        // what it committed, then stop the relay.
        relay_stop.cancel();
        let _ = relay.await;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("stopped");
        result
    }
}

/// Deletes what `[retention]` says may go, every `interval`, in every
/// process (the deletes are idempotent; replicas share the work). A sweep
/// that fails is logged and tried at the next interval.
async fn retention(
    db: Db,
    r: gw_config::RetentionSettings,
    stop: CancellationToken,
) -> anyhow::Result<()> {
    use gw_storage::retention::{Ages, sweep};
    let ages = Ages {
        inbox: r.inbox,
        outbox: r.outbox,
        notices: r.notices,
        verifications: r.verifications,
        dead_letters: r.dead_letters,
    };
    // Replicas started together do not sweep together.
    let first = r
        .interval
        .mul_f64(rand_fraction())
        .min(std::time::Duration::from_secs(300));
    let mut wait = first;
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
        }
        match sweep(db.conn(), &ages).await {
            Ok(s) if s.total() > 0 => tracing::info!(?s, "retention: old rows deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "retention sweep failed; will try again"),
        }
        wait = r.interval;
    }
}

/// A number in [0, 1) that differs between processes.
fn rand_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    f64::from((nanos ^ std::process::id()) % 1000) / 1000.0
}

/// Waits for every task; returns the first error.
async fn join_all(tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>) -> anyhow::Result<()> {
    let mut first = Ok(());
    for t in tasks {
        let r = match t.await {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("a task panicked: {e}")),
        };
        if let (Err(e), true) = (r, first.is_ok()) {
            first = Err(e);
        }
    }
    first
}

/// A token cancelled on SIGTERM or Ctrl-C.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        t.cancel();
    });
    token
}

async fn wait_for_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
