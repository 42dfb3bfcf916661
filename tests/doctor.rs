//! `pg-entra-pool doctor` end to end: a working setup, each failure it
//! hints at, and the binary itself, against a throw-away cluster and the
//! loopback token endpoint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pg_entra_pool::Settings;
use pg_entra_pool::doctor::{self, HintKind, Options, Report};
use pg_entra_pool::testkit::{Fault, TestCluster, TokenEndpoint};

const RESOURCE: &str = "https://ossrdbms-aad.database.windows.net";

fn cluster() -> &'static TestCluster {
    TestCluster::shared()
}

fn unique(prefix: &str) -> String {
    pg_entra_pool::testkit::unique_name(prefix)
}

/// A role and an endpoint whose identity (`client_id`, or system-assigned)
/// logs in as it.
async fn setup(prefix: &str, client_id: Option<&str>) -> (String, TokenEndpoint) {
    let role = unique(prefix);
    cluster().create_role(&role, None).await.expect("role");
    let endpoint = TokenEndpoint::builder()
        .identity(client_id, &role)
        .lifetime(Duration::from_secs(600))
        .cluster(cluster())
        .start()
        .await
        .expect("endpoint");
    (role, endpoint)
}

fn settings(user: &str) -> Settings {
    Settings {
        pg_timeout: Some(3000),
        ..cluster().entra_settings(user)
    }
}

async fn doctor(settings: &Settings, endpoint: &TokenEndpoint) -> Report {
    let options = Options::default().transport(endpoint.transport());
    doctor::run(settings, &options).await
}

fn hint_kinds(report: &Report) -> Vec<HintKind> {
    report.hints().map(|h| h.kind).collect()
}

/// No token the endpoint issued shows up in what the doctor prints.
fn assert_no_token(report: &Report, endpoint: &TokenEndpoint) {
    let text = format!("{report}{}{report:?}", report.to_json());
    for token in endpoint.issued_tokens() {
        assert!(!text.contains(&token), "a token leaked into the report");
    }
}

#[tokio::test]
async fn a_working_setup_passes_on_both_sides() {
    let (role, endpoint) = setup("doc_ok", None).await;
    let mut settings = settings(&role);
    settings.pg_ro_host = Some(cluster().host().to_owned());
    let report = doctor(&settings, &endpoint).await;
    assert!(report.ok, "{report}");
    assert_eq!(report.sides.len(), 2);

    for (side, read_only) in report.sides.iter().zip([false, true]) {
        assert_eq!(side.credentials.last().unwrap().outcome, "token", "{side}");
        let claims = side.token.as_ref().expect("claims");
        assert_eq!(claims.audience.as_deref(), Some(RESOURCE));
        assert!(claims.expires_in().unwrap() > 500);
        assert_eq!(claims.identity_name(), Some(role.as_str()));
        let c = side.connection.as_ref().expect("connection");
        assert_eq!(c.user.as_deref(), Some(role.as_str()));
        assert_eq!(c.database.as_deref(), Some("postgres"));
        assert_eq!(c.read_only, Some(read_only));
        assert!(c.protocol.as_deref().unwrap().starts_with("TLSv1"), "{c:?}");
        assert!(c.cipher.is_some());
        assert!(
            c.server_certificate.as_deref().unwrap().contains("CN="),
            "{c:?}"
        );
        assert!(side.hints.is_empty(), "{:?}", side.hints);
    }
    let host = &report.sides[0].settings[0];
    assert_eq!(
        (host.key.as_str(), host.origin.as_str()),
        ("pg_host", "code")
    );
    assert_no_token(&report, &endpoint);
    let connection = report.sides[0].connection.as_ref().unwrap();
    assert_eq!(connection.certificate_verified, Some(true));
}

