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
    // Published in the relay's producer span, in the trace of the row's
    // handler when it had one.
    let sent = got.header("traceparent").expect("a trace context");
    if let Some(made) = m.header("traceparent") {
        assert_eq!(
            gw_telemetry::trace_id_of(sent),
            gw_telemetry::trace_id_of(made)
        );
    }
    let journal = h
        .wait_full(&h.topology().journal_queue(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(journal.id, event.id);
    assert!(h.take(queues::PAYAPPLY).await.is_none(), "published once");

    handler_transactions_write_their_outbox_rows_at_commit(db, h).await;
}

/// A handler's transaction ([`gw_workflow::Tx`]) writes its outbox rows
/// together when it commits, in the order they were sent: none before the
/// commit, none if it never commits, and the relay publishes them in that
/// order. Many rows at once are written in several statements, all kept.
async fn handler_transactions_write_their_outbox_rows_at_commit(db: &Db, h: &Harness) {
    use gw_storage::entities::outbox as rows;
    use gw_storage::sea_orm::{EntityTrait, QueryOrder};
    let relay = outbox::Relay::new(db.clone(), h.bus.clone());
    let flow = gw_workflow::Workflow::new(db.clone(), gw_bus_sql::Outbox::Relayed(relay.clone()));
    let applyno = gw_protocol::ApplyNo::try_from("TB-OUTBOX-1").unwrap();
    let ids = |all: Vec<rows::Model>| all.into_iter().map(|r| r.message_id).collect::<Vec<_>>();
    let stored = || async {
        rows::Entity::find()
            .order_by_asc(rows::Column::Id)
            .all(db.conn())
            .await
            .unwrap()
    };
    let before = stored().await.len();

    // Dropped without a commit: nothing written.
    let tx = flow.begin().await.unwrap();
    for n in 0..3 {
        refuse(&tx, &applyno, n).await;
    }
    drop(tx);
    assert_eq!(stored().await.len(), before, "no commit, no rows");

    // Committed: three rows, in the order sent, written at the commit (the
    // transaction itself sees none before), claimed for this process so
    // that no relay's batch takes them, and handed to its relay, which
    // publishes them in that order without looking for them.
    let tx = flow.begin().await.unwrap();
    for n in 0..3 {
        refuse(&tx, &applyno, n).await;
    }
    assert_eq!(outbox::pending_count(tx.conn()).await.unwrap(), 0);
    tx.commit().await.unwrap();
    let written = stored().await.split_off(before);
    assert_eq!(written.len(), 3);
    for row in &written {
        assert!(row.published_at.is_none() && row.claimed_until.is_some());
    }
    let other = outbox::Relay::new(db.clone(), h.bus.clone());
    assert_eq!(other.publish_batch().await.unwrap(), 0, "claimed");
    assert_eq!(relay.publish_queued().await, 3);
    assert_eq!(relay.publish_queued().await, 0, "taken once");
    for row in stored().await.split_off(before) {
        assert!(row.published_at.is_none(), "marked later, together");
    }
    assert_eq!(relay.mark_published().await, 3);
    assert_eq!(relay.mark_published().await, 0);
    for row in stored().await.split_off(before) {
        assert!(row.published_at.is_some(), "marked published");
        assert_eq!((row.attempts, row.claimed_until), (1, None));
    }
    let journal = h.topology().journal_queue();
    for (n, row) in written.iter().enumerate() {
        let got = h.wait_full(&journal, Duration::from_secs(5)).await.unwrap();
        assert_eq!(got.id, row.message_id, "published in the order sent");
        let refused: serde_json::Value = serde_json::from_slice(&got.payload).unwrap();
        assert_eq!(refused["details"]["applicationno"], format!("R{n}"));
    }
    assert_eq!(relay.publish_batch().await.unwrap(), 0, "nothing left");

    // A row the broker refuses after the commit is let go of at once for
    // the relay, which retries it and counts its failures.
    let ob = gw_bus_sql::Outbox::Relayed(relay.clone());
    let lost = Message::json("test.lost", 1, None, &serde_json::json!({})).unwrap();
    let txn = db.conn().begin().await.unwrap();
    let to = Destination::Queue(format!("{}.nowhere", h.topology().prefix()));
    let staged = ob.add(&to, &lost);
    ob.write(&txn, std::slice::from_ref(&staged)).await.unwrap();
    txn.commit().await.unwrap();
    ob.committed(None, vec![staged]).await;
    assert_eq!(relay.publish_queued().await, 1);
    assert_eq!(relay.mark_published().await, 0, "nothing confirmed");
    let row = stored().await.pop().unwrap();
    assert_eq!(row.message_id, lost.id);
    assert_eq!(
        (row.published_at, row.claimed_until, row.attempts),
        (None, None, 0),
        "unroutable: let go of, unpublished"
    );
    assert_eq!(relay.publish_batch().await.unwrap(), 0);
    let row = stored().await.pop().unwrap();
    assert_eq!(row.attempts, 1, "the relay tried it and counted it");
    assert!(row.last_error.is_some());
    rows::Entity::delete_by_id(row.id)
        .exec(db.conn())
        .await
        .unwrap();

    // A command-line tool's workflow (no bus) leaves its rows to a running
    // relay.
    let tx = gw_workflow::Workflow::deferred(db.clone())
        .begin()
        .await
        .unwrap();
    refuse(&tx, &applyno, 9).await;
    tx.commit().await.unwrap();
    let row = stored().await.pop().unwrap();
    assert_eq!((row.published_at, row.claimed_until), (None, None));
    assert_eq!(relay.publish_batch().await.unwrap(), 1);
    let got = h.wait_full(&journal, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.id, row.message_id);

    // A relay told to stop publishes what handlers committed before it
    // returns (the last step of a graceful shutdown).
    let tx = flow.begin().await.unwrap();
    refuse(&tx, &applyno, 7).await;
    tx.commit().await.unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    relay.clone().run(stop).await;
    let row = stored().await.pop().unwrap();
    assert!(row.published_at.is_some(), "published at shutdown");
    let got = h.wait_full(&journal, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.id, row.message_id);

    // More rows than one statement carries: all written, in order.
    let many: Vec<Message> = (0..2100)
        .map(|n| Message::json("test.many", 1, None, &serde_json::json!({"n": n})).unwrap())
        .collect();
    let txn = db.conn().begin().await.unwrap();
    let to = Destination::Queue(queues::PAYAPPLY.into());
    outbox::insert(
        &txn,
        many.iter().map(|m| outbox::row(&to, m).unwrap()).collect(),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let written = ids(stored().await.split_off(before + 5));
    assert_eq!(written, ids_of(&many));
    rows::Entity::delete_many().exec(db.conn()).await.unwrap();
}

/// A `request.refused` event about `applyno`, numbered `n`, sent in `tx`.
async fn refuse(tx: &gw_workflow::Tx, applyno: &gw_protocol::ApplyNo, n: usize) {
    use gw_contract::EventKey;
    use gw_contract::details::{Details, RequestRefused};
    let details = Details::RequestRefused(RequestRefused {
        interface: "cancelapply".into(),
        applicationno: format!("R{n}"),
        reason: "test".into(),
    });
    tx.emit_application(
        EventKey::RequestRefused,
        applyno,
        &counterpart(),
        gw_lifecycle::State::Approved,
        details,
    )
    .await
    .unwrap();
}

fn ids_of(messages: &[Message]) -> Vec<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

/// Runs `check` on a SQLite database of its own (a file under the
/// temporary directory), then removes it.
async fn on_sqlite<F, Fut>(ids: &TestIds, check: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let dir = std::env::temp_dir().join(format!("gw-{}", ids.prefix));
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = gw_tests::sqlite_db(&dir.join("gw.db"), 4).await;
    check(sqlite.clone()).await;
    sqlite.close().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn postgres_and_sqlite_behave_alike() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    exercise(&h.db, &h).await;

    let harness = &h;
    on_sqlite(&ids, |db| async move { exercise(&db, harness).await }).await;
    h.cleanup().await;
}

/// Every SQLite connection is in WAL mode with foreign keys on, its
/// commits wait for the disk unless `database.sqlite_synchronous` says
/// `normal`, and its page cache is `database.sqlite_cache_kib`.
#[tokio::test]
async fn sqlite_connections_carry_their_pragmas() {
    use gw_storage::sea_orm::{ConnectionTrait, Statement};
    let dir = std::env::temp_dir().join(format!("gw-pragma-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for (full, expected, cache) in [(true, 2, 512), (false, 1, 2048)] {
        let db = Db::connect(&DbOptions {
            url: format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{full}.db")).display()
            ),
            max_connections: 1,
            connect_timeout: Duration::from_secs(5),
            schema: None,
            migrate: true,
            sqlite_full_sync: full,
            sqlite_cache_kib: cache,
        })
        .await
        .unwrap();
        let pragma = |name: &str| {
            let stmt = Statement::from_string(db.backend(), format!("PRAGMA {name}"));
            let conn = db.conn().clone();
            async move {
                let row = conn.query_one_raw(stmt).await.unwrap().unwrap();
                row.try_get_by_index::<String>(0)
                    .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                    .unwrap()
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("foreign_keys").await, "1");
        assert_eq!(
            pragma("synchronous").await,
            expected.to_string(),
            "full = {full}"
        );
        assert_eq!(pragma("cache_size").await, format!("-{cache}"));
        db.close().await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
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

/// Eight replicas starting at once on a fresh schema: every one starts,
/// and each migration is applied once.
#[tokio::test]
async fn replicas_migrating_a_fresh_database_at_once_all_start() {
    let ids = TestIds::new();
    let s = settings(&ids, "http://127.0.0.1:9", &[]);
    let starts = (0..8).map(|_| gw_host::connect_db(&s));
    let dbs: Vec<Db> = futures::future::join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("every replica starts"))
        .collect();
    use gw_storage::sea_orm::{ConnectionTrait, Statement};
    let rows = dbs[0]
        .conn()
        .query_all_raw(Statement::from_string(
            dbs[0].backend(),
            "SELECT version, COUNT(*) AS n FROM seaql_migrations GROUP BY version",
        ))
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        <gw_storage::migration::Migrator as gw_storage::migration::MigratorTrait>::migrations()
            .len(),
        "every migration recorded"
    );
    for r in rows {
        let n: i64 = r.try_get("", "n").unwrap();
        assert_eq!(n, 1, "applied once");
    }
    for d in dbs.iter().skip(1) {
        d.check().await.unwrap();
    }
    let first = dbs.into_iter().next().unwrap();
    first.drop_schema().await.unwrap();
    first.close().await;
}

/// On Kubernetes a Job migrates once per release and the services do not
/// (`database.migrate_on_start = false`): a service refuses to start on a
/// database that is behind, saying what to run, and starts once it ran.
#[tokio::test]
async fn a_service_that_does_not_migrate_refuses_a_database_behind() {
    let ids = TestIds::new();
    let s = settings(
        &ids,
        "http://127.0.0.1:9",
        &[("GW__DATABASE__MIGRATE_ON_START", "false")],
    );
    let err = format!("{:#}", gw_host::connect_db(&s).await.unwrap_err());
    assert!(err.contains("migrate_on_start is off"), "{err}");
    assert!(err.contains("migrate"), "{err}");
    let migrated = gw_host::migrate_db(&s).await.unwrap();
    migrated.close().await;
    let db = gw_host::connect_db(&s).await.expect("starts once migrated");
    db.check().await.unwrap();
    db.drop_schema().await.unwrap();
    db.close().await;
}

/// The retention sweep deletes what is older than its age and never what
/// is still open: an old unpublished or parked outbox row, a notice on its
/// way, a dead letter not yet replayed.
#[tokio::test]
async fn retention_deletes_what_is_old_and_keeps_what_is_open() {
    use gw_lifecycle::NoticeState;
    use gw_storage::entities::{
        dead_letters as dl, inbox as ib, notices as nt, outbox as ob, verifications as vf,
    };
    use gw_storage::sea_orm::sea_query::Expr;
    use gw_storage::sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let c = h.db.conn();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(6 * 366);
    let day = Duration::from_secs(24 * 3600);

    // Inbox: one old, one fresh.
    inbox::first_time(c, "x", "old").await.unwrap();
    inbox::first_time(c, "x", "new").await.unwrap();
    ib::Entity::update_many()
        .col_expr(ib::Column::ProcessedAt, Expr::value(long_ago))
        .filter(ib::Column::MessageId.eq("old"))
        .exec(c)
        .await
        .unwrap();
    // Outbox: published long ago, unpublished long ago, parked long ago.
    for n in ["published", "pending", "parked"] {
        let m = Message::json("t", 1, None, &serde_json::json!({}))
            .unwrap()
            .with_id(n);
        outbox::add(c, &Destination::Queue("q".into()), &m)
            .await
            .unwrap();
    }
    ob::Entity::update_many()
        .col_expr(ob::Column::CreatedAt, Expr::value(long_ago))
        .exec(c)
        .await
        .unwrap();
    ob::Entity::update_many()
        .col_expr(ob::Column::PublishedAt, Expr::value(long_ago))
        .filter(ob::Column::MessageId.eq("published"))
        .exec(c)
        .await
        .unwrap();
    ob::Entity::update_many()
        .col_expr(ob::Column::ParkedAt, Expr::value(long_ago))
        .filter(ob::Column::MessageId.eq("parked"))
        .exec(c)
        .await
        .unwrap();
    // Notices: delivered long ago (with an attempt), retrying long ago.
    for (id, state) in [
        ("n-done", NoticeState::Delivered),
        ("n-open", NoticeState::Retrying),
    ] {
        gw_storage::notices::insert(
            c,
            gw_storage::notices::NewNotice {
                id,
                applyno: &applyno("TB-RET"),
                counterpart: &counterpart(),
                interface: "processnotice",
                after_id: None,
                body: "{}",
                body_masked: "{}",
                state,
                last_error: None,
            },
        )
        .await
        .unwrap();
        gw_storage::notices::record_attempt(
            c,
            gw_storage::notices::NewAttempt {
                notice_id: id,
                attempt: 1,
                at: long_ago,
                http_status: Some(200),
                reply_code: Some("200"),
                reply_msg: None,
                latency_ms: 3,
                error: None,
                delivered: state == NoticeState::Delivered,
            },
        )
        .await
        .unwrap();
    }
    nt::Entity::update_many()
        .col_expr(nt::Column::UpdatedAt, Expr::value(long_ago))
        .exec(c)
        .await
        .unwrap();
    // A verification lookup long ago and one today.
    gw_storage::verifications::record(c, "1.2.3.4", "number", None, "not_found")
        .await
        .unwrap();
    vf::Entity::update_many()
        .col_expr(vf::Column::At, Expr::value(long_ago))
        .exec(c)
        .await
        .unwrap();
    gw_storage::verifications::record(c, "1.2.3.4", "number", None, "not_found")
        .await
        .unwrap();
    // Dead letters: one replayed long ago, one still open from long ago.
    for id in ["dl-replayed", "dl-open"] {
        gw_storage::dead_letters::record(
            c,
            gw_storage::dead_letters::NewDeadLetter {
                destination: "queue:q".into(),
                message_id: id.into(),
                kind: "t".into(),
                schema_version: 1,
                correlation_id: None,
                headers: serde_json::json!({}),
                payload: b"{}".to_vec(),
                error: "e".into(),
                source: "consumer",
                failed_at: long_ago,
            },
        )
        .await
        .unwrap();
    }
    dl::Entity::update_many()
        .col_expr(dl::Column::ReplayedAt, Expr::value(long_ago))
        .filter(dl::Column::MessageId.eq("dl-replayed"))
        .exec(c)
        .await
        .unwrap();

    let ages = gw_storage::retention::Ages {
        inbox: 30 * day,
        outbox: 30 * day,
        notices: 5 * 365 * day,
        verifications: 5 * 365 * day,
        dead_letters: 365 * day,
    };
    let swept = gw_storage::retention::sweep(c, &ages).await.unwrap();
    assert_eq!(
        swept,
        gw_storage::retention::Swept {
            inbox: 1,
            outbox: 1,
            notices: 1,
            notice_attempts: 1,
            verifications: 1,
            dead_letters: 1,
        }
    );
    assert!(inbox::seen(c, "x", "new").await.unwrap());
    assert_eq!(
        ob::Entity::find().count(c).await.unwrap(),
        2,
        "pending and parked kept"
    );
    assert!(
        gw_storage::notices::find(c, "n-open")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(vf::Entity::find().count(c).await.unwrap(), 1);
    assert_eq!(
        dl::Entity::find().count(c).await.unwrap(),
        1,
        "the open dead letter kept"
    );
    // Nothing more the second time.
    assert_eq!(
        gw_storage::retention::sweep(c, &ages)
            .await
            .unwrap()
            .total(),
        0
    );
    h.cleanup().await;
}

/// The PostgreSQL backup recipe of deploy/README.md (`pg_dump -Fc`, then
/// `pg_restore --clean --if-exists` with the services stopped): a
/// deployment's schema is dumped, lost, restored, and a deployment started
/// on it knows the application, and its guarantee still verifies.
#[tokio::test]
async fn a_postgres_dump_restores_into_a_working_deployment() {
    use gw_tests::deploy::{Deployment, Kind};
    let d = Deployment::start(Kind::Services, &[]).await;
    let a = "TB-PGDUMP-1";
    d.issued(a).await;
    let pdf = loop {
        if let Some(x) = d.platform.downloads().into_iter().find(|x| x.applyno == a) {
            break x.bytes.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let schema = d.settings.database.schema.clone().unwrap();
    let dump = std::env::temp_dir().join(format!("{schema}.dump"));
    let url = gw_tests::database_url();
    let out = std::process::Command::new("pg_dump")
        .args(["-Fc", "-n", &schema, "-f"])
        .arg(&dump)
        .arg(&url)
        .output()
        .expect("pg_dump is not installed: install postgresql-client (see .ci/run)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The deployment stops and its schema is lost.
    d.stop().await;
    let restored = std::process::Command::new("pg_restore")
        .args(["--clean", "--if-exists", "-d", &url])
        .arg(&dump)
        .output()
        .unwrap();
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    std::fs::remove_file(&dump).unwrap();
    let d2 = Deployment::start(Kind::Services, &[("GW__DATABASE__SCHEMA", &schema)]).await;
    assert_eq!(d2.state(a).await, "issued");
    let r = verify_file(&d2.verify, pdf).await;
    assert_eq!(r["genuine"], true, "{r}");
    d2.stop().await;
}

/// On PostgreSQL a file's bytes are stored as they are (`STORAGE EXTERNAL`):
/// a PDF is deflated already, and trying to compress it again cost the
/// database CPU on every file for nothing. Even bytes that would compress
/// well are kept at their full size, and read back the same.
#[tokio::test]
async fn postgres_stores_file_bytes_without_compressing_them() {
    use gw_files::{FileKind, FileStore, NewFile};
    use gw_storage::sea_orm::{ConnectionTrait, Statement};
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let one = |sql: String| {
        let conn = h.db.conn().clone();
        async move {
            let stmt = Statement::from_string(conn.get_database_backend(), sql);
            let row = conn.query_one_raw(stmt).await.unwrap().unwrap();
            row.try_get_by_index::<String>(0).unwrap()
        }
    };
    assert_eq!(
        one("SELECT attstorage::text FROM pg_attribute \
             WHERE attrelid = 'files'::regclass AND attname = 'bytes'"
            .into())
        .await,
        "e"
    );
    let store = gw_files::DbFileStore::new(h.db.clone());
    let bytes = b"%PDF-1.7 compressible ".repeat(2000);
    let staged = store
        .upload(
            NewFile {
                kind: FileKind::Guarantee,
                applyno: Some("TB-EXTERNAL".into()),
                counterpart: COUNTERPART.into(),
                content_type: "application/pdf".into(),
            },
            bytes.clone().into(),
        )
        .await
        .unwrap();
    let txn = h.db.conn().begin().await.unwrap();
    let stored = store.record(&txn, staged).await.unwrap();
    txn.commit().await.unwrap();
    let size = one(format!(
        "SELECT pg_column_size(bytes)::text FROM files WHERE token = '{}'",
        stored.token
    ))
    .await;
    assert_eq!(size, bytes.len().to_string(), "stored at full size");
    let (_, back) = store.get(&stored.token).await.unwrap().unwrap();
    assert_eq!(back, bytes);
    h.cleanup().await;
}

/// The two row locks of the storage: a notice chain's and a named one.
#[derive(Clone, Copy, Debug)]
enum RowLock {
    Chain,
    Named,
}

impl RowLock {
    async fn take<C: gw_storage::sea_orm::ConnectionTrait>(self, conn: &C, key: &str) {
        match self {
            RowLock::Chain => gw_storage::notices::lock_chain(conn, &applyno(key))
                .await
                .unwrap(),
            RowLock::Named => gw_storage::locks::hold(conn, key).await.unwrap(),
        }
    }
}

/// A notice chain's lock and a named lock (PostgreSQL) hold until their
/// transaction ends, whether the lock's row is new or already there: a
/// second transaction taking the same one waits, one taking another does
/// not.
#[tokio::test]
async fn a_row_lock_holds_until_its_transaction_ends() {
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let (a, b) = ("TBCHAINLOCKA01", "TBCHAINLOCKB01");
    for lock in [RowLock::Chain, RowLock::Named] {
        for round in ["a new row", "an existing row"] {
            let first = h.db.conn().begin().await.unwrap();
            lock.take(&first, a).await;
            let second = tokio::spawn({
                let db = h.db.clone();
                async move {
                    let tx = db.conn().begin().await.unwrap();
                    lock.take(&tx, a).await;
                    tx.commit().await.unwrap();
                }
            });
            let other = h.db.conn().begin().await.unwrap();
            tokio::time::timeout(Duration::from_secs(2), lock.take(&other, b))
                .await
                .unwrap_or_else(|_| panic!("{lock:?}, {round}: another key waited"));
            other.commit().await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert!(
                !second.is_finished(),
                "{lock:?}, {round}: the second took the lock the first holds"
            );
            first.commit().await.unwrap();
            tokio::time::timeout(Duration::from_secs(5), second)
                .await
                .unwrap_or_else(|_| {
                    panic!("{lock:?}, {round}: the second still waits after the first ended")
                })
                .unwrap();
        }
    }
    h.cleanup().await;
}

/// Writes notice `id` of application `app` (a `paynotice`), through
/// `insert_if_absent` as a claim does, or as a plain insert.
async fn write_notice<C: gw_storage::sea_orm::ConnectionTrait>(
    c: &C,
    (id, app, after): (&str, &str, Option<&str>),
    state: gw_lifecycle::NoticeState,
    body: &str,
    if_absent: bool,
) {
    use gw_storage::notices::{self, NewNotice};
    let n = NewNotice {
        id,
        applyno: &applyno(app),
        counterpart: &counterpart(),
        interface: "paynotice",
        after_id: after,
        body,
        body_masked: "{}",
        state,
        last_error: None,
    };
    if if_absent {
        notices::insert_if_absent(c, n).await.unwrap();
    } else {
        notices::insert(c, n).await.unwrap();
    }
}

/// What [`gw_storage::notices::start_if_clear`] decides, on one backend.
async fn quick_claims(db: &Db) {
    use gw_lifecycle::{NoticeState, Resolution, State};
    use gw_storage::notices;
    let c = db.conn();
    let now = chrono::Utc::now();
    let until = now + chrono::Duration::seconds(30);
    let add = |id: &'static str, app: &'static str, after: Option<&'static str>| {
        write_notice(
            c,
            (id, app, after),
            NoticeState::Pending,
            r#"{"first":true}"#,
            true,
        )
    };
    let start = |id: &'static str, at: chrono::DateTime<chrono::Utc>| async move {
        notices::start_if_clear(c, id, until, at).await.unwrap()
    };

    // Nothing in its way: sending, with its lease and the attempt counted.
    add("q-a", "TB-QA", None).await;
    let s = start("q-a", now).await.expect("a free notice is claimed");
    assert_eq!(s.row.state, NoticeState::Sending);
    assert_eq!(s.row.attempts, 1);
    assert_eq!(s.row.body, r#"{"first":true}"#);
    assert!(
        s.row
            .sending_until
            .is_some_and(|u| (u - until).num_milliseconds().abs() < 5)
    );
    assert!(s.applied_at.is_none(), "no application row");
    // Its command again: recorded once, its state kept.
    let again = ("q-a", "TB-QA", None);
    write_notice(c, again, NoticeState::Pending, r#"{"first":false}"#, true).await;
    let row = notices::find(c, "q-a").await.unwrap().unwrap();
    assert_eq!(
        (row.state, row.body.as_str()),
        (NoticeState::Sending, r#"{"first":true}"#)
    );
    // Another call holds it until its lease ends.
    assert!(start("q-a", now).await.is_none(), "the lease holds");
    let again = start("q-a", until + chrono::Duration::seconds(1)).await;
    assert_eq!(again.expect("a lapsed lease").row.attempts, 2);

    // Behind a notice not yet delivered: not here (the locked claim parks it).
    add("q-b", "TB-QA", Some("q-a")).await;
    assert!(
        start("q-b", now).await.is_none(),
        "its predecessor is sending"
    );
    notices::set_state(c, "q-a", NoticeState::Retrying, Some("HTTP 503"))
        .await
        .unwrap();
    assert!(
        start("q-b", now).await.is_none(),
        "its predecessor is retrying"
    );
    notices::set_state(c, "q-a", NoticeState::Dead, Some("spent"))
        .await
        .unwrap();
    assert!(start("q-b", now).await.is_none(), "its predecessor is dead");
    notices::set_state(c, "q-a", NoticeState::Delivered, None)
        .await
        .unwrap();
    assert!(
        start("q-b", now).await.is_some(),
        "its predecessor is delivered"
    );
    add("q-c", "TB-QA", Some("q-x")).await;
    write_notice(
        c,
        ("q-x", "TB-QA", None),
        NoticeState::Suppressed,
        "{}",
        false,
    )
    .await;
    assert!(
        start("q-c", now).await.is_some(),
        "its predecessor is suppressed"
    );

    // Settled: never again.
    for state in [
        NoticeState::Delivered,
        NoticeState::Suppressed,
        NoticeState::Dead,
    ] {
        notices::set_state(c, "q-c", state, None).await.unwrap();
        assert!(start("q-c", now).await.is_none(), "{state}");
    }

    // Its application: when it arrived; a cancelled one takes no notice.
    let arrived = now - chrono::Duration::minutes(3);
    seed_application(db, "TB-QAPP", State::Approved, None, arrived).await;
    add("q-d", "TB-QAPP", None).await;
    let s = start("q-d", now)
        .await
        .expect("an approved application's notice");
    let applied = s.applied_at.expect("the application's arrival");
    assert!(
        (applied - arrived).num_milliseconds().abs() < 5,
        "{applied} vs {arrived}"
    );
    seed_application(db, "TB-QCAN", State::Cancelled, None, arrived).await;
    add("q-e", "TB-QCAN", None).await;
    assert!(start("q-e", now).await.is_none(), "a cancelled application");

    // A cancel not yet decided holds it; a refused one does not.
    seed_application(db, "TB-QPEND", State::Approved, None, arrived).await;
    gw_storage::cancels::request(c, &applyno("TB-QPEND"), &counterpart(), "1")
        .await
        .unwrap();
    add("q-f", "TB-QPEND", None).await;
    assert!(start("q-f", now).await.is_none(), "a cancel is pending");
    gw_storage::cancels::resolve(c, &applyno("TB-QPEND"), Resolution::Refused)
        .await
        .unwrap();
    assert!(start("q-f", now).await.is_some(), "the cancel was refused");

    // An unknown notice: nothing.
    assert!(start("q-none", now).await.is_none());
}

/// The quick claim of a notice sends only when nothing stands in its way,
/// alike on PostgreSQL and SQLite, and on PostgreSQL it does not wait for
/// the chain lock another transaction holds (the careful claim and the
/// record of the notice before it do).
#[tokio::test]
async fn a_notice_is_claimed_without_the_chain_lock_only_when_nothing_stands_in_its_way() {
    use gw_storage::notices;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    quick_claims(&h.db).await;

    on_sqlite(&ids, |db| async move { quick_claims(&db).await }).await;

    let held = h.db.conn().begin().await.unwrap();
    notices::lock_chain(&held, &applyno("TB-QLOCK"))
        .await
        .unwrap();
    let pending = gw_lifecycle::NoticeState::Pending;
    write_notice(
        h.db.conn(),
        ("q-lock", "TB-QLOCK", None),
        pending,
        "{}",
        true,
    )
    .await;
    let now = chrono::Utc::now();
    let started = tokio::time::timeout(
        Duration::from_secs(2),
        notices::start_if_clear(
            h.db.conn(),
            "q-lock",
            now + chrono::Duration::seconds(30),
            now,
        ),
    )
    .await
    .expect("the quick claim waited for the chain lock")
    .unwrap();
    assert!(started.is_some());
    held.commit().await.unwrap();
    h.cleanup().await;
}

/// A named counter on one backend: 1, 2, 3 from its first use, each name
/// on its own.
async fn counts(db: &Db) {
    use gw_storage::guarantees::next_in_sequence;
    let c = db.conn();
    for expected in 1..=3 {
        assert_eq!(next_in_sequence(c, "t:a").await.unwrap(), expected);
    }
    assert_eq!(next_in_sequence(c, "t:b").await.unwrap(), 1);
    assert_eq!(next_in_sequence(c, "t:a").await.unwrap(), 4);
}

/// Named counters (guarantee and invoice numbers) count from 1 on
/// PostgreSQL and SQLite, and on PostgreSQL transactions taking numbers at
/// once, from a counter none of them found, get each a different one with
/// no gap.
#[tokio::test]
async fn a_named_counter_counts_from_one_without_gaps_or_repeats() {
    use gw_storage::guarantees::next_in_sequence;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    counts(&h.db).await;
    on_sqlite(&ids, |db| async move { counts(&db).await }).await;

    // Four at once: the harness's pool has five connections.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(4));
    let takers: Vec<_> = (0..4)
        .map(|_| {
            let (db, start) = (h.db.clone(), start.clone());
            tokio::spawn(async move {
                let tx = db.conn().begin().await.unwrap();
                start.wait().await;
                let n = next_in_sequence(&tx, "t:race").await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                tx.commit().await.unwrap();
                n
            })
        })
        .collect();
    let mut got = Vec::new();
    for t in takers {
        got.push(t.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (1..=4).collect::<Vec<i64>>());
    h.cleanup().await;
}

/// The delivery of a notice records it without the chain lock (PostgreSQL):
/// a claim parking the notice after it reads it under its row lock, so the
/// two are ordered either way. When the delivery's update comes first, the
/// claim's read waits for it and sees it delivered; when the read comes
/// first, the delivery waits for the claim and then finds the successor
/// parked behind it.
#[tokio::test]
async fn a_delivery_and_a_successor_being_parked_are_ordered_by_the_row_lock() {
    use gw_lifecycle::NoticeState;
    use gw_storage::notices;
    let ids = TestIds::new();
    let h = Harness::new(ids.clone(), settings(&ids, "http://127.0.0.1:9", &[])).await;
    let add = |id: &'static str, after: Option<&'static str>| {
        let c = h.db.conn();
        write_notice(
            c,
            (id, "TB-ROWLOCK", after),
            NoticeState::Sending,
            "{}",
            false,
        )
    };

    // The delivery first: the claim's read waits, then sees it delivered.
    add("r-n1", None).await;
    let delivery = h.db.conn().begin().await.unwrap();
    notices::set_state(&delivery, "r-n1", NoticeState::Delivered, None)
        .await
        .unwrap();
    let read = tokio::spawn({
        let db = h.db.clone();
        async move {
            let tx = db.conn().begin().await.unwrap();
            let n = notices::find_for_share(&tx, "r-n1").await.unwrap().unwrap();
            tx.commit().await.unwrap();
            n.state
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !read.is_finished(),
        "the read did not wait for the delivery"
    );
    delivery.commit().await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("the read still waits after the delivery committed")
        .unwrap();
    assert_eq!(seen, NoticeState::Delivered);

    // The read first: the delivery waits, then finds the successor parked.
    add("r-n2", None).await;
    add("r-s2", Some("r-n2")).await;
    let claim = h.db.conn().begin().await.unwrap();
    let before = notices::find_for_share(&claim, "r-n2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(before.state, NoticeState::Sending);
    let delivery = tokio::spawn({
        let db = h.db.clone();
        async move {
            let tx = db.conn().begin().await.unwrap();
            notices::set_state(&tx, "r-n2", NoticeState::Delivered, None)
                .await
                .unwrap();
            let parked = notices::waiting_behind(&tx, "r-n2").await.unwrap();
            tx.commit().await.unwrap();
            parked.into_iter().map(|n| n.id).collect::<Vec<_>>()
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !delivery.is_finished(),
        "the delivery did not wait for the claim"
    );
    notices::set_state(&claim, "r-s2", NoticeState::Waiting, None)
        .await
        .unwrap();
    claim.commit().await.unwrap();
    let parked = tokio::time::timeout(Duration::from_secs(5), delivery)
        .await
        .expect("the delivery still waits after the claim ended")
        .unwrap();
    assert_eq!(parked, ["r-s2"], "the successor parked meanwhile is found");
    h.cleanup().await;
}
