//! The inbox, the outbox and the application lifecycle table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Consumer,
    MessageId,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    MessageId,
    Destination,
    Kind,
    SchemaVersion,
    CorrelationId,
    Headers,
    Payload,
    CreatedAt,
    PublishedAt,
    ClaimedUntil,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Applyno,
    Counterpart,
    State,
    Version,
    Biddername,
    Biddercode,
    BzjamountCents,
    Jbrname,
    Jbrphone,
    ContentHash,
    Rate,
    CostCents,
    Remark,
    CashierToken,
    PaidAt,
    Baohanno,
    LastNoticeId,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Inbox::Table)
                .if_not_exists()
                .col(string_len(Inbox::Consumer, 100))
                .col(string_len(Inbox::MessageId, 200))
                .col(timestamp_with_time_zone(Inbox::ProcessedAt))
                .primary_key(Index::create().col(Inbox::Consumer).col(Inbox::MessageId))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Outbox::Table)
                .if_not_exists()
                .col(big_pk_auto(Outbox::Id))
                .col(string_len_uniq(Outbox::MessageId, 200))
                .col(string_len(Outbox::Destination, 200))
                .col(string_len(Outbox::Kind, 100))
                .col(integer(Outbox::SchemaVersion))
                .col(string_len_null(Outbox::CorrelationId, 100))
                .col(json(Outbox::Headers))
                .col(text(Outbox::Payload))
                .col(timestamp_with_time_zone(Outbox::CreatedAt))
                .col(timestamp_with_time_zone_null(Outbox::PublishedAt))
                .col(timestamp_with_time_zone_null(Outbox::ClaimedUntil))
                .col(integer(Outbox::Attempts).default(0))
                .col(text_null(Outbox::LastError))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Applications::Table)
                .if_not_exists()
                .col(string_len(Applications::Applyno, 50).primary_key())
                .col(string_len(Applications::Counterpart, 64))
                .col(string_len(Applications::State, 32))
                .col(big_integer(Applications::Version))
                .col(string_len(Applications::Biddername, 200))
                .col(string_len(Applications::Biddercode, 50))
                .col(big_integer(Applications::BzjamountCents))
                .col(string_len(Applications::Jbrname, 50))
                .col(string_len(Applications::Jbrphone, 50))
                .col(string_len(Applications::ContentHash, 64))
                .col(string_len_null(Applications::Rate, 50))
                .col(big_integer_null(Applications::CostCents))
                .col(text_null(Applications::Remark))
                .col(string_len_null(Applications::CashierToken, 64).unique_key())
                .col(timestamp_with_time_zone_null(Applications::PaidAt))
                .col(string_len_null(Applications::Baohanno, 50).unique_key())
                .col(string_len_null(Applications::LastNoticeId, 200))
                .col(timestamp_with_time_zone(Applications::CreatedAt))
                .col(timestamp_with_time_zone(Applications::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("applications_biddercode")
                .table(Applications::Table)
                .col(Applications::Biddercode)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbox_unpublished")
                .table(Outbox::Table)
                .col(Outbox::PublishedAt)
                .col(Outbox::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }
}
