//! After issuance: cancel requests, superseded restorations, invoices,
//! refunds, claims, write-offs, verification lookups; the claimed amounts
//! of an application.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    ClaimedCents,
    ClaimPendingCents,
}

#[derive(DeriveIden)]
enum CancelRequests {
    Table,
    Applyno,
    Counterpart,
    Scene,
    RequestedAt,
    Resolution,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Restorations {
    Table,
    Id,
    Applyno,
    Baohanno,
    Token,
    Sm3,
    Signature,
    Poltime,
    Validtime,
    Pcjname,
    Zbr,
    RestoredAt,
    SupersededAt,
}

#[derive(DeriveIden)]
enum Invoices {
    Table,
    Applicationno,
    Counterpart,
    Applyno,
    Baohanno,
    Kind,
    Medium,
    AmountCents,
    TaxCents,
    BuyerName,
    BuyerCode,
    Address,
    Phone,
    Bank,
    Account,
    Email,
    Mobile,
    Contactname,
    Contactaddress,
    Status,
    Reason,
    InvoiceNumber,
    FileToken,
    RequestedAt,
    IssuedAt,
}

#[derive(DeriveIden)]
enum Quits {
    Table,
    Applicationno,
    Counterpart,
    Applyno,
    Baohanno,
    Scene,
    Reason,
    Resolution,
    Refusal,
    AmountCents,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Claims {
    Table,
    Applicationno,
    Counterpart,
    Applyno,
    Baohanno,
    AmountCents,
    Payeename,
    Payeeaccount,
    Payeebank,
    Bank,
    Bankprovince,
    Bankcity,
    Applyusername,
    Applyuserphone,
    Reason,
    Files,
    Status,
    Refusal,
    RequestedAt,
    DecidedAt,
    PaidAt,
    PayoutReference,
}

#[derive(DeriveIden)]
enum Logouts {
    Table,
    Applicationno,
    Counterpart,
    Applyno,
    Baohanno,
    Files,
    Resolution,
    Refusal,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Verifications {
    Table,
    Id,
    At,
    Client,
    Method,
    Baohanno,
    Outcome,
}

fn index(name: &str, table: impl IntoIden, col: impl IntoIden) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(table)
        .col(col)
        .if_not_exists()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for col in [Applications::ClaimedCents, Applications::ClaimPendingCents] {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(big_integer(col).default(0))
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(CancelRequests::Table)
                .if_not_exists()
                .col(string_len(CancelRequests::Applyno, 50).primary_key())
                .col(string_len(CancelRequests::Counterpart, 64))
                .col(string_len(CancelRequests::Scene, 4))
                .col(timestamp_with_time_zone(CancelRequests::RequestedAt))
                .col(string_len(CancelRequests::Resolution, 16))
                .col(timestamp_with_time_zone_null(CancelRequests::DecidedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Restorations::Table)
                .if_not_exists()
                .col(big_pk_auto(Restorations::Id))
                .col(string_len(Restorations::Applyno, 50))
                .col(string_len(Restorations::Baohanno, 50))
                .col(string_len(Restorations::Token, 64))
                .col(string_len(Restorations::Sm3, 64))
                .col(text(Restorations::Signature))
                .col(timestamp_with_time_zone(Restorations::Poltime))
                .col(timestamp_with_time_zone(Restorations::Validtime))
                .col(string_len(Restorations::Pcjname, 255))
                .col(string_len(Restorations::Zbr, 200))
                .col(timestamp_with_time_zone(Restorations::RestoredAt))
                .col(timestamp_with_time_zone(Restorations::SupersededAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "restorations_sm3",
            Restorations::Table,
            Restorations::Sm3,
        ))
        .await?;
        m.create_index(index(
            "restorations_applyno",
            Restorations::Table,
            Restorations::Applyno,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(Invoices::Table)
                .if_not_exists()
                .col(string_len(Invoices::Applicationno, 50).primary_key())
                .col(string_len(Invoices::Counterpart, 64))
                .col(string_len(Invoices::Applyno, 50))
                .col(string_len(Invoices::Baohanno, 50))
                .col(string_len(Invoices::Kind, 4))
                .col(string_len(Invoices::Medium, 4))
                .col(big_integer(Invoices::AmountCents))
                .col(big_integer(Invoices::TaxCents))
                .col(string_len(Invoices::BuyerName, 200))
                .col(string_len(Invoices::BuyerCode, 50))
                .col(text_null(Invoices::Address))
                .col(string_len_null(Invoices::Phone, 50))
                .col(string_len_null(Invoices::Bank, 200))
                .col(string_len_null(Invoices::Account, 50))
                .col(string_len_null(Invoices::Email, 100))
                .col(string_len_null(Invoices::Mobile, 50))
                .col(string_len_null(Invoices::Contactname, 50))
                .col(text_null(Invoices::Contactaddress))
                .col(string_len(Invoices::Status, 16))
                .col(text_null(Invoices::Reason))
                .col(string_len_null(Invoices::InvoiceNumber, 32).unique_key())
                .col(string_len_null(Invoices::FileToken, 64))
                .col(timestamp_with_time_zone(Invoices::RequestedAt))
                .col(timestamp_with_time_zone_null(Invoices::IssuedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "invoices_applyno",
            Invoices::Table,
            Invoices::Applyno,
        ))
        .await?;
        m.create_table(
            Table::create()
                .table(Quits::Table)
                .if_not_exists()
                .col(string_len(Quits::Applicationno, 50).primary_key())
                .col(string_len(Quits::Counterpart, 64))
                .col(string_len(Quits::Applyno, 50))
                .col(string_len(Quits::Baohanno, 50))
                .col(string_len(Quits::Scene, 4))
                .col(text(Quits::Reason))
                .col(string_len(Quits::Resolution, 16))
                .col(text_null(Quits::Refusal))
                .col(big_integer(Quits::AmountCents))
                .col(timestamp_with_time_zone(Quits::DecidedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("quits_applyno", Quits::Table, Quits::Applyno))
            .await?;
        m.create_table(
            Table::create()
                .table(Claims::Table)
                .if_not_exists()
                .col(string_len(Claims::Applicationno, 50).primary_key())
                .col(string_len(Claims::Counterpart, 64))
                .col(string_len(Claims::Applyno, 50))
                .col(string_len(Claims::Baohanno, 50))
                .col(big_integer(Claims::AmountCents))
                .col(string_len(Claims::Payeename, 200))
                .col(string_len(Claims::Payeeaccount, 50))
                .col(string_len(Claims::Payeebank, 200))
                .col(string_len_null(Claims::Bank, 50))
                .col(string_len_null(Claims::Bankprovince, 50))
                .col(string_len_null(Claims::Bankcity, 50))
                .col(string_len(Claims::Applyusername, 200))
                .col(string_len(Claims::Applyuserphone, 50))
                .col(text(Claims::Reason))
                .col(text(Claims::Files))
                .col(string_len(Claims::Status, 16))
                .col(text_null(Claims::Refusal))
                .col(timestamp_with_time_zone(Claims::RequestedAt))
                .col(timestamp_with_time_zone(Claims::DecidedAt))
                .col(timestamp_with_time_zone_null(Claims::PaidAt))
                .col(string_len_null(Claims::PayoutReference, 100))
                .to_owned(),
        )
        .await?;
        m.create_index(index("claims_applyno", Claims::Table, Claims::Applyno))
            .await?;
        m.create_table(
            Table::create()
                .table(Logouts::Table)
                .if_not_exists()
                .col(string_len(Logouts::Applicationno, 50).primary_key())
                .col(string_len(Logouts::Counterpart, 64))
                .col(string_len(Logouts::Applyno, 50))
                .col(string_len(Logouts::Baohanno, 50))
                .col(text(Logouts::Files))
                .col(string_len(Logouts::Resolution, 16))
                .col(text_null(Logouts::Refusal))
                .col(timestamp_with_time_zone(Logouts::DecidedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(index("logouts_applyno", Logouts::Table, Logouts::Applyno))
            .await?;
        m.create_table(
            Table::create()
                .table(Verifications::Table)
                .if_not_exists()
                .col(big_pk_auto(Verifications::Id))
                .col(timestamp_with_time_zone(Verifications::At))
                .col(string_len(Verifications::Client, 64))
                .col(string_len(Verifications::Method, 16))
                .col(string_len_null(Verifications::Baohanno, 50))
                .col(string_len(Verifications::Outcome, 32))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            "verifications_at",
            Verifications::Table,
            Verifications::At,
        ))
        .await
    }
}
