//! `quits`: each `quitapply` (by `applicationno`) and its outcome.

use gw_lifecycle::Resolution;
use gw_protocol::{ApplicationNo, ApplyNo, BaohanNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "quits")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applicationno: ApplicationNo,
    pub counterpart: CounterpartName,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub scene: String,
    pub reason: String,
    pub resolution: Resolution,
    pub refusal: Option<String>,
    /// The premium refunded (0 when refused).
    pub amount_cents: i64,
    pub decided_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
