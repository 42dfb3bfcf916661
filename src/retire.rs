//! Where a connection is retired: when its login token has expired, spread
//! over a window so a token rollover never turns into a reconnect storm,
//! and when it has sat idle past `pg_keepalive_timeout`.
//!
//! A background task per pool sweeps the idle connections a few times per
//! window, so handing a connection out costs nothing extra; a connection
//! that is checked out is never looked at, let alone closed.
//!
//! A connection's login token is the one that was current when the
//! connection joined the pool (the token cache remembers when each of its
//! last tokens was installed). A login that straddles a refresh is counted
//! with the newer token and so retired one rollover late, never early.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Metrics;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::status::Counters;
use crate::token::TokenCache;

/// Decides whether an idle connection should be closed.
pub(crate) struct Retirement {
    pub(crate) tokens: Option<Arc<TokenCache>>,
    pub(crate) keepalive: Option<Duration>,
    /// The widest window over which connections that logged in with the
    /// same token are retired.
    pub(crate) spread: Duration,
    pub(crate) counters: Arc<Counters>,
    /// Keys the hash that places each connection in the window.
    pub(crate) seed: RandomState,
}

/// Sweeps never come closer than this, nor further apart than
/// [`MAX_SWEEP`].
const MIN_SWEEP: Duration = Duration::from_millis(100);
const MAX_SWEEP: Duration = Duration::from_secs(1);

/// Why a connection is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    Idle,
    TokenExpired,
}

/// Stops the sweep task when the last clone of a pool goes.
#[derive(Debug)]
pub(crate) struct SweepTask(JoinHandle<()>);

impl Drop for SweepTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Retirement {
    /// Starts the sweep task for `pool`. It holds only a weak reference and
    /// ends once the pool is dropped.
    pub(crate) fn start(self, pool: &deadpool_postgres::Pool, name: &'static str) -> SweepTask {
        let weak = pool.weak();
        SweepTask(tokio::spawn(async move {
            // deadpool records when a connection was last handed out, not
            // when it came back: the first sweep that finds it idle (with
            // the same use count) stands in for that, one sweep late at
            // worst, never early.
            let mut idle_since: HashMap<(Instant, usize), Instant> = HashMap::new();
            loop {
                tokio::time::sleep(self.interval()).await;
                let Some(pool) = weak.upgrade() else {
                    return;
                };
                let now = Instant::now();
                let mut seen = HashMap::with_capacity(idle_since.len());
                let removed = pool
                    .retain(|_, metrics| {
                        let key = (metrics.created, metrics.recycle_count);
                        let since = idle_since.get(&key).copied().unwrap_or(now);
                        let keep = self.check(&metrics, since, now).is_none();
                        if keep {
                            seen.insert(key, since);
                        }
                        keep
                    })
                    .removed;
                idle_since = seen;
                if !removed.is_empty() {
                    debug!(
                        pool = name,
                        closed = removed.len(),
                        "idle connections retired"
                    );
                }
            }
        }))
    }

    /// A few sweeps per retirement window, so retirements spread as
    /// planned.
    fn interval(&self) -> Duration {
        let window = match &self.tokens {
            Some(tokens) => tokens.with_current(|t| {
                self.spread
                    .min(t.expires_at.saturating_duration_since(t.installed_at) / 2)
            }),
            None => MAX_SWEEP,
        };
        (window / 8).clamp(MIN_SWEEP, MAX_SWEEP)
    }

    fn check(&self, metrics: &Metrics, idle_since: Instant, now: Instant) -> Option<Reason> {
        if let Some(limit) = self.keepalive
            && now.saturating_duration_since(idle_since) > limit
        {
            Counters::bump(&self.counters.closed_idle);
            return Some(Reason::Idle);
        }
        let tokens = self.tokens.as_ref()?;
        let retire = tokens.with_current(|current| {
            let installed = current.installed_at.into_std();
            // Made with the current token.
            if metrics.created >= installed {
                return false;
            }
            // Never close a working connection while no new one can log in.
            if now >= current.expires_at.into_std() {
                return false;
            }
            let created = tokio::time::Instant::from_std(metrics.created);
            let Some(expired) = current.expiry_of_token_current_at(created) else {
                // Older than anything remembered: long expired.
                return true;
            };
            let expired = expired.into_std();
            let lifetime = current
                .expires_at
                .saturating_duration_since(current.installed_at);
            let window = self.spread.min(lifetime / 2);
            now >= expired + window.mul_f64(self.place(metrics.created))
        });
        if retire {
            Counters::bump(&self.counters.retired_aged_out);
            return Some(Reason::TokenExpired);
        }
        None
    }

    /// Where in the window this connection is retired, in [0, 1): fixed for
    /// the connection, different from its neighbours.
    fn place(&self, created: Instant) -> f64 {
        let h = self.seed.hash_one(created);
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}
