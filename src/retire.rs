//! Where a connection is retired: when its login token has expired, spread
//! over a window so a token rollover never turns into a reconnect storm,
//! and when it has sat idle past `pg_keepalive_timeout`.
//!
//! A connection's login token is the one that was current when the
//! connection joined the pool (the token cache remembers when each of its
//! last tokens was installed). A login that straddles a refresh is counted
//! with the newer token and so retired one rollover late, never early.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, HookError, Metrics};

use crate::status::Counters;
use crate::token::TokenCache;

/// Decides, each time an idle connection is about to be handed out,
/// whether it should be closed instead.
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

impl Retirement {
    // TODO: bare checkout is 1.16x plain deadpool (goal 1.05x); see BENCHMARKS.md.
    pub(crate) fn into_hook(self) -> deadpool_postgres::Hook {
        deadpool_postgres::Hook::sync_fn(move |_client: &mut ClientWrapper, metrics: &Metrics| {
            self.check(metrics, Instant::now())
        })
    }

    fn check(&self, metrics: &Metrics, now: Instant) -> Result<(), HookError> {
        // `now` is read once per check, by the caller: clock reads are a
        // fair part of what a checkout costs.
        let last_used = metrics.recycled.unwrap_or(metrics.created);
        if let Some(limit) = self.keepalive
            && now.saturating_duration_since(last_used) > limit
        {
            Counters::bump(&self.counters.closed_idle);
            return Err(HookError::message("idle longer than pg_keepalive_timeout"));
        }
        let Some(tokens) = &self.tokens else {
            return Ok(());
        };
        let retire = tokens.with_current(|current| {
            let installed = current.installed_at.into_std();
            // Fast path: made with the current token.
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
            return Err(HookError::message("login token has expired"));
        }
        Ok(())
    }

    /// Where in the window this connection is retired, in [0, 1): fixed for
    /// the connection, different from its neighbours.
    fn place(&self, created: Instant) -> f64 {
        let h = self.seed.hash_one(created);
        (h >> 11) as f64 / (1u64 << 53) as f64
    }
}
