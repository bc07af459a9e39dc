//! Egress: notices, their delivery attempts, the per-application chain lock,
//! and the file store.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notices {
    Table,
    Id,
    Applyno,
    Counterpart,
    Interface,
    AfterId,
    Body,
    BodyMasked,
    State,
    Attempts,
    LastError,
    SendingUntil,
    CreatedAt,
    UpdatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum NoticeAttempts {
    Table,
    Id,
    NoticeId,
    Attempt,
    At,
    HttpStatus,
    ReplyCode,
    ReplyMsg,
    LatencyMs,
    Error,
    Delivered,
}

#[derive(DeriveIden)]
enum NoticeChains {
    Table,
    Applyno,
}

#[derive(DeriveIden)]
enum Files {
    Table,
    Token,
    Kind,
    Applyno,
    Counterpart,
    ContentType,
    SizeBytes,
    Sm3,
    Storage,
    Bytes,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Notices::Table)
                .if_not_exists()
                .col(string_len(Notices::Id, 200).primary_key())
                .col(string_len(Notices::Applyno, 50))
                .col(string_len(Notices::Counterpart, 64))
                .col(string_len(Notices::Interface, 32))
                .col(string_len_null(Notices::AfterId, 200))
                .col(text(Notices::Body))
                .col(text(Notices::BodyMasked))
                .col(string_len(Notices::State, 16))
                .col(integer(Notices::Attempts).default(0))
                .col(text_null(Notices::LastError))
                .col(timestamp_with_time_zone_null(Notices::SendingUntil))
                .col(timestamp_with_time_zone(Notices::CreatedAt))
                .col(timestamp_with_time_zone(Notices::UpdatedAt))
                .col(timestamp_with_time_zone_null(Notices::DeliveredAt))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("notices_applyno", Notices::Applyno),
            ("notices_after", Notices::AfterId),
            ("notices_state", Notices::State),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Notices::Table)
                    .col(col)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(NoticeAttempts::Table)
                .if_not_exists()
                .col(big_pk_auto(NoticeAttempts::Id))
                .col(string_len(NoticeAttempts::NoticeId, 200))
                .col(integer(NoticeAttempts::Attempt))
                .col(timestamp_with_time_zone(NoticeAttempts::At))
                .col(integer_null(NoticeAttempts::HttpStatus))
                .col(string_len_null(NoticeAttempts::ReplyCode, 32))
                .col(text_null(NoticeAttempts::ReplyMsg))
                .col(big_integer(NoticeAttempts::LatencyMs))
                .col(text_null(NoticeAttempts::Error))
                .col(boolean(NoticeAttempts::Delivered))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("notice_attempts_notice")
                .table(NoticeAttempts::Table)
                .col(NoticeAttempts::NoticeId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NoticeChains::Table)
                .if_not_exists()
                .col(string_len(NoticeChains::Applyno, 50).primary_key())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Files::Table)
                .if_not_exists()
                .col(string_len(Files::Token, 64).primary_key())
                .col(string_len(Files::Kind, 32))
                .col(string_len_null(Files::Applyno, 50))
                .col(string_len(Files::Counterpart, 64))
                .col(string_len(Files::ContentType, 100))
                .col(big_integer(Files::SizeBytes))
                .col(string_len(Files::Sm3, 64))
                .col(string_len(Files::Storage, 16))
                .col(blob_null(Files::Bytes))
                .col(timestamp_with_time_zone(Files::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("files_applyno")
                .table(Files::Table)
                .col(Files::Applyno)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }
}
