//! What operators can do with notices, over HTTP (a separate port with its
//! own bearer token) and from the CLI. Both call [`Admin`].

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Json;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use gw_lifecycle::NoticeState;
use gw_storage::notices::{self, Attempt, Filter, NoticeRow};
use gw_storage::operations::{self, Actor, Operation};
use gw_web::admin::{self, Operator, Problem};
use gw_workflow::{DbResultExt, Workflow};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::delivery::command_of;

/// A notice as operators see it: the masked body and every attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoticeView {
    pub id: String,
    pub applyno: String,
    pub counterpart: String,
    pub interface: String,
    pub path: String,
    pub state: NoticeState,
    pub attempts: i32,
    pub after_id: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The notice with personal data masked.
    pub body: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub http_status: Option<i32>,
    pub reply_code: Option<String>,
    pub reply_msg: Option<String>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub delivered: bool,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            at: a.at,
            http_status: a.http_status,
            reply_code: a.reply_code,
            reply_msg: a.reply_msg,
            latency_ms: a.latency_ms,
            error: a.error,
            delivered: a.delivered,
        }
    }
}

/// Why a re-send did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("no such notice")]
    NotFound,
    /// Only a dead notice, or one stuck on its way, can be re-sent; this one
    /// is in the given state.
    #[error("the notice is {0} and not stuck; only a dead or stuck notice can be re-sent")]
    NotDead(NoticeState),
    #[error("{0:#}")]
    Internal(anyhow::Error),
}

/// Operations on notices.
#[derive(Clone)]
pub struct Admin {
    flow: Workflow,
    /// How long a notice on its way may go without any change before it
    /// counts as stuck (its command lost) and may be re-sent.
    stuck_after: chrono::Duration,
}

impl Admin {
    /// `stuck_after`: longer than the longest retry delay plus a send's
    /// lease, so a notice waiting in a retry tier is never taken for stuck.
    pub fn new(flow: Workflow, stuck_after: std::time::Duration) -> Self {
        Self {
            flow,
            stuck_after: chrono::Duration::from_std(stuck_after)
                .unwrap_or(chrono::Duration::hours(2)),
        }
    }

    /// Whether an operator may re-send `row`: dead, or on its way (sending,
    /// retrying, pending) with no lease and no change for longer than any
    /// retry takes: its command is gone.
    fn resendable(&self, row: &NoticeRow) -> bool {
        let now = Utc::now();
        match row.state {
            NoticeState::Dead => true,
            NoticeState::Sending | NoticeState::Retrying | NoticeState::Pending => {
                row.sending_until.is_none_or(|t| t < now) && row.updated_at < now - self.stuck_after
            }
            _ => false,
        }
    }

    async fn view(&self, row: NoticeRow) -> anyhow::Result<NoticeView> {
        let attempts = notices::attempts(self.flow.db().conn(), &row.id).await?;
        Ok(NoticeView {
            path: format!("{}{}", gw_protocol::PATH_PREFIX, row.interface),
            body: serde_json::from_str(&row.body_masked).unwrap_or(serde_json::Value::Null),
            attempt_log: attempts.into_iter().map(AttemptView::from).collect(),
            id: row.id,
            applyno: row.applyno.to_string(),
            counterpart: row.counterpart.to_string(),
            interface: row.interface,
            state: row.state,
            attempts: row.attempts,
            after_id: row.after_id,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            delivered_at: row.delivered_at,
        })
    }

    /// Notices by state and/or applyno, newest first, with their attempts.
    pub async fn list(&self, filter: &Filter) -> anyhow::Result<Vec<NoticeView>> {
        let rows = notices::list(self.flow.db().conn(), filter).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.view(r).await?);
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> anyhow::Result<Option<NoticeView>> {
        match notices::find(self.flow.db().conn(), id).await? {
            Some(r) => Ok(Some(self.view(r).await?)),
            None => Ok(None),
        }
    }

