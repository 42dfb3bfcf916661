use std::time::{Duration, SystemTime};

use pg_entra_pool::Pools;

use crate::support::Setup;

/// Connections that logged in with a token that has since expired are
/// closed when next handed out, spread over a window rather than all at
/// once, and never while checked out.
#[tokio::test]
async fn aged_out_connections_are_retired_spread_out() {
    let setup = Setup::new("retire", Duration::from_secs(6)).await;
    let mut settings = setup.settings();
    settings.pg_pool_size = Some(8);
    let pools = Pools::builder(settings)
        .transport(setup.endpoint.transport())
        .retire_spread(Duration::from_secs(3))
        .build()
        .await
        .expect("pools");
    let pool = pools.primary();
    let first_expiry = pools.status().tokens[0].expires_on;

    // Open 8 connections with the first token; keep one checked out.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(pool.get().await.expect("connection"));
    }
    let pinned = held.pop().expect("one");
    drop(held);
    assert_eq!(pool.status().opened, 8);

    // Within the first token's life nothing is retired.
    let before = first_expiry
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(Duration::from_millis(300));
    tokio::time::sleep(before).await;
    for _ in 0..3 {
        let batch: Vec<_> = futures_batch(pool, 7).await;
        drop(batch);
    }
    assert_eq!(pool.status().retired_aged_out, 0, "retired before expiry");

    // After expiry the 7 idle connections go, each at its own point of a
    // window of 3 s.
    let mut samples = Vec::new();
    let deadline = first_expiry + Duration::from_millis(4500);
    while SystemTime::now() < deadline {
        let batch = futures_batch(pool, 7).await;
        drop(batch);
        let since = SystemTime::now()
            .duration_since(first_expiry)
            .unwrap_or_default();
        samples.push((since.as_millis(), pool.status().retired_aged_out));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = samples.last().expect("samples").1;
    assert!(total >= 7, "retired {total} of 7: {samples:?}");
    let partial = samples.iter().filter(|(_, n)| *n > 0 && *n < 7).count();
    assert!(partial >= 3, "retirements not spread out: {samples:?}");

    // The pinned connection was never closed under its user.
    pinned
        .simple_query("SELECT 1")
        .await
        .expect("pinned connection still works");
}

async fn futures_batch(pool: &pg_entra_pool::EntraPool, n: usize) -> Vec<pg_entra_pool::Object> {
    let mut batch = Vec::with_capacity(n);
    for _ in 0..n {
        batch.push(pool.get().await.expect("connection"));
    }
    batch
}

/// `pg_keepalive_timeout` counts idle time: a connection held longer than
/// the timeout and then handed back is not idle, and stays in the pool.
#[tokio::test]
async fn a_connection_held_past_the_keepalive_timeout_is_not_closed_as_idle() {
    let setup = Setup::new("held", Duration::from_secs(600)).await;
    let mut settings = setup.settings();
    settings.pg_keepalive_timeout = Some(2000);
    let pools = setup.pools(settings).await.expect("pools");
    let pool = pools.primary();

    let conn = pool.get().await.expect("connection");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    conn.simple_query("SELECT 1").await.expect("query");
    drop(conn);

    // More than one sweep (at most 1 s apart), less than the timeout.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let status = pool.status();
    assert_eq!(status.closed_idle, 0, "closed after 1.2 s idle: {status:?}");
    assert_eq!(status.idle, 1, "{status:?}");

    // Idle past the timeout (plus at most one sweep), it goes.
    let closed = pg_entra_pool::testkit::eventually(Duration::from_secs(4), async || {
        pool.status().closed_idle == 1
    })
    .await;
    assert!(closed, "{:?}", pool.status());
}
