//! A throw-away PostgreSQL cluster that checks passwords over TLS.

use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};

use super::certs;
use super::pg_bin::{PgBin, make_temp_dir};
use super::watchdog;

/// The superuser that [`TestCluster::admin`] logs in as, over the unix socket.
pub const ADMIN_USER: &str = "postgres";

/// How the cluster checks the passwords of TCP logins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Login {
    /// `scram-sha-256`: the password never crosses the wire; the client
    /// proves it knows it. The default, and the strictest check.
    #[default]
    Scram,
    /// `password`: the password travels in clear inside TLS and the server
    /// checks it, which is how Azure Database for PostgreSQL takes Entra
    /// tokens. Passwords are stored as MD5 hashes. For measurements whose
    /// cost profile should match Azure's (no key stretching on the client).
    Cleartext,
}

/// Settings for a [`TestCluster`]; made by [`TestCluster::builder`].
#[derive(Debug, Clone)]
pub struct TestClusterBuilder {
    ssl: bool,
    login: Login,
}

impl TestClusterBuilder {
    /// Whether the server offers TLS at all (default `true`). With `false`
    /// it runs with `ssl = off`, to test that a client refuses such a server.
    pub fn ssl(mut self, on: bool) -> Self {
        self.ssl = on;
        self
    }

    /// How TCP logins are checked (default [`Login::Scram`]).
    pub fn login(mut self, login: Login) -> Self {
        self.login = login;
        self
    }

    /// Makes the cluster and starts its server. Blocks for about a second.
    ///
    /// # Errors
    ///
    /// When no PostgreSQL server binaries are installed (the message says to
    /// install `postgresql`), when running as root without a `postgres`
    /// user, or when `initdb` or `pg_ctl start` fails (the message holds
    /// their output and the server log).
    pub fn start(self) -> io::Result<TestCluster> {
        let bin = PgBin::find()?;
        let dir = make_temp_dir()?;
        let data_dir = dir.join("data");

        // Watch from the first moment, so that even a failed setup is removed.
        let watchdog = match watchdog::spawn(&bin, &data_dir, &dir) {
            Ok(child) => Some(child),
            Err(error) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(error);
            }
        };
        let mut cluster = TestCluster {
            socket_dir: dir.join("sock"),
            ca_file: dir.join(certs::CA_FILE),
            other_ca_file: dir.join(certs::OTHER_CA_FILE),
            bin,
            dir,
            data_dir,
            port: 0,
            ssl: self.ssl,
            login: self.login,
            watchdog,
        };
        cluster.init()?;
        cluster.first_start()?;
        Ok(cluster)
    }
}

/// A PostgreSQL server of its own, in a fresh temp dir, for one test.
///
/// It listens on 127.0.0.1 at a free port and on a unix socket inside its
/// temp dir. TCP logins use `scram-sha-256` passwords, over TLS (`hostssl`)
/// or not (`hostnossl`); the superuser [`ADMIN_USER`] gets in by trust, over
/// the unix socket only. The server certificate names `localhost` and
/// 127.0.0.1 and is signed by a throw-away CA, [`ca_file`](Self::ca_file).
///
/// Dropping it stops the server and removes the temp dir. If the process
/// dies without dropping it, a watchdog process does the same.
///
/// When run as root, the binaries run as the `postgres` user through
/// `runuser`, since `initdb` and `postgres` refuse root.
pub struct TestCluster {
    bin: PgBin,
    dir: PathBuf,
    data_dir: PathBuf,
    socket_dir: PathBuf,
    ca_file: PathBuf,
    other_ca_file: PathBuf,
    port: u16,
    ssl: bool,
    login: Login,
    watchdog: Option<Child>,
}

impl std::fmt::Debug for TestCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCluster")
            .field("port", &self.port)
            .field("ssl", &self.ssl)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Login {
    /// What `ALTER ROLE role PASSWORD ...` should store for `password`: a
    /// hash the server can check, so the password itself never appears in
    /// SQL text (where a driver's query log could show it).
    pub(crate) fn stored_password(self, role: &str, password: &str) -> String {
        match self {
            Login::Scram => super::scram::verifier(password),
            Login::Cleartext => super::scram::md5_verifier(role, password),
        }
    }
}

impl TestCluster {
    /// Settings for a cluster, TLS on by default.
    pub fn builder() -> TestClusterBuilder {
        TestClusterBuilder {
            ssl: true,
            login: Login::Scram,
        }
    }

    /// Starts a cluster with TLS on; see [`TestClusterBuilder::start`].
    ///
    /// # Errors
    ///
    /// As [`TestClusterBuilder::start`].
    pub fn start() -> io::Result<Self> {
        Self::builder().start()
    }

