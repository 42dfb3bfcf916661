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

    // The testkit's default login (SCRAM: the client stretches the 1 KB
    // token through 4096 HMAC rounds), then the one Azure uses for Entra
    // tokens (cleartext inside TLS), each with its own baselines.
    measure(&mut c, &rt, Mode::SCRAM);
    support::use_azure_login(true);
    measure(&mut c, &rt, Mode::AZURE);
    c.final_summary();

    for mode in [Mode::SCRAM, Mode::AZURE] {
        ratios::print(
            mode.title,
            &[
                Row {
                    label: "new connection vs plain",
                    pair: mode.vs_plain,
                    goal: Goal::AtMost(1.02),
                },
                Row {
                    label: "new connection vs per-connect fetch",
                    pair: mode.vs_per_connect,
                    goal: Goal::FasterBy(5.0),
                },
            ],
            SAMPLE_SIZE,
        );
    }
}

/// One login mode: its criterion group and the keys of its ratios.
struct Mode {
    group: &'static str,
    title: &'static str,
    vs_plain: &'static str,
    vs_per_connect: &'static str,
}

impl Mode {
    const SCRAM: Mode = Mode {
        group: "new_connection",
        title: "opening a new connection, token cache warm (SCRAM login)",
        vs_plain: "new_connection/plain",
        vs_per_connect: "new_connection/per_connect",
    };
    const AZURE: Mode = Mode {
        group: "new_connection_azure_login",
        title: "opening a new connection, token cache warm (cleartext-in-TLS login, as Azure's)",
        vs_plain: "new_connection_azure_login/plain",
        vs_per_connect: "new_connection_azure_login/per_connect",
    };
}

fn measure(c: &mut Criterion, rt: &tokio::runtime::Runtime, mode: Mode) {
    let (plain, per_connect, entra, setups) = rt.block_on(async {
        let plain = Plain::new().await.pool(POOL_SIZE, false);
        let hand = PerConnect::new().await;
        let per_connect = hand.pool(POOL_SIZE);
        let setup = Entra::new("connect", Duration::from_secs(3600)).await;
        let pools = setup.pools(setup.settings(POOL_SIZE, false)).await;
        let entra = pools.primary().clone();
        (plain, per_connect, entra, (setup, hand, pools))
    });

    let mut group = c.benchmark_group(mode.group);
    group.sampling_mode(SamplingMode::Flat);
    group.bench_function("plain", |b| {
        b.to_async(rt)
            .iter_custom(|iters| open(iters, plain.clone()))
    });
    group.bench_function("per_connect_fetch", |b| {
        b.to_async(rt)
            .iter_custom(|iters| open(iters, per_connect.clone()))
    });
    group.bench_function("entra", |b| {
        b.to_async(rt).iter_custom(|iters| {
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
                record_pair(mode.vs_plain, iters, times[0], times[1]);
                record_pair(mode.vs_per_connect, iters, times[0], times[2]);
                times[0]
            }
        })
    });
    group.finish();
    // The pools and endpoints live until their group is measured.
    rt.block_on(async move { drop(setups) });
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
