//! `notice_attempts`: one row per delivery attempt of a notice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "notice_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub notice_id: String,
    pub attempt: i32,
    pub at: DateTimeUtc,
    pub http_status: Option<i32>,
    /// The reply's `code`, as text (the platform may send a number or a string).
    pub reply_code: Option<String>,
    pub reply_msg: Option<String>,
    pub latency_ms: i64,
    /// Why the attempt failed (timeout, refused, bad reply, ...).
    pub error: Option<String>,
    pub delivered: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
