//! Notices and their delivery attempts: the record egress keeps, and the
//! per-application chain lock that keeps notices in order.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use gw_lifecycle::NoticeState;
use gw_protocol::{ApplyNo, CounterpartName};

use crate::entities::{notice_attempts, notice_chains, notices};

pub use notice_attempts::Model as Attempt;
pub use notices::Model as NoticeRow;

/// Takes the lock of `applyno`'s chain until the caller's transaction ends.
/// The careful claims of the same application's notices (on any replica),
/// their dead-lettering and an operator's re-sending serialise here; other
/// applications are not affected.
pub async fn lock_chain<C: ConnectionTrait>(conn: &C, applyno: &ApplyNo) -> Result<(), DbErr> {
    let row = notice_chains::ActiveModel {
        applyno: Set(applyno.to_string()),
    };
    notice_chains::Entity::insert(row)
        .on_conflict(crate::locks::locking(conn, notice_chains::Column::Applyno))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<NoticeRow>, DbErr> {
    notices::Entity::find_by_id(id.to_owned()).one(conn).await
}

/// The notice, its row locked against updates until the caller's
/// transaction ends (PostgreSQL; SQLite's one writer needs no lock): what a
/// successor about to be parked reads of the notice before it, so that the
/// predecessor's delivery, which updates that row, is either committed
/// before (and seen) or waits until the successor is parked (and then
/// finds it to send on).
pub async fn find_for_share<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<NoticeRow>, DbErr> {
    notices::Entity::find_by_id(id.to_owned())
        .lock_shared()
        .one(conn)
        .await
}

/// What a new notice row holds.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub id: &'a str,
    pub applyno: &'a ApplyNo,
    pub counterpart: &'a CounterpartName,
    pub interface: &'a str,
    pub after_id: Option<&'a str>,
    pub body: &'a str,
    pub body_masked: &'a str,
    pub state: NoticeState,
    pub last_error: Option<&'a str>,
}

impl NewNotice<'_> {
    /// The row: no attempt yet, created now.
    fn row(&self) -> notices::ActiveModel {
        let now = Utc::now();
        notices::ActiveModel {
            id: Set(self.id.to_owned()),
            applyno: Set(self.applyno.clone()),
            counterpart: Set(self.counterpart.clone()),
            interface: Set(self.interface.to_owned()),
            after_id: Set(self.after_id.map(str::to_owned)),
            body: Set(self.body.to_owned()),
            body_masked: Set(self.body_masked.to_owned()),
            state: Set(self.state),
            attempts: Set(0),
            last_error: Set(self.last_error.map(str::to_owned)),
            sending_until: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
        }
    }
}

pub async fn insert<C: ConnectionTrait>(conn: &C, n: NewNotice<'_>) -> Result<NoticeRow, DbErr> {
    n.row().insert(conn).await
}

