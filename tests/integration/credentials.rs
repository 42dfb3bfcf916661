//! The built-in credentials, driven by settings, through a transport that
//! sends every request to the loopback endpoint. Each test checks what the
//! credential sent.

use std::time::Duration;

use pg_entra_pool::Error;
use pg_entra_pool::testkit::IMDS_PATH;

use crate::support::{SCOPE, Setup};

const RESOURCE: &str = "https://ossrdbms-aad.database.windows.net";

#[tokio::test]
async fn system_assigned_managed_identity_asks_the_metadata_endpoint_for_the_resource() {
    let setup = Setup::new("mi", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let _login = pools.primary().get().await.expect("login");

    let sent = setup.endpoint.loopback_transport().sent();
    assert!(!sent.is_empty());
    let request = &sent[0];
    assert!(
        request
            .url
            .starts_with("http://169.254.169.254/metadata/identity/oauth2/token"),
        "{}",
        request.url
    );
    assert_eq!(request.header("metadata"), Some("true"));
    let recorded = &setup.endpoint.recorded()[0];
    assert_eq!(recorded.path(), IMDS_PATH);
    assert_eq!(recorded.query("resource").as_deref(), Some(RESOURCE));
    assert_eq!(recorded.query("client_id"), None);
    assert!(
        pools.status().tokens[0]
            .credential
            .contains("system-assigned")
    );
}

#[tokio::test]
async fn user_assigned_managed_identity_sends_its_client_id() {
    let setup = Setup::with_endpoint("uami", |endpoint, role| {
        endpoint.identity(Some("11111111-aaaa-4bbb-8ccc-222222222222"), role)
    })
    .await;
    let mut settings = setup.settings();
    settings.pg_azure_client_id = Some("11111111-aaaa-4bbb-8ccc-222222222222".into());
    let pools = setup.pools(settings).await.expect("pools");
    let _login = pools.primary().get().await.expect("login");
    let recorded = &setup.endpoint.recorded()[0];
    assert_eq!(
        recorded.query("client_id").as_deref(),
        Some("11111111-aaaa-4bbb-8ccc-222222222222")
    );
    assert!(
        pools.status().tokens[0]
            .credential
            .contains("user-assigned")
    );
}

#[tokio::test]
async fn client_secret_posts_the_scope_and_logs_in() {
    let (setup, settings) = Setup::app_registration(
        "sp",
        "app-client-id",
        "the-right-secret-value",
        "the-right-secret-value",
    )
    .await;
    let tenant = setup.endpoint.tenant().to_owned();
    let pools = setup.pools(settings).await.expect("pools");
    let _login = pools.primary().get().await.expect("login");

    let sent = setup.endpoint.loopback_transport().sent();
    assert_eq!(
        sent[0].url,
        format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
    );
    let recorded = &setup.endpoint.recorded()[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.form("scope").as_deref(), Some(SCOPE));
    assert_eq!(recorded.form("client_id").as_deref(), Some("app-client-id"));
    assert_eq!(
        recorded.form("grant_type").as_deref(),
        Some("client_credentials")
    );
    let status = pools.status();
    assert!(status.tokens[0].credential.starts_with("client secret"));
    assert!(!format!("{status:?}").contains("the-right-secret-value"));
}

#[tokio::test]
async fn the_china_cloud_changes_scope_and_authority() {
    let (setup, mut settings) =
        Setup::app_registration("cn", "cn-app", "cn-secret", "cn-secret").await;
    settings.pg_azure_cloud = Some(pg_entra_pool::AzureCloud::China);
    let _pools = setup.pools(settings).await.expect("pools");
    let sent = setup.endpoint.loopback_transport().sent();
    assert!(
        sent[0].url.starts_with("https://login.chinacloudapi.cn/"),
        "{}",
        sent[0].url
    );
    assert_eq!(
        setup.endpoint.recorded()[0].form("scope").as_deref(),
        Some("https://ossrdbms-aad.database.chinacloudapi.cn/.default")
    );
}

/// When every credential fails, the error names each one and why, and is
/// marked as a configuration error; the secret appears nowhere.
#[tokio::test]
async fn when_every_credential_fails_the_error_lists_each() {
    // The endpoint knows one app; the settings name another, with a wrong
    // secret, so the client secret and the managed identity both fail.
    let (setup, mut settings) = Setup::app_registration(
        "chain",
        "someone-else",
        "the-right-secret-value",
        "a-wrong-secret-value",
    )
    .await;
    settings.pg_azure_client_id = Some("app-nobody-knows".into());
    let err = setup
        .pools(settings)
        .await
        .expect_err("no credential can work");
    let Error::Credential(chain) = &err else {
        panic!("expected a credential error, got {err:?}");
    };
    assert_eq!(chain.attempts().len(), 2, "{err}");
    assert!(chain.attempts()[0].credential.starts_with("client secret"));
    assert!(chain.attempts()[1].credential.contains("managed identity"));
    assert!(chain.attempts()[1].credential.contains("app-nobody-knows"));
    assert!(err.is_config(), "{err}");
    let text = err.to_string();
    assert!(text.contains("AADSTS"), "{text}");
    assert!(
        text.contains("not been assigned") || text.contains("not found"),
        "{text}"
    );
    assert!(!text.contains("a-wrong-secret-value"));
    assert!(!format!("{err:?}").contains("a-wrong-secret-value"));
}
