//! `issuance`: the guarantee itself.
//!
//! * Consumes `issuance.issue` (sent by payment once paid): allocates the
//!   guarantee number, renders the cipher guarantee PDF ([`pdf`]), signs its
//!   SM3 digest with the institution's SM2 key ([`signing`]), stores it, and
//!   sends `baohannotice` with the download link.
//! * Consumes `issuance.revertapply` on its own queue and consumer (restore
//!   has a deadline, so it never waits behind issuing): renders the restored
//!   guarantee naming the project and the tenderer, with `poltime` = bid
//!   opening and `validtime` = bid day + validity + 1 day at 23:59:59, and
//!   sends `revertnotice`.
//! * Serves online verification (验真, [`verify`]).

pub mod capital;
pub mod handler;
pub mod numbers;
pub mod pdf;
pub mod signing;
pub mod verify;

use std::sync::Arc;

use gw_bus::{Bus, queues};
use gw_config::Settings;
use gw_storage::Db;
use gw_storage::outbox::Relay;
use tokio_util::sync::CancellationToken;

use crate::handler::{Issuance, IssueHandler, Issuer, RevertHandler};

pub struct Application {
    /// Whether stopping closes the bus and the database (not when shared).
    owns_connections: bool,
    settings: Settings,
    bus: Bus,
    db: Db,
    relay: Relay,
    issuance: Arc<Issuance>,
    public: tokio::net::TcpListener,
}

impl Application {
    /// Connects to the configured broker (or the embedded bus) and database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (bus, db) = gw_service::connect(&settings, "issuance").await?;
        let mut app = Self::build_with(settings, bus, db).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds on a bus and a database shared with other services of the
    /// same process (the single-process gateway); they stay open on stop.
    pub async fn build_with(settings: Settings, bus: Bus, db: Db) -> anyhow::Result<Self> {
        let relay = Relay::new(db.clone(), bus.clone());
        let signer = signing::Signer::load(&settings, &db).await?;
        let store = gw_files::from_settings(&settings.files, db.clone())?;
        // Parse the font once now, so a broken build fails at start-up.
        pdf::render(&pdf::GuaranteeDoc {
            baohanno: "BH0".into(),
            applicant: "自检".into(),
            applicant_code: "0".into(),
            amount: gw_protocol::Amount::ZERO,
            issuer: settings.institution.name.clone(),
            issuer_code: settings.institution.code.clone(),
            issued_at: gw_protocol::WireTime::now(),
            verify_code: "0".into(),
            verify_url: settings.public_base_url.to_string(),
            project: None,
        })?;
        let issuance = Arc::new(Issuance {
            db: db.clone(),
            store,
            signer,
            issuer: Issuer {
                name: settings.institution.name.clone(),
                code: settings.institution.code.clone(),
                base_url: settings
                    .public_base_url
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            },
            relay: relay.waker(),
        });
        let public = gw_service::bind(settings.issuance.listen, "issuance.listen").await?;
        Ok(Self {
            owns_connections: false,
            settings,
            bus,
            db,
            relay,
            issuance,
            public,
        })
    }

    /// The public routes (verification), to serve on another listener.
    pub fn public_router(&self) -> axum::Router {
        verify::routes(
            self.db.clone(),
            self.issuance.signer.clone(),
            self.settings.issuance.verify_per_minute,
        )
    }

    pub fn port(&self) -> u16 {
        self.public.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(gw_service::shutdown_on_signal()).await
    }

    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let s = &self.settings;
        let public = self
            .public_router()
            .merge(gw_service::health_routes(&self.bus, &self.db));
        let mut tasks = vec![
            gw_service::consume(
                s,
                &self.bus,
                queues::ISSUANCE_ISSUE,
                Arc::new(IssueHandler(self.issuance.clone())),
                shutdown.clone(),
            ),
            gw_service::consume(
                s,
                &self.bus,
                queues::REVERTAPPLY,
                Arc::new(RevertHandler(self.issuance.clone())),
                shutdown.clone(),
            ),
            gw_service::serve(self.public, public, shutdown.clone()),
        ];
        tasks.push(gw_service::worker::spawn_relay(
            self.relay.clone(),
            shutdown.clone(),
        ));
        tracing::info!("issuance running");
        let r = gw_service::join_all(tasks).await;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("issuance stopped");
        r
    }
}
