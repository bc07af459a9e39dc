//! The operator console's sessions: one row per signed-in browser, kept by
//! the digest of its cookie (the cookie itself is never stored), so every
//! console replica knows every session and a sign-out ends it everywhere.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConsoleSessions {
    Table,
    Digest,
    Operator,
    Csrf,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(ConsoleSessions::Table)
                .if_not_exists()
                .col(string_len(ConsoleSessions::Digest, 64).primary_key())
                .col(string_len(ConsoleSessions::Operator, 100))
                .col(string_len(ConsoleSessions::Csrf, 64))
                .col(timestamp_with_time_zone(ConsoleSessions::CreatedAt))
                .col(timestamp_with_time_zone(ConsoleSessions::ExpiresAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("console_sessions_expires_at")
                .table(ConsoleSessions::Table)
                .col(ConsoleSessions::ExpiresAt)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }
}
