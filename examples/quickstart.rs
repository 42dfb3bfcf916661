//! The main job: both pools, token rotation and a concurrent query workload.
//!
//! With no `PG_*` settings in the environment, everything runs on this
//! machine: a throw-away PostgreSQL that checks scram-sha-256 passwords over
//! TLS (throw-away CA, verification on) and a token endpoint on 127.0.0.1
//! that speaks Azure's managed identity protocol (App Service form). Each
//! token it issues becomes the role's password until the token expires,
//! about 10 seconds later, so a stale token is really refused. The pools
//! reach the endpoint through azure_identity's own managed identity
//! credential.
//!
//! With `PG_HOST` (and friends) set, the same workload runs against that
//! server instead, with whatever credential the settings select.
//!
//! Run with `scripts/quickstart [--seconds N]`. Exits non-zero if any query
//! failed.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
use pg_entra_pool::{EntraPool, Pools, Settings};

const PRIMARY_ROLE: &str = "quickstart_app";
const READER_ROLE: &str = "quickstart_reader";
const READER_CLIENT_ID: &str = "6f1c2a9e-reader-identity";
const TASKS_PER_POOL: usize = 8;

fn main() -> ExitCode {
    let seconds = parse_seconds();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_target(false)
        .init();

    let external = std::env::var_os("PG_HOST").is_some();
    // The managed identity credential reads its endpoint from the
    // environment, so the loopback endpoint's address is set before any
    // other thread exists.
    let listener = if external {
        None
    } else {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!(
            "http://{}/msi/token",
            listener.local_addr().expect("address")
        );
        // SAFETY: no other thread has started yet (the runtime is built
        // below), so nothing can read the environment concurrently.
        unsafe {
            std::env::set_var("IDENTITY_ENDPOINT", url);
            std::env::set_var("IDENTITY_HEADER", random_header());
        }
        Some(listener)
    };

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let result = runtime.block_on(async move {
        match listener {
            Some(listener) => run_local(listener, seconds).await,
            None => {
                let settings = Settings::from_env()?;
                let side = settings.primary()?;
                println!(
                    "PG_HOST is set: running against {}:{} as {} (reads only: SELECT 1)",
                    side.host, side.port, side.user
                );
                run_against(settings, seconds, EXTERNAL).await
            }
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("quickstart failed: {e}");
            ExitCode::FAILURE
        }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn run_local(listener: std::net::TcpListener, seconds: u64) -> Result<bool, BoxError> {
    println!("starting a throw-away PostgreSQL (scram-sha-256, TLS with a throw-away CA)...");
    let cluster = tokio::task::spawn_blocking(TestCluster::start).await??;
    cluster.create_role(PRIMARY_ROLE, None).await?;
    cluster.create_role(READER_ROLE, None).await?;
    let admin = cluster.admin().await?;
    admin
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now());
             GRANT SELECT, INSERT ON visits TO {PRIMARY_ROLE};
             GRANT USAGE ON SEQUENCE visits_id_seq TO {PRIMARY_ROLE};
             GRANT SELECT ON visits TO {READER_ROLE};"
        ))
        .await?;

    let endpoint = TokenEndpoint::builder()
        .listener(listener)
        .identity_header(&std::env::var("IDENTITY_HEADER")?)
        .identity(None, PRIMARY_ROLE)
        .identity(Some(READER_CLIENT_ID), READER_ROLE)
        .lifetime(Duration::from_secs(10))
        .cluster(&cluster)
        .start()
        .await?;
    println!(
        "token endpoint (managed identity, App Service form) on {}; tokens live 10 s",
        endpoint.url()
    );
    println!(
        "server: 127.0.0.1:{}; primary logs in as {PRIMARY_ROLE} (system-assigned identity), \
         read-only as {READER_ROLE} (user-assigned identity {READER_CLIENT_ID})",
        cluster.port()
    );

    // Entra login over TLS verified against the throw-away CA; the
    // read-only pool has its own host setting, role and identity.
    let settings = Settings {
        pg_pool_size: Some(6),
        pg_ro_host: Some(cluster.host().to_owned()),
        pg_ro_user: Some(READER_ROLE.into()),
        pg_ro_azure_client_id: Some(READER_CLIENT_ID.into()),
        ..cluster.entra_settings(PRIMARY_ROLE)
    };
    let ok = run_against(settings, seconds, LOCAL).await?;
    println!(
        "token endpoint: {} requests, {} tokens issued",
        endpoint.requests(),
        endpoint.tokens_issued()
    );
    Ok(ok)
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
}

/// The statements each task runs: on the throw-away server a write and a
/// read of the quickstart's own table; on a server of yours, plain reads
/// that need no schema.
#[derive(Clone, Copy)]
struct Workload {
    write: &'static str,
    read: &'static str,
}

const LOCAL: Workload = Workload {
    write: "INSERT INTO visits DEFAULT VALUES",
    read: "SELECT count(*) FROM visits",
};

