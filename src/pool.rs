//! One pool: deadpool-postgres with an Entra-aware connect step and
//! retirement sweep, and a `get` that says what went wrong.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, PoolError, TimeoutType};
use tokio::time::Instant;

use crate::Error;
use crate::status::{Counters, PoolStatus};
use crate::token::TokenCache;

/// A PostgreSQL pool whose connections log in with the current Entra token
/// (or a static password when `pg_azure_auth` is off).
///
/// Cheap to clone; clones share the pool. Connections are plain
/// deadpool-postgres [`Object`]s: `prepare_cached`, transactions and
/// [`GenericClient`](crate::GenericClient) work as usual.
#[derive(Clone)]
pub struct EntraPool {
    pub(crate) name: &'static str,
    pub(crate) pool: deadpool_postgres::Pool,
    pub(crate) tokens: Option<Arc<TokenCache>>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) backlog: Option<usize>,
    /// The role the pool logs in as, for error messages.
    pub(crate) user: String,
    /// Ends the retirement sweep with the last clone.
    pub(crate) _sweeper: Arc<crate::retire::SweepTask>,
}

impl std::fmt::Debug for EntraPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntraPool")
            .field("name", &self.name)
            .field("status", &self.pool.status())
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl EntraPool {
    /// Takes an idle connection, or opens one with the current token.
    ///
    /// # Errors
    /// - [`Error::TokenUnavailable`] at once when the token has expired,
    ///   refreshing it fails and no idle connection is left (connections
    ///   already open keep serving).
    /// - [`Error::Postgres`] with the server's message and SQLSTATE when it
    ///   refuses the login (after one retry with a newer token) or cannot be
    ///   reached.
    /// - [`Error::Backlog`] when more callers wait than `pg_backlog` allows.
    /// - [`Error::Timeout`] when no connection frees up within
    ///   `pg_semaphore_timeout`, or opening one takes longer than
    ///   `pg_timeout`; it carries the last connect error if there was one.
    pub async fn get(&self) -> Result<Object, Error> {
        if let Some(limit) = self.backlog
            && self.pool.status().waiting >= limit
        {
            return Err(Error::Backlog { limit });
        }
        if let Some(err) = self.token_unavailable()
            && self.pool.status().available == 0
        {
            return Err(err);
        }
        match self.pool.get().await {
            Ok(object) => Ok(object),
            Err(e) => Err(self.explain(e)),
        }
    }

    /// The deadpool-postgres pool underneath, for what this type does not
    /// wrap (resizing, `retain`, custom timeouts). Its `get` skips the
    /// checks and error mapping of [`EntraPool::get`].
    pub fn deadpool(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// Counts and sizes, read without locks.
    pub fn status(&self) -> PoolStatus {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.pool.status();
        let c = &self.counters;
        PoolStatus {
            name: self.name,
            size: s.size,
            max_size: s.max_size,
            idle: s.available,
            waiting: s.waiting,
            opened: c.opened.load(Relaxed),
            failed_connects: c.failed_connects.load(Relaxed),
            retired_aged_out: c.retired_aged_out.load(Relaxed),
            closed_idle: c.closed_idle.load(Relaxed),
            login_retries: c.login_retries.load(Relaxed),
            last_error: c.last_error(),
        }
    }

    /// The error to return at once when no new connection can log in.
    fn token_unavailable(&self) -> Option<Error> {
        let tokens = self.tokens.as_ref()?;
        // Refreshes failing is rare and one atomic load to learn: ask that
        // first, and read the clock only then (this runs on every `get`).
        let last = tokens.last_error()?;
        if !tokens.with_current(|t| t.is_expired_at(Instant::now())) {
            return None;
        }
        Some(Error::TokenUnavailable {
            last_error: last.to_string(),
            consecutive_failures: tokens.consecutive_failures(),
        })
    }

    fn explain(&self, e: PoolError) -> Error {
        match e {
            PoolError::Backend(pg) => {
                // A login refused because the token expired is better told by
                // the credential's own error.
                let refused = crate::connect::is_login_refused(&pg);
                match self.token_unavailable() {
                    Some(token_error) if refused => token_error,
                    _ if refused && self.tokens.is_some() => Error::LoginRefused {
                        user: self.user.clone(),
                        error: pg,
                    },
                    _ => Error::Postgres(pg),
                }
            }
            PoolError::Timeout(kind) => {
                let timeouts = self.pool.timeouts();
                let (waiting_for, after) = match kind {
                    TimeoutType::Wait => ("a free connection", timeouts.wait),
                    TimeoutType::Create => ("a new connection", timeouts.create),
                    TimeoutType::Recycle => ("a connection check", timeouts.recycle),
                };
                Error::Timeout {
                    waiting_for,
                    after: after.unwrap_or(Duration::ZERO),
                    last_error: self.counters.current_error(),
                }
            }
            PoolError::Closed => Error::Closed,
            // This crate sets a runtime and no post-create hook, so neither
            // can happen; say what deadpool said if it ever does.
            other @ (PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_)) => {
                Error::Pool(other.to_string())
            }
        }
    }
}
