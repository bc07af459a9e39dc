//! Schema migrations, applied in order at start-up by every service.
//! They are written with sea-query, so the same code runs on PostgreSQL and SQLite.

use sea_orm_migration::prelude::*;

/// To list the migrations (`Migrator::migrations()`).
pub use sea_orm_migration::MigratorTrait;

mod m0001_foundation;
mod m0002_egress;
mod m0003_lifecycle;
mod m0004_embedded_bus;
mod m0005_after_issuance;
mod m0006_reliability;
mod m0007_operations;
mod m0008_reports;
mod m0009_console;
mod m0010_files_uncompressed;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m0001_foundation::Migration),
            Box::new(m0002_egress::Migration),
            Box::new(m0003_lifecycle::Migration),
            Box::new(m0004_embedded_bus::Migration),
            Box::new(m0005_after_issuance::Migration),
            Box::new(m0006_reliability::Migration),
            Box::new(m0007_operations::Migration),
            Box::new(m0008_reports::Migration),
            Box::new(m0009_console::Migration),
            Box::new(m0010_files_uncompressed::Migration),
        ]
    }
}
