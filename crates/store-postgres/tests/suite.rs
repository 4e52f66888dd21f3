//! The shared store suite, on PostgreSQL. Each test gets its own schema.
//! Set TOKENWISE_TEST_POSTGRES_URL (CI does); without it these tests are
//! skipped, unless TOKENWISE_REQUIRE_POSTGRES=1 makes that a failure.

// Tests fail by panicking, and a scenario may run long.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::too_many_lines)]

use async_trait::async_trait;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokenwise_ledger::Store;
use tokenwise_store_postgres::PgStore;
use tokenwise_store_tests::{Backend, store_suite};

static NEXT: AtomicU32 = AtomicU32::new(0);

struct Pg {
    base: String,
    schema: String,
    url: String,
    store: Arc<PgStore>,
}

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(conn);
    client
}

async fn make() -> Option<Pg> {
    let Ok(base) = std::env::var("TOKENWISE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("TOKENWISE_REQUIRE_POSTGRES").is_err(),
            "TOKENWISE_REQUIRE_POSTGRES is set but TOKENWISE_TEST_POSTGRES_URL is not"
        );
        return None;
    };
    let schema = format!("tw_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    let admin = raw(&base).await;
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
    let store = Arc::new(PgStore::connect(&url, 8).await.unwrap());
    Some(Pg { base, schema, url, store })
}

#[async_trait]
impl Backend for Pg {
    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    async fn reopen(&self) -> Arc<dyn Store> {
        Arc::new(PgStore::connect(&self.url, 4).await.unwrap())
    }

    async fn tamper_audit_subject(&self, seq: i64, subject: &str) {
        let c = raw(&self.url).await;
        c.batch_execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only").await.unwrap();
        c.execute("UPDATE audit_log SET subject = $1 WHERE seq = $2", &[&subject, &seq]).await.unwrap();
    }

    async fn raw_update_audit(&self, seq: i64) -> Result<(), String> {
        let c = raw(&self.url).await;
        c.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", &[&seq])
            .await
            .map(|_| ())
            .map_err(|e| e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string()))
    }

    async fn cut_revocation_listener(&self) -> bool {
        let pid = self.store.revocation_listener_pid().expect("the listener is connected");
        let c = raw(&self.base).await;
        let cut: bool = c.query_one("SELECT pg_terminate_backend($1)", &[&pid]).await.unwrap().get(0);
        assert!(cut, "no backend {pid} to terminate");
        true
    }

    async fn execute_raw(&self, sql: &str) {
        raw(&self.url).await.batch_execute(sql).await.unwrap();
    }

    /// Drops the test's schema. The store may still be folding roll-ups in
    /// the background (50 ms after a commit), and a fold's locks can
    /// deadlock with the drop's: PostgreSQL then cancels one side, so the
    /// drop is tried again.
    async fn cleanup(&self) {
        let c = raw(&self.base).await;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        let deadlock = Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED);
        let mut attempt = 1;
        while let Err(e) = c.batch_execute(&sql).await {
            assert!(attempt < 5 && e.code() == deadlock, "cannot drop {}: {e}", self.schema);
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

store_suite!(make);

/// A reader of a roll-up waits for a fold under way (here: a transaction
/// holding a pending batch, as a fold holds the batches it takes) and then
/// counts its events; it never reads the roll-up without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roll_up_reader_waits_for_a_fold_under_way() {
    let Some(pg) = make().await else { return };
    let writer = pg.store();
    let reader = pg.reopen().await;
    let day = "2026-08-10T00:00:00Z".parse::<jiff::Timestamp>().unwrap();
    let (from, to) = (day, day + jiff::SignedDuration::from_hours(24));
    let mut holder = raw(&pg.url).await;
    for attempt in 0..5 {
        let e = tokenwise_store_tests::bare_event(&format!("wait-{attempt}"), day, "ana", "sales", 7);
        writer.insert_events(std::slice::from_ref(&e)).await.unwrap();
        // Take the batch before the writer's own fold does (it waits 50 ms).
        let tx = holder.transaction().await.unwrap();
        let held = tx.query("SELECT seq FROM rollup_pending FOR UPDATE", &[]).await.unwrap().len();
        if held == 0 {
            tx.rollback().await.unwrap();
            continue;
        }
        let r = reader.clone();
        let read = tokio::spawn(async move { r.activity(from, to).await.unwrap() });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert!(!read.is_finished(), "the reader did not wait for the batch being folded");
        tx.commit().await.unwrap();
        let rows = read.await.unwrap();
        assert_eq!(rows.iter().map(|r| r.calls).sum::<u64>(), attempt + 1, "every stored call counted");
        pg.cleanup().await;
        return;
    }
    panic!("the writer's fold took every batch before this test could hold one");
}
