//! Issued guarantees, number sequences and the institution's signing key.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, ExprTrait, QueryFilter,
    Set, Statement,
};

use gw_protocol::ApplyNo;

use crate::entities::{guarantees, restorations, sequences, signing_keys};

pub use restorations::{ActiveModel as NewRestoration, Model as Restoration};

pub use guarantees::{ActiveModel as GuaranteeChanges, Model as Guarantee};
pub use signing_keys::Model as SigningKeyRow;

pub async fn insert<C: ConnectionTrait>(conn: &C, g: Guarantee) -> Result<(), DbErr> {
    guarantees::Entity::insert(guarantees::ActiveModel::from(g))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
) -> Result<Option<Guarantee>, DbErr> {
    guarantees::Entity::find_by_id(applyno.clone())
        .one(conn)
        .await
}

pub async fn find_by_baohanno<C: ConnectionTrait>(
    conn: &C,
    baohanno: &str,
) -> Result<Option<Guarantee>, DbErr> {
    guarantees::Entity::find()
        .filter(guarantees::Column::Baohanno.eq(baohanno))
        .one(conn)
        .await
}

/// The guarantee one of whose PDFs has this SM3 digest.
pub async fn find_by_sm3<C: ConnectionTrait>(
    conn: &C,
    sm3: &str,
) -> Result<Option<Guarantee>, DbErr> {
    guarantees::Entity::find()
        .filter(
            guarantees::Column::CipherSm3
                .eq(sm3)
                .or(guarantees::Column::RestoredSm3.eq(sm3)),
        )
        .one(conn)
        .await
}

/// Keeps a restored guarantee that a new restore replaces.
pub async fn supersede<C: ConnectionTrait>(conn: &C, old: NewRestoration) -> Result<(), DbErr> {
    old.insert(conn).await?;
    Ok(())
}

/// A superseded restored guarantee with this SM3 digest.
pub async fn superseded_by_sm3<C: ConnectionTrait>(
    conn: &C,
    sm3: &str,
) -> Result<Option<Restoration>, DbErr> {
    restorations::Entity::find()
        .filter(restorations::Column::Sm3.eq(sm3))
        .one(conn)
        .await
}

/// Guarantees restored whose validity ended before `now`.
pub async fn validity_ended<C: ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Guarantee>, DbErr> {
    use sea_orm::QuerySelect;
    guarantees::Entity::find()
        .filter(guarantees::Column::Validtime.lt(now))
        .limit(limit)
        .all(conn)
        .await
}

pub async fn update<C: ConnectionTrait>(
    conn: &C,
    applyno: &ApplyNo,
    mut changes: GuaranteeChanges,
) -> Result<(), DbErr> {
    changes.applyno = sea_orm::ActiveValue::NotSet;
    guarantees::Entity::update_many()
        .set(changes)
        .filter(guarantees::Column::Applyno.eq(applyno.clone()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The next value of the named counter (1, 2, ...). Atomic: concurrent
/// callers, on any replica, never get the same value. One statement once
/// the counter exists; its first use inserts it at 0 first (a concurrent
/// first use inserts nothing more).
pub async fn next_in_sequence<C: ConnectionTrait>(conn: &C, name: &str) -> Result<i64, DbErr> {
    if let Some(value) = advance(conn, name).await? {
        return Ok(value);
    }
    sequences::Entity::insert(sequences::ActiveModel {
        name: Set(name.to_owned()),
        value: Set(0),
    })
    .on_conflict(
        OnConflict::column(sequences::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    advance(conn, name)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("sequence {name}")))
}

/// Adds one to the counter; its new value, `None` if there is no counter.
async fn advance<C: ConnectionTrait>(conn: &C, name: &str) -> Result<Option<i64>, DbErr> {
    let backend = conn.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE sequences SET value = value + 1 WHERE name = $1 RETURNING value"
        }
        _ => "UPDATE sequences SET value = value + 1 WHERE name = ? RETURNING value",
    };
    conn.query_one_raw(Statement::from_sql_and_values(backend, sql, [name.into()]))
        .await?
        .map(|row| row.try_get("", "value"))
        .transpose()
}

pub async fn signing_key<C: ConnectionTrait>(
    conn: &C,
    name: &str,
) -> Result<Option<SigningKeyRow>, DbErr> {
    signing_keys::Entity::find_by_id(name.to_owned())
        .one(conn)
        .await
}

/// Stores a key unless one of that name exists; returns the one that stands.
pub async fn keep_signing_key<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    private_hex: &str,
    public_hex: &str,
) -> Result<SigningKeyRow, DbErr> {
    signing_keys::Entity::insert(signing_keys::ActiveModel {
        name: Set(name.to_owned()),
        private_key_hex: Set(private_hex.to_owned()),
        public_key_hex: Set(public_hex.to_owned()),
        created_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(signing_keys::Column::Name)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    signing_key(conn, name)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("signing key {name}")))
}
