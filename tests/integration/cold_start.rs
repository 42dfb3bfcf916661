use std::time::Duration;

use crate::support::{Setup, cluster};

/// 64 concurrent `get()` on empty primary and read-only pools that share an
/// identity: exactly one token request.
#[tokio::test]
async fn a_cold_start_makes_exactly_one_token_request() {
    let setup = Setup::new("cold", Duration::from_secs(60)).await;
    let mut settings = setup.settings();
    settings.pg_pool_size = Some(8);
    settings.pg_ro_host = Some(cluster().host().to_owned());
    let pools = setup.pools(settings).await.expect("pools");
    assert!(pools.has_read_only());

    let mut tasks = Vec::new();
    for i in 0..64 {
        let pool = if i % 2 == 0 {
            pools.primary()
        } else {
            pools.read_only()
        }
        .clone();
        tasks.push(tokio::spawn(async move {
            let client = pool.get().await?;
            client.simple_query("SELECT 1").await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("query");
    }
    assert_eq!(setup.endpoint.requests(), 1, "token requests");
    let status = pools.status();
    assert_eq!(status.tokens.len(), 1, "one shared token cache");
    assert_eq!(status.tokens[0].token_requests, 1);
    assert_eq!(status.primary.opened, 8);
    assert_eq!(status.read_only.expect("read-only pool").opened, 8);
}
