//! What every bench shares: one throw-away cluster, the pools under test and
//! their baselines, and the side-by-side ratio table.
//!
//! Everything reaches only 127.0.0.1: the cluster and the loopback token
//! endpoints of the testkit. Every credential goes through an endpoint's
//! transport.

// Each bench binary uses a part of this module.
#![allow(dead_code)]

pub mod ratios;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use azure_core::credentials::TokenCredential;
use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
use deadpool_postgres::{Connect, Manager, ManagerConfig, RecyclingMethod, Runtime};
use pg_entra_pool::testkit::{Fault, Login, TestCluster, TokenEndpoint};
use pg_entra_pool::{Pools, RefreshPolicy, Settings};
use postgres_openssl::MakeTlsConnector;
use tokio::task::JoinHandle;
use tokio_postgres::Config;

pub const SCOPE: &str = "https://ossrdbms-aad.database.windows.net/.default";

/// `pg_timeout` of every pool, baselines included.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// `pg_semaphore_timeout` of every pool, baselines included.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// The length of every token and of the static password. A login with
/// this testkit runs SCRAM, whose client-side PBKDF2 re-hashes an HMAC key
/// longer than 64 bytes in each of its 4096 rounds (postgres-protocol), so
/// a long password costs milliseconds more per login than a short one. The
/// baseline's password is as long as the tokens, so both logins cost the
/// same and the comparison shows what this crate adds.
pub const TOKEN_LEN: usize = 1024;

/// What a token request costs in practice: an instance metadata call.
pub const METADATA_LATENCY: Duration = Duration::from_millis(20);

/// The runtime every bench runs on: one worker per core, as a service has.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Whether setups made from now on use the cluster whose logins work as
/// Azure's do (cleartext inside TLS) rather than the SCRAM one.
static AZURE_LOGIN: AtomicBool = AtomicBool::new(false);

/// Makes the setups created after this call use the Azure-like login
/// (`true`) or SCRAM (`false`, the default). Pools keep the cluster they
/// were made on.
pub fn use_azure_login(on: bool) {
    AZURE_LOGIN.store(on, Ordering::Relaxed);
}

/// One cluster per login mode and bench binary; the testkit's watchdog
/// removes it when the process exits.
pub fn cluster() -> &'static TestCluster {
    static AZURE_LIKE: OnceLock<TestCluster> = OnceLock::new();
    if AZURE_LOGIN.load(Ordering::Relaxed) {
        AZURE_LIKE.get_or_init(|| {
            TestCluster::builder()
                .login(Login::Cleartext)
                .start()
                .expect("start the test cluster")
        })
    } else {
        TestCluster::shared()
    }
}

/// A role name no other pool in this process uses.
pub fn unique_role(prefix: &str) -> String {
    pg_entra_pool::testkit::unique_name(&format!("bench_{prefix}"))
}

/// The connection settings every pool shares: 127.0.0.1, database
/// `postgres`, TLS required, keepalives on.
fn base_config(role: &str) -> Config {
    let mut config = cluster().user_config(role);
    config.connect_timeout(CONNECT_TIMEOUT).keepalives(true);
    config
}

/// TLS as the pools under test have it: verified against the cluster's CA.
pub fn tls() -> MakeTlsConnector {
    TestCluster::tls_connector(cluster().ca_file()).expect("tls connector")
}

/// What this crate's pools use too: the server's `is_closed` check only.
fn manager_config() -> ManagerConfig {
    ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    }
}

/// Plain deadpool-postgres, sized and timed as this crate builds its pools.
fn deadpool(manager: Manager, size: usize) -> deadpool_postgres::Pool {
    deadpool_postgres::Pool::builder(manager)
        .runtime(Runtime::Tokio1)
        .max_size(size)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT * 3))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .build()
        .expect("deadpool pool")
}

/// Baseline: a role with a static password, and plain deadpool-postgres
/// logging in with it.
pub struct Plain {
    role: String,
    password: String,
}

impl Plain {
    pub async fn new() -> Self {
        let role = unique_role("plain");
        let password = format!("{:x<TOKEN_LEN$}", std::process::id());
        cluster()
            .create_role(&role, Some(&password))
            .await
            .expect("create the password role");
        Self { role, password }
    }

    /// A pool of `size`; `read_only` sessions as the read-only side has.
    pub fn pool(&self, size: usize, read_only: bool) -> deadpool_postgres::Pool {
        let mut config = base_config(&self.role);
        config.password(&self.password);
        if read_only {
            config.options("-c default_transaction_read_only=on");
        }
        deadpool(Manager::from_config(config, tls(), manager_config()), size)
    }
}

/// The crate under test: a role whose password is whatever token the
/// loopback endpoint issued last.
pub struct Entra {
    pub role: String,
    pub endpoint: TokenEndpoint,
}

impl Entra {
    /// An endpoint (with no added latency) whose tokens live `lifetime`.
    pub async fn new(prefix: &str, lifetime: Duration) -> Self {
        let (role, endpoint) = role_with_endpoint(prefix, lifetime).await;
        Self { role, endpoint }
    }

    /// Primary pool of `size`; with `read_only`, a read-only pool of the
    /// same size on the same identity too.
    pub fn settings(&self, size: usize, read_only: bool) -> Settings {
        let cluster = cluster();
        Settings {
            pg_timeout: Some(CONNECT_TIMEOUT.as_millis() as u64),
            pg_semaphore_timeout: Some(WAIT_TIMEOUT.as_millis() as u64),
            pg_pool_size: Some(size),
            pg_ro_host: read_only.then(|| cluster.host().to_owned()),
            ..cluster.entra_settings(&self.role)
        }
    }

