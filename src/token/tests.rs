//! Refresh rules, with paused tokio time and a fake credential.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential, TokenRequestOptions};
use azure_core::time::OffsetDateTime;

use super::{RefreshPolicy, TokenCache};
use crate::credentials::CredentialChain;

/// What the fake credential does on its next call.
#[derive(Clone, Copy, Debug)]
enum Next {
    Token { lifetime_s: i64 },
    Same,
    Fail,
}

#[derive(Debug)]
struct Fake {
    calls: AtomicUsize,
    next: Mutex<Next>,
    delay: Duration,
    last: Mutex<Option<AccessToken>>,
}

impl Fake {
    fn new(lifetime_s: i64) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            next: Mutex::new(Next::Token { lifetime_s }),
            delay: Duration::from_millis(50),
            last: Mutex::new(None),
        })
    }
    fn set(&self, next: Next) {
        *self.next.lock().unwrap() = next;
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl TokenCredential for Fake {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(self.delay).await;
        let next = *self.next.lock().unwrap();
        let token = match next {
            Next::Token { lifetime_s } => AccessToken::new(
                format!("token-{n}"),
                // The cache reads the wall clock once per token; under paused
                // tokio time that clock stands still, which is what we want.
                OffsetDateTime::now_utc() + azure_core::time::Duration::seconds(lifetime_s),
            ),
            Next::Same => self.last.lock().unwrap().clone().expect("a first token"),
            Next::Fail => {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Io,
                    "endpoint unreachable",
                ));
            }
        };
        *self.last.lock().unwrap() = Some(token.clone());
        Ok(token)
    }
}

async fn cache(fake: &Arc<Fake>) -> TokenCache {
    let chain = CredentialChain::custom(fake.clone(), "scope/.default".into());
    TokenCache::start(chain, RefreshPolicy::default())
        .await
        .expect("first token")
}

#[tokio::test(start_paused = true)]
async fn refreshes_at_half_life_for_short_tokens() {
    let fake = Fake::new(10);
    let cache = cache(&fake).await;
    assert_eq!(fake.calls(), 1);
    tokio::time::sleep(Duration::from_millis(4_900)).await;
    assert_eq!(fake.calls(), 1, "refreshed before half-life");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.calls(), 2, "no refresh at half-life");
    assert_eq!(cache.current().generation, 2);
}

#[tokio::test(start_paused = true)]
async fn long_tokens_refresh_one_margin_before_expiry() {
    let fake = Fake::new(3600);
    let cache = cache(&fake).await;
    tokio::time::sleep(Duration::from_secs(3290)).await;
    assert_eq!(fake.calls(), 1);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(fake.calls(), 2);
    assert_eq!(cache.current().generation, 2);
}

#[tokio::test(start_paused = true)]
async fn failures_back_off_and_keep_the_old_token() {
    let fake = Fake::new(60);
    let cache = cache(&fake).await;
    fake.set(Next::Fail);
    // Refresh starts at 30 s; then backoff 0.25-0.5, 0.5-1, 1-2, 2-4 s...
    tokio::time::sleep(Duration::from_secs(45)).await;
    let calls = fake.calls();
    // 1 first token + attempts in 15 s of doubling backoff: at most about 7.
    assert!((4..=9).contains(&calls), "{calls} token requests");
    assert_eq!(cache.current().generation, 1, "old token kept");
    assert!(cache.consecutive_failures() >= 3);
    assert!(cache.last_error().is_some());

    fake.set(Next::Token { lifetime_s: 60 });
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(cache.current().generation, 2, "recovered");
    assert_eq!(cache.consecutive_failures(), 0);
    assert!(cache.last_error().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_token_no_fresher_is_not_a_refresh_and_does_not_spin() {
    let fake = Fake::new(10);
    let cache = cache(&fake).await;
    fake.set(Next::Same);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let calls = fake.calls();
    assert_eq!(cache.current().generation, 1);
    // Backoff capped at 30 s, floor 100 ms between requests: a spin would
    // make thousands of calls in a minute.
    assert!(calls < 40, "{calls} token requests in a minute");
}

#[tokio::test(start_paused = true)]
async fn a_refused_login_gets_one_single_flight_fetch() {
    let fake = Fake::new(3600);
    let cache = Arc::new(cache(&fake).await);
    let mut waiters = Vec::new();
    for _ in 0..32 {
        let cache = cache.clone();
        waiters.push(tokio::spawn(async move { cache.newer_than(1).await }));
    }
    for w in waiters {
        let newer = w.await.unwrap().expect("a newer token");
        assert_eq!(newer.generation, 2);
    }
    assert_eq!(fake.calls(), 2, "one fetch for 32 refused logins");

    // Within min_forced_interval a second refusal does not fetch again.
    assert!(cache.newer_than(2).await.is_none());
    assert_eq!(fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_refresh_task_stops_when_the_cache_is_dropped() {
    let fake = Fake::new(2);
    let cache = cache(&fake).await;
    drop(cache);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(fake.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failing_first_fetch_fails_the_build_with_the_credential_error() {
    let fake = Fake::new(10);
    fake.set(Next::Fail);
    let chain = CredentialChain::custom(fake.clone(), "scope/.default".into());
    let err = TokenCache::start(chain, RefreshPolicy::default())
        .await
        .expect_err("must fail");
    let text = err.to_string();
    assert!(text.contains("endpoint unreachable"), "{text}");
    assert!(text.contains("custom credential"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_forced_refresh_that_brings_the_same_token_answers_at_once() {
    let fake = Fake::new(3600);
    let cache = cache(&fake).await;
    fake.set(Next::Same);
    let asked = tokio::time::Instant::now();
    assert!(cache.newer_than(1).await.is_none());
    let waited = asked.elapsed();
    // One request of 50 ms was made and brought nothing newer: waiting on
    // for the backoff retries only delays the refused login's error.
    assert!(waited < Duration::from_secs(1), "waited {waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_forced_refresh_far_from_expiry_does_not_start_a_stream_of_requests() {
    let fake = Fake::new(3600);
    let cache = cache(&fake).await;
    fake.set(Next::Same);
    let _ = tokio::time::timeout(Duration::from_secs(1), cache.newer_than(1)).await;
    // The credential keeps its token until near expiry; the scheduled
    // refresh is 55 minutes away. Asking again every half minute until then
    // fetches nothing.
    tokio::time::sleep(Duration::from_secs(3000)).await;
    let calls = fake.calls();
    assert!(calls <= 4, "{calls} token requests in 50 minutes");
}

#[tokio::test(start_paused = true)]
async fn a_second_refusal_inside_the_interval_with_nothing_under_way_answers_at_once() {
    let fake = Fake::new(3600);
    let cache = cache(&fake).await;
    assert_eq!(cache.newer_than(1).await.expect("newer").generation, 2);
    let started = tokio::time::Instant::now();
    assert!(cache.newer_than(2).await.is_none());
    assert_eq!(
        started.elapsed(),
        std::time::Duration::ZERO,
        "waited for nothing"
    );
    assert_eq!(fake.calls(), 2);
}
