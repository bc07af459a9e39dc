//! `claims`: each `claimapply` (by `applicationno`), its evidence files and
//! its payout.

use gw_lifecycle::ClaimStatus;
use gw_protocol::{ApplicationNo, ApplyNo, BaohanNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "claims")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applicationno: ApplicationNo,
    pub counterpart: CounterpartName,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub amount_cents: i64,
    pub payeename: String,
    pub payeeaccount: String,
    pub payeebank: String,
    pub bank: Option<String>,
    pub bankprovince: Option<String>,
    pub bankcity: Option<String>,
    pub applyusername: String,
    pub applyuserphone: String,
    pub reason: String,
    /// JSON array of the stored evidence files' tokens.
    pub files: String,
    pub status: ClaimStatus,
    pub refusal: Option<String>,
    pub requested_at: DateTimeUtc,
    pub decided_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    /// The bank's reference of the payout.
    pub payout_reference: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
