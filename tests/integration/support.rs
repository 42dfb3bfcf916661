//! One cluster per test binary (stopped by the testkit's watchdog when the
//! process exits); each test gets its own roles and token endpoint.

use std::time::Duration;

use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
use pg_entra_pool::{Pools, Settings};

pub const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

pub fn cluster() -> &'static TestCluster {
    TestCluster::shared()
}

/// A role name no other test uses.
pub fn unique_role(prefix: &str) -> String {
    pg_entra_pool::testkit::unique_name(prefix)
}

/// A role in the shared cluster, and an endpoint whose system-assigned
/// identity logs in as it.
pub struct Setup {
    pub role: String,
    pub endpoint: TokenEndpoint,
}

impl Setup {
    pub async fn new(prefix: &str, lifetime: Duration) -> Self {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "warn".into()),
            )
            .with_test_writer()
            .try_init();
        let cluster = cluster();
        let role = unique_role(prefix);
        cluster.create_role(&role, None).await.expect("create role");
        let endpoint = TokenEndpoint::builder()
            .identity(None, &role)
            .lifetime(lifetime)
            .cluster(cluster)
            .start()
            .await
            .expect("start the token endpoint");
        Self { role, endpoint }
    }

    /// A role, and an endpoint that knows one app registration for it
    /// (`client_id` with `secret`, on the Entra token form) and nothing
    /// else. Settings name the client id, `used_secret` and the tenant.
    pub async fn app_registration(
        prefix: &str,
        client_id: &str,
        secret: &str,
        used_secret: &str,
    ) -> (Self, Settings) {
        let role = unique_role(prefix);
        cluster()
            .create_role(&role, None)
            .await
            .expect("create role");
        let endpoint = TokenEndpoint::builder()
            .identity(Some(client_id), &role)
            .client_secret(secret)
            .cluster(cluster())
            .start()
            .await
            .expect("start the token endpoint");
        let tenant = endpoint.tenant().to_owned();
        let setup = Self { role, endpoint };
        let mut settings = setup.settings();
        settings.pg_azure_client_id = Some(client_id.into());
        settings.pg_azure_client_secret = Some(used_secret.into());
        settings.pg_azure_tenant_id = Some(tenant);
        (setup, settings)
    }

    /// Settings for the primary pool: Entra on, TLS verified against the
    /// cluster's CA.
    pub fn settings(&self) -> Settings {
        Settings {
            pg_timeout: Some(3000),
            pg_semaphore_timeout: Some(10_000),
            ..cluster().entra_settings(&self.role)
        }
    }

    /// Builds pools whose credentials can reach only the loopback endpoint.
    pub async fn pools(&self, settings: Settings) -> Result<Pools, pg_entra_pool::Error> {
        Pools::builder(settings)
            .transport(self.endpoint.transport())
            .build()
            .await
    }
}

/// Connects to the cluster directly as `role` with `password`, bypassing the
/// pool, and returns the server's verdict.
pub async fn direct_login(role: &str, password: &str) -> Result<(), tokio_postgres::Error> {
    let cluster = cluster();
    let mut config = cluster.user_config(role);
    config.password(password);
    let tls = TestCluster::tls_connector(cluster.ca_file()).expect("tls connector");
    let (client, connection) = config.connect(tls).await?;
    let task = tokio::spawn(connection);
    client.simple_query("SELECT 1").await?;
    drop(client);
    let _ = task.await;
    Ok(())
}
