//! Operation records: what a person or a system did outside the platform's
//! calls, append-only.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum OperationRecords {
    Table,
    Id,
    At,
    Actor,
    Channel,
    Service,
    Action,
    Subject,
    Before,
    After,
    Remark,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(OperationRecords::Table)
                .if_not_exists()
                .col(big_pk_auto(OperationRecords::Id))
                .col(timestamp_with_time_zone(OperationRecords::At))
                .col(string_len(OperationRecords::Actor, 100))
                .col(string_len(OperationRecords::Channel, 16))
                .col(string_len(OperationRecords::Service, 32))
                .col(string_len(OperationRecords::Action, 64))
                .col(string_len(OperationRecords::Subject, 200))
                .col(json_null(OperationRecords::Before))
                .col(json_null(OperationRecords::After))
                .col(text_null(OperationRecords::Remark))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("operation_records_at", OperationRecords::At),
            ("operation_records_subject", OperationRecords::Subject),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(OperationRecords::Table)
                    .col(col)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
