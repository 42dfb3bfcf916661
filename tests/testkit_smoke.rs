//! The testkit itself: azure_identity's real credentials get tokens from the
//! loopback endpoint, and the cluster takes exactly the last one.

use std::path::Path;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions,
};
use pg_entra_pool::testkit::{DEFAULT_TENANT, TestCluster, TokenEndpoint};
use tokio_postgres::error::SqlState;

const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";
const CLIENT_ID: &str = "3f1b2c4d-0000-4000-8000-00000000a11e";
const CLIENT_SECRET: &str = "testkit-secret";

async fn login(
    cluster: &TestCluster,
    ca: &Path,
    password: &str,
) -> Result<(), tokio_postgres::Error> {
    let mut config = cluster.user_config("app");
    config.password(password);
    let tls = TestCluster::tls_connector(ca).expect("tls connector");
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await?;
    assert_eq!(row.get::<_, String>(0), "app");
    assert!(row.get::<_, bool>(1), "session is not encrypted");
    Ok(())
}

#[tokio::test]
async fn real_credentials_log_in_and_old_tokens_are_refused() {
    let cluster = TestCluster::start().expect("cluster");
    cluster.create_role("app", None).await.expect("role");
    let endpoint = TokenEndpoint::builder()
        .identity(None, "app")
        .identity(Some(CLIENT_ID), "app")
        .client_secret(CLIENT_SECRET)
        .cluster(&cluster)
        .start()
        .await
        .expect("endpoint");

    // Managed identity, instance metadata form, through the transport.
    let managed = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: endpoint.client_options(),
        ..Default::default()
    }))
    .expect("managed identity credential");
    let first = managed
        .get_token(&[SCOPE], None)
        .await
        .expect("managed identity token");
    let first = first.token.secret().to_owned();
    assert_eq!(endpoint.last_token().as_deref(), Some(first.as_str()));
    let sent = endpoint.loopback_transport().sent();
    assert!(
        sent[0]
            .url
            .starts_with("http://169.254.169.254/metadata/identity/oauth2/token?")
    );
    let recorded = endpoint.recorded();
    assert_eq!(recorded[0].header("metadata"), Some("true"));
    assert_eq!(
        recorded[0].query("resource").as_deref(),
        Some("https://ossrdbms-aad.database.windows.net")
    );
    assert!(
        !format!("{:?}{:?}", recorded, sent).contains(&first),
        "Debug shows a token"
    );

    login(&cluster, cluster.ca_file(), &first)
        .await
        .expect("first token logs in");

    // Client secret, Entra form, through the same transport.
    let secret = ClientSecretCredential::new(
        DEFAULT_TENANT,
        CLIENT_ID.to_owned(),
        Secret::new(CLIENT_SECRET),
        Some(ClientSecretCredentialOptions {
            client_options: endpoint.client_options(),
        }),
    )
    .expect("client secret credential");
    let second = secret
        .get_token(&[SCOPE], None)
        .await
        .expect("client secret token");
    let second = second.token.secret().to_owned();
    assert_ne!(first, second);
    assert_eq!(endpoint.tokens_issued(), 2);
    let sent = endpoint.loopback_transport().sent();
    let entra_url = format!("https://login.microsoftonline.com/{DEFAULT_TENANT}/oauth2/v2.0/token");
    assert_eq!(sent[1].url, entra_url);

    // The first token is no longer the password; the second one is.
    let refused = login(&cluster, cluster.ca_file(), &first)
        .await
        .expect_err("old token refused");
    assert_eq!(
        refused.code(),
        Some(&SqlState::INVALID_PASSWORD),
        "{refused:?}"
    );
    login(&cluster, cluster.ca_file(), &second)
        .await
        .expect("second token logs in");

    // A CA that did not sign the server certificate is refused.
    let wrong_ca = login(&cluster, cluster.other_ca_file(), &second)
        .await
        .expect_err("wrong CA");
    assert!(
        wrong_ca.code().is_none(),
        "expected a TLS error, got {wrong_ca:?}"
    );
}

#[tokio::test]
async fn wrong_secret_and_unknown_identity_are_refused() {
    let endpoint = TokenEndpoint::builder()
        .identity(Some(CLIENT_ID), "app")
        .client_secret(CLIENT_SECRET)
        .start()
        .await
        .expect("endpoint");

    let secret = ClientSecretCredential::new(
        DEFAULT_TENANT,
        CLIENT_ID.to_owned(),
        Secret::new("not-the-secret"),
        Some(ClientSecretCredentialOptions {
            client_options: endpoint.client_options(),
        }),
    )
    .expect("client secret credential");
    let error = secret
        .get_token(&[SCOPE], None)
        .await
        .expect_err("wrong secret");
    assert!(error.to_string().contains("AADSTS7000215"), "{error}");

    // No system-assigned identity is configured here.
    let managed = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: endpoint.client_options(),
        ..Default::default()
    }))
    .expect("managed identity credential");
    let error = managed
        .get_token(&[SCOPE], None)
        .await
        .expect_err("no such identity");
    assert!(
        error.to_string().contains("has not been assigned"),
        "{error}"
    );
    assert_eq!(endpoint.tokens_issued(), 0);
}