    /// Sends a dead (or stuck) notice again, from the start of the retry schedule. The
    /// notices waiting behind it follow once it is delivered, so the
    /// application's order holds.
    pub async fn resend(&self, id: &str, by: &Actor) -> Result<NoticeView, ResendError> {
        let internal = |e: gw_bus::Failure| ResendError::Internal(anyhow::anyhow!("{e:?}"));
        let tx = self.flow.begin().await.map_err(internal)?;
        let row = notices::find(tx.conn(), id)
            .await
            .transient()
            .map_err(internal)?
            .ok_or(ResendError::NotFound)?;
        notices::lock_chain(tx.conn(), &row.applyno)
            .await
            .transient()
            .map_err(internal)?;
        let row = notices::find(tx.conn(), id)
            .await
            .transient()
            .map_err(internal)?
            .ok_or(ResendError::NotFound)?;
        if !self.resendable(&row) {
            return Err(ResendError::NotDead(row.state));
        }
        let cmd = command_of(&row).map_err(ResendError::Internal)?;
        notices::set_state(
            tx.conn(),
            id,
            NoticeState::Pending,
            Some("re-sent by an operator"),
        )
        .await
        .transient()
        .map_err(internal)?;
        tx.send(&cmd).await.map_err(internal)?;
        operations::record(
            tx.conn(),
            Operation {
                actor: by,
                service: "egress",
                action: "notice.resent",
                subject: id,
                before: Some(serde_json::json!({
                    "applyno": row.applyno.as_str(), "interface": row.interface,
                    "state": row.state, "attempts": row.attempts, "last_error": row.last_error,
                })),
                after: Some(serde_json::json!({"state": NoticeState::Pending})),
                remark: None,
            },
        )
        .await
        .transient()
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(notice_id = id, applyno = %row.applyno, by = %by.name, "notice re-sent by an operator");
        self.get(id)
            .await
            .map_err(ResendError::Internal)?
            .ok_or(ResendError::NotFound)
    }
}

#[derive(Clone)]
struct AdminState {
    admin: Admin,
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    applyno: Option<String>,
    limit: Option<u64>,
}

impl From<ResendError> for Problem {
    fn from(e: ResendError) -> Self {
        match e {
            ResendError::NotFound => Problem::NotFound("no such notice"),
            e @ ResendError::NotDead(_) => Problem::Conflict(e.to_string()),
            ResendError::Internal(e) => Problem::internal("re-sending a notice", format!("{e:#}")),
        }
    }
}

async fn list(
    State(st): State<AdminState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<NoticeView>>, Problem> {
    let state = q.state.as_deref().map(str::parse::<NoticeState>);
    let filter = Filter {
        state: state.transpose().map_err(Problem::bad_request)?,
        applyno: q.applyno,
        limit: q.limit.unwrap_or(100),
    };
    let found = st.admin.list(&filter).await.map_err(|e| format!("{e:#}"));
    admin::listed("notices", found)
}

async fn one(
    State(st): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<NoticeView>, Problem> {
    let lookup = st.admin.get(&id).await.map_err(|e| format!("{e:#}"));
    admin::found("reading a notice", lookup, "no such notice").map(Json)
}

async fn resend(
    State(st): State<AdminState>,
    Path(id): Path<String>,
    Operator(who): Operator,
) -> Result<Json<NoticeView>, Problem> {
    Ok(Json(
        st.admin
            .resend(&id, &Actor::admin_api(who.as_deref()))
            .await?,
    ))
}

/// `GET /admin/notices?state=&applyno=&limit=`, `GET /admin/notices/{id}`,
/// `POST /admin/notices/{id}/resend`, all behind `Authorization: Bearer <admin.token>`.
pub fn routes(admin: Admin, token: &SecretString) -> Router {
    let router = Router::new()
        .route("/admin/notices", get(list))
        .route("/admin/notices/{id}", get(one))
        .route("/admin/notices/{id}/resend", post(resend))
        .with_state(AdminState { admin });
    gw_web::require_admin_token(router, token)
}