    /// Builds the pools; their credentials reach only the loopback endpoint.
    pub async fn pools(&self, settings: Settings) -> Pools {
        self.pools_with(settings, RefreshPolicy::default(), None)
            .await
    }

    pub async fn pools_with(
        &self,
        settings: Settings,
        refresh: RefreshPolicy,
        retire_spread: Option<Duration>,
    ) -> Pools {
        let mut builder = Pools::builder(settings)
            .transport(self.endpoint.transport())
            .refresh_policy(refresh);
        if let Some(spread) = retire_spread {
            builder = builder.retire_spread(spread);
        }
        builder.build().await.expect("build the pools")
    }
}

/// A new role in the cluster and an endpoint whose system-assigned identity
/// logs in as it, with tokens of [`TOKEN_LEN`] living `lifetime`.
async fn role_with_endpoint(prefix: &str, lifetime: Duration) -> (String, TokenEndpoint) {
    let role = unique_role(prefix);
    cluster()
        .create_role(&role, None)
        .await
        .expect("create role");
    let endpoint = TokenEndpoint::builder()
        .identity(None, &role)
        .lifetime(lifetime)
        .token_len(TOKEN_LEN)
        .cluster(cluster())
        .start()
        .await
        .expect("start the token endpoint");
    (role, endpoint)
}

/// Baseline: what users write by hand elsewhere, a connect step that asks
/// azure_identity's managed identity credential for a token on every new
/// connection, against an endpoint that answers after [`METADATA_LATENCY`].
///
/// Its tokens live 120 s: azure_identity's own cache hands a token back
/// only until 5 minutes before it expires, so it never hits and every
/// connect pays for a token request, as it would with a cache miss.
pub struct PerConnect {
    pub endpoint: TokenEndpoint,
    credential: Arc<ManagedIdentityCredential>,
    role: String,
}

impl PerConnect {
    pub async fn new() -> Self {
        let (role, endpoint) = role_with_endpoint("per_connect", Duration::from_secs(120)).await;
        endpoint.set_fault(Fault::Delay(METADATA_LATENCY));
        let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            client_options: endpoint.client_options(),
            ..Default::default()
        }))
        .expect("managed identity credential");
        Self {
            endpoint,
            credential,
            role,
        }
    }

    pub fn pool(&self, size: usize) -> deadpool_postgres::Pool {
        let connect = FetchPerConnect {
            credential: self.credential.clone(),
            tls: tls(),
        };
        let manager = Manager::from_connect(base_config(&self.role), connect, manager_config());
        deadpool(manager, size)
    }
}

struct FetchPerConnect {
    credential: Arc<ManagedIdentityCredential>,
    tls: MakeTlsConnector,
}

type ConnectResult = Result<(tokio_postgres::Client, JoinHandle<()>), tokio_postgres::Error>;

impl Connect for FetchPerConnect {
    fn connect(
        &self,
        config: &Config,
    ) -> std::pin::Pin<Box<dyn Future<Output = ConnectResult> + Send + '_>> {
        let mut config = config.clone();
        Box::pin(async move {
            // A token error cannot become a tokio_postgres::Error; the
            // loopback endpoint always answers, so a failure ends the bench.
            let token = self
                .credential
                .get_token(&[SCOPE], None)
                .await
                .expect("token from the loopback endpoint");
            config.password(token.token.secret());
            let (client, connection) = config.connect(self.tls.clone()).await?;
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok((client, task))
        })
    }
}

/// Runs `op` `iters` times in total, split over `tasks` spawned tasks, and
/// returns the wall time of the whole.
pub async fn concurrent<F, Fut>(tasks: usize, iters: u64, op: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let tasks = tasks.max(1) as u64;
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let op = op.clone();
            let n = iters / tasks + u64::from(i < iters % tasks);
            tokio::spawn(async move {
                for _ in 0..n {
                    op().await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("bench task");
    }
    start.elapsed()
}

/// Taking a connection, from the pool under test or a baseline.
pub trait Checkout: Clone + Send + Sync + 'static {
    fn checkout(&self) -> impl Future<Output = deadpool_postgres::Object> + Send;
}

impl Checkout for deadpool_postgres::Pool {
    async fn checkout(&self) -> deadpool_postgres::Object {
        self.get().await.expect("checkout")
    }
}

impl Checkout for pg_entra_pool::EntraPool {
    async fn checkout(&self) -> deadpool_postgres::Object {
        self.get().await.expect("checkout")
    }
}

/// Opens `n` connections in `pool` (one after another) and returns them
/// all, so that later checkouts find them idle.
pub async fn fill(pool: &impl Checkout, n: usize) {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(pool.checkout().await);
    }
}

/// One paired sample (see [`ratios`]): runs `candidate` and `baseline`
/// back to back, the order alternating from call to call, records both
/// times under `pair` and returns the candidate's.
pub async fn paired<C, B>(pair: &str, iters: u64, candidate: C, baseline: B) -> Duration
where
    C: Future<Output = Duration>,
    B: Future<Output = Duration>,
{
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let (c, b) = if CALLS.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
        let c = candidate.await;
        (c, baseline.await)
    } else {
        let b = baseline.await;
        (candidate.await, b)
    };
    ratios::record_pair(pair, iters, c, b);
    c
}