#[tokio::test]
async fn cluster_without_tls_is_refused_by_sslmode_require() {
    let cluster = TestCluster::builder().ssl(false).start().expect("cluster");
    cluster.create_role("app", Some("pw")).await.expect("role");
    let error = login(&cluster, cluster.ca_file(), "pw")
        .await
        .expect_err("no TLS on offer");
    assert!(error.code().is_none(), "{error:?}");

    let dir = cluster
        .socket_dir()
        .parent()
        .expect("temp dir")
        .to_path_buf();
    drop(cluster);
    assert!(!dir.exists(), "temp dir left behind");
}

#[tokio::test]
async fn app_service_form_and_faults() {
    use std::time::Duration;

    use azure_core::http::{HttpClient, Method, Request, StatusCode};
    use pg_entra_pool::testkit::{ExpiresOnForm, Fault};

    let endpoint = TokenEndpoint::builder()
        .identity(None, "app")
        .token_len(4096)
        .start()
        .await
        .expect("endpoint");
    let transport = endpoint.loopback_transport();
    let url = format!(
        "{}/msi/token?api-version=2019-08-01&resource=https://ossrdbms-aad.database.windows.net",
        endpoint.url()
    );
    let request = |header: &str| {
        let mut request = Request::new(url.parse().expect("url"), Method::Get);
        request.insert_header("x-identity-header", header.to_owned());
        request
    };
    let good = request(endpoint.identity_header());
    let json = |body: &[u8]| serde_json::from_slice::<serde_json::Value>(body).expect("json");

    let response = transport.execute_request(&good).await.expect("answer");
    assert_eq!(response.status(), StatusCode::Ok);
    let body = json(&response.into_body().collect().await.expect("body"));
    assert!(body["expires_on"].is_string(), "{body}");
    assert!(body["access_token"].as_str().expect("token").len() >= 4096);

    let response = transport
        .execute_request(&request("wrong"))
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::Unauthorized);

    endpoint.set_fault(Fault::ExpiresOn(ExpiresOnForm::Number));
    let response = transport.execute_request(&good).await.expect("answer");
    assert!(json(&response.into_body().collect().await.expect("body"))["expires_on"].is_u64());

    endpoint.set_fault(Fault::SameToken);
    let before = endpoint.tokens_issued();
    transport.execute_request(&good).await.expect("answer");
    assert_eq!(endpoint.tokens_issued(), before);

    endpoint.set_fault(Fault::CloseWithoutAnswer);
    transport
        .execute_request(&good)
        .await
        .expect_err("closed without answer");

    endpoint.set_fault(Fault::Hang);
    let hung = tokio::time::timeout(Duration::from_millis(300), transport.execute_request(&good));
    assert!(hung.await.is_err(), "a hung endpoint answered");

    endpoint.set_fault(Fault::every(2, Fault::status(503, "{}")));
    let statuses = [
        transport
            .execute_request(&good)
            .await
            .expect("answer")
            .status(),
        transport
            .execute_request(&good)
            .await
            .expect("answer")
            .status(),
    ];
    assert!(
        statuses.contains(&StatusCode::ServiceUnavailable),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::Ok), "{statuses:?}");
    endpoint.clear_fault();

    endpoint.stop_listening();
    transport
        .execute_request(&good)
        .await
        .expect_err("connection refused");
    endpoint.resume().expect("resume");
    transport
        .execute_request(&good)
        .await
        .expect("answer after resume");
}

/// The Azure-like login (cleartext inside TLS): the current token logs in,
/// the previous one and a wrong one are refused, and the server really uses
/// the `password` method.
#[tokio::test]
async fn cleartext_login_checks_tokens_like_scram_does() {
    use pg_entra_pool::testkit::Login;

    let cluster = TestCluster::builder()
        .login(Login::Cleartext)
        .start()
        .expect("cluster");
    assert_eq!(cluster.login(), Login::Cleartext);
    cluster.create_role("app", None).await.expect("role");
    let endpoint = TokenEndpoint::builder()
        .identity(None, "app")
        .cluster(&cluster)
        .start()
        .await
        .expect("endpoint");
    let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: endpoint.client_options(),
        ..Default::default()
    }))
    .expect("credential");

    let first = credential.get_token(&[SCOPE], None).await.expect("token");
    login(&cluster, cluster.ca_file(), first.token.secret())
        .await
        .expect("the token logs in");
    let err = login(&cluster, cluster.ca_file(), "not-the-token")
        .await
        .expect_err("a wrong password is refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD));

    let hba = cluster
        .admin()
        .await
        .unwrap()
        .query_one(
            "SELECT auth_method FROM pg_hba_file_rules WHERE 'hostssl' = type",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(hba.get::<_, String>(0), "password");
}
