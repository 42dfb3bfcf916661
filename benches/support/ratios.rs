//! The side-by-side table: each figure over its baseline, from the very
//! samples criterion measured in this run.
//!
//! Criterion measures benches one after the other, and on a 2-core machine
//! that shares its cores with PostgreSQL, what the machine does differs
//! from one bench to the next by more than the few percent in question.
//! So each candidate bench is paired: every criterion sample of it (an
//! `iter_custom` call) runs the same number of iterations of its baseline
//! right before or after (the order alternates), criterion gets the
//! candidate's time, and [`record_pair`] keeps both. Criterion calls the
//! routine during warm-up first, then once per sample, so the last
//! `sample_size` pairs are the samples.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

static PAIRS: Mutex<BTreeMap<String, Vec<(f64, f64)>>> = Mutex::new(BTreeMap::new());

/// Keeps one paired sample of `pair`: the time per iteration of the
/// candidate and of its baseline, measured back to back.
pub fn record_pair(pair: &str, iters: u64, candidate: Duration, baseline: Duration) {
    let per_iter = |d: Duration| d.as_secs_f64() / iters.max(1) as f64;
    PAIRS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(pair.to_owned())
        .or_default()
        .push((per_iter(candidate), per_iter(baseline)));
}

/// What a ratio must be.
#[derive(Clone, Copy)]
pub enum Goal {
    /// candidate / baseline at most this.
    AtMost(f64),
    /// baseline / candidate at least this ("n× faster").
    FasterBy(f64),
}

/// One line of the table.
pub struct Row {
    pub label: &'static str,
    /// The key given to [`record_pair`].
    pub pair: &'static str,
    pub goal: Goal,
}

/// Prints the table from the last `sample_size` pairs of each row (the
/// earlier ones are criterion's warm-up). The ratio is the median of the
/// per-sample ratios; the spread is a 95% bootstrap interval of that
/// median, then the 25th..75th percentile of the per-sample ratios.
pub fn print(title: &str, rows: &[Row], sample_size: usize) {
    let pairs = PAIRS.lock().unwrap_or_else(|p| p.into_inner());
    println!("\n{title}");
    println!(
        "{:<40} {:>10} {:>10} {:>7} {:>14} {:>14} {:>8} {:>4}",
        "bench", "candidate", "baseline", "ratio", "95% CI", "p25..p75", "goal", "met"
    );
    for row in rows {
        let Some(all) = pairs.get(row.pair) else {
            println!("{:<40} (not run)", row.label);
            continue;
        };
        let last = &all[all.len().saturating_sub(sample_size)..];
        let faster = matches!(row.goal, Goal::FasterBy(_));
        let ratios: Vec<f64> = last
            .iter()
            .map(|&(c, b)| if faster { b / c } else { c / b })
            .collect();
        let point = median(&ratios);
        let (lo, hi) = bootstrap_median(&ratios);
        let (goal, met) = match row.goal {
            Goal::AtMost(g) => (format!("<={g:.2}x"), point <= g),
            Goal::FasterBy(g) => (format!(">={g:.0}x"), point >= g),
        };
        let cand: Vec<f64> = last.iter().map(|p| p.0).collect();
        let base: Vec<f64> = last.iter().map(|p| p.1).collect();
        println!(
            "{:<40} {:>10} {:>10} {:>6.3}x {:>6.3}..{:<6.3} {:>6.3}..{:<6.3} {:>8} {:>4}",
            row.label,
            human(median(&cand)),
            human(median(&base)),
            point,
            lo,
            hi,
            percentile(&ratios, 0.25),
            percentile(&ratios, 0.75),
            goal,
            if met { "yes" } else { "NO" }
        );
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(xs: &[f64], q: f64) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// The 2.5th and 97.5th percentiles of the median over resamples.
fn bootstrap_median(xs: &[f64]) -> (f64, f64) {
    const ROUNDS: usize = 2000;
    // A fixed seed: the interval is a property of the samples, not of luck.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut medians: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            median(
                &(0..xs.len())
                    .map(|_| xs[next(xs.len())])
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    (medians[ROUNDS * 25 / 1000], medians[ROUNDS * 975 / 1000])
}

fn human(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{:.2} us", secs * 1e6)
    }
}
