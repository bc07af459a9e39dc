//! `dead_letters`: every message that could not be handled or published,
//! kept with why, until an operator replays it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Where it was going: `queue:<logical name>` or `event:<routing key>`.
    pub destination: String,
    pub message_id: String,
    pub kind: String,
    pub schema_version: i32,
    pub correlation_id: Option<String>,
    /// The message's string headers (trace context, counterpart), as JSON.
    pub headers: Json,
    pub payload: Vec<u8>,
    /// The last error.
    #[sea_orm(column_type = "Text")]
    pub error: String,
    /// `consumer` (its handler gave up), `broker` (the delivery limit),
    /// `outbox` (it could not be published).
    pub source: String,
    /// How many times it died (a replayed message can die again).
    pub deaths: i32,
    pub failed_at: DateTimeUtc,
    pub replayed_at: Option<DateTimeUtc>,
    pub replayed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
