//! `verifications`: every verification lookup (验真记录): when, from where,
//! how, which number, and the outcome. No personal data.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "verifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// The client's address.
    pub client: String,
    /// `number` (with a code) or `file`.
    pub method: String,
    pub baohanno: Option<String>,
    /// `found`, `not_found`, `genuine`, `not_genuine`, `rate_limited`.
    pub outcome: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
