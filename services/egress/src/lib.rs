//! `egress`: everything that leaves for the platform.
//!
//! * Consumes `egress.notices` and delivers each notice: validated again by
//!   the protocol crate, SM4-encrypted with its counterpart's key, signed
//!   (`sign` = HMAC-SM3 of the body, `timestamp`), POSTed. Retried through
//!   the TTL retry tiers on the configured schedule (with jitter, honouring
//!   `Retry-After`), in order per application, recorded attempt by attempt
//!   (see [`delivery`]).
//! * Serves `GET /files/{token}`: the SM4-encrypted bytes of a stored file.
//! * Serves the admin API on its own port (see [`admin`]).
//! * Runs an outbox relay for what it produces (successor notices, events).

pub mod admin;
pub mod bench;
pub mod cli;
pub mod delivery;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gw_bus::consumer::{self, ConsumerSettings};
use gw_bus::{Bus, queues};
use gw_config::{Counterparts, Settings};
use gw_files::FileStore;
use gw_storage::Db;
use gw_storage::outbox::Relay;
use tokio_util::sync::CancellationToken;

/// The egress service, built and bound, ready to run.
pub struct Application {
    /// Whether stopping closes the bus and the database (not when shared).
    owns_connections: bool,
    settings: Settings,
    bus: Bus,
    db: Db,
    relay: Relay,
    handler: Arc<delivery::NoticeHandler>,
    public: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
    router: Router,
    files: Router,
    admin_router: Router,
}

#[derive(Clone)]
struct FilesState {
    store: Arc<dyn FileStore>,
    counterparts: Counterparts,
}

impl Application {
    /// Connects to the configured broker (or the embedded bus) and database.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (bus, db) = gw_service::connect(&settings, "egress").await?;
        let mut app = Self::build_with(settings, bus, db).await?;
        app.owns_connections = true;
        Ok(app)
    }

    /// Builds on a bus and a database shared with other services of the
    /// same process (the single-process gateway); they stay open on stop.
    pub async fn build_with(settings: Settings, bus: Bus, db: Db) -> anyhow::Result<Self> {
        let counterparts = settings.counterparts()?;
        let store = gw_files::from_settings(&settings.files, db.clone())?;
        let relay = Relay::new(db.clone(), bus.clone());
        let handler = Arc::new(delivery::NoticeHandler {
            db: db.clone(),
            counterparts: counterparts.clone(),
            sender: delivery::Sender::new(settings.egress.http_timeout)?,
            relay: relay.waker(),
            max_attempts: settings.egress.max_attempts(),
            lease: settings.egress.http_timeout + Duration::from_secs(2),
        });
        let public = tokio::net::TcpListener::bind(settings.egress.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.egress.listen))?;
        let admin = tokio::net::TcpListener::bind(settings.egress.admin_listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.egress.admin_listen))?;
        let files = Router::new()
            .route("/files/{token}", get(download))
            .with_state(FilesState {
                store,
                counterparts,
            });
        let router = files.clone().merge(gw_service::health_routes(&bus, &db));
        let admin_router = admin::routes(
            admin::Admin::new(db.clone(), relay.waker()),
            &settings.admin.token,
        );
        Ok(Self {
            owns_connections: false,
            settings,
            bus,
            db,
            relay,
            handler,
            public,
            admin,
            router,
            files,
            admin_router,
        })
    }

    /// The public routes (`/files/{token}`), to serve on another listener.
    pub fn public_router(&self) -> Router {
        self.files.clone()
    }

    /// Port of the public file server.
    pub fn port(&self) -> u16 {
        self.public.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn admin_port(&self) -> u16 {
        self.admin.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(gw_service::shutdown_on_signal()).await
    }

    /// Runs until `shutdown`: stops taking notices, finishes and acknowledges
    /// those in hand, publishes what the outbox holds, then stops serving.
    pub async fn run_until(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let consumer_settings = ConsumerSettings {
            queue: queues::NOTICES.to_owned(),
            prefetch: self.settings.amqp.prefetch,
            max_attempts: self.settings.egress.max_attempts(),
            backoff: self.settings.egress.delays(),
            jitter: f64::from(self.settings.egress.retry_jitter_percent) / 100.0,
        };
        tracing::info!(
            port = self.port(),
            admin_port = self.admin_port(),
            attempts = consumer_settings.max_attempts,
            "egress starting"
        );
        let consumer = tokio::spawn(consumer::run(
            self.bus.clone(),
            consumer_settings,
            self.handler.clone(),
            shutdown.clone(),
        ));
        let relay = tokio::spawn(self.relay.clone().run(shutdown.clone()));
        let public = axum::serve(
            self.public,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let admin = axum::serve(self.admin, self.admin_router)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let (p, a) = tokio::join!(public, admin);
        p.context("the file server failed")?;
        a.context("the admin server failed")?;
        consumer.await.context("the consumer panicked")??;
        relay.await.context("the relay panicked")?;
        if self.owns_connections {
            self.bus.close().await;
            self.db.close().await;
        }
        tracing::info!("egress stopped");
        Ok(())
    }
}

/// `GET /files/{token}`: the file's bytes, SM4-encrypted with its
/// counterpart's key, as raw binary. Anything but a known token is 404.
async fn download(State(st): State<FilesState>, Path(token): Path<String>) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    if !gw_files::is_token(&token) {
        return not_found();
    }
    let (row, bytes) = match st.store.get(&token).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, "file lookup failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
    };
    let Some(cp) = st.counterparts.by_name(&row.counterpart) else {
        tracing::error!(counterpart = %row.counterpart, "a stored file belongs to an unconfigured counterpart");
        return not_found();
    };
    // SM4 over megabytes is CPU work: keep it off the async threads.
    let key = cp.key.clone();
    let encrypted = match tokio::task::spawn_blocking(move || key.encrypt_bytes(&bytes)).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "encryption task failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
    };
    tracing::info!(token_prefix = &token[..8], kind = %row.kind, applyno = row.applyno.as_deref().unwrap_or(""), bytes = encrypted.len(), "file served");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, encrypted.len().to_string()),
        ],
        Body::from(encrypted),
    )
        .into_response()
}
