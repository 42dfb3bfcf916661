//! Every tracing event at TRACE level (this crate, deadpool, tokio-postgres
//! through the `log` bridge, azure_core and azure_identity) is captured
//! while tokens rotate, the endpoint fails and recovers, and logins are
//! refused; then no token, client secret or federated assertion may
//! appear in it, nor in the `Debug` and `Display` of any public type.
//!
//! Its own binary: the subscriber is global, and workload identity needs
//! `AZURE_FEDERATED_TOKEN_FILE` in the process environment.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pg_entra_pool::testkit::{Fault, FederatedTokenFile, TestCluster, TokenEndpoint, eventually};
use pg_entra_pool::{Pools, RefreshPolicy, Secret, Settings};

const CLIENT_SECRET: &str = "client-secret-value-never-printed-7Qx~";
const ASSERTION: &str = "eyJmZWRlcmF0ZWQiOiJhc3NlcnRpb24ifQ.never.printed";
const PASSWORD: &str = "static-password-never-printed";

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `query` and logs the outcome (errors in both forms) at error level.
async fn query(pools: &Pools, label: &str) -> bool {
    let result = async {
        let client = pools.primary().get().await?;
        client.query("SELECT $1::int", &[&1i32]).await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(label, error = %e, debug = ?e, "query failed");
    }
    result.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_trace_event_or_printout() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let token_file = FederatedTokenFile::new(ASSERTION).expect("token file");
    // SAFETY: set before any pool or credential reads the environment, in
    // the only test of this binary; no other thread reads it yet.
    unsafe { std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", token_file.path()) };

    let cluster = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("cluster");
    cluster.create_role("sp_role", None).await.unwrap();
    cluster.create_role("wi_role", None).await.unwrap();
    let endpoint = TokenEndpoint::builder()
        .identity(Some("sp-client"), "sp_role")
        .identity(Some("wi-client"), "wi_role")
        .client_secret(CLIENT_SECRET)
        .client_assertion(ASSERTION)
        .lifetime(Duration::from_secs(2))
        .cluster(&cluster)
        .start()
        .await
        .unwrap();
    let base = |user: &str, client_id: &str| Settings {
        pg_password: Some(PASSWORD.into()),
        pg_azure_client_id: Some(client_id.to_owned()),
        pg_azure_tenant_id: Some(endpoint.tenant().to_owned()),
        pg_timeout: Some(3000),
        pg_pool_size: Some(3),
        ..cluster.entra_settings(user)
    };
    let mut sp_settings = base("sp_role", "sp-client");
    sp_settings.pg_azure_client_secret = Some(CLIENT_SECRET.into());
    sp_settings.pg_ro_host = Some(cluster.host().to_owned());
    let wi_settings = base("wi_role", "wi-client");
    let mut policy = RefreshPolicy::default();
    policy.min_backoff = Duration::from_millis(100);
    policy.max_backoff = Duration::from_millis(500);
    policy.fetch_timeout = Duration::from_secs(1);
    policy.min_forced_interval = Duration::from_millis(200);
    let build = |s: Settings| {
        Pools::builder(s)
            .transport(endpoint.transport())
            .refresh_policy(policy.clone())
    };
    tracing::info!(builder = ?build(sp_settings.clone()), "builder");
    let sp = build(sp_settings.clone())
        .build()
        .await
        .expect("client secret");
    let wi = build(wi_settings.clone())
        .build()
        .await
        .expect("workload id");
    assert!(
        sp.status().tokens[0]
            .credential
            .starts_with("client secret")
    );
    assert!(
        wi.status().tokens[0]
            .credential
            .starts_with("workload identity")
    );

    // Rotations under queries.
    for _ in 0..30 {
        assert!(query(&sp, "sp").await);
        assert!(query(&wi, "wi").await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A failure: the endpoint refuses, tokens expire, logins fail.
    endpoint.set_fault(Fault::status(
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
    ));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut held = Vec::new();
    while let Ok(c) = sp.primary().get().await {
        held.push(c);
    }
    assert!(!query(&sp, "sp-failing").await);
    // Its idle connections may still serve; either way the outcome is logged.
    query(&wi, "wi-failing").await;
    drop(held);
    // The endpoint hangs: fetches are cut at the timeout.
    endpoint.set_fault(Fault::Hang);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // Recovery.
    endpoint.clear_fault();
    assert!(eventually(Duration::from_secs(5), async || query(&sp, "sp").await).await);
    assert!(eventually(Duration::from_secs(5), async || query(&wi, "wi").await).await);

    // Every public type that holds a secret, printed both ways.
    let secret = Secret::new(CLIENT_SECRET);
    tracing::info!(
        settings = ?sp_settings,
        primary = ?sp_settings.primary(),
        read_only = ?sp_settings.read_only(),
        pools = ?sp,
        pool = ?sp.primary(),
        status = ?sp.status(),
        wi_status = ?wi.status(),
        secret_debug = ?secret,
        secret_display = %secret,
        "printouts"
    );
    drop((sp, wi));
    tokio::time::sleep(Duration::from_millis(200)).await;
    drop(token_file);

    let text = String::from_utf8_lossy(&capture.0.lock().unwrap()).into_owned();
    // The capture saw what it should, so its silence means something.
    assert!(text.contains("token refreshed"), "no rotation captured");
    assert!(text.contains("tokio_postgres"), "no tokio-postgres records");
    assert!(text.contains("typespec_client_core") || text.contains("azure_"));
    assert!(text.contains("query failed"));
    let tokens = endpoint.issued_tokens();
    assert!(tokens.len() >= 6, "{} tokens", tokens.len());
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!text.contains(token.as_str()), "a token was printed");
        assert!(!text.contains(signature), "a token's signature was printed");
    }
    for (name, secret) in [
        ("client secret", CLIENT_SECRET),
        ("federated assertion", ASSERTION),
        ("password", PASSWORD),
    ] {
        assert!(!text.contains(secret), "the {name} was printed");
    }
    drop(cluster);
}
