//! `operation_records`: every action a person or a system took outside the
//! platform's calls (a referral decided, a blocklist change, a notice
//! re-sent, a dead letter replayed, a payment refunded, ...): who, when,
//! what, before and after. Append-only; personal data masked.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "operation_records")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    /// Who: the operator's name (`X-Operator`), `cli:<user>`, or `admin`
    /// when an admin call named no one.
    pub actor: String,
    /// `admin_api` or `cli`.
    pub channel: String,
    pub service: String,
    /// `notice.resent`, `dead_letter.replayed`, `blocklist.added`, ...
    pub action: String,
    /// What it was done to: a notice id, an applyno, a credit code, ...
    pub subject: String,
    pub before: Option<Json>,
    pub after: Option<Json>,
    pub remark: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
