//! Cancel requests: written by ingress with the outbox message in one
//! transaction (so a cancel holds from the moment it is answered), decided
//! by the payment worker.

use chrono::Utc;
use gw_lifecycle::Resolution;
use gw_protocol::{ApplyNo, CounterpartName};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};

use crate::entities::cancel_requests;

pub use cancel_requests::Model as CancelRequest;

/// Records a cancel request (a repeat keeps the first).
pub async fn request<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    counterpart: &CounterpartName,
    scene: &str,
) -> Result<(), DbErr> {
    cancel_requests::Entity::insert(cancel_requests::ActiveModel {
        applyno: Set(applyno.clone()),
        counterpart: Set(counterpart.clone()),
        scene: Set(scene.to_owned()),
        requested_at: Set(Utc::now()),
        resolution: Set(Resolution::Pending),
        decided_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(cancel_requests::Column::Applyno)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<CancelRequest>, DbErr> {
    cancel_requests::Entity::find_by_id(applyno.clone())
        .one(conn)
        .await
}

/// Whether a cancel was asked for and not refused: it holds for payment.
pub async fn holds<C: ConnectionTrait>(conn: &C, applyno: &ApplyNo) -> Result<bool, DbErr> {
    Ok(find(conn, applyno)
        .await?
        .is_some_and(|c| c.resolution != Resolution::Refused))
}

/// Records the worker's decision.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    resolution: Resolution,
) -> Result<(), DbErr> {
    cancel_requests::Entity::update_many()
        .col_expr(cancel_requests::Column::Resolution, Expr::value(resolution))
        .col_expr(cancel_requests::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(cancel_requests::Column::Applyno.eq(applyno.clone()))
        .exec(conn)
        .await?;
    Ok(())
}
