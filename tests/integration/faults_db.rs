//! The database misbehaves: restarts under load, terminated backends, a
//! server that is down, wrong names, a login during a token rotation.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use pg_entra_pool::testkit::{TestCluster, TokenEndpoint, eventually};
use pg_entra_pool::{Error, Pools};

use crate::support::{Load, SCOPE, Setup, cluster, unique_role};

/// Terminates every backend of `role` and waits until they are gone.
async fn terminate_backends(cluster: &TestCluster, role: &str) -> i64 {
    let admin = cluster.admin().await.expect("admin");
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
            &[&role],
        )
        .await
        .expect("terminate")
        .get(0);
    let gone = eventually(Duration::from_secs(5), async || {
        let n: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
                &[&role],
            )
            .await
            .unwrap()
            .get(0);
        n == 0
    })
    .await;
    assert!(gone, "backends of {role} still there");
    killed
}

/// Backends killed while idle in the pool: the pool notices the closed
/// connections, drops them and opens new ones; no caller sees an error.
#[tokio::test]
async fn backends_terminated_while_idle_are_replaced() {
    let setup = Setup::new("killidle", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let pool = pools.primary();
    let held: Vec<_> = futures(pool, 4).await;
    drop(held);
    assert_eq!(terminate_backends(cluster(), &setup.role).await, 4);
    // The connection tasks read the server's goodbye.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..8 {
        let client = pool.get().await.expect("connection");
        client.simple_query("SELECT 1").await.expect("query");
    }
    assert!(pool.status().opened >= 5, "{:?}", pool.status());
}

/// A backend killed while checked out: its query fails with the server's
/// message, and the next `get()` serves.
#[tokio::test]
async fn a_backend_terminated_while_checked_out_reports_the_servers_error() {
    let setup = Setup::new("killbusy", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let client = pools.primary().get().await.expect("connection");
    terminate_backends(cluster(), &setup.role).await;
    let err = client
        .simple_query("SELECT 1")
        .await
        .expect_err("killed backend");
    let text = err.to_string();
    assert!(
        err.code().map(|c| c.code()) == Some("57P01") || text.contains("closed"),
        "{text}"
    );
    drop(client);
    let client = pools.primary().get().await.expect("a fresh connection");
    client.simple_query("SELECT 1").await.expect("query");
}

/// PostgreSQL restarts under load: queries in flight may fail, each with
/// an error that says why; the pool drops the dead connections and serves
/// again without any help. Nothing is lost beyond the restart's window.
#[tokio::test]
async fn a_restart_under_load_is_survived() {
    let own = tokio::task::spawn_blocking(TestCluster::start)
        .await
        .unwrap()
        .expect("own cluster");
    let own = Arc::new(own);
    let role = unique_role("restart");
    own.create_role(&role, None).await.unwrap();
    let endpoint = TokenEndpoint::builder()
        .identity(None, &role)
        .lifetime(Duration::from_secs(60))
        .cluster(&own)
        .start()
        .await
        .unwrap();
    let setup = Setup { role, endpoint };
    let mut settings = setup.settings();
    settings.pg_port = Some(own.port());
    settings.pg_ssl_trusted_certificate = Some(own.ca_file().to_owned());
    settings.pg_pool_size = Some(4);
    let pools = Pools::builder(settings)
        .transport(setup.endpoint.transport())
        .build()
        .await
        .expect("pools");

    let load = Load::start(pools.primary(), 8);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarter = own.clone();
    tokio::task::spawn_blocking(move || restarter.restart())
        .await
        .unwrap()
        .expect("restart");
    let after_restart = load.ok();
    // Serving again, by itself.
    let serving = eventually(Duration::from_secs(10), async || {
        load.ok() > after_restart + 100
    })
    .await;
    let failures = load.stop().await;
    assert!(serving, "not serving after the restart: {failures:?}");
    for f in &failures {
        assert!(!f.trim().is_empty());
        assert!(
            f.contains("57P01")
                || f.contains("terminating")
                || f.contains("closed")
                || f.contains("refused")
                || f.contains("reset")
                || f.contains("error communicating")
                || f.contains("shutting down")
                || f.contains("starting up")
                || f.contains("57P03"),
            "unexplained failure: {f}"
        );
    }

    // Once it is up, every query succeeds.
    for _ in 0..20 {
        let client = pools.primary().get().await.expect("connection");
        client.simple_query("SELECT 1").await.expect("query");
    }
}

async fn futures(pool: &pg_entra_pool::EntraPool, n: usize) -> Vec<pg_entra_pool::Object> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(pool.get().await.expect("connection"));
    }
    held
}