#[tokio::test]
async fn an_unknown_client_id_says_identity_not_found() {
    let (role, endpoint) = setup("doc_idnf", Some("11111111-aaaa-4aaa-8aaa-111111111111")).await;
    let mut settings = settings(&role);
    settings.pg_azure_client_id = Some("22222222-bbbb-4bbb-8bbb-222222222222".into());
    let report = doctor(&settings, &endpoint).await;
    assert!(!report.ok);
    assert_eq!(
        hint_kinds(&report),
        [HintKind::IdentityNotFound],
        "{report}"
    );
    let side = &report.sides[0];
    assert_eq!(side.credentials[0].outcome, "failed");
    assert!(side.connection.is_none());
    assert!(side.hints[0].text.contains("22222222-bbbb"), "{report}");
}

#[tokio::test]
async fn a_token_for_another_resource_says_audience_not_valid() {
    let (role, endpoint) = setup("doc_aud", None).await;
    let mut settings = settings(&role);
    settings.pg_azure_scope = Some("https://management.azure.com/.default".into());
    let report = doctor(&settings, &endpoint).await;
    assert!(
        hint_kinds(&report).contains(&HintKind::AudienceNotValid),
        "{report}"
    );
}

#[tokio::test]
async fn a_missing_role_says_role_does_not_exist() {
    // The endpoint knows the identity, but no role of that name exists.
    let ghost = unique("doc_ghost");
    let endpoint = TokenEndpoint::builder()
        .identity(None, &ghost)
        .start()
        .await
        .expect("endpoint");
    let report = doctor(&settings(&ghost), &endpoint).await;
    assert!(!report.ok);
    assert_eq!(
        hint_kinds(&report),
        [HintKind::RoleDoesNotExist],
        "{report}"
    );
    let connection = report.sides[0].connection.as_ref().unwrap();
    assert_eq!(connection.sqlstate.as_deref(), Some("28P01"));
}

#[tokio::test]
async fn another_roles_name_says_wrong_user() {
    let (_, endpoint) = setup("doc_who", None).await;
    let other = unique("doc_other");
    cluster()
        .create_role(&other, Some("pw"))
        .await
        .expect("role");
    let report = doctor(&settings(&other), &endpoint).await;
    assert!(!report.ok);
    assert_eq!(hint_kinds(&report), [HintKind::WrongUser], "{report}");
    assert!(report.sides[0].hints[0].text.contains(&other));
    // The handshake worked before the login was refused.
    let connection = report.sides[0].connection.as_ref().unwrap();
    assert!(connection.protocol.as_deref().unwrap().starts_with("TLSv1"));
    assert_eq!(connection.user, None);
}

#[tokio::test]
async fn a_missing_database_says_so() {
    let (role, endpoint) = setup("doc_nodb", None).await;
    let mut settings = settings(&role);
    settings.pg_database = Some("no_such_database".into());
    let report = doctor(&settings, &endpoint).await;
    assert!(!report.ok);
    assert_eq!(hint_kinds(&report), [HintKind::DatabaseMissing], "{report}");
    assert!(report.sides[0].hints[0].text.contains("no_such_database"));
}

#[tokio::test]
async fn an_expired_token_says_token_expired() {
    let (role, endpoint) = setup("doc_exp", None).await;
    let past = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 600;
    let payload = format!(
        r#"{{"aud":"{RESOURCE}","exp":{past},"iat":{}}}"#,
        past - 3600
    );
    let token = format!("e30.{}.c2ln", URL_SAFE_NO_PAD.encode(payload));
    endpoint.set_fault(Fault::Body(format!(
        r#"{{"access_token":"{token}","expires_on":"{past}","resource":"{RESOURCE}","token_type":"Bearer"}}"#
    )));
    let report = doctor(&settings(&role), &endpoint).await;
    assert!(!report.ok);
    assert_eq!(hint_kinds(&report), [HintKind::TokenExpired], "{report}");
    assert!(format!("{report}").contains("EXPIRED"));
}

