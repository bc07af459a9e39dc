//! `notice_chains`: one row per application, locked while egress decides
//! whether a notice of that application may be sent now.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notice_chains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub applyno: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
