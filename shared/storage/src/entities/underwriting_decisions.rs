//! `underwriting_decisions`: every decision taken, with each rule's outcome.

use gw_protocol::ApplyNo;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "underwriting_decisions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub applyno: ApplyNo,
    /// `approve`, `reject` or `refer`.
    pub decision: String,
    pub reason: String,
    pub rate: Option<String>,
    pub cost_cents: Option<i64>,
    /// JSON array of `{rule, outcome, detail}`.
    #[sea_orm(column_type = "Text")]
    pub checks: String,
    /// SM3 of the rules in force.
    pub rules_version: String,
    /// `rules`, or who reviewed it.
    pub decided_by: String,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
