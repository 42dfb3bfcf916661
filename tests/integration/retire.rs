use std::time::Duration;

use crate::support::Setup;

/// Connections that logged in with a token that has since expired are
/// closed when next handed out, spread over a window rather than all at
/// once, and never while checked out.
#[tokio::test]
async fn aged_out_connections_are_retired_spread_out() {
    let setup = Setup::new("retire", Duration::from_secs(4)).await;
    let mut settings = setup.settings();
    settings.pg_pool_size = Some(8);
    let pools = setup.pools(settings).await.expect("pools");
    let pool = pools.primary();

    // Open 8 connections with the first token; keep one checked out.
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(pool.get().await.expect("connection"));
    }
    let pinned = held.pop().expect("one");
    drop(held);
    assert_eq!(pool.status().opened, 8);

    // Within the first token's life nothing is retired.
    for _ in 0..20 {
        let _client = pool.get().await.expect("connection");
    }
    assert_eq!(pool.status().retired_aged_out, 0);

    // Past expiry (4 s) the window is at most half a lifetime (2 s). Sample
    // retirements over time: they must not all happen in the first instant.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let mut seen = Vec::new();
    for _ in 0..25 {
        let mut batch = Vec::new();
        for _ in 0..7 {
            batch.push(pool.get().await.expect("connection"));
        }
        drop(batch);
        seen.push(pool.status().retired_aged_out);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total = *seen.last().unwrap();
    assert!(total >= 7, "retired {total} of 7 idle aged-out connections: {seen:?}");
    assert!(seen[0] < 7, "all retired at once: {seen:?}");

    // The pinned connection was never closed under its user.
    pinned.simple_query("SELECT 1").await.expect("pinned connection still works");
}
