//! The managed identity credential in its App Service form, configured the
//! way Azure configures it: `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` in the
//! environment, here pointing at a loopback endpoint. Its own test binary,
//! because it changes the process environment.

use std::time::Duration;

use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
use pg_entra_pool::{Pools, Settings};

#[test]
fn app_service_managed_identity_logs_in_through_the_environment() {
    // Bind first, so the endpoint's address can go into the environment
    // before any other thread of this test exists.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/msi/token", listener.local_addr().unwrap());
    // SAFETY: this binary has one test, and it sets the environment before
    // starting the runtime or any thread of its own.
    unsafe {
        std::env::set_var("IDENTITY_ENDPOINT", &url);
        std::env::set_var("IDENTITY_HEADER", "a-header-only-this-test-knows");
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let cluster = TestCluster::start().expect("cluster");
        cluster.create_role("appsvc", None).await.unwrap();
        let endpoint = TokenEndpoint::builder()
            .listener(listener)
            .identity_header("a-header-only-this-test-knows")
            .identity(None, "appsvc")
            .lifetime(Duration::from_secs(60))
            .cluster(&cluster)
            .start()
            .await
            .expect("endpoint");

        let settings = Settings {
            ..cluster.entra_settings("appsvc")
        };
        // No transport: the credential finds the endpoint in the environment.
        let pools = Pools::builder(settings).build().await.expect("pools");
        let client = pools.primary().get().await.expect("login");
        let user: String = client
            .query_one("SELECT current_user::text", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(user, "appsvc");

        let request = &endpoint.recorded()[0];
        assert_eq!(request.path(), "/msi/token");
        assert_eq!(request.query("api-version").as_deref(), Some("2019-08-01"));
        assert_eq!(
            request.query("resource").as_deref(),
            Some("https://ossrdbms-aad.database.windows.net")
        );
        assert_eq!(
            request.header("x-identity-header"),
            Some("a-header-only-this-test-knows")
        );
    });
}
