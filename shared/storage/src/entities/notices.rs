//! `notices`: every outbound notice, its place in its application's chain,
//! and where its delivery stands.

use gw_lifecycle::NoticeState;
use gw_protocol::{ApplyNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notices")]
pub struct Model {
    /// The notice id the producing worker assigned.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub applyno: ApplyNo,
    pub counterpart: CounterpartName,
    /// `processnotice` ... `logoutnotice`.
    pub interface: String,
    /// The notice of the same application that must be delivered first.
    pub after_id: Option<String>,
    /// The notice JSON in clear (needed to re-send).
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// The notice JSON with personal data masked (for display).
    #[sea_orm(column_type = "Text")]
    pub body_masked: String,
    /// `pending`, `waiting`, `sending`, `retrying`, `delivered`, `dead`, `suppressed`.
    pub state: NoticeState,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// While set and in the future, one replica holds the notice in an HTTP call.
    pub sending_until: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
