//! `payment`: the premium.
//!
//! * Serves the cashier page behind `premiumurl` ([`cashier`]).
//! * Consumes `payment.confirmations` (the bank's payment gateway, or the
//!   sandbox form): a payment of exactly the premium marks the application
//!   paid, sends `paynotice` and has the guarantee issued; another amount is
//!   held for a person; a payment after cancellation (or a second one) is
//!   recorded for refund and the platform is not told. A confirmation seen
//!   twice (same `paynumber`) is one payment.
//! * Consumes `payment.cancelapply`: an unpaid application is cancelled and
//!   no notice is ever sent for it again.
//! * Consumes `payment.payapply`: records that the platform asked (ingress
//!   already answered from the lifecycle table).

pub mod admin;
pub mod cashier;
pub mod handler;

use std::sync::Arc;

use gw_bus::{Bus, queues};
use gw_config::Settings;
use gw_storage::Db;
use gw_storage::outbox::Relay;
use tokio_util::sync::CancellationToken;

use crate::handler::{CancelHandler, PayapplyHandler, PaymentHandler, Payments};

pub struct Application {
    /// Whether stopping closes the bus and the database (not when shared).
    owns_connections: bool,
    settings: Settings,
    bus: Bus,
    db: Db,
    relay: Relay,
    payments: Arc<Payments>,
    public: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
}

impl Application {
    /// Connects to the configured broker (or the embedded bus) and database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (bus, db) = gw_service::connect(&settings, "payment").await?;
        let mut app = Self::build_with(settings, bus, db).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds on a bus and a database shared with other services of the
    /// same process (the single-process gateway); they stay open on stop.
    pub async fn build_with(settings: Settings, bus: Bus, db: Db) -> anyhow::Result<Self> {
        let relay = Relay::new(db.clone(), bus.clone());
        let payments = Arc::new(Payments {
            db: db.clone(),
            relay: relay.waker(),
        });
        let public = gw_service::bind(settings.payment.listen, "payment.listen").await?;
        let admin = gw_service::bind(settings.payment.admin_listen, "payment.admin_listen").await?;
        if settings.payment.sandbox {
            tracing::warn!(
                "payment.sandbox is on: the cashier page completes payments without money"
            );
        }
        Ok(Self {
            owns_connections: false,
            settings,
            bus,
            db,
            relay,
            payments,
            public,
            admin,
        })
    }

    /// The public routes (the cashier), to serve on another listener.
    pub fn public_router(&self) -> axum::Router {
        cashier::routes(
            self.db.clone(),
            self.bus.clone(),
            self.settings.payment.clone(),
        )
    }

    pub fn port(&self) -> u16 {
        self.public.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn admin_port(&self) -> u16 {
        self.admin.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(gw_service::shutdown_on_signal()).await
    }

    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let s = &self.settings;
        let public = self
            .public_router()
            .merge(gw_service::health_routes(&self.bus, &self.db));
        let admin = admin::routes(self.db.clone(), self.relay.waker(), &s.admin.token);
        let mut tasks = vec![
            gw_service::consume(
                s,
                &self.bus,
                queues::PAYMENT_CONFIRMATIONS,
                Arc::new(PaymentHandler(self.payments.clone())),
                shutdown.clone(),
            ),
            gw_service::consume(
                s,
                &self.bus,
                queues::CANCELAPPLY,
                Arc::new(CancelHandler(self.payments.clone())),
                shutdown.clone(),
            ),
            gw_service::consume(
                s,
                &self.bus,
                queues::PAYAPPLY,
                Arc::new(PayapplyHandler(self.payments.clone())),
                shutdown.clone(),
            ),
            gw_service::serve(self.public, public, shutdown.clone()),
            gw_service::serve(self.admin, admin, shutdown.clone()),
        ];
        tasks.push(gw_service::worker::spawn_relay(
            self.relay.clone(),
            shutdown.clone(),
        ));
        tracing::info!("payment running");
        let r = gw_service::join_all(tasks).await;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("payment stopped");
        r
    }
}