#[tokio::test]
async fn a_server_without_tls_says_tls_refused() {
    let plain = tokio::task::spawn_blocking(|| TestCluster::builder().ssl(false).start())
        .await
        .unwrap()
        .expect("cluster without TLS");
    let (role, endpoint) = setup("doc_notls", None).await;
    let mut settings = settings(&role);
    settings.pg_port = Some(plain.port());
    let report = doctor(&settings, &endpoint).await;
    assert!(!report.ok);
    assert_eq!(hint_kinds(&report), [HintKind::TlsRefused], "{report}");
    assert_no_token(&report, &endpoint);
}

#[tokio::test]
async fn a_wrong_ca_says_tls_refused() {
    let (role, endpoint) = setup("doc_ca", None).await;
    let mut settings = settings(&role);
    settings.pg_ssl_trusted_certificate = Some(cluster().other_ca_file().to_owned());
    let report = doctor(&settings, &endpoint).await;
    assert!(!report.ok);
    assert_eq!(hint_kinds(&report), [HintKind::TlsRefused], "{report}");
    assert!(report.sides[0].hints[0].text.contains("certificate"));
    let connection = report.sides[0].connection.as_ref().unwrap();
    assert!(
        connection
            .error
            .as_deref()
            .unwrap()
            .contains("certificate verify failed")
    );
    assert_eq!(connection.certificate_verified, Some(false));
    assert!(report.to_string().contains("(did not verify)"), "{report}");
}

/// The binary, as an operator runs it: settings from a conf file and the
/// environment, the App Service managed identity pointed at the loopback
/// endpoint through `IDENTITY_ENDPOINT`, set on the child only.
#[tokio::test]
async fn the_binary_reports_and_exits_by_outcome() {
    let (role, endpoint) = setup("doc_bin", None).await;
    let c = cluster();
    let dir = std::env::temp_dir().join(unique(&format!("pg-entra-doctor-{}", std::process::id())));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("kong.conf");
    std::fs::write(
        &conf,
        format!(
            "pg_host = {}\npg_port = {}\npg_database = postgres\npg_azure_auth = on\n\
             pg_ssl_trusted_certificate = {}\n",
            c.host(),
            c.port(),
            c.ca_file().display()
        ),
    )
    .unwrap();

    let run = |user: String, json: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pg-entra-pool"));
        command
            .env_clear()
            .envs(endpoint.app_service_env())
            .env("KONG_PG_USER", user)
            .args(["doctor", "--env-prefix", "KONG_", "--conf"])
            .arg(&conf);
        if json {
            command.arg("--json");
        }
        command
    };

    let out = tokio::task::spawn_blocking({
        let mut command = run(role.clone(), true);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(json["ok"], true);
    let settings = json["sides"][0]["settings"].as_array().unwrap();
    let origin = |key: &str| {
        settings.iter().find(|s| s["key"] == key).unwrap()["origin"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert!(origin("pg_host").starts_with("file "), "{stdout}");
    assert_eq!(origin("pg_user"), "environment variable KONG_PG_USER");
    assert_eq!(origin("pg_schema"), "default");
    assert!(
        json["sides"][0]["credentials"][0]["credential"]
            .as_str()
            .unwrap()
            .contains("managed identity")
    );
    assert!(endpoint.recorded().iter().any(|r| r.path() == "/msi/token"));

    // A user that is not the identity's role: exit 1 and a hint.
    let other = unique("doc_bin_other");
    cluster()
        .create_role(&other, Some("pw"))
        .await
        .expect("role");
    let out = tokio::task::spawn_blocking({
        let mut command = run(other, false);
        move || command.output().unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("hint: password authentication failed for a managed identity"),
        "{stdout}"
    );
    for token in endpoint.issued_tokens() {
        assert!(!stdout.contains(&token));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Settings that cannot be read: exit 2, and still JSON with `--json`.
#[test]
fn the_binary_exits_2_on_unreadable_settings() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pg-entra-pool"))
        .env_clear()
        .env("KONG_PG_PORT", "notaport")
        .args(["doctor", "--env-prefix", "KONG_", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["ok"], false);
    assert!(json["error"].as_str().unwrap().contains("KONG_PG_PORT"));
}
