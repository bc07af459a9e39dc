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

pub mod admin;
pub mod cli;
pub mod delivery;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gw_bus::consumer::ConsumerSettings;
use gw_config::Counterparts;
use gw_contract::{NoticeCommand, handler, queues};
use gw_files::FileStore;
use gw_host::{Build, Consumer, Context, Parts};

#[derive(Clone)]
struct FilesState {
    store: Arc<dyn FileStore>,
    counterparts: Counterparts,
}

gw_host::service!(
    /// The egress service.
    Egress, "egress", public: egress.listen, admin: egress.admin_listen
);

#[async_trait]
impl Build for Egress {
    async fn build(&self, ctx: &Context) -> anyhow::Result<Parts> {
        ctx.settings.require(&[gw_config::Need::Counterparts])?;
        let s = &ctx.settings;
        let store = gw_files::from_settings(&s.files, ctx.db.clone())?;
        let notices = Arc::new(delivery::NoticeHandler {
            flow: ctx.flow.clone(),
            counterparts: ctx.counterparts.clone(),
            sender: delivery::Sender::new(s.egress.http_timeout)?,
            max_attempts: s.egress.max_attempts(),
            lease: s.egress.http_timeout + Duration::from_secs(2),
        });
        let (queue, notices) = handler::<NoticeCommand, _>(notices);
        // Egress retries on its own schedule (`egress.retry_schedule`).
        let settings = ConsumerSettings {
            queue: queue.to_owned(),
            prefetch: s.amqp.prefetch,
            max_attempts: s.egress.max_attempts(),
            backoff: s.egress.delays(),
            jitter: f64::from(s.egress.retry_jitter_percent) / 100.0,
        };
        tracing::info!(attempts = settings.max_attempts, "notice delivery schedule");
        Ok(Parts {
            public: Some(files_router(store, ctx.counterparts.clone())),
            admin: Some(admin::routes(
                admin::Admin::new(ctx.flow.clone(), s.egress.stuck_after()),
                &s.admin.token,
            )),
            consumers: vec![Consumer {
                settings,
                handler: notices,
            }],
            on_dead_letter: vec![(queues::NOTICES, Arc::new(delivery::NoticeDied))],
            ..Parts::default()
        })
    }
}

/// `GET /files/{token}`.
fn files_router(store: Arc<dyn FileStore>, counterparts: Counterparts) -> Router {
    Router::new()
        .route("/files/{token}", get(download))
        .with_state(FilesState {
            store,
            counterparts,
        })
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
    // SM4 over megabytes is CPU work: off the async threads, a core's
    // worth at a time.
    let key = cp.key.clone();
    let encrypted = match gw_files::cpu::run(move || key.encrypt_bytes(&bytes)).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "encryption task failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "unavailable").into_response();
        }
    };
    tracing::info!(token_prefix = &token[..8], kind = %row.kind, applyno = row.applyno.as_deref().unwrap_or(""), bytes = encrypted.len(), "file served");
    metrics::counter!("gw_files_served_total", "kind" => row.kind.clone()).increment(1);
    metrics::counter!("gw_files_served_bytes_total").increment(encrypted.len() as u64);
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
