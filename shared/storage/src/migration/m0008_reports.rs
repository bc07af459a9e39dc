//! Business reports: one row per report (daily or monthly), its figures
//! and the tokens of its files (XLSX, CSV, PDF) in `files`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Reports {
    Table,
    Name,
    Period,
    StartsAt,
    EndsAt,
    GeneratedAt,
    Figures,
    XlsxToken,
    CsvToken,
    PdfToken,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Reports::Table)
                .if_not_exists()
                .col(string_len(Reports::Name, 64).primary_key())
                .col(string_len(Reports::Period, 16))
                .col(timestamp_with_time_zone(Reports::StartsAt))
                .col(timestamp_with_time_zone(Reports::EndsAt))
                .col(timestamp_with_time_zone(Reports::GeneratedAt))
                .col(json(Reports::Figures))
                .col(string_len(Reports::XlsxToken, 64))
                .col(string_len(Reports::CsvToken, 64))
                .col(string_len(Reports::PdfToken, 64))
                .to_owned(),
        )
        .await
    }
}
