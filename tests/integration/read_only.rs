use std::time::Duration;

use pg_entra_pool::testkit::TokenEndpoint;

use crate::support::{Setup, cluster, unique_role};

/// `pg_ro_*` that is set wins, what is unset comes from `pg_*`; the
/// read-only pool logs in as its own identity and refuses writes.
#[tokio::test]
async fn the_read_only_pool_uses_its_own_settings_and_refuses_writes() {
    // One endpoint, two identities: system-assigned for the primary, a
    // user-assigned one for the read-only pool.
    let primary = unique_role("writer");
    let reader = unique_role("reader");
    cluster()
        .create_role(&primary, None)
        .await
        .expect("writer role");
    cluster()
        .create_role(&reader, None)
        .await
        .expect("reader role");
    let endpoint = TokenEndpoint::builder()
        .identity(None, &primary)
        .identity(Some("reader-client-id"), &reader)
        .cluster(cluster())
        .start()
        .await
        .expect("endpoint");
    let setup = Setup {
        role: primary,
        endpoint,
    };

    let mut settings = setup.settings();
    settings.pg_pool_size = Some(5);
    settings.pg_ro_host = Some(cluster().host().to_owned());
    settings.pg_ro_user = Some(reader.clone());
    settings.pg_ro_azure_client_id = Some("reader-client-id".into());
    settings.pg_ro_pool_size = Some(2);
    let pools = setup.pools(settings).await.expect("pools");

    let ro = pools.read_only().get().await.expect("read-only connection");
    let row = ro
        .query_one(
            "SELECT current_user::text, current_setting('transaction_read_only')",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), reader);
    assert_eq!(row.get::<_, String>(1), "on");
    let err = ro
        .execute("CREATE TEMP TABLE nope (x int)", &[])
        .await
        .expect_err("a write on the read-only pool must fail");
    assert_eq!(err.code().map(|c| c.code()), Some("25006"));
    assert_eq!(pools.status().read_only.expect("ro").max_size, 2);

    let rw = pools.primary().get().await.expect("primary connection");
    let row = rw
        .query_one(
            "SELECT current_user::text, current_setting('transaction_read_only')",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(row.get::<_, String>(0), setup.role);
    assert_eq!(row.get::<_, String>(1), "off");
    let status = pools.status();
    assert_eq!(status.tokens.len(), 2, "two identities, two caches");
    assert_eq!(status.primary.max_size, 5);
    let asked: Vec<Option<String>> = setup
        .endpoint
        .recorded()
        .iter()
        .map(|r| r.query("client_id"))
        .collect();
    assert!(
        asked.contains(&None) && asked.contains(&Some("reader-client-id".into())),
        "{asked:?}"
    );
}

/// Without `pg_ro_host`, `read_only()` hands out primary connections.
#[tokio::test]
async fn without_a_read_only_host_reads_go_to_the_primary() {
    let setup = Setup::new("nro", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    assert!(!pools.has_read_only());
    let client = pools.read_only().get().await.expect("connection");
    client
        .execute("CREATE TEMP TABLE yes (x int)", &[])
        .await
        .expect("writable");
}
