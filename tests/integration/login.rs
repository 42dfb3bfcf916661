use std::time::Duration;

use crate::support::{Setup, direct_login};

#[tokio::test]
async fn logs_in_with_a_token_as_the_role() {
    let setup = Setup::new("login", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let client = pools.primary().get().await.expect("connection");
    let row = client
        .query_one(
            "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), setup.role);
    assert!(row.get::<_, bool>(1), "the session must use TLS");
    assert_eq!(setup.endpoint.tokens_issued(), 1);
}

#[tokio::test]
async fn the_server_really_checks_the_password() {
    let setup = Setup::new("check", Duration::from_secs(60)).await;
    let _pools = setup.pools(setup.settings()).await.expect("pools");
    let token = setup.endpoint.last_token().expect("a token was issued");
    direct_login(&setup.role, &token)
        .await
        .expect("the current token logs in");
    let err = direct_login(&setup.role, "not-the-token")
        .await
        .expect_err("wrong password");
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"));
}

#[tokio::test]
async fn a_refused_login_returns_the_servers_error_not_a_timeout() {
    let setup = Setup::new("refused", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    // The endpoint's tokens are this role's password, not postgres's.
    settings.pg_user = Some("postgres".into());
    let pools = setup.pools(settings).await.expect("pools");
    let err = pools.primary().get().await.expect_err("login must fail");
    assert_eq!(err.sqlstate(), Some("28P01"), "{err}");
    assert!(err.is_auth_failure());
    assert!(
        err.to_string()
            .contains("pg_user must be the role made for this identity"),
        "{err}"
    );
    assert!(
        err.to_string().contains("password authentication failed"),
        "{err}"
    );
    // One retry with a newer token, fetched once.
    assert!(
        setup.endpoint.tokens_issued() <= 2,
        "{}",
        setup.endpoint.tokens_issued()
    );
}

#[tokio::test]
async fn connections_are_plain_deadpool_postgres_objects() {
    use pg_entra_pool::GenericClient;

    async fn count(client: &impl GenericClient) -> i64 {
        let stmt = client
            .prepare_cached("SELECT count(*) FROM generate_series(1, 5)")
            .await
            .unwrap();
        client.query_one(&stmt, &[]).await.unwrap().get(0)
    }

    let setup = Setup::new("objects", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let mut client = pools.primary().get().await.expect("connection");
    assert_eq!(count(&client).await, 5);
    let tx = client.transaction().await.expect("transaction");
    assert_eq!(count(&tx).await, 5);
    tx.rollback().await.expect("rollback");
}
