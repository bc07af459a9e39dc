//! `outbox`: messages written with a state change, published by the relay.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub message_id: String,
    /// `queue:<logical name>` or `event:<routing key>`.
    pub destination: String,
    pub kind: String,
    pub schema_version: i32,
    pub correlation_id: Option<String>,
    /// String headers (trace context, counterpart), as a JSON object.
    pub headers: Json,
    /// The JSON payload, as text.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub created_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    /// While in the future, one relay is publishing the row.
    pub claimed_until: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Set when the row kept failing and was moved to the dead letters: the
    /// relay no longer tries it, so it blocks nothing behind it.
    pub parked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
