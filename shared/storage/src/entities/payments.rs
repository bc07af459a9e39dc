//! `payments`: every premium payment received, keyed by its payment number.

use gw_lifecycle::PaymentStatus;
use gw_protocol::ApplyNo;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub paynumber: String,
    pub applyno: ApplyNo,
    pub paytype: String,
    pub paymoney_cents: i64,
    pub paydate: DateTimeUtc,
    pub payname: String,
    pub payaccount: String,
    pub paybank: String,
    pub ipcontent: Option<String>,
    /// `gateway` or `sandbox`.
    pub source: String,
    /// `accepted`, `held`, `refund_needed`, `refund_requested`.
    pub status: PaymentStatus,
    pub reason: Option<String>,
    pub received_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
