//! `console_sessions`: the operator console's signed-in browsers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "console_sessions")]
pub struct Model {
    /// SM3 of the session cookie, hex: a leaked table opens no session.
    #[sea_orm(primary_key, auto_increment = false)]
    pub digest: String,
    /// Who signed in (recorded with everything they do).
    pub operator: String,
    /// The session's CSRF token, required on every form it posts.
    pub csrf: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
