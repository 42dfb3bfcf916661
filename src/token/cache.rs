//! The token cache and the task that keeps it fresh.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use azure_core::credentials::AccessToken;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::{RefreshPolicy, TokenSnapshot, jitter_unit};
use crate::Secret;
use crate::credentials::{Attempt, CredentialChain, CredentialError};
use crate::status::FailureKind;

/// What a token cache reports about itself. Never holds the token.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TokenStatus {
    /// The credential in use (or the ones that will be tried).
    pub credential: String,
    /// The scope tokens are requested for.
    pub scope: String,
    /// When the current token expires.
    pub expires_on: SystemTime,
    /// Fingerprint of the current token (first 8 hex digits of its SHA-256).
    pub fingerprint: String,
    /// When the current token was installed.
    pub refreshed_at: SystemTime,
    /// How many tokens have been installed, the first one included.
    pub tokens_installed: u64,
    /// How many token requests were made, failed ones included.
    pub token_requests: u64,
    /// Failed refreshes since the last successful one.
    pub consecutive_failures: u32,
    /// The last refresh error, if the last refresh failed.
    pub last_error: Option<String>,
    /// Whether that error comes from configuration or from a passing fault.
    pub last_error_kind: Option<FailureKind>,
}

/// One token, shared by every pool that logs in as the same identity.
///
/// Dropping the cache stops its refresh task.
pub(crate) struct TokenCache {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

struct Shared {
    current: ArcSwap<TokenSnapshot>,
    chain: CredentialChain,
    policy: RefreshPolicy,
    wake: Arc<Notify>,
    /// Bumped after every token request, successful or not.
    attempts: watch::Sender<u64>,
    /// A forced refresh wants a token newer than this generation.
    wanted_after: AtomicU64,
    /// Counts forced refreshes asked for; each caller that asks takes the
    /// next number.
    forced_asked: AtomicU64,
    /// The highest `forced_asked` seen when a request that has since ended
    /// began: every forced refresh up to it has had its answer.
    forced_served: AtomicU64,
    last_forced: Mutex<Option<Instant>>,
    token_requests: AtomicU64,
    consecutive_failures: AtomicU32,
    /// Requests in a row that returned no fresher token.
    stale_streak: AtomicU32,
    /// A token request is under way.
    fetching: AtomicBool,
    last_error: ArcSwapOption<CredentialError>,
    refreshed_at: ArcSwap<SystemTime>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("credential", &self.shared.chain)
            .field("current", &self.shared.current.load())
            .finish_non_exhaustive()
    }
}

