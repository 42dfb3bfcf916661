//! Small helpers for tests that share a cluster and wait on real time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A name no other caller in this process gets: `{prefix}_{n}`, for roles
/// and databases in a shared cluster.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Checks `check` every 50 ms until it holds or `limit` has passed (with
/// one last check then); says whether it held. For waiting on token
/// lifetimes and server restarts, never for asserting speed.
pub async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    check().await
}
