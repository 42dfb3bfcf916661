//! The token endpoint misbehaves; the real azure_identity credentials meet
//! it. The pools keep serving while the token is valid, fail at once with
//! the credential's own error once it has expired, and recover on their
//! own when the endpoint does.

use std::time::{Duration, Instant, SystemTime};

use pg_entra_pool::testkit::{ExpiresOnForm, Fault, TokenEndpoint, eventually};
use pg_entra_pool::{Error, Pools, RefreshPolicy, Settings};

use crate::support::Setup;

/// Small backoffs and a short fetch timeout, so faults play out in seconds.
pub fn quick_policy() -> RefreshPolicy {
    let mut p = RefreshPolicy::default();
    p.min_backoff = Duration::from_millis(100);
    p.max_backoff = Duration::from_millis(800);
    p.fetch_timeout = Duration::from_secs(1);
    p.min_forced_interval = Duration::from_millis(200);
    p
}

pub async fn pools_with(
    endpoint: &TokenEndpoint,
    settings: Settings,
    policy: RefreshPolicy,
) -> Result<Pools, Error> {
    Pools::builder(settings)
        .transport(endpoint.transport())
        .refresh_policy(policy)
        .build()
        .await
}

async fn query_ok(pools: &Pools) -> bool {
    match pools.primary().get().await {
        Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    }
}

/// Waits until the current token has expired.
async fn until_expired(pools: &Pools) {
    let expires = pools.status().tokens[0].expires_on;
    let left = expires
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(200)).await;
}

/// Bodies and expiry forms the credential cannot use never replace the
/// token: not JSON, no `access_token`, an empty token, an expiry sent as a
/// number, as a date string, or missing (never "never expires"), and one
/// already past. The pool recovers when answers are good again.
#[tokio::test]
async fn unusable_answers_never_replace_the_token() {
    let setup = Setup::new("badbody", Duration::from_secs(2)).await;
    let pools = pools_with(&setup.endpoint, setup.settings(), quick_policy())
        .await
        .expect("pools");
    let first = pools.status().tokens[0].fingerprint.clone();
    let resource = "https://ossrdbms-aad.database.windows.net";
    // Within 5 minutes, so azure_identity's own cache does not keep it.
    let later = (SystemTime::now() + Duration::from_secs(120))
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = |token: &str, expires_on: &str| {
        format!(
            r#"{{"access_token":"{token}","expires_on":"{expires_on}","resource":"{resource}","token_type":"Bearer"}}"#
        )
    };
    let faults = [
        Fault::Body("<html>upstream error</html>".into()),
        Fault::Body(format!(
            r#"{{"expires_on":"{later}","token_type":"Bearer"}}"#
        )),
        Fault::Body(body("", &later.to_string())),
        Fault::Body(body("eyJhbGciOi.stale.token", "1")),
        Fault::ExpiresOn(ExpiresOnForm::Number),
        Fault::ExpiresOn(ExpiresOnForm::DateString),
        Fault::ExpiresOn(ExpiresOnForm::Missing),
    ];
    for fault in faults {
        let requests = setup.endpoint.requests();
        setup.endpoint.set_fault(fault.clone());
        let tried = eventually(Duration::from_secs(4), async || {
            setup.endpoint.requests() >= requests + 2
        })
        .await;
        assert!(tried, "no refresh attempts under {fault:?}");
        let status = &pools.status().tokens[0];
        assert_eq!(status.fingerprint, first, "{fault:?} replaced the token");
        assert_eq!(status.tokens_installed, 1, "{fault:?}");
        assert!(status.consecutive_failures > 0, "{fault:?}");
        assert!(status.last_error.is_some(), "{fault:?}");
    }
    setup.endpoint.clear_fault();
    assert!(
        eventually(Duration::from_secs(5), async || query_ok(&pools).await).await,
        "no recovery: {:?}",
        pools.status()
    );
    assert!(pools.status().tokens[0].tokens_installed >= 2);
}

