//! Reliability: dead letters kept and replayable, outbox rows parked,
//! embedded-bus leases fenced, named locks.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    Destination,
    MessageId,
    Kind,
    SchemaVersion,
    CorrelationId,
    Headers,
    Payload,
    Error,
    Source,
    Deaths,
    FailedAt,
    ReplayedAt,
    ReplayedBy,
}

#[derive(DeriveIden)]
enum Locks {
    Table,
    Key,
}

#[derive(DeriveIden)]
enum BusMessages {
    Table,
    Lease,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    ParkedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DeadLetters::Table)
                .if_not_exists()
                .col(string_len(DeadLetters::Id, 64).primary_key())
                .col(string_len(DeadLetters::Destination, 300))
                .col(string_len(DeadLetters::MessageId, 200))
                .col(string_len(DeadLetters::Kind, 100))
                .col(integer(DeadLetters::SchemaVersion))
                .col(string_len_null(DeadLetters::CorrelationId, 100))
                .col(json(DeadLetters::Headers))
                .col(blob(DeadLetters::Payload))
                .col(text(DeadLetters::Error))
                .col(string_len(DeadLetters::Source, 20))
                .col(integer(DeadLetters::Deaths))
                .col(timestamp_with_time_zone(DeadLetters::FailedAt))
                .col(timestamp_with_time_zone_null(DeadLetters::ReplayedAt))
                .col(string_len_null(DeadLetters::ReplayedBy, 100))
                .to_owned(),
        )
        .await?;
        // One row per message and destination: a message that dies again
        // after a replay updates its row (and counts the deaths).
        m.create_index(
            Index::create()
                .name("dead_letters_message")
                .table(DeadLetters::Table)
                .col(DeadLetters::Destination)
                .col(DeadLetters::MessageId)
                .unique()
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Locks::Table)
                .if_not_exists()
                .col(string_len(Locks::Key, 200).primary_key())
                .to_owned(),
        )
        .await?;
        if !m.has_column("bus_messages", "lease").await? {
            m.alter_table(
                Table::alter()
                    .table(BusMessages::Table)
                    .add_column(string_len_null(BusMessages::Lease, 40))
                    .to_owned(),
            )
            .await?;
        }
        if !m.has_column("outbox", "parked_at").await? {
            m.alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(timestamp_with_time_zone_null(Outbox::ParkedAt))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
