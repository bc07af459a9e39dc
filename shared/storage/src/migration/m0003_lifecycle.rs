//! The main path: underwriting decisions, the blocklist, payments,
//! guarantees, number sequences and the institution's signing key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum UnderwritingDecisions {
    Table,
    Id,
    Applyno,
    Decision,
    Reason,
    Rate,
    CostCents,
    Checks,
    RulesVersion,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
enum Blocklist {
    Table,
    CreditCode,
    Reason,
    AddedBy,
    AddedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Paynumber,
    Applyno,
    Paytype,
    PaymoneyCents,
    Paydate,
    Payname,
    Payaccount,
    Paybank,
    Ipcontent,
    Source,
    Status,
    Reason,
    ReceivedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Guarantees {
    Table,
    Applyno,
    Baohanno,
    Counterpart,
    VerifyCode,
    AmountCents,
    Biddername,
    Biddercode,
    Instname,
    Instcode,
    Rate,
    CostCents,
    IssuedAt,
    CipherToken,
    CipherSm3,
    CipherSignature,
    RestoredToken,
    RestoredSm3,
    RestoredSignature,
    Poltime,
    Validtime,
    Biaoduanno,
    Biaoduanname,
    Zbr,
    Zbrorgnum,
    Pcjname,
    Pcjcode,
    Areacode,
    RestoredAt,
}

#[derive(DeriveIden)]
enum Sequences {
    Table,
    Name,
    Value,
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Name,
    PrivateKeyHex,
    PublicKeyHex,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UnderwritingDecisions::Table)
                .if_not_exists()
                .col(big_pk_auto(UnderwritingDecisions::Id))
                .col(string_len(UnderwritingDecisions::Applyno, 50))
                .col(string_len(UnderwritingDecisions::Decision, 16))
                .col(text(UnderwritingDecisions::Reason))
                .col(string_len_null(UnderwritingDecisions::Rate, 50))
                .col(big_integer_null(UnderwritingDecisions::CostCents))
                .col(text(UnderwritingDecisions::Checks))
                .col(string_len(UnderwritingDecisions::RulesVersion, 64))
                .col(string_len(UnderwritingDecisions::DecidedBy, 200))
                .col(timestamp_with_time_zone(UnderwritingDecisions::DecidedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("underwriting_decisions_applyno")
                .table(UnderwritingDecisions::Table)
                .col(UnderwritingDecisions::Applyno)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Blocklist::Table)
                .if_not_exists()
                .col(string_len(Blocklist::CreditCode, 50).primary_key())
                .col(text(Blocklist::Reason))
                .col(string_len(Blocklist::AddedBy, 200))
                .col(timestamp_with_time_zone(Blocklist::AddedAt))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Payments::Table)
                .if_not_exists()
                .col(string_len(Payments::Paynumber, 50).primary_key())
                .col(string_len(Payments::Applyno, 50))
                .col(string_len(Payments::Paytype, 4))
                .col(big_integer(Payments::PaymoneyCents))
                .col(timestamp_with_time_zone(Payments::Paydate))
                .col(string_len(Payments::Payname, 200))
                .col(string_len(Payments::Payaccount, 50))
                .col(string_len(Payments::Paybank, 200))
                .col(string_len_null(Payments::Ipcontent, 50))
                .col(string_len(Payments::Source, 32))
                .col(string_len(Payments::Status, 32))
                .col(text_null(Payments::Reason))
                .col(timestamp_with_time_zone(Payments::ReceivedAt))
                .col(timestamp_with_time_zone(Payments::UpdatedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("payments_applyno")
                .table(Payments::Table)
                .col(Payments::Applyno)
                .if_not_exists()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Guarantees::Table)
                .if_not_exists()
                .col(string_len(Guarantees::Applyno, 50).primary_key())
                .col(string_len_uniq(Guarantees::Baohanno, 50))
                .col(string_len(Guarantees::Counterpart, 64))
                .col(string_len(Guarantees::VerifyCode, 16))
                .col(big_integer(Guarantees::AmountCents))
                .col(string_len(Guarantees::Biddername, 200))
                .col(string_len(Guarantees::Biddercode, 50))
                .col(string_len(Guarantees::Instname, 200))
                .col(string_len(Guarantees::Instcode, 50))
                .col(string_len(Guarantees::Rate, 50))
                .col(big_integer(Guarantees::CostCents))
                .col(timestamp_with_time_zone(Guarantees::IssuedAt))
                .col(string_len(Guarantees::CipherToken, 64))
                .col(string_len(Guarantees::CipherSm3, 64))
                .col(text(Guarantees::CipherSignature))
                .col(string_len_null(Guarantees::RestoredToken, 64))
                .col(string_len_null(Guarantees::RestoredSm3, 64))
                .col(text_null(Guarantees::RestoredSignature))
                .col(timestamp_with_time_zone_null(Guarantees::Poltime))
                .col(timestamp_with_time_zone_null(Guarantees::Validtime))
                .col(string_len_null(Guarantees::Biaoduanno, 100))
                .col(string_len_null(Guarantees::Biaoduanname, 255))
                .col(string_len_null(Guarantees::Zbr, 200))
                .col(string_len_null(Guarantees::Zbrorgnum, 50))
                .col(string_len_null(Guarantees::Pcjname, 255))
                .col(string_len_null(Guarantees::Pcjcode, 100))
                .col(string_len_null(Guarantees::Areacode, 20))
                .col(timestamp_with_time_zone_null(Guarantees::RestoredAt))
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("guarantees_cipher_sm3", Guarantees::CipherSm3),
            ("guarantees_restored_sm3", Guarantees::RestoredSm3),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Guarantees::Table)
                    .col(col)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(Sequences::Table)
                .if_not_exists()
                .col(string_len(Sequences::Name, 100).primary_key())
                .col(big_integer(Sequences::Value))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SigningKeys::Table)
                .if_not_exists()
                .col(string_len(SigningKeys::Name, 64).primary_key())
                .col(text(SigningKeys::PrivateKeyHex))
                .col(text(SigningKeys::PublicKeyHex))
                .col(timestamp_with_time_zone(SigningKeys::CreatedAt))
                .to_owned(),
        )
        .await
    }
}
