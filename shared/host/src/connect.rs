//! Connections and telemetry from settings.

use anyhow::Context;
use gw_bus::Bus;
use gw_bus::amqp::AmqpOptions;
use gw_config::{LogFormat, Settings};
use gw_storage::{Db, DbOptions};
use secrecy::ExposeSecret;

/// Starts telemetry for `service` as configured.
pub fn init_telemetry(
    settings: &Settings,
    service: &str,
) -> anyhow::Result<gw_telemetry::TelemetryGuard> {
    let format = match settings.telemetry.log_format {
        LogFormat::Json => gw_telemetry::Format::Json,
        LogFormat::Pretty => gw_telemetry::Format::Pretty,
    };
    gw_telemetry::init(service, &settings.telemetry.log_filter, format)
}

/// The broker topology of this deployment: the configured prefix and queue
/// type, the work queues of the message contract, and one retry tier per
/// delay of the workers (`amqp.retry_tiers`) and of egress
/// (`egress.retry_schedule`). Every service declares all of it, identically.
pub fn topology(settings: &Settings) -> gw_bus::Topology {
    gw_bus::Topology::new(
        settings.amqp.prefix.clone(),
        settings
            .amqp
            .retry_tiers
            .iter()
            .chain(settings.egress.retry_schedule.iter())
            .copied(),
    )
    .with_work_queues(gw_contract::queues::ALL)
    .with_queue_type(match settings.amqp.queue_type {
        gw_config::QueueType::Quorum => gw_bus::QueueType::Quorum,
        gw_config::QueueType::Classic => gw_bus::QueueType::Classic,
    })
}

/// Connects to RabbitMQ and declares the topology.
pub async fn connect_bus(settings: &Settings, service: &str) -> anyhow::Result<Bus> {
    let options = AmqpOptions {
        url: settings.amqp.url.expose_secret().to_owned(),
        connection_name: format!("{service}@{}", settings.amqp.prefix),
        connect_timeout: settings.amqp.connect_timeout,
        recovery_deadline: settings.amqp.recovery_deadline,
        frame_max: settings.amqp.frame_max,
    };
    Bus::connect_amqp(&options, topology(settings), settings.amqp.publish_timeout)
        .await
        .context("cannot reach RabbitMQ (amqp.url)")
}

/// The bus and the database of `service`: RabbitMQ, or, when `amqp.url` is
/// `embedded`, the bus in the database (single-process mode).
pub async fn connect(settings: &Settings, service: &str) -> anyhow::Result<(Bus, Db)> {
    let db = connect_db(settings).await?;
    let bus = if settings.amqp.is_embedded() {
        let topology = topology(settings);
        let transport = gw_bus_sql::EmbeddedTransport::new(db.clone(), &topology);
        Bus::new(
            std::sync::Arc::new(transport),
            topology,
            settings.amqp.publish_timeout,
        )
    } else {
        connect_bus(settings, service).await?
    };
    Ok((bus, db))
}

/// Opens the database and applies migrations (unless
/// `database.migrate_on_start` is off: then it checks none is pending).
pub async fn connect_db(settings: &Settings) -> anyhow::Result<Db> {
    open_db(settings, settings.database.migrate_on_start).await
}

/// Opens the database and applies the migrations, whatever
/// `database.migrate_on_start` says (the `migrate` command).
pub async fn migrate_db(settings: &Settings) -> anyhow::Result<Db> {
    open_db(settings, true).await
}

async fn open_db(settings: &Settings, migrate: bool) -> anyhow::Result<Db> {
    let options = DbOptions {
        url: settings.database.url.expose_secret().to_owned(),
        max_connections: settings.database.max_connections,
        connect_timeout: settings.database.connect_timeout,
        schema: settings.database.schema.clone(),
        migrate,
        sqlite_full_sync: settings.database.sqlite_synchronous.full(),
        sqlite_cache_kib: settings.database.sqlite_cache_kib,
    };
    Db::connect(&options)
        .await
        .context("cannot open the database (database.url)")
}
