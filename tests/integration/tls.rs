use std::time::Duration;

use pg_entra_pool::testkit::TestCluster;

use crate::support::{Setup, cluster};

/// With `pg_azure_auth = on`, `pg_ssl = off` does not turn TLS off.
#[tokio::test]
async fn entra_auth_forces_tls() {
    let setup = Setup::new("tlsforced", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_ssl = Some(false);
    settings.pg_ssl_required = Some(false);
    let pools = setup.pools(settings).await.expect("pools");
    let client = pools.primary().get().await.expect("connection");
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query");
    assert!(row.get::<_, bool>(0));
}

/// A server certificate that does not chain to the trusted CA is refused
/// before any password is sent, with an error that says so.
#[tokio::test]
async fn a_wrong_ca_is_refused_with_a_clear_error() {
    let setup = Setup::new("wrongca", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_ssl_trusted_certificate = Some(cluster().other_ca_file().to_owned());
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("must be refused");
    let text = err.to_string();
    assert!(text.contains("certificate verify failed"), "{text}");
    assert_eq!(
        text.matches("certificate verify failed").count(),
        1,
        "{text}"
    );
    assert_eq!(err.sqlstate(), None);
}

/// A server that offers no TLS at all never sees the token.
#[tokio::test]
async fn a_server_without_tls_is_refused() {
    let plain = tokio::task::spawn_blocking(|| TestCluster::builder().ssl(false).start())
        .await
        .unwrap()
        .expect("cluster without TLS");
    let setup = Setup::new("notls", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_port = Some(plain.port());
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("must be refused");
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains("tls") || text.contains("ssl"),
        "{text}"
    );
    drop(plain);
}
