//! Opening a new connection with a warm token cache, next to plain
//! deadpool-postgres and to the hand-written pattern that asks the
//! credential for a token on every connect.

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode};

use support::ratios::{self, Goal, Row, record_pair};
use support::{Checkout, Entra, PerConnect, Plain};

const SAMPLE_SIZE: usize = 15;
const POOL_SIZE: usize = 4;

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = support::runtime();

    let (plain, per_connect, entra, _setups) = rt.block_on(async {
        let plain = Plain::new().await.pool(POOL_SIZE, false);
        let hand = PerConnect::new().await;
        let per_connect = hand.pool(POOL_SIZE);
        let setup = Entra::new("connect", Duration::from_secs(3600)).await;
        let pools = setup.pools(setup.settings(POOL_SIZE, false)).await;
        let entra = pools.primary().clone();
        (plain, per_connect, entra, (setup, hand, pools))
    });

    let mut group = c.benchmark_group("new_connection");
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("plain", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| open(iters, plain.clone()))
    });
    group.bench_function("per_connect_fetch", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| open(iters, per_connect.clone()))
    });
    group.bench_function("entra", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (plain, per_connect, entra) = (plain.clone(), per_connect.clone(), entra.clone());
            async move {
                // All three back to back, in an order that rotates.
                static CALLS: AtomicUsize = AtomicUsize::new(0);
                let mut times = [Duration::ZERO; 3];
                let first = CALLS.fetch_add(1, Ordering::Relaxed);
                for k in 0..3 {
                    let which = (first + k) % 3;
                    times[which] = match which {
                        0 => open(iters, entra.clone()).await,
                        1 => open(iters, plain.clone()).await,
                        _ => open(iters, per_connect.clone()).await,
                    };
                }
                record_pair("new_connection/plain", iters, times[0], times[1]);
                record_pair("new_connection/per_connect", iters, times[0], times[2]);
                times[0]
            }
        })
    });
    group.finish();
    c.final_summary();

    ratios::print(
        "opening a new connection, token cache warm",
        &[
            Row {
                label: "new connection vs plain",
                pair: "new_connection/plain",
                goal: Goal::AtMost(1.02),
            },
            Row {
                label: "new connection vs per-connect fetch",
                pair: "new_connection/per_connect",
                goal: Goal::FasterBy(5.0),
            },
        ],
        SAMPLE_SIZE,
    );
}

/// Opens `iters` new connections one after another: each checkout finds
/// the pool empty and the connection is taken out of it and closed.
async fn open(iters: u64, pool: impl Checkout) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let object = pool.checkout().await;
        drop(deadpool_postgres::Object::take(object));
    }
    start.elapsed()
}
