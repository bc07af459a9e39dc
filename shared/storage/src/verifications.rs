//! Verification lookups (验真记录), recorded one by one and listed for
//! operators and the acceptance evidence.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::verifications;

pub use verifications::Model as Lookup;

/// Records one lookup.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    client: &str,
    method: &str,
    baohanno: Option<&str>,
    outcome: &str,
) -> Result<(), DbErr> {
    verifications::ActiveModel {
        at: Set(Utc::now()),
        client: Set(client.chars().take(64).collect()),
        method: Set(method.to_owned()),
        baohanno: Set(baohanno.map(|b| b.chars().take(50).collect())),
        outcome: Set(outcome.to_owned()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Lookups from `since`, of `baohanno` when given, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    since: Option<DateTime<Utc>>,
    baohanno: Option<&str>,
    limit: u64,
) -> Result<Vec<Lookup>, DbErr> {
    let mut q = verifications::Entity::find();
    if let Some(t) = since {
        q = q.filter(verifications::Column::At.gte(t));
    }
    if let Some(b) = baohanno {
        q = q.filter(verifications::Column::Baohanno.eq(b));
    }
    q.order_by_desc(verifications::Column::Id)
        .limit(limit.clamp(1, 10_000))
        .all(conn)
        .await
}
