//! `underwriting`: decides on every `baohanapply`.
//!
//! * Consumes `underwriting.baohanapply`: a repeat with the same content
//!   re-sends the earlier decision's notice; changed content on an unpaid
//!   application is underwritten afresh; a paid or cancelled application
//!   is left alone. The rules ([`rules`]) decide approve, reject or refer;
//!   each rule's outcome is recorded; approve and reject produce a
//!   `processnotice`; every decision is a domain event.
//! * Consumes `underwriting.decisions`: the answer on a referred
//!   application, from a risk system or a person (admin API).
//! * Reloads the rules file while running.

pub mod admin;
pub mod handler;
pub mod rules;

use std::sync::Arc;

use anyhow::Context;
use gw_bus::{Bus, queues};
use gw_config::Settings;
use gw_storage::Db;
use gw_storage::outbox::Relay;
use tokio_util::sync::CancellationToken;

use crate::handler::{ApplyHandler, ReviewHandler, Underwriter};
use crate::rules::{Rules, RulesHandle};

pub struct Application {
    /// Whether stopping closes the bus and the database (not when shared).
    owns_connections: bool,
    settings: Settings,
    bus: Bus,
    db: Db,
    relay: Relay,
    rules: RulesHandle,
    underwriter: Arc<Underwriter>,
    admin: tokio::net::TcpListener,
}

impl Application {
    /// Connects to the configured broker (or the embedded bus) and database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (bus, db) = gw_service::connect(&settings, "underwriting").await?;
        let mut app = Self::build_with(settings, bus, db).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds on a bus and a database shared with other services of the
    /// same process (the single-process gateway); they stay open on stop.
    pub async fn build_with(settings: Settings, bus: Bus, db: Db) -> anyhow::Result<Self> {
        let rules = match &settings.underwriting.rules_file {
            Some(path) => RulesHandle::load_file(path).context("underwriting.rules_file")?,
            None => Rules::try_from(&settings.underwriting.rules).context("underwriting.rules")?,
        };
        tracing::info!(version = %rules.version, "underwriting rules in force");
        let rules = RulesHandle::new(rules);
        let relay = Relay::new(db.clone(), bus.clone());
        let underwriter = Arc::new(Underwriter {
            db: db.clone(),
            rules: rules.clone(),
            relay: relay.waker(),
        });
        let admin = gw_service::bind(
            settings.underwriting.admin_listen,
            "underwriting.admin_listen",
        )
        .await?;
        Ok(Self {
            owns_connections: false,
            settings,
            bus,
            db,
            relay,
            rules,
            underwriter,
            admin,
        })
    }

    pub fn admin_port(&self) -> u16 {
        self.admin.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(gw_service::shutdown_on_signal()).await
    }

    /// Runs until `shutdown`, then drains: consumers finish and ack what they
    /// hold, the relay publishes what is committed, the admin API stops.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let s = &self.settings;
        let router = admin::routes(
            self.db.clone(),
            self.bus.clone(),
            self.rules.clone(),
            &s.admin.token,
        )
        .merge(gw_service::health_routes(&self.bus, &self.db));
        let mut tasks = vec![
            gw_service::consume(
                s,
                &self.bus,
                queues::BAOHANAPPLY,
                Arc::new(ApplyHandler(self.underwriter.clone())),
                shutdown.clone(),
            ),
            gw_service::consume(
                s,
                &self.bus,
                queues::UNDERWRITING_DECISIONS,
                Arc::new(ReviewHandler(self.underwriter.clone())),
                shutdown.clone(),
            ),
            gw_service::serve(self.admin, router, shutdown.clone()),
        ];
        tasks.push(gw_service::worker::spawn_relay(
            self.relay.clone(),
            shutdown.clone(),
        ));
        if let Some(path) = s.underwriting.rules_file.clone() {
            let watcher = self.rules.clone().watch(
                path,
                s.underwriting.rules_reload_interval,
                shutdown.clone(),
            );
            tasks.push(tokio::spawn(async move {
                watcher.await;
                Ok(())
            }));
        }
        tracing::info!("underwriting running");
        let r = gw_service::join_all(tasks).await;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("underwriting stopped");
        r
    }
}
