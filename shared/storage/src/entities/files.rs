//! `files`: the PDFs we issue, found by an unguessable token.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "files")]
pub struct Model {
    /// 256 random bits as 64 lowercase hex digits.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token: String,
    /// `guarantee`, `restored_guarantee`, `invoice`, `evidence`.
    pub kind: String,
    pub applyno: Option<String>,
    /// Whose key encrypts the download.
    pub counterpart: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// SM3 of the clear bytes.
    pub sm3: String,
    /// `database` (bytes below) or `s3`.
    pub storage: String,
    pub bytes: Option<Vec<u8>>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
