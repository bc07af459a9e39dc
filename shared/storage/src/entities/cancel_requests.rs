//! `cancel_requests`: a `cancelapply` as ingress accepted it, before (and
//! after) the payment worker decides it. While pending, it already holds for
//! payment: `payapply` and the cashier refuse.

use gw_lifecycle::Resolution;
use gw_protocol::{ApplyNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "cancel_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applyno: ApplyNo,
    pub counterpart: CounterpartName,
    /// 1 the bidder, 2 the platform (72 hours unpaid).
    pub scene: String,
    pub requested_at: DateTimeUtc,
    pub resolution: Resolution,
    pub decided_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