    /// The address the server listens on: always `"127.0.0.1"`.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The TCP port, the same across [`restart`](Self::restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How TCP logins are checked.
    pub fn login(&self) -> Login {
        self.login
    }

    /// Whether the server offers TLS.
    pub fn ssl(&self) -> bool {
        self.ssl
    }

    /// The CA certificate (PEM) that signed the server certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A CA certificate (PEM) unrelated to the server: verifying against it
    /// must fail.
    pub fn other_ca_file(&self) -> &Path {
        &self.other_ca_file
    }

    /// The directory holding the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The server log, to read when a test fails.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The superuser over the unix socket, database `postgres`, no password.
    pub fn admin_config(&self) -> Config {
        let mut config = Config::new();
        config
            .host_path(&self.socket_dir)
            .port(self.port)
            .user(ADMIN_USER)
            .dbname("postgres");
        config
    }

    /// One cluster for the whole test process, started on first use. It is
    /// never dropped: the watchdog stops it and removes its directory when
    /// the process exits. Tests that share it should use their own roles
    /// ([`unique_name`](super::unique_name)).
    ///
    /// # Panics
    ///
    /// When the cluster cannot start (no PostgreSQL binaries, say).
    pub fn shared() -> &'static TestCluster {
        static SHARED: std::sync::OnceLock<TestCluster> = std::sync::OnceLock::new();
        SHARED.get_or_init(|| TestCluster::start().expect("start the shared test cluster"))
    }

    /// Settings that log in to this cluster as `role` with Entra tokens:
    /// `pg_azure_auth` on, TLS verified against the cluster's CA, database
    /// `postgres`. Adjust fields as a test needs.
    pub fn entra_settings(&self, role: &str) -> crate::Settings {
        crate::Settings {
            pg_host: Some(self.host().to_owned()),
            pg_port: Some(self.port()),
            pg_user: Some(role.to_owned()),
            pg_database: Some("postgres".into()),
            pg_azure_auth: Some(true),
            pg_ssl_trusted_certificate: Some(self.ca_file().to_owned()),
            ..Default::default()
        }
    }

    /// `user` over TCP to 127.0.0.1, database `postgres`, `sslmode=require`
    /// and no password yet.
    pub fn user_config(&self, user: &str) -> Config {
        let mut config = Config::new();
        config
            .host(self.host())
            .port(self.port)
            .user(user)
            .dbname("postgres")
            .ssl_mode(SslMode::Require);
        config
    }

    /// A TLS connector that trusts only `ca_file` and checks the host name.
    ///
    /// # Errors
    ///
    /// When OpenSSL cannot read `ca_file`.
    pub fn tls_connector(ca_file: &Path) -> io::Result<MakeTlsConnector> {
        let mut builder =
            SslConnector::builder(SslMethod::tls_client()).map_err(io::Error::other)?;
        builder.set_ca_file(ca_file).map_err(io::Error::other)?;
        builder.set_verify(SslVerifyMode::PEER);
        Ok(MakeTlsConnector::new(builder.build()))
    }

    /// Connects as the superuser and spawns the connection on the current
    /// tokio runtime.
    ///
    /// # Errors
    ///
    /// When the server is down or refuses the connection.
    pub async fn admin(&self) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = self.admin_config().connect(NoTls).await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// Creates a role that can log in, with `password` if given.
    ///
    /// # Errors
    ///
    /// When the role exists already or the server is down.
    pub async fn create_role(
        &self,
        name: &str,
        password: Option<&str>,
    ) -> Result<(), tokio_postgres::Error> {
        let mut sql = format!("CREATE ROLE {} LOGIN", quote_ident(name));
        if let Some(password) = password {
            sql.push_str(" PASSWORD ");
            sql.push_str(&quote_literal(&self.login.stored_password(name, password)));
        }
        self.admin().await?.batch_execute(&sql).await
    }

    /// Creates database `name` owned by role `owner`.
    ///
    /// # Errors
    ///
    /// When the database exists already, `owner` does not, or the server
    /// is down.
    pub async fn create_database(
        &self,
        name: &str,
        owner: &str,
    ) -> Result<(), tokio_postgres::Error> {
        let sql = format!(
            "CREATE DATABASE {} OWNER {}",
            quote_ident(name),
            quote_ident(owner)
        );
        self.admin().await?.batch_execute(&sql).await
    }

    /// Stops the server (`pg_ctl stop -m fast`: open sessions are ended).
    /// Blocks until it is down; in a current-thread runtime that also
    /// stalls tasks such as a [`TokenEndpoint`](super::TokenEndpoint).
    ///
    /// # Errors
    ///
    /// When `pg_ctl stop` fails, for example because the server is down.
    pub fn stop(&self) -> io::Result<()> {
        self.pg_ctl_stop("fast")
    }

    /// Starts the server again after [`stop`](Self::stop), on the same port.
    ///
    /// # Errors
    ///
    /// When `pg_ctl start` fails; the message holds the server log.
    pub fn start_again(&self) -> io::Result<()> {
        self.pg_ctl_start()
    }

    /// Stops and starts the server, ending every open session.
    ///
    /// # Errors
    ///
    /// As [`stop`](Self::stop) and [`start_again`](Self::start_again).
    pub fn restart(&self) -> io::Result<()> {
        self.stop()?;
        self.start_again()
    }

    fn init(&self) -> io::Result<()> {
        certs::write_all(&self.dir)?;
        fs::create_dir(&self.socket_dir)?;
        self.bin.chown_to_server(&self.dir)?;

        self.bin.run(
            "initdb",
            [
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-U".as_ref(),
                ADMIN_USER.as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--locale=C".as_ref(),
                "--no-sync".as_ref(),
            ] as [&std::ffi::OsStr; 10],
        )?;

        let settings = self.settings();
        let mut conf = fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir.join("postgresql.conf"))?;
        conf.write_all(settings.as_bytes())?;
        fs::write(self.data_dir.join("pg_hba.conf"), self.hba())?;
        Ok(())
    }

    fn settings(&self) -> String {
        let path = |p: PathBuf| quote_literal(&p.to_string_lossy());
        let mut s = String::from("\n# pg-entra-pool testkit\n");
        s += "listen_addresses = '127.0.0.1'\n";
        s += &format!(
            "unix_socket_directories = {}\n",
            path(self.socket_dir.clone())
        );
        s += "password_encryption = 'scram-sha-256'\n";
        s += "max_connections = 200\n";
        s += "shared_buffers = 16MB\n";
        // Durability is worthless for a throw-away cluster; speed is not.
        s += "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";
        if self.ssl {
            s += "ssl = on\n";
            s += &format!(
                "ssl_cert_file = {}\n",
                path(self.dir.join(certs::SERVER_CERT_FILE))
            );
            s += &format!(
                "ssl_key_file = {}\n",
                path(self.dir.join(certs::SERVER_KEY_FILE))
            );
        } else {
            s += "ssl = off\n";
        }
        s
    }

    fn hba(&self) -> String {
        let method = match self.login {
            Login::Scram => "scram-sha-256",
            Login::Cleartext => "password",
        };
        let mut s = format!("local all {ADMIN_USER} trust\n");
        // A hostssl line cannot match when ssl is off; leave it out then.
        if self.ssl {
            s += &format!("hostssl all all 127.0.0.1/32 {method}\n");
        }
        s += &format!("hostnossl all all 127.0.0.1/32 {method}\n");
        s
    }

    fn first_start(&mut self) -> io::Result<()> {
        // Another process may take the free port before the server binds it.
        let mut last_error = None;
        for _ in 0..3 {
            self.port = free_port()?;
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(error) if error.to_string().contains("could not bind") => {
                    last_error = Some(error)
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no free port")))
    }

    fn pg_ctl_start(&self) -> io::Result<()> {
        let log = self.log_file();
        let port_option = format!("-p {}", self.port);
        let result = self.bin.run(
            "pg_ctl",
            [
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                port_option.as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                "60".as_ref(),
                "-s".as_ref(),
                "start".as_ref(),
            ] as [&std::ffi::OsStr; 11],
        );
        result.map(drop).map_err(|error| {
            let log = fs::read_to_string(&log).unwrap_or_default();
            io::Error::other(format!("{error}\nserver log:\n{}", log.trim()))
        })
    }

    fn pg_ctl_stop(&self, mode: &str) -> io::Result<()> {
        let args = [
            "-D".as_ref(),
            self.data_dir.as_os_str(),
            "-m".as_ref(),
            mode.as_ref(),
        ];
        let rest: [&std::ffi::OsStr; 3] = ["-w".as_ref(), "-s".as_ref(), "stop".as_ref()];
        self.bin
            .run("pg_ctl", args.into_iter().chain(rest))
            .map(drop)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Stop the watchdog first, so it does not race the cleanup below.
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        if self.data_dir.join("postmaster.pid").exists() {
            let _ = self.pg_ctl_stop("immediate");
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Quotes an SQL identifier: `"` around it, inner `"` doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal (with `standard_conforming_strings` on,
/// the default): `'` around it, inner `'` doubled.
pub(crate) fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}
