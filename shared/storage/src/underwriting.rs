//! Underwriting's records: its decisions and the blocklist.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

use gw_protocol::ApplyNo;

use crate::entities::{blocklist, underwriting_decisions};

pub use blocklist::Model as BlockedCode;
pub use underwriting_decisions::Model as DecisionRow;

/// A decision as recorded.
#[derive(Debug, Clone)]
pub struct NewDecision<'a> {
    pub applyno: &'a ApplyNo,
    pub decision: &'a str,
    pub reason: &'a str,
    pub rate: Option<String>,
    pub cost_cents: Option<i64>,
    pub checks: serde_json::Value,
    pub rules_version: &'a str,
    pub decided_by: &'a str,
}

pub async fn record_decision<C: ConnectionTrait>(
    conn: &C,
    d: NewDecision<'_>,
) -> Result<(), DbErr> {
    underwriting_decisions::Entity::insert(underwriting_decisions::ActiveModel {
        applyno: Set(d.applyno.clone()),
        decision: Set(d.decision.to_owned()),
        reason: Set(d.reason.to_owned()),
        rate: Set(d.rate),
        cost_cents: Set(d.cost_cents),
        checks: Set(d.checks.to_string()),
        rules_version: Set(d.rules_version.to_owned()),
        decided_by: Set(d.decided_by.to_owned()),
        decided_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// The decisions taken on an application, oldest first.
pub async fn decisions<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Vec<DecisionRow>, DbErr> {
    underwriting_decisions::Entity::find()
        .filter(underwriting_decisions::Column::Applyno.eq(applyno.clone()))
        .order_by_asc(underwriting_decisions::Column::Id)
        .all(conn)
        .await
}

pub async fn is_blocked<C: ConnectionTrait>(conn: &C, credit_code: &str) -> Result<bool, DbErr> {
    Ok(blocklist::Entity::find_by_id(credit_code.to_owned())
        .count(conn)
        .await?
        > 0)
}

/// Adds (or replaces) a blocklist entry.
pub async fn block<C: ConnectionTrait>(
    conn: &C,
    credit_code: &str,
    reason: &str,
    by: &str,
) -> Result<BlockedCode, DbErr> {
    blocklist::Entity::delete_by_id(credit_code.to_owned())
        .exec(conn)
        .await?;
    blocklist::ActiveModel {
        credit_code: Set(credit_code.to_owned()),
        reason: Set(reason.to_owned()),
        added_by: Set(by.to_owned()),
        added_at: Set(Utc::now()),
    }
    .insert(conn)
    .await
}

/// Removes an entry; returns whether there was one.
pub async fn unblock<C: ConnectionTrait>(conn: &C, credit_code: &str) -> Result<bool, DbErr> {
    Ok(blocklist::Entity::delete_by_id(credit_code.to_owned())
        .exec(conn)
        .await?
        .rows_affected
        > 0)
}

/// The entry of one credit code, if blocked.
pub async fn blocked<C: ConnectionTrait>(
    conn: &C,
    credit_code: &str,
) -> Result<Option<BlockedCode>, DbErr> {
    blocklist::Entity::find_by_id(credit_code.to_owned())
        .one(conn)
        .await
}

pub async fn blocklist<C: ConnectionTrait>(conn: &C) -> Result<Vec<BlockedCode>, DbErr> {
    blocklist::Entity::find()
        .order_by_asc(blocklist::Column::CreditCode)
        .all(conn)
        .await
}