/// Records the notice unless a row of its id exists (a delivery of its
/// command again); no lock is taken on an existing row.
pub async fn insert_if_absent<C: ConnectionTrait>(conn: &C, n: NewNotice<'_>) -> Result<(), DbErr> {
    notices::Entity::insert(n.row())
        .on_conflict(
            OnConflict::column(notices::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A notice [`start_if_clear`] marked as sending.
#[derive(Debug, Clone)]
pub struct Started {
    /// The row as marked: `attempts` counts this attempt.
    pub row: NoticeRow,
    /// When its application arrived (`None` if there is none).
    pub applied_at: Option<DateTime<Utc>>,
}

/// Marks notice `id` as in an HTTP call until `until`, in one statement and
/// without the chain lock, if nothing stands in its way: it is still on its
/// way, no other call holds it (`sending_until` passed or unset), the
/// notice before it lets it go (delivered or suppressed), its application
/// is not cancelled and no cancel of it is pending. `None` if something
/// does (the caller then finds out what under the chain lock).
///
/// Why no chain lock is needed here: only a claim holding the lock parks a
/// notice behind its predecessor, and a predecessor's delivery releases
/// what is parked under the lock too. This statement never parks; it sends
/// only on a predecessor whose delivery is committed, so nothing can be
/// parked behind it unseen. It is the path of almost every notice: the
/// claim is an insert and this update instead of eight statements.
pub async fn start_if_clear<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<Started>, DbErr> {
    use sea_orm::{FromQueryResult, Statement, Value};
    // Each condition on another row is a scalar subquery on its key: an
    // `EXISTS` is turned by PostgreSQL's planner into a join or a hashed
    // subplan over every delivered notice and every application (measured:
    // 1 ms a claim, growing with the tables), a scalar subquery stays one
    // index lookup.
    const SQL: &str = "UPDATE notices SET state = $2, sending_until = $3, \
        attempts = attempts + 1, updated_at = $4 \
        WHERE id = $1 AND state IN ($5, $6, $7, $8) \
        AND (sending_until IS NULL OR sending_until <= $4) \
        AND (after_id IS NULL OR (SELECT p.state FROM notices p \
            WHERE p.id = notices.after_id) IN ($9, $10)) \
        AND COALESCE((SELECT a.state FROM applications a \
            WHERE a.applyno = notices.applyno), '') <> $11 \
        AND COALESCE((SELECT c.resolution FROM cancel_requests c \
            WHERE c.applyno = notices.applyno), '') <> $12 \
        RETURNING *, (SELECT a.created_at FROM applications a \
            WHERE a.applyno = notices.applyno) AS applied_at";
    // The same sets the careful claim asks `NoticeState` and
    // `gw_lifecycle::accepts_notices` about.
    let [open0, open1, open2, open3] = NoticeState::OPEN;
    let [go0, go1] = NoticeState::LETTING_SUCCESSORS_GO;
    let values: [Value; 12] = [
        id.into(),
        NoticeState::Sending.into(),
        until.into(),
        now.into(),
        open0.into(),
        open1.into(),
        open2.into(),
        open3.into(),
        go0.into(),
        go1.into(),
        gw_lifecycle::State::Cancelled.into(),
        gw_lifecycle::Resolution::Pending.into(),
    ];
    let backend = conn.get_database_backend();
    let Some(row) = conn
        .query_one_raw(Statement::from_sql_and_values(backend, SQL, values))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Started {
        row: NoticeRow::from_query_result(&row, "")?,
        applied_at: row.try_get("", "applied_at")?,
    }))
}

/// Sets the state (and clears the sending lease).
pub async fn set_state<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    state: NoticeState,
    last_error: Option<&str>,
) -> Result<(), DbErr> {
    update_state(conn, id, state, last_error, false).await?;
    Ok(())
}

/// Sets the state of a notice still open (pending, waiting, retrying or
/// sending) and clears its sending lease; whether it was open. What a failed
/// attempt records: while its HTTP call was under way the notice may have
/// been settled by someone else (marked dead when its command was
/// dead-lettered, suppressed by a cancellation, delivered by another
/// sender), and a late failure must not bring it back to life. On
/// PostgreSQL the condition is checked again on the row as committed by a
/// concurrent update.
pub async fn set_state_if_open<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    state: NoticeState,
    last_error: Option<&str>,
) -> Result<bool, DbErr> {
    Ok(update_state(conn, id, state, last_error, true).await? > 0)
}

