//! A bounded soak: 16 tasks of steady queries on both pools, tokens living
//! 2 seconds, the token endpoint failing at random one request in five.
//! Asserts no failed query and flat memory, and prints what happened.
//!
//! 15 seconds by default (part of the normal suite); set
//! `PG_ENTRA_SOAK_MINUTES=N` for a run of N minutes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pg_entra_pool::testkit::{Fault, TestCluster, TokenEndpoint};
use pg_entra_pool::{Pools, RefreshPolicy, Settings};

/// Resident set size in bytes, from /proc/self/statm.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_rotation_with_a_flaky_endpoint() {
    let length = match std::env::var("PG_ENTRA_SOAK_MINUTES") {
        Ok(m) => Duration::from_secs_f64(m.parse::<f64>().expect("minutes") * 60.0),
        Err(_) => Duration::from_secs(15),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_test_writer()
        .try_init();

    let cluster = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("cluster");
    cluster.create_role("soak_rw", None).await.unwrap();
    cluster.create_role("soak_ro", None).await.unwrap();
    let endpoint = TokenEndpoint::builder()
        .identity(Some("soak-rw-app"), "soak_rw")
        .identity(Some("soak-ro-app"), "soak_ro")
        .client_secret("soak-secret")
        .lifetime(Duration::from_secs(2))
        .cluster(&cluster)
        .start()
        .await
        .unwrap();
    let settings = Settings {
        pg_azure_client_id: Some("soak-rw-app".into()),
        pg_azure_client_secret: Some("soak-secret".into()),
        pg_azure_tenant_id: Some(endpoint.tenant().to_owned()),
        pg_timeout: Some(3000),
        pg_pool_size: Some(6),
        pg_ro_host: Some(cluster.host().to_owned()),
        pg_ro_user: Some("soak_ro".into()),
        pg_ro_azure_client_id: Some("soak-ro-app".into()),
        pg_ro_pool_size: Some(6),
        ..cluster.entra_settings("soak_rw")
    };
    let mut policy = RefreshPolicy::default();
    policy.min_backoff = Duration::from_millis(50);
    policy.max_backoff = Duration::from_millis(200);
    policy.fetch_timeout = Duration::from_secs(2);
    policy.min_forced_interval = Duration::from_millis(100);
    let pools = Pools::builder(settings)
        .transport(endpoint.transport())
        .refresh_policy(policy)
        .retire_spread(Duration::from_millis(500))
        .build()
        .await
        .expect("pools");
    endpoint.set_fault(Fault::one_in(
        5,
        Fault::status(503, r#"{"error":"temporarily_unavailable"}"#),
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let pool = if i % 2 == 0 {
            pools.primary().clone()
        } else {
            pools.read_only().clone()
        };
        let (stop, ok) = (stop.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let result = async {
                    let client = pool.get().await?;
                    let row = client.query_one("SELECT $1::int + 1", &[&i]).await?;
                    assert_eq!(row.get::<_, i32>(0), i + 1);
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                }
                .await;
                match result {
                    Ok(()) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => failures.push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            failures
        }));
    }

    // Memory after a warm-up of a third of the run (at most a minute).
    let started = Instant::now();
    let warm_up = (length / 3).min(Duration::from_secs(60));
    let mut samples = Vec::new();
    while started.elapsed() < length {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if started.elapsed() >= warm_up {
            samples.push(rss());
        }
    }
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }

    let status = pools.status();
    let rotations: u64 = status.tokens.iter().map(|t| t.tokens_installed).sum();
    let requests: u64 = status.tokens.iter().map(|t| t.token_requests).sum();
    let ro = status.read_only.clone().expect("read-only pool");
    let retired = status.primary.retired_aged_out + ro.retired_aged_out;
    let login_retries = status.primary.login_retries + ro.login_retries;
    let third = samples.len() / 3;
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len().max(1) as u64;
    let (early, late) = (
        mean(&samples[..third.max(1)]),
        mean(&samples[samples.len() - third.max(1)..]),
    );
    println!(
        "soak {:?}: rotations {rotations}, token requests {requests} ({} failed or stale), \
         login retries {login_retries}, connections retired {retired}, queries ok {}, \
         failed {}, rss {} KiB -> {} KiB",
        length,
        requests - rotations,
        ok.load(Ordering::Relaxed),
        failures.len(),
        early / 1024,
        late / 1024,
    );
    assert!(
        failures.is_empty(),
        "failed queries: {:?}",
        &failures[..failures.len().min(10)]
    );
    assert!(ok.load(Ordering::Relaxed) > 1000);
    assert!(
        rotations as f64 >= length.as_secs_f64() / 2.0,
        "{rotations} rotations"
    );
    assert!(requests > rotations, "the endpoint never failed");
    // Flat: the late mean within 8 MiB + 10% of the early one.
    assert!(
        late <= early + 8 * 1024 * 1024 + early / 10,
        "memory grew: {} KiB -> {} KiB",
        early / 1024,
        late / 1024
    );
    drop(pools);
    drop(endpoint);
    drop(cluster);
}
