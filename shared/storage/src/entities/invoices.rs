//! `invoices`: each `invoiceapply` (by `applicationno`) and the invoice
//! issued for it. At most one issued invoice per guarantee.

use gw_lifecycle::InvoiceStatus;
use gw_protocol::{ApplicationNo, ApplyNo, BaohanNo, CounterpartName};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "invoices")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applicationno: ApplicationNo,
    pub counterpart: CounterpartName,
    pub applyno: ApplyNo,
    pub baohanno: BaohanNo,
    /// `0` 普票, `1` 专票.
    pub kind: String,
    /// `1` 电子, `2` 纸质.
    pub medium: String,
    pub amount_cents: i64,
    pub tax_cents: i64,
    pub buyer_name: String,
    pub buyer_code: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub bank: Option<String>,
    pub account: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
    pub contactname: Option<String>,
    pub contactaddress: Option<String>,
    pub status: InvoiceStatus,
    /// Why it was refused.
    pub reason: Option<String>,
    #[sea_orm(unique)]
    pub invoice_number: Option<String>,
    pub file_token: Option<String>,
    pub requested_at: DateTimeUtc,
    pub issued_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