/// 500 and 503 from the managed identity endpoint while the token is
/// valid: the pool serves. Once it has expired, a new connection fails at
/// once with the credential's error (what the endpoint last answered, not
/// a pool timeout) while a connection already open keeps serving. When the
/// endpoint heals, everything recovers by itself.
#[tokio::test]
async fn server_errors_after_expiry_fail_fast_and_heal() {
    for status in [500, 503] {
        let setup = Setup::new("5xx", Duration::from_secs(3)).await;
        let pools = pools_with(&setup.endpoint, setup.settings(), quick_policy())
            .await
            .expect("pools");
        let held = pools.primary().get().await.expect("connection");
        setup
            .endpoint
            .set_fault(Fault::status(status, r#"{"error":"unavailable"}"#));
        // Still valid: a second connection logs in with the current token.
        let second = pools.primary().get().await.expect("valid token");
        drop(second);
        let second_again = pools.primary().get().await.expect("idle one");

        until_expired(&pools).await;
        let started = Instant::now();
        let err = pools.primary().get().await.expect_err("token expired");
        let waited = started.elapsed();
        let Error::TokenUnavailable { last_error, .. } = &err else {
            panic!("expected TokenUnavailable, got {err:?}");
        };
        assert!(
            last_error.contains(&format!("HTTP {status}")),
            "{last_error}"
        );
        assert!(last_error.contains("managed identity"), "{last_error}");
        assert!(err.is_transient() && !err.is_config());
        assert!(waited < Duration::from_secs(2), "not at once: {waited:?}");
        held.simple_query("SELECT 1")
            .await
            .expect("open connections keep serving");
        second_again
            .simple_query("SELECT 1")
            .await
            .expect("open connections keep serving");

        setup.endpoint.clear_fault();
        drop(second_again);
        assert!(
            eventually(Duration::from_secs(6), async || query_ok(&pools).await).await,
            "no recovery after {status}: {:?}",
            pools.status()
        );
    }
}

/// An endpoint that hangs, answers too slowly, closes without a word or
/// refuses connections: each fetch is cut at the policy's timeout and the
/// error says what the endpoint last did; the token in hand keeps serving.
#[tokio::test]
async fn hangs_slow_answers_and_refused_connections_are_cut_and_explained() {
    let setup = Setup::new("hang", Duration::from_secs(30)).await;
    let pools = pools_with(&setup.endpoint, setup.settings(), quick_policy())
        .await
        .expect("pools");
    drop(pools);

    // At build time, so the error comes back to the caller.
    for (fault, says) in [
        (Some(Fault::Hang), "no answer within"),
        (
            Some(Fault::Delay(Duration::from_secs(3))),
            "no answer within",
        ),
        (Some(Fault::CloseWithoutAnswer), "closed the connection"),
        (None, "onnection re"),
    ] {
        match &fault {
            Some(f) => setup.endpoint.set_fault(f.clone()),
            None => setup.endpoint.stop_listening(),
        }
        let started = Instant::now();
        let err = pools_with(&setup.endpoint, setup.settings(), quick_policy())
            .await
            .expect_err("no token");
        assert!(started.elapsed() < Duration::from_secs(3), "{fault:?}");
        let Error::Credential(chain) = &err else {
            panic!("expected a credential error, got {err:?}");
        };
        assert!(!err.is_config(), "{fault:?}: {err}");
        let text = err.to_string();
        // Refused, or reset while the listener was closing.
        assert!(text.contains(says), "{fault:?}: {text}");
        assert_eq!(chain.attempts().len(), 1);
        setup.endpoint.clear_fault();
        setup.endpoint.resume().expect("resume");
    }
    // A slow answer within the timeout is just slow.
    setup
        .endpoint
        .set_fault(Fault::Delay(Duration::from_millis(300)));
    let pools = pools_with(&setup.endpoint, setup.settings(), quick_policy())
        .await
        .expect("a slow answer is fine");
    assert!(query_ok(&pools).await);
}

/// An identity that is not assigned (IMDS's 400 "Identity not found") is a
/// configuration error that names the client id, and is asked once, not
/// retried. During a later refresh it is retried only every `max_backoff`.
#[tokio::test]
async fn identity_not_found_is_a_config_error_naming_the_client_id() {
    let setup = Setup::with_endpoint("nf", |endpoint, role| {
        endpoint
            .identity(Some("22222222-0000-4000-8000-00000000aaaa"), role)
            .lifetime(Duration::from_secs(2))
    })
    .await;
    let mut settings = setup.settings();
    settings.pg_azure_client_id = Some("33333333-0000-4000-8000-00000000bbbb".into());
    let err = pools_with(&setup.endpoint, settings.clone(), quick_policy())
        .await
        .expect_err("unknown identity");
    assert!(err.is_config(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("33333333-0000-4000-8000-00000000bbbb"),
        "{text}"
    );
    assert!(text.contains("not been assigned"), "{text}");
    assert_eq!(
        setup.endpoint.requests(),
        1,
        "a config error is not retried"
    );

    // The identity is unassigned later: between attempts, max_backoff.
    settings.pg_azure_client_id = Some("22222222-0000-4000-8000-00000000aaaa".into());
    let mut policy = quick_policy();
    policy.max_backoff = Duration::from_secs(2);
    let pools = pools_with(&setup.endpoint, settings, policy)
        .await
        .expect("pools");
    let before = setup.endpoint.requests();
    setup.endpoint.set_fault(Fault::status(
        400,
        r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
    ));
    until_expired(&pools).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let asked = setup.endpoint.requests() - before;
    // Refresh at 1 s, then one attempt per 2 s: at most 2 in these ~3.2 s.
    assert!((1..=2).contains(&asked), "{asked} requests");
    let err = pools.primary().get().await.expect_err("expired");
    assert!(matches!(err, Error::TokenUnavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("22222222-0000-4000-8000-00000000aaaa"),
        "{err}"
    );
}

/// The endpoint hands back the token it gave before: not a refresh, not an
/// error; a new one is installed as soon as the endpoint issues one.
#[tokio::test]
async fn the_same_token_again_is_not_a_refresh() {
    let setup = Setup::new("same", Duration::from_secs(3)).await;
    let pools = pools_with(&setup.endpoint, setup.settings(), quick_policy())
        .await
        .expect("pools");
    setup.endpoint.set_fault(Fault::SameToken);
    let requests = setup.endpoint.requests();
    assert!(
        eventually(Duration::from_secs(4), async || {
            setup.endpoint.requests() >= requests + 2
        })
        .await
    );
    let status = &pools.status().tokens[0];
    assert_eq!(status.tokens_installed, 1);
    assert_eq!(status.consecutive_failures, 0);
    setup.endpoint.clear_fault();
    assert!(
        eventually(Duration::from_secs(4), async || {
            pools.status().tokens[0].tokens_installed >= 2
        })
        .await
    );
    assert!(query_ok(&pools).await);
}

/// Tokens from 1 KB to 16 KB (users in many groups) log in.
#[tokio::test]
async fn tokens_of_any_real_length_log_in() {
    for len in [1024, 4096, 16 * 1024] {
        let setup = Setup::with_endpoint("long", |endpoint, role| {
            endpoint.identity(None, role).token_len(len)
        })
        .await;
        let pools = setup.pools(setup.settings()).await.expect("pools");
        let client = pools.primary().get().await.expect("login");
        client.simple_query("SELECT 1").await.expect("query");
        assert!(setup.endpoint.last_token().unwrap().len() >= len);
    }
}

/// A role, and an endpoint whose app registration `client_id` logs in as
/// it with a client secret; settings that use it.
async fn client_secret_setup(prefix: &str, lifetime: Duration) -> (Setup, Settings) {
    let setup = Setup::with_endpoint(prefix, |endpoint, role| {
        endpoint
            .identity(Some(&format!("{role}-app")), role)
            .client_secret("s3cret-value-of-the-app")
            .lifetime(lifetime)
    })
    .await;
    let mut settings = setup.settings();
    settings.pg_azure_client_id = Some(format!("{}-app", setup.role));
    settings.pg_azure_client_secret = Some("s3cret-value-of-the-app".into());
    settings.pg_azure_tenant_id = Some(setup.endpoint.tenant().to_owned());
    (setup, settings)
}

/// 429 from the Entra token endpoint: with `Retry-After` the refresher
/// waits at least what it asks; without, it backs off with jitter from
/// `min_backoff`, far more often. The error carries the status.
#[tokio::test]
async fn throttling_honours_retry_after() {
    let mut counts = Vec::new();
    for retry_after in [Some(2), None] {
        let (setup, settings) = client_secret_setup("thr", Duration::from_secs(2)).await;
        let pools = pools_with(&setup.endpoint, settings, quick_policy())
            .await
            .expect("pools");
        let before = setup.endpoint.requests();
        setup.endpoint.set_fault(Fault::Status {
            status: 429,
            body: r#"{"error":"temporarily_unavailable","error_description":"throttled"}"#.into(),
            retry_after,
        });
        // The refresh starts at 1 s; watch until 3.8 s.
        tokio::time::sleep(Duration::from_millis(3800)).await;
        counts.push(setup.endpoint.requests() - before);
        let err = pools.primary().get().await.expect_err("expired");
        assert!(err.to_string().contains("429"), "{err}");
        assert!(err.is_transient(), "{err}");
        setup.endpoint.clear_fault();
        assert!(
            eventually(Duration::from_secs(4), async || query_ok(&pools).await).await,
            "no recovery"
        );
    }
    assert!(
        (1..=2).contains(&counts[0]),
        "with Retry-After 2 s: {counts:?}"
    );
    assert!(counts[1] >= 4, "without Retry-After: {counts:?}");
}

/// The client secret was revoked while the pools run: a configuration
/// error naming the client id, retried only every `max_backoff`.
#[tokio::test]
async fn a_revoked_client_secret_is_a_config_error_naming_the_client_id() {
    let (setup, settings) = client_secret_setup("revoked", Duration::from_secs(2)).await;
    let client_id = settings.pg_azure_client_id.clone().unwrap();
    let mut policy = quick_policy();
    policy.max_backoff = Duration::from_secs(5);
    let pools = pools_with(&setup.endpoint, settings, policy)
        .await
        .expect("pools");
    let before = setup.endpoint.requests();
    setup.endpoint.set_fault(Fault::status(
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","error_codes":[7000215]}"#,
    ));
    until_expired(&pools).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(setup.endpoint.requests() - before, 1, "retried too soon");
    let err = pools.primary().get().await.expect_err("expired");
    let text = err.to_string();
    assert!(matches!(err, Error::TokenUnavailable { .. }), "{err:?}");
    assert!(text.contains(&client_id), "{text}");
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("s3cret-value-of-the-app"));
}
