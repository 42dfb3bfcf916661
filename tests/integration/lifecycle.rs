use std::time::Duration;

use crate::support::Setup;

/// The refresh task ends with the last pool: no token request after drop.
#[tokio::test]
async fn dropping_the_pools_stops_the_refresh_task() {
    let setup = Setup::new("drop", Duration::from_secs(2)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let client = pools.primary().get().await.expect("connection");
    drop(client);
    // Let it refresh at least once (half-life of a 2 s token).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let while_alive = setup.endpoint.requests();
    assert!(
        while_alive >= 2,
        "{while_alive} requests: the cache never refreshed"
    );

    drop(pools);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at_drop = setup.endpoint.requests();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        setup.endpoint.requests(),
        at_drop,
        "token requests after the pools were dropped"
    );
}

/// A clone of a pool keeps the cache alive; the pools work from clones.
#[tokio::test]
async fn a_pool_clone_outlives_the_pools() {
    let setup = Setup::new("clone", Duration::from_secs(60)).await;
    let pools = setup.pools(setup.settings()).await.expect("pools");
    let primary = pools.primary().clone();
    drop(pools);
    let client = primary.get().await.expect("connection from the clone");
    client.simple_query("SELECT 1").await.expect("query");
}
