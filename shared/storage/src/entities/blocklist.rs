//! `blocklist`: credit codes that are never underwritten.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "blocklist")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub credit_code: String,
    pub reason: String,
    pub added_by: String,
    pub added_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
