//! Storage runs the same on PostgreSQL and SQLite: migrations, the inbox, and
//! the outbox with its relay.

use std::time::Duration;

use gw_bus::{Destination, Message};
use gw_bus_sql::outbox;
use gw_contract::queues;
use gw_storage::sea_orm::TransactionTrait;
use gw_storage::{Db, DbOptions, inbox};
use gw_tests::*;

async fn exercise(db: &Db, h: &Harness) {
    // The inbox: the first time counts, a redelivery does not.
    let txn = db.conn().begin().await.unwrap();
    assert!(
        inbox::first_time(&txn, "underwriting", "m-1")
            .await
            .unwrap()
    );
    txn.commit().await.unwrap();
    assert!(
        !inbox::first_time(db.conn(), "underwriting", "m-1")
            .await
            .unwrap()
    );
    assert!(
        inbox::first_time(db.conn(), "payment", "m-1")
            .await
            .unwrap(),
        "per consumer"
    );
    assert!(inbox::seen(db.conn(), "underwriting", "m-1").await.unwrap());

    // A rolled-back transaction leaves no outbox row.
    let m = Message::json(
        "test.outbox",
        1,
        Some("TB-OUT"),
        &serde_json::json!({"n": 1}),
    )
    .unwrap();
    let txn = db.conn().begin().await.unwrap();
    outbox::add(&txn, &Destination::Queue(queues::PAYAPPLY.into()), &m)
        .await
        .unwrap();
    txn.rollback().await.unwrap();
    assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);

    // A committed one is published by the relay, once.
    let txn = db.conn().begin().await.unwrap();
    outbox::add(&txn, &Destination::Queue(queues::PAYAPPLY.into()), &m)
        .await
        .unwrap();
    let event = Message::json(
        "test.event",
        1,
        Some("TB-OUT"),
        &serde_json::json!({"n": 2}),
    )
    .unwrap();
    outbox::add(
        &txn,
        &Destination::Event("application.approved".into()),
        &event,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 2);
    let relay = outbox::Relay::new(db.clone(), h.bus.clone());
    assert_eq!(relay.publish_batch().await.unwrap(), 2);
    assert_eq!(relay.publish_batch().await.unwrap(), 0);
    assert_eq!(outbox::pending_count(db.conn()).await.unwrap(), 0);
    let got = h
        .wait_take(queues::PAYAPPLY, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(got.id, m.id);
    assert_eq!(got.payload, m.payload);
    assert_eq!(got.correlation_id.as_deref(), Some("TB-OUT"));
    assert_eq!(got.header("traceparent"), m.header("traceparent"));
    let journal = h
        .wait_full(&h.topology().journal_queue(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(journal.id, event.id);
    assert!(h.take(queues::PAYAPPLY).await.is_none(), "published once");
}

#[tokio::test]
async fn postgres_and_sqlite_behave_alike() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    exercise(&h.db, &h).await;

    let dir = std::env::temp_dir().join(format!("gw-{}", ids.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Db::connect(&DbOptions {
        url: format!("sqlite://{}?mode=rwc", dir.join("gw.db").display()),
        max_connections: 4,
        connect_timeout: Duration::from_secs(5),
        schema: None,
    })
    .await
    .unwrap();
    exercise(&sqlite, &h).await;
    sqlite.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
    h.cleanup().await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let ids = TestIds::new();
    let s = settings(&ids, "http://127.0.0.1:9", &[]);
    let h = Harness::new(ids, s.clone()).await;
    // A second service starting on the same schema finds it migrated.
    let again = gw_host::connect_db(&s).await.unwrap();
    again.check().await.unwrap();
    again.close().await;
    h.cleanup().await;
}
