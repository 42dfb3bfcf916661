//! Cold start: pools built from nothing, then 64 concurrent `get()` on the
//! empty primary and read-only pools; exactly one token request.

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};

use support::ratios::{self, Goal, Row};
use support::{Checkout, Entra, Plain};

const SAMPLE_SIZE: usize = 10;
/// Each of the two pools.
const POOL_SIZE: usize = 8;
const GETS: usize = 64;

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    let rt = support::runtime();

    let (plain, entra) = rt.block_on(async {
        let plain = Plain::new().await;
        let entra = Entra::new("cold", Duration::from_secs(3600)).await;
        (plain, entra)
    });

    let mut group = c.benchmark_group("cold_start");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("plain", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| plain_cold(&plain, iters))
    });
    group.bench_function("entra", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (plain, entra) = (&plain, &entra);
            async move {
                let candidate = entra_cold(entra, iters);
                support::paired("cold_start", iters, candidate, plain_cold(plain, iters)).await
            }
        })
    });
    group.finish();
    c.final_summary();

    ratios::print(
        "cold start: build both pools, 64 concurrent get() + SELECT 1",
        &[Row {
            label: "cold start vs plain",
            pair: "cold_start",
            goal: Goal::AtMost(1.1),
        }],
        SAMPLE_SIZE,
    );
}

/// Builds two plain pools (the second with read-only sessions) and serves
/// 64 concurrent checkouts; the pools are dropped outside the timing.
async fn plain_cold(plain: &Plain, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let start = Instant::now();
        let primary = plain.pool(POOL_SIZE, false);
        let read_only = plain.pool(POOL_SIZE, true);
        serve(&primary, &read_only).await;
        total += start.elapsed();
    }
    total
}

/// The same with this crate's pools, which fetch the token first. Fails
/// the bench unless exactly one token request was made.
async fn entra_cold(entra: &Entra, iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let before = entra.endpoint.requests();
        let start = Instant::now();
        let pools = entra.pools(entra.settings(POOL_SIZE, true)).await;
        serve(pools.primary(), pools.read_only()).await;
        total += start.elapsed();
        let requests = entra.endpoint.requests() - before;
        assert_eq!(requests, 1, "token requests in one cold start");
    }
    total
}

/// 64 concurrent checkouts with `SELECT 1`, alternating between the pools.
async fn serve(primary: &impl Checkout, read_only: &impl Checkout) {
    let tasks: Vec<_> = (0..GETS)
        .map(|i| {
            let (primary, read_only) = (primary.clone(), read_only.clone());
            tokio::spawn(async move {
                let client = if i % 2 == 0 {
                    primary.checkout().await
                } else {
                    read_only.checkout().await
                };
                client.simple_query("SELECT 1").await.expect("query");
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("checkout task");
    }
}
