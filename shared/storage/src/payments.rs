//! Premium payments.

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};

use gw_lifecycle::PaymentStatus;

use crate::entities::payments;

pub use payments::{ActiveModel as NewPayment, Model as Payment};

/// Records a payment unless its payment number is known. Returns `false`
/// for a duplicate.
pub async fn insert_if_new<C: ConnectionTrait>(conn: &C, p: NewPayment) -> Result<bool, DbErr> {
    let n = payments::Entity::insert(p)
        .on_conflict(
            OnConflict::column(payments::Column::Paynumber)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(n == 1)
}

pub async fn find<C: ConnectionTrait>(conn: &C, paynumber: &str) -> Result<Option<Payment>, DbErr> {
    payments::Entity::find_by_id(paynumber.to_owned())
        .one(conn)
        .await
}

pub async fn set_status<C: ConnectionTrait>(
    conn: &C,
    paynumber: &str,
    status: PaymentStatus,
    reason: Option<&str>,
) -> Result<(), DbErr> {
    payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(status))
        .col_expr(
            payments::Column::Reason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Paynumber.eq(paynumber))
        .exec(conn)
        .await?;
    Ok(())
}

/// The accepted payment (the premium) of an application.
pub async fn accepted_for<C: ConnectionTrait>(
    conn: &C,
    applyno: &gw_protocol::ApplyNo,
) -> Result<Option<Payment>, DbErr> {
    payments::Entity::find()
        .filter(payments::Column::Applyno.eq(applyno.clone()))
        .filter(payments::Column::Status.eq(PaymentStatus::Accepted))
        .one(conn)
        .await
}

/// Moves a payment from `from` to `to` (e.g. to `refund_requested`) only if
/// it is still in `from`: of two concurrent callers exactly one gets `true`,
/// so one payment is refunded once.
pub async fn change_status<C: ConnectionTrait>(
    conn: &C,
    paynumber: &str,
    from: PaymentStatus,
    to: PaymentStatus,
    reason: Option<&str>,
) -> Result<bool, DbErr> {
    let r = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(to))
        .col_expr(
            payments::Column::Reason,
            Expr::value(reason.map(str::to_owned)),
        )
        .col_expr(payments::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(payments::Column::Paynumber.eq(paynumber))
        .filter(payments::Column::Status.eq(from))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Payments of an application, or in a status, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    applyno: Option<&str>,
    status: Option<PaymentStatus>,
) -> Result<Vec<Payment>, DbErr> {
    let mut q = payments::Entity::find();
    if let Some(a) = applyno {
        q = q.filter(payments::Column::Applyno.eq(a));
    }
    if let Some(s) = status {
        q = q.filter(payments::Column::Status.eq(s));
    }
    q.order_by_asc(payments::Column::ReceivedAt).all(conn).await
}
