//! The queues of the embedded transport (used only in single-process mode).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BusMessages {
    Table,
    Id,
    Queue,
    MessageId,
    Kind,
    SchemaVersion,
    CorrelationId,
    Attempt,
    Headers,
    Payload,
    VisibleAt,
    LockedUntil,
    Deliveries,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BusMessages::Table)
                .if_not_exists()
                .col(big_pk_auto(BusMessages::Id))
                .col(string_len(BusMessages::Queue, 200))
                .col(string_len(BusMessages::MessageId, 200))
                .col(string_len(BusMessages::Kind, 100))
                .col(integer(BusMessages::SchemaVersion))
                .col(string_len_null(BusMessages::CorrelationId, 100))
                .col(integer(BusMessages::Attempt))
                .col(json(BusMessages::Headers))
                .col(blob(BusMessages::Payload))
                .col(timestamp_with_time_zone(BusMessages::VisibleAt))
                .col(timestamp_with_time_zone_null(BusMessages::LockedUntil))
                .col(integer(BusMessages::Deliveries))
                .col(timestamp_with_time_zone(BusMessages::CreatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("bus_messages_queue")
                .table(BusMessages::Table)
                .col(BusMessages::Queue)
                .col(BusMessages::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await
    }
}
