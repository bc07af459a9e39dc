//! `bus_messages`: the queues of the embedded transport (single-process mode).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bus_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Logical queue name (`underwriting.baohanapply`, `... .dlq`, `events.journal`).
    pub queue: String,
    pub message_id: String,
    pub kind: String,
    pub schema_version: i32,
    pub correlation_id: Option<String>,
    pub attempt: i32,
    pub headers: Json,
    pub payload: Vec<u8>,
    /// Not delivered before this (retry delays).
    pub visible_at: DateTimeUtc,
    /// Held by a consumer until this; after it, delivered again.
    pub locked_until: Option<DateTimeUtc>,
    pub deliveries: i32,
    pub created_at: DateTimeUtc,
    /// The token of the consumer holding the row: only it may ack or
    /// requeue (a consumer whose lease ran out and was taken over cannot).
    pub lease: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
