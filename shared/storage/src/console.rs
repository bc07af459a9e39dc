//! What the operator console reads and keeps: its sessions, and the few
//! queries no service's admin API needs (a search across applications, the
//! referral queue, the day's figures, an application's whole record).

use chrono::{DateTime, Utc};
use gw_lifecycle::{NoticeState, State};
use gw_protocol::ApplyNo;
use sea_orm::sea_query::Condition;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set,
};

use crate::entities::{
    applications, console_sessions, guarantees, logouts, quits, restorations,
    underwriting_decisions,
};

pub use console_sessions::Model as Session;

/// Opens a session kept by `digest` (of the cookie) until `expires_at`.
pub async fn open_session<C: ConnectionTrait>(
    conn: &C,
    digest: &str,
    operator: &str,
    csrf: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    console_sessions::ActiveModel {
        digest: Set(digest.to_owned()),
        operator: Set(operator.to_owned()),
        csrf: Set(csrf.to_owned()),
        created_at: Set(Utc::now()),
        expires_at: Set(expires_at),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// The session of `digest`, if it exists and has not expired.
pub async fn session<C: ConnectionTrait>(conn: &C, digest: &str) -> Result<Option<Session>, DbErr> {
    console_sessions::Entity::find_by_id(digest.to_owned())
        .filter(console_sessions::Column::ExpiresAt.gt(Utc::now()))
        .one(conn)
        .await
}

/// Ends the session of `digest` (signed out).
pub async fn close_session<C: ConnectionTrait>(conn: &C, digest: &str) -> Result<(), DbErr> {
    console_sessions::Entity::delete_by_id(digest.to_owned())
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the sessions that have expired; returns how many.
pub async fn purge_sessions<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    Ok(console_sessions::Entity::delete_many()
        .filter(console_sessions::Column::ExpiresAt.lte(Utc::now()))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Applications whose applyno, bidder code or guarantee number is `term`
/// (exactly), or, with no term, the latest; newest first.
pub async fn search<C: ConnectionTrait>(
    conn: &C,
    term: Option<&str>,
    limit: u64,
) -> Result<Vec<applications::Model>, DbErr> {
    let mut q = applications::Entity::find();
    if let Some(t) = term.map(str::trim).filter(|t| !t.is_empty()) {
        q = q.filter(
            Condition::any()
                .add(applications::Column::Applyno.eq(t))
                .add(applications::Column::Biddercode.eq(t))
                .add(applications::Column::Baohanno.eq(t)),
        );
    }
    q.order_by_desc(applications::Column::CreatedAt)
        .limit(limit.clamp(1, 500))
        .all(conn)
        .await
}

/// Referred applications waiting for a person, oldest first, each with the
/// decision that referred it.
pub async fn referrals<C: ConnectionTrait>(
    conn: &C,
) -> Result<Vec<(applications::Model, Option<underwriting_decisions::Model>)>, DbErr> {
    let apps = applications::Entity::find()
        .filter(applications::Column::State.eq(State::Referred))
        .order_by_asc(applications::Column::CreatedAt)
        .limit(500)
        .all(conn)
        .await?;
    let mut out = Vec::with_capacity(apps.len());
    for a in apps {
        let referred_by = underwriting_decisions::Entity::find()
            .filter(underwriting_decisions::Column::Applyno.eq(a.applyno.clone()))
            .filter(underwriting_decisions::Column::Decision.eq("refer"))
            .order_by_desc(underwriting_decisions::Column::Id)
            .one(conn)
            .await?;
        out.push((a, referred_by));
    }
    Ok(out)
}

/// The figures of the overview since `since` (the start of the day).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    pub applications: u64,
    pub approvals: u64,
    pub guarantees: u64,
    pub referred: u64,
    pub notices_open: u64,
    pub notices_dead: u64,
    /// When the oldest notice not yet delivered was created.
    pub oldest_open_notice: Option<DateTime<Utc>>,
}

pub async fn overview<C: ConnectionTrait>(
    conn: &C,
    since: DateTime<Utc>,
) -> Result<Overview, DbErr> {
    use crate::entities::notices;
    Ok(Overview {
        applications: applications::Entity::find()
            .filter(applications::Column::CreatedAt.gte(since))
            .count(conn)
            .await?,
        approvals: underwriting_decisions::Entity::find()
            .filter(underwriting_decisions::Column::DecidedAt.gte(since))
            .filter(underwriting_decisions::Column::Decision.eq("approve"))
            .count(conn)
            .await?,
        guarantees: guarantees::Entity::find()
            .filter(guarantees::Column::IssuedAt.gte(since))
            .count(conn)
            .await?,
        referred: applications::Entity::find()
            .filter(applications::Column::State.eq(State::Referred))
            .count(conn)
            .await?,
        notices_open: notices::Entity::find()
            .filter(notices::Column::State.is_in(NoticeState::OPEN))
            .count(conn)
            .await?,
        notices_dead: notices::Entity::find()
            .filter(notices::Column::State.eq(NoticeState::Dead))
            .count(conn)
            .await?,
        oldest_open_notice: crate::notices::oldest_open(conn).await?,
    })
}

/// The restorations a later restore replaced, oldest first.
pub async fn superseded_restorations<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Vec<restorations::Model>, DbErr> {
    restorations::Entity::find()
        .filter(restorations::Column::Applyno.eq(applyno.clone()))
        .order_by_asc(restorations::Column::Id)
        .all(conn)
        .await
}

/// Every refund request (quitapply) and write-off (logoutapply) of an
/// application.
pub async fn quits_and_logouts<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<(Vec<quits::Model>, Vec<logouts::Model>), DbErr> {
    let q = quits::Entity::find()
        .filter(quits::Column::Applyno.eq(applyno.clone()))
        .order_by_asc(quits::Column::DecidedAt)
        .all(conn)
        .await?;
    let l = logouts::Entity::find()
        .filter(logouts::Column::Applyno.eq(applyno.clone()))
        .order_by_asc(logouts::Column::DecidedAt)
        .all(conn)
        .await?;
    Ok((q, l))
}

/// Refunds requested (granted quitapply), newest first.
pub async fn refunds<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<quits::Model>, DbErr> {
    quits::Entity::find()
        .order_by_desc(quits::Column::DecidedAt)
        .limit(limit.clamp(1, 1000))
        .all(conn)
        .await
}
