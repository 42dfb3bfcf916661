//! One token as the pools see it.

use std::fmt;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use crate::Secret;

/// A token with what the pools need to know about it. Immutable: a refresh
/// installs a new snapshot.
pub(crate) struct TokenSnapshot {
    /// Counts installed tokens, from 1.
    pub(crate) generation: u64,
    pub(crate) token: Secret,
    pub(crate) expires_at: Instant,
    /// The same instant on the wall clock, for status reports.
    pub(crate) expires_on: SystemTime,
    pub(crate) installed_at: Instant,
    /// `(installed_at, expires_at)` of this token and the ones before it,
    /// newest first, so a connection's login token can be told from the
    /// time the connection was made.
    pub(crate) lineage: Vec<(Instant, Instant)>,
    /// The first eight hex digits of the token's SHA-256: enough to tell
    /// tokens apart in logs, useless to an attacker.
    pub(crate) fingerprint: String,
}

impl TokenSnapshot {
    pub(crate) fn new(
        generation: u64,
        token: Secret,
        expires_in: Duration,
        previous: Option<&TokenSnapshot>,
    ) -> Self {
        let now = Instant::now();
        let mut lineage = Vec::with_capacity(LINEAGE);
        lineage.push((now, now + expires_in));
        if let Some(p) = previous {
            lineage.extend(p.lineage.iter().take(LINEAGE - 1));
        }
        Self {
            generation,
            fingerprint: fingerprint(token.expose()),
            token,
            expires_at: now + expires_in,
            expires_on: SystemTime::now() + expires_in,
            installed_at: now,
            lineage,
        }
    }

    /// Whether the token has expired at `now`.
    pub(crate) fn is_expired_at(&self, now: Instant) -> bool {
        now >= self.expires_at
    }

    /// When the token that was current at `instant` expires, if it is
    /// still remembered.
    pub(crate) fn expiry_of_token_current_at(&self, instant: Instant) -> Option<Instant> {
        self.lineage
            .iter()
            .find(|(installed, _)| *installed <= instant)
            .map(|(_, expires)| *expires)
    }

    /// The time left before expiry.
    pub(crate) fn remaining(&self) -> Duration {
        self.expires_at.saturating_duration_since(Instant::now())
    }
}

impl fmt::Debug for TokenSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSnapshot")
            .field("generation", &self.generation)
            .field("fingerprint", &self.fingerprint)
            .field("expires_in", &self.remaining())
            .finish_non_exhaustive()
    }
}

/// How many tokens a snapshot remembers.
const LINEAGE: usize = 8;

pub(crate) fn fingerprint(token: &str) -> String {
    let digest = openssl::sha::sha256(token.as_bytes());
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_fingerprint_not_the_token() {
        let s = TokenSnapshot::new(
            1,
            Secret::new("eyJ0b2tlbi1ib2R5"),
            Duration::from_secs(60),
            None,
        );
        assert_eq!(s.lineage.len(), 1);
        let printed = format!("{s:?}");
        assert!(!printed.contains("eyJ0b2tlbi1ib2R5"));
        assert!(printed.contains(&s.fingerprint));
        assert_eq!(s.fingerprint.len(), 8);
        assert_ne!(fingerprint("a"), fingerprint("b"));
    }
}
