//! The settings of one pool, with defaults applied and values checked.

use std::path::PathBuf;
use std::time::Duration;

use super::{AzureCloud, TlsVersion};
use crate::Secret;

/// What one pool (primary or read-only) uses to connect, from
/// [`Settings::primary`](super::Settings::primary) or
/// [`Settings::read_only`](super::Settings::read_only).
///
/// On the read-only side each value comes from the `pg_ro_*` key when it is
/// set, and from its `pg_*` twin otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SideSettings {
    /// The server's host name or address (`pg_host`; default `127.0.0.1`).
    pub host: String,
    /// The server's TCP port (`pg_port`; default `5432`).
    pub port: u16,
    /// How long to wait for a connection (`pg_timeout`; default 5 s).
    pub connect_timeout: Duration,
    /// The role to log in as (`pg_user`; default `kong`).
    pub user: String,
    /// The password (`pg_password`; default none). Always `None` when
    /// Entra ID login is on.
    pub password: Option<Secret>,
    /// The database (`pg_database`; default `kong`).
    pub database: String,
    /// The schema (`pg_schema`; default `None`: the server's search path).
    pub schema: Option<String>,
    /// TLS to the server (`pg_ssl*`).
    pub tls: TlsSettings,
    /// Size and timing of the pool.
    pub pool: PoolSettings,
    /// Entra ID login (`pg_azure_*`); `None` when `pg_azure_auth` is off
    /// (the default).
    pub azure: Option<AzureSettings>,
}

/// TLS to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    /// Whether to use TLS (`pg_ssl`; default off). Always on when Entra ID
    /// login is on.
    pub enabled: bool,
    /// Whether to refuse a server without TLS (`pg_ssl_required`; default
    /// off). Always off when `enabled` is off, always on when Entra ID
    /// login is on.
    pub required: bool,
    /// Whether to check the server's certificate and host name
    /// (`pg_ssl_verify`; default on).
    pub verify: bool,
    /// The TLS version (`pg_ssl_version`; default `tlsv1_2`).
    pub version: TlsVersion,
    /// A PEM client certificate (`pg_ssl_cert`; default none). Set if and
    /// only if `client_key` is; the file existed when checked.
    pub client_cert: Option<PathBuf>,
    /// The PEM key of `client_cert` (`pg_ssl_cert_key`; default none).
    pub client_key: Option<PathBuf>,
    /// A PEM bundle of authorities to trust
    /// (`pg_ssl_trusted_certificate`; default `None`: the system's roots).
    pub trusted_certificate: Option<PathBuf>,
}

/// Size and timing of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolSettings {
    /// The most connections (`pg_pool_size`; default four per available
    /// CPU); 1 to 262143.
    pub size: usize,
    /// The most queries in flight (`pg_max_concurrent_queries`; default
    /// `0`: unlimited).
    pub max_concurrent_queries: usize,
    /// How long a query waits for its turn (`pg_semaphore_timeout`;
    /// default 60 s).
    pub semaphore_timeout: Duration,
    /// How long an idle connection is kept (`pg_keepalive_timeout`;
    /// default 60 s); `None` keeps it forever (`pg_keepalive_timeout = 0`).
    pub keepalive_timeout: Option<Duration>,
    /// How many callers may wait when the pool is full (`pg_backlog`;
    /// default `None`: unlimited); at least 1 when set.
    pub backlog: Option<usize>,
}

/// Entra ID login, present when `pg_azure_auth` is on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AzureSettings {
    /// The client id of an application or user-assigned identity
    /// (`pg_azure_client_id`; default none).
    pub client_id: Option<String>,
    /// The application's client secret (`pg_azure_client_secret`; default
    /// none). When set, `client_id` and `tenant_id` are set too.
    pub client_secret: Option<Secret>,
    /// The directory (tenant) id (`pg_azure_tenant_id`; default none).
    pub tenant_id: Option<String>,
    /// The cloud (`pg_azure_cloud`; default public).
    pub cloud: AzureCloud,
    /// The token scope (`pg_azure_scope`; default the cloud's, see
    /// [`AzureCloud::scope`]).
    pub scope: String,
}
