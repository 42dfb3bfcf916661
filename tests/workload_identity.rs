//! Workload identity through azure_identity's real credential: its own
//! binary, since the credential reads `AZURE_FEDERATED_TOKEN_FILE` from the
//! process environment.

use std::time::Duration;

use pg_entra_pool::testkit::{Fault, FederatedTokenFile, TestCluster, TokenEndpoint, eventually};
use pg_entra_pool::{Pools, RefreshPolicy, Settings};

const ASSERTION: &str = "eyJhbGciOiJSUzI1NiJ9.workload.assertion";

/// Logs in with the federated token file; a stale assertion (AADSTS700024)
/// is transient and heals by itself; an unknown
/// client id is a configuration error that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identity_logs_in_and_heals_from_a_stale_assertion() {
    let file = FederatedTokenFile::new(ASSERTION).expect("token file");
    // SAFETY: the only test of this binary sets it before any credential
    // is built; no other thread reads the environment yet.
    unsafe { std::env::set_var("AZURE_FEDERATED_TOKEN_FILE", file.path()) };

    let cluster = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("cluster");
    cluster.create_role("wi_app", None).await.unwrap();
    let endpoint = TokenEndpoint::builder()
        .identity(Some("wi-client-id"), "wi_app")
        .client_assertion(ASSERTION)
        .lifetime(Duration::from_secs(2))
        .cluster(&cluster)
        .start()
        .await
        .unwrap();
    let settings = |client_id: &str| Settings {
        pg_azure_client_id: Some(client_id.to_owned()),
        pg_azure_tenant_id: Some(endpoint.tenant().to_owned()),
        pg_timeout: Some(3000),
        ..cluster.entra_settings("wi_app")
    };
    let mut policy = RefreshPolicy::default();
    policy.min_backoff = Duration::from_millis(100);
    policy.max_backoff = Duration::from_millis(500);
    policy.fetch_timeout = Duration::from_secs(1);
    let build = |s: Settings| {
        Pools::builder(s)
            .transport(endpoint.transport())
            .refresh_policy(policy.clone())
            .build()
    };

    // An app the tenant does not know: a configuration error naming it.
    let err = build(settings("unknown-client-id"))
        .await
        .expect_err("unknown app");
    let text = err.to_string();
    assert!(err.is_config(), "{text}");
    assert!(text.contains("unknown-client-id"), "{text}");
    assert!(text.contains("AADSTS700016"), "{text}");
    assert!(!text.contains(ASSERTION));

    let pools = build(settings("wi-client-id")).await.expect("pools");
    assert!(
        pools.status().tokens[0]
            .credential
            .starts_with("workload identity"),
        "{:?}",
        pools.status()
    );
    let sent = endpoint.recorded();
    assert_eq!(
        sent.last().unwrap().form("client_assertion").as_deref(),
        Some(ASSERTION)
    );
    let query = async || match pools.primary().get().await {
        Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    };
    assert!(query().await);

    // The assertion goes stale (AADSTS700024): transient, since the
    // platform rotates the file. azure_identity re-reads the file only every
    // 10 minutes, so the endpoint plays the stale answer here.
    endpoint.set_fault(Fault::status(
        401,
        r#"{"error":"invalid_client","error_description":"AADSTS700024: Client assertion is not within its valid time range.","error_codes":[700024]}"#,
    ));
    let stale = eventually(Duration::from_secs(5), async || {
        pools.status().tokens[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("AADSTS700024"))
    })
    .await;
    assert!(stale, "{:?}", pools.status());
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Take every idle connection; the next get() needs a login.
    let mut held = Vec::new();
    let err = loop {
        match pools.primary().get().await {
            Ok(c) => held.push(c),
            Err(e) => break e,
        }
    };
    drop(held);
    assert!(err.is_transient() && !err.is_config(), "{err}");
    assert!(err.to_string().contains("wi-client-id"), "{err}");
    assert!(!err.to_string().contains(ASSERTION));

    // The platform rotates the file: recovery without help.
    endpoint.clear_fault();
    let before = pools.status().tokens[0].tokens_installed;
    assert!(
        eventually(Duration::from_secs(6), async || {
            pools.status().tokens[0].tokens_installed > before && query().await
        })
        .await,
        "no recovery: {:?}",
        pools.status()
    );
    drop(pools);
}
