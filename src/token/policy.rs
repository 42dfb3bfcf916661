//! When to refresh a token and how long to back off after a failure.

use std::time::Duration;

/// How the token cache refreshes its token.
///
/// The defaults suit Entra tokens (one hour for users and service
/// principals, up to 24 hours for managed identities) and also tokens that
/// live only seconds, as the quickstart's do.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// How long before expiry the refresh starts. Default: 5 minutes, which
    /// matches the window in which `azure_identity`'s own cache fetches a new
    /// token rather than handing back the one it holds. For a token whose
    /// lifetime is shorter than twice the margin, the refresh starts at half
    /// its lifetime instead.
    pub margin: Duration,
    /// First delay after a failed refresh. Default: 500 ms.
    pub min_backoff: Duration,
    /// Longest delay between two attempts. Default: 30 seconds.
    ///
    /// A failure of configuration (identity not assigned, bad secret, unknown
    /// application) waits this long before every retry rather than backing
    /// off from `min_backoff`: retrying quickly helps no one, while retrying
    /// at all lets the pools recover by themselves once the identity is
    /// assigned or the secret fixed. A `Retry-After` longer than this is
    /// honoured as asked.
    pub max_backoff: Duration,
    /// Longest time one token request may take before it counts as failed.
    /// Default: 30 seconds.
    pub fetch_timeout: Duration,
    /// Shortest time between two refreshes forced by the server refusing a
    /// login, so a misconfigured role cannot make the pool hammer the token
    /// endpoint. Default: 2 seconds.
    pub min_forced_interval: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(300),
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(30),
            min_forced_interval: Duration::from_secs(2),
        }
    }
}

/// The shortest wait between two token requests, whatever the token says,
/// so that nothing ever spins.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_millis(100);

impl RefreshPolicy {
    /// How long after receiving a token with `lifetime` left the refresh
    /// should start.
    pub(crate) fn refresh_after(&self, lifetime: Duration) -> Duration {
        let margin = self.margin.min(lifetime / 2);
        lifetime.saturating_sub(margin).max(MIN_INTERVAL)
    }

    /// The delay before attempt number `failures + 1`, given `failures`
    /// failed attempts in a row (at least 1) and a random `unit` in [0, 1).
    ///
    /// Exponential with "equal jitter": half the step is fixed, half is
    /// random, so retries from many processes spread out but none comes
    /// back sooner than half the step. A `Retry-After` from the server
    /// raises the delay to at least what it asked for.
    pub(crate) fn backoff(
        &self,
        failures: u32,
        unit: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        let step = self
            .min_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .max(MIN_INTERVAL);
        let jittered = step / 2 + step.mul_f64(unit.clamp(0.0, 1.0) / 2.0);
        match retry_after {
            Some(asked) => jittered.max(asked),
            None => jittered,
        }
    }
}

/// A random number in [0, 1), good enough for jitter, from the standard
/// library's randomly keyed hasher.
pub(crate) fn jitter_unit() -> f64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_refresh_one_margin_before_expiry() {
        let p = RefreshPolicy::default();
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(p.refresh_after(day), day - Duration::from_secs(300));
        let hour = Duration::from_secs(3599);
        assert_eq!(p.refresh_after(hour), Duration::from_secs(3299));
    }

    #[test]
    fn short_tokens_refresh_at_half_life() {
        let p = RefreshPolicy::default();
        assert_eq!(
            p.refresh_after(Duration::from_secs(10)),
            Duration::from_secs(5)
        );
        assert_eq!(
            p.refresh_after(Duration::from_secs(2)),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn an_expired_or_instant_token_never_means_refresh_now() {
        let p = RefreshPolicy::default();
        assert_eq!(p.refresh_after(Duration::ZERO), MIN_INTERVAL);
        assert_eq!(p.refresh_after(Duration::from_millis(10)), MIN_INTERVAL);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_stays_within_its_jitter_band() {
        let p = RefreshPolicy::default();
        for failures in 1..40 {
            let step = p
                .min_backoff
                .saturating_mul(1 << (failures - 1).min(20))
                .min(p.max_backoff);
            let low = p.backoff(failures, 0.0, None);
            let high = p.backoff(failures, 0.999_999, None);
            assert_eq!(low, step / 2, "failures = {failures}");
            assert!(
                high <= step && high > step * 99 / 100,
                "failures = {failures}"
            );
        }
        assert_eq!(p.backoff(1, 0.0, None), Duration::from_millis(250));
        assert_eq!(p.backoff(3, 0.0, None), Duration::from_millis(1000));
        assert_eq!(p.backoff(30, 0.0, None), Duration::from_secs(15));
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = RefreshPolicy::default();
        let asked = Duration::from_secs(7);
        assert!(p.backoff(1, 0.5, Some(asked)) >= asked);
        // A server asking for less than our own backoff does not shorten it.
        assert_eq!(
            p.backoff(30, 0.0, Some(Duration::from_secs(1))),
            Duration::from_secs(15)
        );
        // A server asking for more than the cap still gets what it asked.
        assert_eq!(
            p.backoff(1, 0.0, Some(Duration::from_secs(120))),
            Duration::from_secs(120)
        );
    }

    #[test]
    fn jitter_is_spread_over_the_unit_interval() {
        let samples: Vec<f64> = (0..1000).map(|_| jitter_unit()).collect();
        assert!(samples.iter().all(|u| (0.0..1.0).contains(u)));
        let low = samples.iter().filter(|u| **u < 0.5).count();
        assert!((350..650).contains(&low), "{low} of 1000 below one half");
    }
}