const EXTERNAL: Workload = Workload {
    write: "SELECT 1::bigint",
    read: "SELECT 1::bigint",
};

async fn run_against(
    settings: Settings,
    seconds: u64,
    workload: Workload,
) -> Result<bool, BoxError> {
    let pools = Pools::builder(settings).build().await?;
    println!(
        "pools built: read-only pool {}",
        if pools.has_read_only() {
            "on its own settings"
        } else {
            "shares the primary"
        }
    );

    // A write sent to the read-only pool must fail on the server.
    if pools.has_read_only() {
        let reader = pools.read_only().get().await?;
        match reader
            .execute("CREATE TEMP TABLE scratch (x int)", &[])
            .await
        {
            Err(e) if e.code().map(|c| c.code()) == Some("25006") => {
                println!("read-only pool refuses writes: ok (SQLSTATE 25006)")
            }
            other => {
                println!("read-only pool accepted a write: {other:?}");
                return Ok(false);
            }
        }
    }

    let stop = Arc::new(AtomicBool::new(false));
    let primary = Arc::new(Tally::default());
    let read_only = Arc::new(Tally::default());
    let mut tasks = Vec::new();
    for i in 0..TASKS_PER_POOL {
        tasks.push(tokio::spawn(work(
            pools.primary().clone(),
            workload.write,
            primary.clone(),
            stop.clone(),
            i,
        )));
        tasks.push(tokio::spawn(work(
            pools.read_only().clone(),
            workload.read,
            read_only.clone(),
            stop.clone(),
            i,
        )));
    }

    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs(3));
    ticker.tick().await;
    while started.elapsed() < Duration::from_secs(seconds) {
        ticker.tick().await;
        print_status(started, &pools, &primary, &read_only);
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await?;
    }

    let status = pools.status();
    let failed = primary.failed.load(Ordering::Relaxed) + read_only.failed.load(Ordering::Relaxed);
    println!("\nsummary after {:.0?}:", started.elapsed());
    for (name, tally) in [("primary", &primary), ("read_only", &read_only)] {
        println!(
            "  {name:<9} queries ok {:>7}  failed {}",
            tally.ok.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed)
        );
    }
    for pool in std::iter::once(&status.primary).chain(&status.read_only) {
        println!(
            "  {:<9} connections opened {}, retired (token aged out) {}, login retries {}, failed connects {}",
            pool.name, pool.opened, pool.retired_aged_out, pool.login_retries, pool.failed_connects
        );
    }
    for t in &status.tokens {
        println!(
            "  token via {}: {} installed, {} requests, {} failing now",
            t.credential, t.tokens_installed, t.token_requests, t.consecutive_failures
        );
    }
    if failed == 0 {
        println!("result: ok, no query failed");
        Ok(true)
    } else {
        println!("result: {failed} queries failed");
        Ok(false)
    }
}

async fn work(
    pool: EntraPool,
    sql: &'static str,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    i: usize,
) {
    let mut reported = 0;
    while !stop.load(Ordering::Relaxed) {
        let result = async {
            let client = pool.get().await?;
            let stmt = client.prepare_cached(sql).await?;
            client.execute(&stmt, &[]).await?;
            Ok::<_, BoxError>(())
        }
        .await;
        match result {
            Ok(()) => tally.ok.fetch_add(1, Ordering::Relaxed),
            Err(e) => {
                if reported < 3 {
                    reported += 1;
                    eprintln!("task {i} ({}) query failed: {e}", pool.status().name);
                }
                tally.failed.fetch_add(1, Ordering::Relaxed)
            }
        };
        // Leave room for the other tasks, as a service between requests would.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn print_status(started: Instant, pools: &Pools, primary: &Tally, read_only: &Tally) {
    let s = pools.status();
    let tokens: u64 = s.tokens.iter().map(|t| t.tokens_installed).sum();
    let ro = s.read_only.as_ref().unwrap_or(&s.primary);
    println!(
        "[{:>4.1}s] primary ok {:>6} failed {} | read_only ok {:>6} failed {} | tokens fetched {:>2} | \
         connections (primary/read_only) opened {:>2}/{:>2} retired {:>2}/{:>2}",
        started.elapsed().as_secs_f64(),
        primary.ok.load(Ordering::Relaxed),
        primary.failed.load(Ordering::Relaxed),
        read_only.ok.load(Ordering::Relaxed),
        read_only.failed.load(Ordering::Relaxed),
        tokens,
        s.primary.opened,
        ro.opened,
        s.primary.retired_aged_out,
        ro.retired_aged_out,
    );
}

fn parse_seconds() -> u64 {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--seconds"
            && let Some(n) = args.next().and_then(|v| v.parse().ok())
        {
            return n;
        }
    }
    30
}

fn random_header() -> String {
    let mut bytes = [0u8; 16];
    openssl::rand::rand_bytes(&mut bytes).expect("random bytes");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
