//! The hot path: taking an idle connection (and running `SELECT 1` on it),
//! next to plain deadpool-postgres with a static password.

#[path = "support/mod.rs"]
mod support;

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;

use support::ratios::{self, Goal, Row};
use support::{Checkout, Entra, Plain, concurrent};

/// Both pools hold this many connections, all open before measuring.
const POOL_SIZE: usize = 16;
const SAMPLE_SIZE: usize = 40;

fn main() {
    let mut c = Criterion::default()
        .sample_size(SAMPLE_SIZE)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let rt = support::runtime();

    let (plain, entra, _setup) = rt.block_on(async {
        let plain = Plain::new().await.pool(POOL_SIZE, false);
        let setup = Entra::new("checkout", Duration::from_secs(3600)).await;
        let pools = setup.pools(setup.settings(POOL_SIZE, false)).await;
        let entra = pools.primary().clone();
        support::fill(&plain, POOL_SIZE).await;
        support::fill(&entra, POOL_SIZE).await;
        (plain, entra, setup)
    });

    let mut group = c.benchmark_group("checkout_select1");
    for tasks in [1, 16] {
        let pair = format!("checkout_select1/{tasks}");
        group.bench_function(format!("plain/{tasks}"), |b| {
            b.to_async(&rt)
                .iter_custom(|iters| select1(tasks, iters, plain.clone()))
        });
        group.bench_function(format!("entra/{tasks}"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (plain, entra, pair) = (plain.clone(), entra.clone(), pair.clone());
                async move {
                    let candidate = select1(tasks, iters, entra);
                    support::paired(&pair, iters, candidate, select1(tasks, iters, plain)).await
                }
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("checkout_only");
    group.bench_function("plain", |b| {
        b.to_async(&rt)
            .iter_custom(|iters| checkout_only(iters, plain.clone()))
    });
    group.bench_function("entra", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            let (plain, entra) = (plain.clone(), entra.clone());
            async move {
                let candidate = checkout_only(iters, entra);
                support::paired(
                    "checkout_only",
                    iters,
                    candidate,
                    checkout_only(iters, plain),
                )
                .await
            }
        })
    });
    group.finish();
    c.final_summary();

    ratios::print(
        "token auth over plain deadpool-postgres, idle connections",
        &[
            Row {
                label: "checkout + SELECT 1, 1 task",
                pair: "checkout_select1/1",
                goal: Goal::AtMost(1.02),
            },
            Row {
                label: "checkout + SELECT 1, 16 tasks",
                pair: "checkout_select1/16",
                goal: Goal::AtMost(1.02),
            },
            Row {
                label: "checkout and return, no query",
                pair: "checkout_only",
                goal: Goal::AtMost(1.05),
            },
        ],
        SAMPLE_SIZE,
    );
}

/// Checkout, `SELECT 1`, return: `iters` times over `tasks` tasks.
async fn select1(tasks: usize, iters: u64, pool: impl Checkout) -> Duration {
    concurrent(tasks, iters, move || {
        let pool = pool.clone();
        async move {
            let client = pool.checkout().await;
            black_box(client.simple_query("SELECT 1").await.expect("query"));
        }
    })
    .await
}

/// Checkout and return, nothing else: `iters` times in one task.
async fn checkout_only(iters: u64, pool: impl Checkout) -> Duration {
    concurrent(1, iters, move || {
        let pool = pool.clone();
        async move {
            drop(black_box(pool.checkout().await));
        }
    })
    .await
}
