//! Idempotent consumers: record a message id in the same transaction as the
//! effect. A redelivered message finds its id and changes nothing.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait, Set};

use crate::entities::inbox;

/// Records that `consumer` handled `message_id`. Returns `false` when it
/// already had: the caller then skips the effect (and still acknowledges).
pub async fn first_time<C: ConnectionTrait>(
    conn: &C,
    consumer: &str,
    message_id: &str,
) -> Result<bool, DbErr> {
    let row = inbox::ActiveModel {
        consumer: Set(consumer.to_owned()),
        message_id: Set(message_id.to_owned()),
        processed_at: Set(chrono::Utc::now()),
    };
    let inserted = inbox::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([inbox::Column::Consumer, inbox::Column::MessageId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(inserted == 1)
}

/// Whether `consumer` has handled `message_id`.
pub async fn seen<C: ConnectionTrait>(
    conn: &C,
    consumer: &str,
    message_id: &str,
) -> Result<bool, DbErr> {
    Ok(
        inbox::Entity::find_by_id((consumer.to_owned(), message_id.to_owned()))
            .one(conn)
            .await?
            .is_some(),
    )
}

/// How many messages `consumer` has handled.
pub async fn count<C: ConnectionTrait>(conn: &C, consumer: &str) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
    inbox::Entity::find()
        .filter(inbox::Column::Consumer.eq(consumer))
        .count(conn)
        .await
}
