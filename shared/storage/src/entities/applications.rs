//! `applications`: the lifecycle of one application (`applyno`), shared by
//! the workers with optimistic locking on `version`. Only the state machine
//! in `gw-lifecycle` decides transitions; this is where they are recorded.

use gw_lifecycle::State;
use gw_protocol::{ApplyNo, BaohanNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applyno: ApplyNo,
    /// Name of the counterpart (platform) the application came from.
    pub counterpart: CounterpartName,
    pub state: State,
    /// Incremented by every transition; the per-application causal order.
    pub version: i64,
    pub biddername: String,
    pub biddercode: String,
    pub bzjamount_cents: i64,
    pub jbrname: String,
    pub jbrphone: String,
    /// SM3 of the canonical `baohanapply` JSON: tells a re-push from a change.
    pub content_hash: String,
    pub rate: Option<String>,
    pub cost_cents: Option<i64>,
    pub remark: Option<String>,
    /// Unguessable token of the cashier page (`premiumurl`).
    #[sea_orm(unique)]
    pub cashier_token: Option<String>,
    pub paid_at: Option<DateTimeUtc>,
    #[sea_orm(unique)]
    pub baohanno: Option<BaohanNo>,
    /// Id of the last notice produced for this application (notice order).
    pub last_notice_id: Option<String>,
    /// Claims paid out so far, in cents.
    pub claimed_cents: i64,
    /// Claims approved whose payout is not yet confirmed, in cents.
    pub claim_pending_cents: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
