//! `guarantees`: one issued guarantee per application, its files, digests
//! and signatures, and the project details once restored.

use gw_protocol::{ApplyNo, BaohanNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "guarantees")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applyno: ApplyNo,
    #[sea_orm(unique)]
    pub baohanno: BaohanNo,
    pub counterpart: CounterpartName,
    pub verify_code: String,
    pub amount_cents: i64,
    pub biddername: String,
    pub biddercode: String,
    pub instname: String,
    pub instcode: String,
    pub rate: String,
    pub cost_cents: i64,
    pub issued_at: DateTimeUtc,
    pub cipher_token: String,
    pub cipher_sm3: String,
    #[sea_orm(column_type = "Text")]
    pub cipher_signature: String,
    pub restored_token: Option<String>,
    pub restored_sm3: Option<String>,
    pub restored_signature: Option<String>,
    pub poltime: Option<DateTimeUtc>,
    pub validtime: Option<DateTimeUtc>,
    pub biaoduanno: Option<String>,
    pub biaoduanname: Option<String>,
    pub zbr: Option<String>,
    pub zbrorgnum: Option<String>,
    pub pcjname: Option<String>,
    pub pcjcode: Option<String>,
    pub areacode: Option<String>,
    pub restored_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
