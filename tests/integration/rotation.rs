use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::support::{Setup, direct_login};

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

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (pool, stop, ok) = (pools.primary().clone(), stop.clone(), ok.clone());
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let result = async {
                    let client = pool.get().await?;
                    client.simple_query("SELECT 1").await?;
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                }
                .await;
                match result {
                    Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        failures.push(e.to_string());
                        0
                    }
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            failures
        }));
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.store(true, Ordering::Relaxed);
    let mut failures = Vec::new();
    for t in tasks {
        failures.extend(t.await.unwrap());
    }
    assert!(failures.is_empty(), "failed queries: {failures:?}");
    assert!(ok.load(Ordering::Relaxed) > 100);

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