impl Drop for TokenCache {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TokenCache {
    /// Fetches the first token and starts the refresh task.
    ///
    /// # Errors
    /// When no credential produces a token within the policy's fetch
    /// timeout: the error lists each credential tried.
    pub(crate) async fn start(
        chain: CredentialChain,
        policy: RefreshPolicy,
    ) -> Result<Self, CredentialError> {
        let first = fetch(&chain, &policy).await?;
        let expires_in = check(&first, &chain)?;
        let snapshot = TokenSnapshot::new(1, Secret::new(first.token.secret()), expires_in, None);
        info!(
            credential = %chain.describe(),
            fingerprint = %snapshot.fingerprint,
            expires_in_s = expires_in.as_secs(),
            "first token fetched"
        );

        let wake = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            current: ArcSwap::from_pointee(snapshot),
            chain,
            policy,
            wake: wake.clone(),
            attempts: watch::Sender::new(1),
            wanted_after: AtomicU64::new(0),
            forced_asked: AtomicU64::new(0),
            forced_served: AtomicU64::new(0),
            last_forced: Mutex::new(None),
            token_requests: AtomicU64::new(1),
            consecutive_failures: AtomicU32::new(0),
            stale_streak: AtomicU32::new(0),
            fetching: AtomicBool::new(false),
            last_error: ArcSwapOption::empty(),
            refreshed_at: ArcSwap::from_pointee(SystemTime::now()),
        });
        let first_delay = shared.policy.refresh_after(expires_in);
        let task = tokio::spawn(run(Arc::downgrade(&shared), wake, first_delay));
        Ok(Self { shared, task })
    }

    /// The current token. Never waits.
    pub(crate) fn current(&self) -> Arc<TokenSnapshot> {
        self.shared.current.load_full()
    }

    /// Calls `f` with the current token without taking a reference count.
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(&TokenSnapshot) -> R) -> R {
        f(&self.shared.current.load())
    }

    /// The last refresh error, when refreshes are failing.
    pub(crate) fn last_error(&self) -> Option<Arc<CredentialError>> {
        if self.shared.consecutive_failures.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.shared.last_error.load_full()
    }

    /// How many refreshes in a row have failed.
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.shared.consecutive_failures.load(Ordering::Relaxed)
    }

    /// The server refused a login made with token `generation`: returns a
    /// newer token, fetching one if no fetch is under way (at most once per
    /// `min_forced_interval`), or `None` when there is none to be had.
    pub(crate) async fn newer_than(&self, generation: u64) -> Option<Arc<TokenSnapshot>> {
        let s = &self.shared;
        let newer = |s: &Shared| Some(s.current.load_full()).filter(|t| t.generation > generation);
        if let Some(t) = newer(s) {
            return Some(t);
        }
        // Only one forced request per interval: a role the server keeps
        // refusing must not turn into a stream of token requests. Callers
        // inside the interval still wait for the request under way.
        let notify = {
            let mut last = s.last_forced.lock().unwrap_or_else(|p| p.into_inner());
            let allowed = !last.is_some_and(|t| t.elapsed() < s.policy.min_forced_interval);
            if allowed {
                *last = Some(Instant::now());
            }
            allowed
        };

        let mut attempts = s.attempts.subscribe();
        attempts.borrow_and_update();
        let under_way = s.fetching.load(Ordering::Acquire);
        let mut ticket = None;
        let patience = if notify {
            s.wanted_after.fetch_max(generation, Ordering::Relaxed);
            ticket = Some(s.forced_asked.fetch_add(1, Ordering::AcqRel) + 1);
            debug!(generation, "login refused: asking for a newer token");
            s.wake.notify_one();
            s.policy.fetch_timeout
        } else if under_way {
            // The server may want the token that request brings: wait for
            // it however long it takes, but for that one request only.
            s.policy.fetch_timeout
        } else if s.forced_asked.load(Ordering::Acquire) > s.forced_served.load(Ordering::Acquire) {
            // Another caller's forced request is asked for but not begun.
            s.policy.min_forced_interval.min(s.policy.fetch_timeout)
        } else {
            // Nothing is coming: the caller's error should not wait.
            return None;
        };
        // With a forced request of our own, wait until a newer token comes
        // or a request begun after ours was asked for has ended without one
        // (a credential that hands back the token we have will keep doing so
        // for a while: waiting longer only delays the caller's error).
        let answered =
            |s: &Shared| ticket.is_some_and(|t| s.forced_served.load(Ordering::Acquire) >= t);
        let wait = async {
            if newer(s).is_some() || answered(s) {
                return;
            }
            while attempts.changed().await.is_ok() {
                if newer(s).is_some() || !notify || answered(s) {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(patience, wait).await;
        newer(s)
    }

    /// A report for status pages and metrics.
    pub(crate) fn status(&self) -> TokenStatus {
        let s = &self.shared;
        let current = s.current.load();
        let last_error = self.last_error();
        TokenStatus {
            credential: s.chain.describe(),
            scope: s.chain.scope().to_owned(),
            expires_on: current.expires_on,
            fingerprint: current.fingerprint.clone(),
            refreshed_at: **s.refreshed_at.load(),
            tokens_installed: current.generation,
            token_requests: s.token_requests.load(Ordering::Relaxed),
            consecutive_failures: s.consecutive_failures.load(Ordering::Relaxed),
            last_error: last_error.as_ref().map(|e| e.to_string()),
            last_error_kind: last_error.as_ref().map(|e| FailureKind::of(e)),
        }
    }
}

/// The refresh loop. Holds only a weak reference between attempts, so it
/// ends soon after the last pool using the cache is dropped.
async fn run(shared: Weak<Shared>, wake: Arc<Notify>, mut delay: Duration) {
    loop {
        let forced = tokio::select! {
            () = tokio::time::sleep(delay) => false,
            () = wake.notified() => true,
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if forced && shared.current.load().generation > shared.wanted_after.load(Ordering::Relaxed)
        {
            // A scheduled refresh already brought the newer token.
            delay = shared.next_delay_after_success();
            continue;
        }
        delay = shared.refresh_once().await;
    }
}

impl Shared {
    /// One token request; returns how long to wait before the next.
    async fn refresh_once(&self) -> Duration {
        self.token_requests.fetch_add(1, Ordering::Relaxed);
        let serving = self.forced_asked.load(Ordering::Acquire);
        self.fetching.store(true, Ordering::Release);
        let result = fetch(&self.chain, &self.policy).await;
        self.fetching.store(false, Ordering::Release);
        let delay = match result {
            Ok(token) => self.install(token),
            Err(e) => self.failed(e),
        };
        self.forced_served.fetch_max(serving, Ordering::AcqRel);
        self.attempts.send_modify(|n| *n += 1);
        delay
    }

    fn install(&self, token: AccessToken) -> Duration {
        let current = self.current.load_full();
        let expires_in = match check(&token, &self.chain) {
            Ok(left) => left,
            Err(e) => return self.failed(e),
        };
        let expires_at = Instant::now() + expires_in;
        // Expiry times come in whole seconds, so two tokens fetched within
        // the same second may carry the same one: allow that much.
        let older = expires_at + Duration::from_secs(1) < current.expires_at;
        if token.token.secret() == current.token.expose() || older {
            // The credential handed back what we have (its own cache, or an
            // endpoint that repeats itself): not a refresh. Try again later
            // without counting it as an error.
            let streak = self.stale_streak.fetch_add(1, Ordering::Relaxed) + 1;
            // A forced request far from expiry gets the same answer until
            // the credential's own refresh window: wait for the schedule.
            let delay = self
                .policy
                .backoff(streak, jitter_unit(), None)
                .max(self.next_delay_after_success());
            debug!(
                fingerprint = %current.fingerprint,
                retry_in_ms = delay.as_millis() as u64,
                "credential returned no fresher token"
            );
            return delay;
        }

        let next = TokenSnapshot::new(
            current.generation + 1,
            Secret::new(token.token.secret()),
            expires_in,
            Some(&current),
        );
        info!(
            credential = %self.chain.describe(),
            fingerprint = %next.fingerprint,
            previous = %current.fingerprint,
            expires_in_s = expires_in.as_secs(),
            "token refreshed"
        );
        self.current.store(Arc::new(next));
        self.refreshed_at.store(Arc::new(SystemTime::now()));
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.stale_streak.store(0, Ordering::Relaxed);
        self.next_delay_after_success()
    }

    fn next_delay_after_success(&self) -> Duration {
        let current = self.current.load();
        let elapsed = current.installed_at.elapsed();
        let lifetime = current
            .expires_at
            .saturating_duration_since(current.installed_at);
        self.policy
            .refresh_after(lifetime)
            .saturating_sub(elapsed)
            .max(super::policy::MIN_INTERVAL)
    }

    fn failed(&self, error: CredentialError) -> Duration {
        let failures = self.consecutive_failures.fetch_add(1, Ordering::Relaxed) + 1;
        let delay = if error.is_config() {
            // Retrying a misconfiguration quickly helps no one.
            self.policy
                .max_backoff
                .max(error.retry_after().unwrap_or_default())
        } else {
            self.policy
                .backoff(failures, jitter_unit(), error.retry_after())
        };
        let current = self.current.load();
        if current.is_expired_at(Instant::now()) {
            error!(
                %error,
                failures,
                retry_in_ms = delay.as_millis() as u64,
                "token refresh failed and the token has expired: new connections cannot log in"
            );
        } else {
            warn!(
                %error,
                failures,
                expires_in_s = current.remaining().as_secs(),
                retry_in_ms = delay.as_millis() as u64,
                "token refresh failed; still using the current token"
            );
        }
        self.last_error.store(Some(Arc::new(error)));
        delay
    }
}

async fn fetch(
    chain: &CredentialChain,
    policy: &RefreshPolicy,
) -> Result<AccessToken, CredentialError> {
    match tokio::time::timeout(policy.fetch_timeout, chain.get_token()).await {
        Ok(result) => result,
        // The credential was still retrying: say what it last heard.
        Err(_) => {
            let last = chain.last_answer();
            let reason = match &last {
                Some(a) => format!(
                    "no token within {:?}; the token endpoint last answered: {}",
                    policy.fetch_timeout, a.what
                ),
                None => format!("no answer within {:?}", policy.fetch_timeout),
            };
            Err(CredentialError::single(Attempt {
                credential: chain.describe(),
                reason,
                is_config: false,
                retry_after: last.and_then(|a| a.retry_after),
            }))
        }
    }
}

/// How long a fresh token is usable, or why it is not: empty, or already
/// expired on arrival.
// TODO: a token rejected here with a far expiry stays in azure_identity's own cache (no way to bypass it) until 5 minutes before that expiry.
fn check(token: &AccessToken, chain: &CredentialChain) -> Result<Duration, CredentialError> {
    let reason = if token.token.secret().is_empty() {
        "the token it returned is empty"
    } else if let Some(left) = usable_lifetime(token) {
        return Ok(left);
    } else {
        "the token it returned has already expired"
    };
    Err(CredentialError::single(Attempt {
        credential: chain.describe(),
        reason: reason.to_owned(),
        is_config: false,
        retry_after: None,
    }))
}

/// How long the token is valid from now, or `None` when it already expired
/// (an unreadable expiry never means "never expires": the credential
/// rejects those before we see them).
fn usable_lifetime(token: &AccessToken) -> Option<Duration> {
    let left = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
    let ms = left.whole_milliseconds();
    (ms > 0).then(|| Duration::from_millis(ms.min(u64::MAX as i128) as u64))
}