/// Server down when the pools are built: building works (it only needs a
/// token); `get()` returns the connect error, marked transient.
#[tokio::test]
async fn a_server_that_is_down_gives_a_clear_transient_error() {
    let setup = Setup::new("down", Duration::from_secs(60)).await;
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let mut settings = setup.settings();
    settings.pg_port = Some(port);
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("nobody listens");
    let text = err.to_string();
    assert!(text.contains("refused"), "{text}");
    assert!(err.is_transient() && !err.is_auth_failure(), "{err:?}");
    assert!(!matches!(err, Error::Timeout { .. }), "{err:?}");
}

/// A role or database that does not exist: the server's message and
/// SQLSTATE, not a timeout; no token in the text.
#[tokio::test]
async fn wrong_role_and_missing_database_carry_the_servers_message() {
    let setup = Setup::new("names", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_user = Some("no_such_role_here".into());
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("no such role");
    assert_eq!(err.sqlstate(), Some("28P01"), "{err}");
    assert!(err.to_string().contains("no_such_role_here"), "{err}");
    assert!(err.is_auth_failure());

    let mut settings = setup.settings();
    settings.pg_database = Some("no_such_database".into());
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("no such database");
    assert_eq!(err.sqlstate(), Some("3D000"), "{err}");
    assert!(err.to_string().contains("no_such_database"), "{err}");
    assert!(!err.is_transient());
    for token in setup.endpoint.issued_tokens() {
        assert!(!err.to_string().contains(&token));
        assert!(!format!("{err:?}").contains(&token));
    }
}

/// The token rotates while a connection is being opened: the server
/// already wants a token the pool has not installed. The login is refused
/// once, the pool fetches the newer token and logs in with it.
#[tokio::test]
async fn a_login_during_a_rotation_retries_with_the_newer_token() {
    let setup = Setup::new("midrotate", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    // Someone else (another replica) gets a new token: the role's password
    // changes under the pool.
    let other = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        client_options: setup.endpoint.client_options(),
        ..Default::default()
    }))
    .unwrap();
    other.get_token(&[SCOPE], None).await.expect("rotate");
    assert_eq!(setup.endpoint.tokens_issued(), 2);

    let client = pools.primary().get().await.expect("login after retry");
    client.simple_query("SELECT 1").await.expect("query");
    let status = pools.status();
    assert_eq!(status.primary.login_retries, 1, "{status:?}");
    assert_eq!(status.tokens[0].tokens_installed, 2);
}

/// A connect error from before the last successful login is no cause of a
/// later wait for a busy pool: the timeout must not carry it.
#[tokio::test]
async fn a_wait_timeout_does_not_blame_a_connect_error_that_has_healed() {
    let setup = Setup::new("stalecause", Duration::from_secs(60)).await;
    let settings = pg_entra_pool::Settings {
        pg_pool_size: Some(1),
        pg_semaphore_timeout: Some(200),
        pg_timeout: Some(1000),
        ..setup.settings()
    };
    let pools = setup.pools(settings).await.expect("pools");
    let pool = pools.primary();
    let admin = cluster().admin().await.expect("admin");
    let alter = |login: &str| format!("ALTER ROLE \"{}\" {login}", setup.role);

    // One failed login, then the cause goes away.
    admin
        .batch_execute(&alter("NOLOGIN"))
        .await
        .expect("nologin");
    let err = pool.get().await.expect_err("the role may not log in");
    assert!(err.is_auth_failure(), "{err}");
    // The status keeps the server's words, not tokio-postgres's "db error".
    let recorded = pool.status().last_error.expect("a recorded error");
    assert!(recorded.contains("sqlstate 28000"), "{recorded}");
    admin.batch_execute(&alter("LOGIN")).await.expect("login");
    let held = pool.get().await.expect("connection");

    // The only connection is busy: a plain wait timeout.
    let err = pool.get().await.expect_err("the pool is busy");
    let Error::Timeout { last_error, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(last_error.as_deref(), None, "{err}");
    drop(held);
}
