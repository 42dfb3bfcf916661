//! What the pools report about themselves, read without locks.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::TokenStatus;
use crate::credentials::CredentialError;

/// Counters one pool keeps. Updated with relaxed atomics off the query path.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) opened: AtomicU64,
    pub(crate) failed_connects: AtomicU64,
    pub(crate) retired_aged_out: AtomicU64,
    pub(crate) closed_idle: AtomicU64,
    pub(crate) login_retries: AtomicU64,
    /// The last connect error, kept so a timeout can say what went wrong
    /// before it. Written only when a connect fails.
    pub(crate) last_error: Mutex<Option<String>>,
    /// Whether the last connect failed; a success since makes
    /// `last_error` history, no cause of a timeout.
    pub(crate) failing: std::sync::atomic::AtomicBool,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_error(&self, error: &dyn std::fmt::Display) {
        Self::bump(&self.failed_connects);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.to_string());
        self.failing.store(true, Ordering::Relaxed);
    }

    pub(crate) fn opened(&self) {
        Self::bump(&self.opened);
        self.failing.store(false, Ordering::Relaxed);
    }

    /// The last connect error, unless a connect has succeeded since.
    pub(crate) fn current_error(&self) -> Option<String> {
        self.failing
            .load(Ordering::Relaxed)
            .then(|| self.last_error())
            .flatten()
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What kind of failure the last token refresh met.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// Configuration: an identity that is not assigned, a wrong client id
    /// or secret. Retrying without a change will not help.
    Config,
    /// A passing fault: a timeout, throttling, a server error.
    Transient,
}

impl FailureKind {
    pub(crate) fn of(error: &CredentialError) -> Self {
        if error.is_config() {
            Self::Config
        } else {
            Self::Transient
        }
    }

    /// `"config"` or `"transient"`, for logs and metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Transient => "transient",
        }
    }
}

/// A snapshot of one pool.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolStatus {
    /// `"primary"` or `"read_only"`.
    pub name: &'static str,
    /// Connections open now, idle or in use.
    pub size: usize,
    /// The most connections the pool will open.
    pub max_size: usize,
    /// Idle connections ready to be handed out.
    pub idle: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Connections opened since the pool was built.
    pub opened: u64,
    /// Connection attempts that failed.
    pub failed_connects: u64,
    /// Connections closed because the token they logged in with expired.
    pub retired_aged_out: u64,
    /// Connections closed because they sat idle past `pg_keepalive_timeout`.
    pub closed_idle: u64,
    /// Logins retried with a newer token after the server refused one.
    pub login_retries: u64,
    /// The last connect error, if any connect has failed.
    pub last_error: Option<String>,
}

/// A snapshot of both pools and their token caches.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PoolsStatus {
    /// The primary pool.
    pub primary: PoolStatus,
    /// The read-only pool, when `pg_ro_host` is set.
    pub read_only: Option<PoolStatus>,
    /// One entry per token cache (one when both pools use the same
    /// identity, none without Entra authentication).
    pub tokens: Vec<TokenStatus>,
}
