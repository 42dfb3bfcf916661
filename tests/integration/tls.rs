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
    assert!(err.is_config() && !err.is_transient(), "{err:?}");
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
    assert!(err.is_config() && !err.is_transient(), "{err:?}");
    drop(plain);
}

/// What the client sends to a server that declines TLS: the 8-byte
/// SSLRequest and nothing after it, so neither a startup packet nor the
/// token ever leaves. A listener on loopback plays the server and keeps
/// every byte it receives.
#[tokio::test]
async fn nothing_but_the_tls_request_reaches_a_server_that_declines_tls() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 8];
        socket.read_exact(&mut request).await.unwrap();
        socket.write_all(b"N").await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), socket.read_to_end(&mut rest)).await;
        (request, rest)
    });

    let setup = Setup::new("decline", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_port = Some(port);
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("must be refused");

    let (request, rest) = server.await.unwrap();
    // Length 8, then the SSLRequest code 80877103.
    assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "{err}");
    assert!(
        rest.is_empty(),
        "{} bytes followed the TLS request",
        rest.len()
    );
    let token = setup.endpoint.last_token().expect("a token was issued");
    assert!(!err.to_string().contains(&token));
}
