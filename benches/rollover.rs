//! Steady load across token rollovers: `get()` latency while connections
//! that logged in with an expired token are retired and replaced, next to
//! the same pool between rollovers, in one run.
//!
//! A custom measurement (criterion cannot tell the windows apart): 16
//! tasks check out, run `SELECT 1` and pause 2 ms, for 45 s, with tokens
//! that live 12 s and are refreshed 1 s before expiry. Every `get()` goes
//! into an HDR histogram: one for rollover windows (from a new token's
//! arrival until the retirement spread after the old one's expiry), one
//! for the rest. Exits non-zero if any query failed.

#[path = "support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use pg_entra_pool::RefreshPolicy;

use support::Entra;

const TASKS: usize = 16;
const RUN: Duration = Duration::from_secs(45);
const LIFETIME: Duration = Duration::from_secs(12);
const MARGIN: Duration = Duration::from_secs(1);
const SPREAD: Duration = Duration::from_secs(3);
const PAUSE: Duration = Duration::from_millis(2);

fn main() -> ExitCode {
    // `cargo bench -- <filter>`: run only when the filter names this bench.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if !filters.is_empty() && !filters.iter().any(|f| "rollover".contains(f.as_str())) {
        return ExitCode::SUCCESS;
    }
    support::runtime().block_on(run())
}

async fn run() -> ExitCode {
    let setup = Entra::new("rollover", LIFETIME).await;
    let mut policy = RefreshPolicy::default();
    policy.margin = MARGIN;
    let pools = setup
        .pools_with(setup.settings(TASKS, false), policy, Some(SPREAD))
        .await;
    let pool = pools.primary().clone();
    support::fill(&pool, TASKS).await;

    let base = (Instant::now(), SystemTime::now());
    let stop = Arc::new(AtomicBool::new(false));

    // Every token the cache installs: when it arrived and when it expires.
    let monitor = {
        let (pools, stop) = (pools.clone(), stop.clone());
        tokio::spawn(async move {
            let mut tokens: Vec<(SystemTime, SystemTime)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = &pools.status().tokens[0];
                if tokens.last().is_none_or(|last| last.1 != t.expires_on) {
                    tokens.push((t.refreshed_at, t.expires_on));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tokens
        })
    };

    let workers: Vec<_> = (0..TASKS)
        .map(|_| {
            let (pool, stop) = (pool.clone(), stop.clone());
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(1 << 16);
                let mut failures = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let start = Instant::now();
                    let result = pool.get().await;
                    let latency = start.elapsed();
                    let result = match result {
                        Ok(client) => client
                            .simple_query("SELECT 1")
                            .await
                            .map(drop)
                            .map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    match result {
                        Ok(()) => samples.push((start - base.0, latency)),
                        Err(e) => failures.push(e),
                    }
                    tokio::time::sleep(PAUSE).await;
                }
                (samples, failures)
            })
        })
        .collect();

    tokio::time::sleep(RUN).await;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for worker in workers {
        let (s, f) = worker.await.expect("load task");
        samples.extend(s);
        failures.extend(f);
    }
    let tokens = monitor.await.expect("monitor task");

    // Rollover windows, as offsets from the start of the run.
    let offset = |t: SystemTime| t.duration_since(base.1).unwrap_or(Duration::ZERO);
    let windows: Vec<(Duration, Duration)> = tokens
        .windows(2)
        .map(|w| (offset(w[1].0), offset(w[0].1) + SPREAD))
        .collect();

    let new_histogram =
        || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    let (mut rollover, mut steady) = (new_histogram(), new_histogram());
    for (at, latency) in &samples {
        let ns = (latency.as_nanos() as u64).max(1);
        let in_rollover = windows.iter().any(|(from, to)| at >= from && at <= to);
        let histogram = if in_rollover {
            &mut rollover
        } else {
            &mut steady
        };
        histogram.record(ns).expect("record");
    }

    let status = pools.status();
    println!("\nsteady load across token rollovers: get() latency");
    println!(
        "{} tasks, {:?} run, tokens live {:?}, refreshed {:?} before expiry, retired over {:?}",
        TASKS, RUN, LIFETIME, MARGIN, SPREAD
    );
    println!(
        "rollovers: {}, connections retired: {}, opened: {}, failed queries: {}",
        windows.len(),
        status.primary.retired_aged_out,
        status.primary.opened,
        failures.len()
    );
    println!(
        "{:<10} {:>9} {:>10} {:>10} {:>10}",
        "window", "gets", "p50", "p99", "max"
    );
    for (name, h) in [("steady", &steady), ("rollover", &rollover)] {
        println!(
            "{:<10} {:>9} {:>10} {:>10} {:>10}",
            name,
            h.len(),
            micros(h.value_at_quantile(0.5)),
            micros(h.value_at_quantile(0.99)),
            micros(h.max())
        );
    }
    let ratio = rollover.value_at_quantile(0.99) as f64 / steady.value_at_quantile(0.99) as f64;
    println!(
        "p99 rollover / steady: {ratio:.2}x (goal <= 1.50x: {})",
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );

    if !failures.is_empty() || windows.is_empty() || steady.is_empty() {
        eprintln!(
            "failed queries: {failures:?}; rollovers seen: {}",
            windows.len()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn micros(ns: u64) -> String {
    format!("{:.1} us", ns as f64 / 1e3)
}
