//! `reports`: the business reports generated, with their figures and the
//! tokens of their files.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "reports")]
pub struct Model {
    /// `daily-2026-11-28` or `monthly-2026-11`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// `daily` or `monthly`.
    pub period: String,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    pub generated_at: DateTimeUtc,
    pub figures: Json,
    pub xlsx_token: String,
    pub csv_token: String,
    pub pdf_token: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