async fn update_state<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    state: NoticeState,
    last_error: Option<&str>,
    only_open: bool,
) -> Result<u64, DbErr> {
    let now = Utc::now();
    let mut q = notices::Entity::update_many()
        .col_expr(notices::Column::State, Expr::value(state))
        .col_expr(
            notices::Column::SendingUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(notices::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            notices::Column::LastError,
            Expr::value(last_error.map(str::to_owned)),
        );
    if state == NoticeState::Delivered {
        q = q.col_expr(notices::Column::DeliveredAt, Expr::value(now));
    }
    q = q.filter(notices::Column::Id.eq(id));
    if only_open {
        q = q.filter(notices::Column::State.is_in(NoticeState::OPEN));
    }
    Ok(q.exec(conn).await?.rows_affected)
}

/// Marks the notice as in an HTTP call until `until`; returns the attempt number.
pub async fn start_sending<C: ConnectionTrait>(
    conn: &C,
    row: &NoticeRow,
    until: DateTime<Utc>,
) -> Result<i32, DbErr> {
    let attempt = row.attempts + 1;
    notices::Entity::update_many()
        .col_expr(notices::Column::State, Expr::value(NoticeState::Sending))
        .col_expr(notices::Column::SendingUntil, Expr::value(until))
        .col_expr(notices::Column::Attempts, Expr::value(attempt))
        .col_expr(notices::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(notices::Column::Id.eq(row.id.clone()))
        .exec(conn)
        .await?;
    Ok(attempt)
}

/// Ends every "an HTTP call is under way" mark, so that a notice whose
/// sender died mid-call may be sent again at once. Only for a process alone
/// on its database (the embedded gateway holding its lock): another
/// sender's call in progress would be doubled. How many were marked.
pub async fn release_sending<C: ConnectionTrait>(conn: &C) -> Result<u64, DbErr> {
    let r = notices::Entity::update_many()
        .col_expr(
            notices::Column::SendingUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(notices::Column::SendingUntil.is_not_null())
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}

/// When the oldest notice not yet delivered (nor given up) was decided.
pub async fn oldest_open<C: ConnectionTrait>(conn: &C) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(notices::Entity::find()
        .filter(notices::Column::State.is_in(NoticeState::OPEN))
        .order_by_asc(notices::Column::CreatedAt)
        .one(conn)
        .await?
        .map(|n| n.created_at))
}

/// Whether the platform accepted a notice of this interface for `applyno`.
pub async fn delivered<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    interface: &str,
) -> Result<bool, DbErr> {
    use sea_orm::PaginatorTrait;
    Ok(notices::Entity::find()
        .filter(notices::Column::Applyno.eq(applyno.clone()))
        .filter(notices::Column::Interface.eq(interface))
        .filter(notices::Column::State.eq(NoticeState::Delivered))
        .count(conn)
        .await?
        > 0)
}

/// Notices parked behind `id`.
pub async fn waiting_behind<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Vec<NoticeRow>, DbErr> {
    notices::Entity::find()
        .filter(notices::Column::AfterId.eq(id))
        .filter(notices::Column::State.eq(NoticeState::Waiting))
        .order_by_asc(notices::Column::CreatedAt)
        .all(conn)
        .await
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone)]
pub struct NewAttempt<'a> {
    pub notice_id: &'a str,
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub http_status: Option<u16>,
    pub reply_code: Option<&'a str>,
    pub reply_msg: Option<&'a str>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub delivered: bool,
}

pub async fn record_attempt<C: ConnectionTrait>(conn: &C, a: NewAttempt<'_>) -> Result<(), DbErr> {
    notice_attempts::Entity::insert(notice_attempts::ActiveModel {
        notice_id: Set(a.notice_id.to_owned()),
        attempt: Set(a.attempt),
        at: Set(a.at),
        http_status: Set(a.http_status.map(i32::from)),
        reply_code: Set(a.reply_code.map(str::to_owned)),
        reply_msg: Set(a.reply_msg.map(|s| s.chars().take(2000).collect())),
        latency_ms: Set(a.latency_ms),
        error: Set(a.error.map(|s| s.chars().take(2000).collect())),
        delivered: Set(a.delivered),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Which notices to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub state: Option<NoticeState>,
    pub applyno: Option<String>,
    pub limit: u64,
}

/// Notices matching `filter`, newest first.
pub async fn list<C: ConnectionTrait>(conn: &C, filter: &Filter) -> Result<Vec<NoticeRow>, DbErr> {
    let mut q = notices::Entity::find();
    if let Some(s) = &filter.state {
        q = q.filter(notices::Column::State.eq(*s));
    }
    if let Some(a) = &filter.applyno {
        q = q.filter(notices::Column::Applyno.eq(a.clone()));
    }
    q.order_by_desc(notices::Column::CreatedAt)
        .limit(filter.limit.clamp(1, 1000))
        .all(conn)
        .await
}

/// The attempts of a notice, in order.
pub async fn attempts<C: ConnectionTrait>(
    conn: &C,
    notice_id: &str,
) -> Result<Vec<Attempt>, DbErr> {
    notice_attempts::Entity::find()
        .filter(notice_attempts::Column::NoticeId.eq(notice_id))
        .order_by_asc(notice_attempts::Column::Id)
        .all(conn)
        .await
}

/// Marks every notice of `applyno` not yet settled as suppressed (the
/// application was cancelled: the platform accepts none of them).
pub async fn suppress_open<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    why: &str,
) -> Result<u64, DbErr> {
    let r = notices::Entity::update_many()
        .col_expr(notices::Column::State, Expr::value(NoticeState::Suppressed))
        .col_expr(notices::Column::LastError, Expr::value(why))
        .col_expr(
            notices::Column::SendingUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(notices::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(notices::Column::Applyno.eq(applyno.clone()))
        .filter(notices::Column::State.is_in(NoticeState::OPEN))
        .exec(conn)
        .await?;
    Ok(r.rows_affected)
}
