//! One cluster per test binary (stopped by the testkit's watchdog when the
//! process exits); each test gets its own roles and token endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use pg_entra_pool::EntraPool;
use tokio::task::JoinHandle;

use pg_entra_pool::testkit::{TestCluster, TokenEndpoint, TokenEndpointBuilder};
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
        Self::with_endpoint(prefix, |endpoint, role| {
            endpoint.identity(None, role).lifetime(lifetime)
        })
        .await
    }

    /// A role, and an endpoint linked to the cluster that `configure` sets
    /// up (identities, lifetime, secrets) given the role's name.
    pub async fn with_endpoint(
        prefix: &str,
        configure: impl FnOnce(TokenEndpointBuilder, &str) -> TokenEndpointBuilder,
    ) -> Self {
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
        let endpoint = configure(TokenEndpoint::builder(), &role)
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
        let setup = Self::with_endpoint(prefix, |endpoint, role| {
            endpoint
                .identity(Some(client_id), role)
                .client_secret(secret)
        })
        .await;
        let tenant = setup.endpoint.tenant().to_owned();
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

/// Tasks that check out a connection and run `SELECT 1`, 5 ms apart, until
/// stopped; they keep every failure, explained.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    tasks: Vec<JoinHandle<Vec<String>>>,
}

impl Load {
    pub fn start(pool: &EntraPool, tasks: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let tasks = (0..tasks)
            .map(|_| {
                let (pool, stop, ok) = (pool.clone(), stop.clone(), ok.clone());
                tokio::spawn(async move {
                    let mut failures = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let result = async {
                            let client = pool.get().await?;
                            client.simple_query("SELECT 1").await?;
                            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                        }
                        .await;
                        match result {
                            Ok(()) => {
                                ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => failures.push(explain(&*e)),
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    failures
                })
            })
            .collect();
        Self { stop, ok, tasks }
    }

    /// Queries that succeeded so far.
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops the tasks and returns every failure.
    pub async fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        let mut failures = Vec::new();
        for task in self.tasks {
            failures.extend(task.await.expect("load task"));
        }
        failures
    }
}

/// The error with the server's message and SQLSTATE, which a query error's
/// own `Display` ("db error") leaves to its source.
pub fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    match e.downcast_ref::<tokio_postgres::Error>() {
        Some(pg) => match pg.as_db_error() {
            Some(db) => format!("{}: {} ({})", pg, db.message(), db.code().code()),
            None => format!(
                "{pg}: {:?}",
                std::error::Error::source(pg).map(|s| s.to_string())
            ),
        },
        None => e.to_string(),
    }
}
