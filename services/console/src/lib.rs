//! `console`: the operator console, a web page for the people who run the
//! gateway (underwriters, operators, finance), in Chinese.
//!
//! * Served on its own admin address (`console.listen`): a service of its
//!   own in a deployment, one more admin listener of the single-process
//!   gateway. It reads the shared database and acts through the bus, so one
//!   console sees every service's work.
//! * Behind the admin token: a sign-in form takes the operator's name and
//!   `admin.token`, and sets an `HttpOnly`, `SameSite=Strict` session
//!   cookie (kept in `console_sessions` by its digest, so any replica
//!   knows it and signing out ends it). Every form carries the session's
//!   CSRF token; a post without it is refused and changes nothing.
//! * Every action calls the same function as the admin API: a referral
//!   decision goes through the decisions queue
//!   ([`underwriting::admin::decide_referral`]), a re-send through egress's
//!   [`egress::admin::Admin`], a refund through
//!   [`payment::admin::refund_held`], a replay through
//!   [`gw_host::dlq::DeadLetters`]; each is recorded in the operation
//!   records with the signed-in operator and the `console` channel.
//! * Server-rendered HTML (maud, escaped by construction), no script at
//!   all, a strict Content-Security-Policy. Personal data is masked as in
//!   the logs everywhere but on an application's own page.

mod auth;
mod layout;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::routing::{get, post};
use gw_host::{Build, Context, Parts};
use secrecy::ExposeSecret;

pub use auth::{COOKIE, CSRF_FIELD};

gw_host::service!(
    /// The operator console.
    Console, "console", admin: console.listen
);

/// What every page and action works with.
#[derive(Clone)]
pub(crate) struct State {
    pub db: gw_storage::Db,
    pub bus: gw_bus::Bus,
    pub flow: gw_workflow::Workflow,
    pub notices: egress::admin::Admin,
    pub dead: gw_host::dlq::DeadLetters,
    pub files: Arc<dyn gw_files::FileStore>,
    /// SM3 of `admin.token`; `None` when it is empty (the console is off,
    /// as the admin APIs are).
    pub token: Option<[u8; 32]>,
    pub session_ttl: Duration,
    pub secure_cookie: bool,
    /// Sign-in attempts per client address.
    pub sign_ins: Arc<gw_web::RateLimiter>,
    /// `http.trusted_proxies`: whose `X-Forwarded-For` names the client.
    pub trusted: Arc<Vec<ipnet::IpNet>>,
}

#[async_trait]
impl Build for Console {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        let s = &ctx.settings;
        let token = s.admin.token.expose_secret();
        let state = State {
            db: ctx.db.clone(),
            bus: ctx.bus.clone(),
            flow: ctx.flow.clone(),
            notices: egress::admin::Admin::new(ctx.flow.clone(), s.egress.stuck_after()),
            dead: gw_host::dlq::DeadLetters {
                db: ctx.db.clone(),
                bus: ctx.bus.clone(),
                service: "console".to_owned(),
            },
            files: gw_files::from_settings(&s.files, ctx.db.clone())?,
            token: (!token.is_empty()).then(|| gw_envelope::sign::sm3_digest(token.as_bytes())),
            session_ttl: s.console.session_ttl,
            secure_cookie: s.console.secure_cookie,
            sign_ins: Arc::new(gw_web::RateLimiter::per_minute(10)),
            trusted: Arc::new(s.http.trusted()),
        };
        if state.token.is_none() {
            tracing::warn!("admin.token is empty: the console refuses every sign-in");
        }
        let purge_db = ctx.db.clone();
        Ok(Parts {
            admin: Some(routes(state)),
            tasks: vec![Box::new(move |stop| {
                Box::pin(purge_sessions(purge_db, stop))
            })],
            ..Parts::default()
        })
    }
}

/// Every route of the console, under `/console`.
pub(crate) fn routes(state: State) -> Router {
    Router::new()
        .route("/console", get(pages::overview))
        .route("/console/login", get(auth::login_form).post(auth::login))
        .route("/console/logout", post(auth::logout))
        .route("/console/applications", get(pages::applications))
        .route("/console/applications/{applyno}", get(pages::application))
        .route(
            "/console/applications/{applyno}/resend",
            post(pages::resend_all),
        )
        .route("/console/files/{token}", get(pages::file))
        .route("/console/referrals", get(pages::referrals))
        .route("/console/referrals/{applyno}", post(pages::decide))
        .route("/console/notices", get(pages::notices))
        .route("/console/notices/{id}/resend", post(pages::resend))
        .route("/console/dead-letters", get(pages::dead_letters))
        .route("/console/dead-letters/replay", post(pages::replay_all))
        .route("/console/dead-letters/{id}/replay", post(pages::replay))
        .route("/console/payments", get(pages::payments))
        .route("/console/payments/{paynumber}/refund", post(pages::refund))
        .route("/console/verifications", get(pages::verifications))
        .layer(axum::middleware::from_fn(layout::headers))
        .with_state(state)
}

/// Deletes expired sessions every hour (idempotent; replicas share it).
async fn purge_sessions(db: gw_storage::Db, stop: gw_host::Shutdown) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
        match gw_storage::console::purge_sessions(db.conn()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "console: expired sessions deleted"),
            Err(e) => {
                tracing::warn!(error = %e, "console: cannot delete expired sessions; will try again")
            }
        }
    }
}
