//! The business reports generated (their figures and file tokens).

use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, QueryOrder, QuerySelect, Set,
};

use crate::entities::reports;

pub use reports::Model as ReportRow;

/// Records `row`, replacing a report of the same name (a report generated
/// again, later in its day, has newer figures).
pub async fn put<C: ConnectionTrait>(conn: &C, row: ReportRow) -> Result<(), DbErr> {
    reports::Entity::delete_by_id(row.name.clone())
        .exec(conn)
        .await?;
    reports::ActiveModel {
        name: Set(row.name),
        period: Set(row.period),
        starts_at: Set(row.starts_at),
        ends_at: Set(row.ends_at),
        generated_at: Set(row.generated_at),
        figures: Set(row.figures),
        xlsx_token: Set(row.xlsx_token),
        csv_token: Set(row.csv_token),
        pdf_token: Set(row.pdf_token),
    }
    .insert(conn)
    .await?;
    Ok(())
}

pub async fn find<C: ConnectionTrait>(conn: &C, name: &str) -> Result<Option<ReportRow>, DbErr> {
    reports::Entity::find_by_id(name.to_owned()).one(conn).await
}

/// The latest reports first.
pub async fn list<C: ConnectionTrait>(conn: &C, limit: u64) -> Result<Vec<ReportRow>, DbErr> {
    reports::Entity::find()
        .order_by_desc(reports::Column::StartsAt)
        .order_by_asc(reports::Column::Period)
        .limit(limit.clamp(1, 1000))
        .all(conn)
        .await
}
