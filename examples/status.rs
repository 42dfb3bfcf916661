//! Logs what the pools report about themselves, once a second, while a
//! small workload runs through a few token rotations.
//!
//! Everything runs on this machine: a throw-away PostgreSQL and a loopback
//! token endpoint whose tokens live 4 seconds (see `pg_entra_pool::testkit`).
//! In a service, keep only the `report` task: build the pools from your
//! settings and log `pools.status()` (or call `pools.export_metrics()` with
//! the `metrics` feature) on a timer.
//!
//! Run with `cargo run --example status --features testkit [-- SECONDS]`.

use std::time::Duration;

use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
use pg_entra_pool::{Pools, PoolsStatus, Settings};
use tracing::info;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);

    let cluster = tokio::task::spawn_blocking(TestCluster::start).await??;
    cluster.create_role("status_app", None).await?;
    let endpoint = TokenEndpoint::builder()
        .identity(None, "status_app")
        .lifetime(Duration::from_secs(4))
        .cluster(&cluster)
        .start()
        .await?;
    let settings = Settings {
        pg_ro_host: Some(cluster.host().to_owned()),
        ..cluster.entra_settings("status_app")
    };
    let pools = Pools::builder(settings)
        .transport(endpoint.transport())
        .retire_spread(Duration::from_secs(1))
        .build()
        .await?;

    // The part to keep: a timer that logs the status.
    let reporter = tokio::spawn({
        let pools = pools.clone();
        async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                report(&pools.status());
            }
        }
    });

    // A workload for the report to describe.
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    while tokio::time::Instant::now() < until {
        let (a, b) = tokio::join!(pools.primary().get(), pools.read_only().get());
        a?.simple_query("SELECT 1").await?;
        b?.simple_query("SELECT 1").await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reporter.abort();
    report(&pools.status());
    Ok(())
}

fn report(status: &PoolsStatus) {
    for pool in std::iter::once(&status.primary).chain(&status.read_only) {
        info!(
            pool = pool.name,
            size = pool.size,
            idle = pool.idle,
            waiting = pool.waiting,
            opened = pool.opened,
            retired_aged_out = pool.retired_aged_out,
            login_retries = pool.login_retries,
            "pool"
        );
    }
    for token in &status.tokens {
        let expires_in = token
            .expires_on
            .duration_since(std::time::SystemTime::now())
            .map_or(0, |d| d.as_secs());
        let refreshed_ago = token.refreshed_at.elapsed().map_or(0, |d| d.as_secs());
        info!(
            credential = %token.credential,
            fingerprint = %token.fingerprint,
            expires_in_s = expires_in,
            refreshed_s_ago = refreshed_ago,
            consecutive_failures = token.consecutive_failures,
            last_error_kind = token.last_error_kind.map(|k| k.as_str()),
            "token"
        );
    }
}
