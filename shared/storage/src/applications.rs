//! Reads and writes of the `applications` lifecycle table.

use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::entities::applications;

pub use applications::Model as Application;

/// The application with this `applyno`, if any.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    applyno: &str,
) -> Result<Option<Application>, DbErr> {
    applications::Entity::find_by_id(applyno.to_owned())
        .one(conn)
        .await
}
