//! The after-issuance requests (invoices, refunds, claims, write-offs), each
//! kept by its `applicationno`: a repeat finds its decision and re-sends it.

use chrono::{DateTime, Utc};
use gw_lifecycle::{ClaimStatus, InvoiceStatus, Resolution};
use gw_protocol::{ApplicationNo, ApplyNo};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};

use crate::entities::{claims, invoices, logouts, quits};

pub use claims::{ActiveModel as NewClaim, Model as Claim};
pub use invoices::{ActiveModel as NewInvoice, Model as Invoice};
pub use logouts::{ActiveModel as NewLogout, Model as Logout};
pub use quits::{ActiveModel as NewQuit, Model as Quit};

pub async fn invoice<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
) -> Result<Option<Invoice>, DbErr> {
    invoices::Entity::find_by_id(applicationno.clone())
        .one(conn)
        .await
}

/// The invoice issued (or being issued) for a guarantee, if any.
pub async fn invoice_of<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<Invoice>, DbErr> {
    invoices::Entity::find()
        .filter(invoices::Column::Applyno.eq(applyno.clone()))
        .filter(invoices::Column::Status.ne(InvoiceStatus::Refused))
        .one(conn)
        .await
}

/// Invoices of an application (every one when `applyno` is `None`), newest first.
pub async fn invoices<C: ConnectionTrait>(
    conn: &C,
    applyno: Option<&str>,
    limit: u64,
) -> Result<Vec<Invoice>, DbErr> {
    use sea_orm::QuerySelect;
    let mut q = invoices::Entity::find();
    if let Some(a) = applyno {
        q = q.filter(invoices::Column::Applyno.eq(a));
    }
    q.order_by_desc(invoices::Column::RequestedAt)
        .limit(limit.clamp(1, 1000))
        .all(conn)
        .await
}

/// Claims of an application (every one when `applyno` is `None`), newest first.
pub async fn claims<C: ConnectionTrait>(
    conn: &C,
    applyno: Option<&str>,
    limit: u64,
) -> Result<Vec<Claim>, DbErr> {
    use sea_orm::QuerySelect;
    let mut q = claims::Entity::find();
    if let Some(a) = applyno {
        q = q.filter(claims::Column::Applyno.eq(a));
    }
    q.order_by_desc(claims::Column::RequestedAt)
        .limit(limit.clamp(1, 1000))
        .all(conn)
        .await
}

pub async fn add_invoice<C: ConnectionTrait>(conn: &C, row: NewInvoice) -> Result<Invoice, DbErr> {
    row.insert(conn).await
}

/// Marks a pending invoice issued; `false` when it was not pending.
pub async fn issue_invoice<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
    number: &str,
    file_token: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = invoices::Entity::update_many()
        .col_expr(invoices::Column::Status, Expr::value(InvoiceStatus::Issued))
        .col_expr(invoices::Column::InvoiceNumber, Expr::value(number))
        .col_expr(
            invoices::Column::FileToken,
            Expr::value(file_token.map(str::to_owned)),
        )
        .col_expr(invoices::Column::IssuedAt, Expr::value(at))
        .filter(invoices::Column::Applicationno.eq(applicationno.clone()))
        .filter(invoices::Column::Status.eq(InvoiceStatus::Pending))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn quit<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
) -> Result<Option<Quit>, DbErr> {
    quits::Entity::find_by_id(applicationno.clone())
        .one(conn)
        .await
}

pub async fn add_quit<C: ConnectionTrait>(conn: &C, row: NewQuit) -> Result<Quit, DbErr> {
    row.insert(conn).await
}

pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
) -> Result<Option<Claim>, DbErr> {
    claims::Entity::find_by_id(applicationno.clone())
        .one(conn)
        .await
}

pub async fn add_claim<C: ConnectionTrait>(conn: &C, row: NewClaim) -> Result<Claim, DbErr> {
    row.insert(conn).await
}

/// The claims of a guarantee, oldest first.
pub async fn claims_of<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Vec<Claim>, DbErr> {
    claims::Entity::find()
        .filter(claims::Column::Applyno.eq(applyno.clone()))
        .order_by_asc(claims::Column::RequestedAt)
        .all(conn)
        .await
}

/// Marks an approved claim paid; `false` when it was not waiting for its
/// payout (a confirmation seen twice pays once).
pub async fn pay_claim<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
    reference: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let r = claims::Entity::update_many()
        .col_expr(claims::Column::Status, Expr::value(ClaimStatus::Paid))
        .col_expr(claims::Column::PaidAt, Expr::value(at))
        .col_expr(claims::Column::PayoutReference, Expr::value(reference))
        .filter(claims::Column::Applicationno.eq(applicationno.clone()))
        .filter(claims::Column::Status.eq(ClaimStatus::PayoutPending))
        .exec(conn)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn logout<C: ConnectionTrait>(
    conn: &C,
    applicationno: &ApplicationNo,
) -> Result<Option<Logout>, DbErr> {
    logouts::Entity::find_by_id(applicationno.clone())
        .one(conn)
        .await
}

pub async fn add_logout<C: ConnectionTrait>(conn: &C, row: NewLogout) -> Result<Logout, DbErr> {
    row.insert(conn).await
}

/// The granted refund of a guarantee, if any.
pub async fn refund_of<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<Quit>, DbErr> {
    quits::Entity::find()
        .filter(quits::Column::Applyno.eq(applyno.clone()))
        .filter(quits::Column::Resolution.eq(Resolution::Granted))
        .one(conn)
        .await
}

/// The granted write-off of a guarantee, if any.
pub async fn write_off_of<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<Logout>, DbErr> {
    logouts::Entity::find()
        .filter(logouts::Column::Applyno.eq(applyno.clone()))
        .filter(logouts::Column::Resolution.eq(Resolution::Granted))
        .one(conn)
        .await
}
