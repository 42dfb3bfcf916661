use std::time::Duration;

use crate::support::{Load, Setup, direct_login};

/// Tokens live 3 seconds; for 10 seconds, 8 tasks query while the tokens
/// rotate. Each rotation makes the server refuse the previous token, and
/// the pool keeps serving with no failed query.
#[tokio::test]
async fn rotation_refuses_old_tokens_and_serves_without_a_failed_query() {
    let setup = Setup::new("rotate", Duration::from_secs(3)).await;
    let mut settings = setup.settings();
    settings.pg_pool_size = Some(4);
    let pools = setup.pools(settings).await.expect("pools");
    let first_token = setup.endpoint.last_token().expect("first token");

    let load = Load::start(pools.primary(), 8);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let ok = load.ok();
    let failures = load.stop().await;
    assert!(failures.is_empty(), "failed queries: {failures:?}");
    assert!(ok > 100, "{ok} queries in 10 s");

    let status = pools.status();
    let installed = status.tokens[0].tokens_installed;
    assert!(
        installed >= 5,
        "only {installed} tokens in 10 s of 3 s tokens"
    );
    let err = direct_login(&setup.role, &first_token)
        .await
        .expect_err("the first token must be refused by now");
    assert_eq!(err.code().map(|c| c.code()), Some("28P01"));
}
