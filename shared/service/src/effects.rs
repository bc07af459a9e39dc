//! What a worker's transaction sends out, through the outbox, so that it
//! leaves if and only if the state change commits.

use gw_bus::{Destination, Message, queues};
use gw_protocol::Notice;
use gw_protocol::messages::{
    ApplicationEvent, EVENT_SCHEMA, NOTICE_KIND, NOTICE_SCHEMA, NoticeCommand,
};
use gw_storage::outbox;
use gw_storage::sea_orm::{ConnectionTrait, DbErr};
use serde::Serialize;

fn encode(e: serde_json::Error) -> DbErr {
    DbErr::Custom(format!("cannot encode a message: {e}"))
}

/// Queues a notice for egress. `after` is the previous notice of the same
/// application (its `last_notice_id`); returns the new notice's id, which
/// becomes the application's `last_notice_id`.
pub async fn queue_notice<C: ConnectionTrait>(
    conn: &C,
    counterpart: &str,
    notice: &Notice,
    after: Option<String>,
) -> Result<String, DbErr> {
    let cmd = NoticeCommand::new(counterpart, notice, after);
    queue_notice_command(conn, &cmd).await?;
    Ok(cmd.notice_id)
}

/// Queues an existing notice command (egress re-queues parked notices).
pub async fn queue_notice_command<C: ConnectionTrait>(
    conn: &C,
    cmd: &NoticeCommand,
) -> Result<(), DbErr> {
    let m = Message::json(NOTICE_KIND, NOTICE_SCHEMA, Some(&cmd.applyno), cmd)
        .map_err(encode)?
        .with_header(gw_bus::headers::COUNTERPART, cmd.counterpart.clone());
    outbox::add(conn, &Destination::Queue(queues::NOTICES.to_owned()), &m).await
}

/// Publishes a domain event about an application on the events exchange.
pub async fn emit<C: ConnectionTrait>(
    conn: &C,
    routing_key: &str,
    event: &ApplicationEvent,
) -> Result<(), DbErr> {
    emit_payload(conn, routing_key, &event.applyno, &event.counterpart, event).await
}

/// Publishes an [`ApplicationEvent`] made of its parts, stamped now.
pub async fn emit_application<C: ConnectionTrait>(
    conn: &C,
    routing_key: &str,
    applyno: &str,
    counterpart: &str,
    state: &str,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    let event = ApplicationEvent {
        applyno: applyno.to_owned(),
        counterpart: counterpart.to_owned(),
        state: state.to_owned(),
        details,
        at: chrono::Utc::now(),
    };
    emit(conn, routing_key, &event).await
}

/// Publishes any event payload on the events exchange.
pub async fn emit_payload<C: ConnectionTrait, T: Serialize>(
    conn: &C,
    routing_key: &str,
    applyno: &str,
    counterpart: &str,
    payload: &T,
) -> Result<(), DbErr> {
    let m = Message::json(routing_key, EVENT_SCHEMA, Some(applyno), payload)
        .map_err(encode)?
        .with_header(gw_bus::headers::COUNTERPART, counterpart.to_owned());
    outbox::add(conn, &Destination::Event(routing_key.to_owned()), &m).await
}

/// Sends a command to a work queue.
pub async fn command<C: ConnectionTrait, T: Serialize>(
    conn: &C,
    queue: &str,
    kind: &str,
    schema: u32,
    applyno: &str,
    payload: &T,
) -> Result<(), DbErr> {
    let m = Message::json(kind, schema, Some(applyno), payload).map_err(encode)?;
    outbox::add(conn, &Destination::Queue(queue.to_owned()), &m).await
}
