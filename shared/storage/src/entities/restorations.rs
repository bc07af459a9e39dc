//! `restorations`: restored guarantees replaced by a later restore (the bid
//! opening moved, the project or the tenderer was corrected). Verification
//! by file still recognises them and says they were superseded, and when.

use gw_protocol::{ApplyNo, BaohanNo};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "restorations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    pub token: String,
    pub sm3: String,
    pub signature: String,
    pub poltime: DateTimeUtc,
    pub validtime: DateTimeUtc,
    pub pcjname: String,
    pub zbr: String,
    pub restored_at: DateTimeUtc,
    pub superseded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
