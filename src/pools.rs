//! The primary and read-only pools, built from settings.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::Transport;
use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};
use tokio_postgres::Config;
use tracing::{info, warn};

use crate::connect::EntraConnect;
use crate::credentials::CredentialChain;
use crate::pool::EntraPool;
use crate::retire::Retirement;
use crate::settings::{AzureSettings, Settings, SideSettings};
use crate::status::{Counters, PoolsStatus};
use crate::token::TokenCache;
use crate::{Error, RefreshPolicy, tls};

/// The primary pool and, when `pg_ro_host` is set, the read-only pool.
///
/// Pools that log in as the same identity share one token cache, and so one
/// refresh task. Dropping every clone of both pools stops it.
#[derive(Clone, Debug)]
pub struct Pools {
    primary: EntraPool,
    read_only: Option<EntraPool>,
}

impl Pools {
    /// Starts building pools from `settings`.
    pub fn builder(settings: Settings) -> PoolsBuilder {
        PoolsBuilder {
            settings,
            credential: None,
            read_only_credential: None,
            transport: None,
            refresh: RefreshPolicy::default(),
            retire_spread: Duration::from_secs(60),
        }
    }

    /// Builds the pools from `PG_*` environment variables.
    ///
    /// # Errors
    /// As [`PoolsBuilder::build`], and when an environment variable holds a
    /// value that cannot be used.
    pub async fn from_env() -> Result<Self, Error> {
        Self::builder(Settings::from_env()?).build().await
    }

    /// The pool for reads and writes.
    pub fn primary(&self) -> &EntraPool {
        &self.primary
    }

    /// The pool for reads. Without `pg_ro_host` this is the primary pool;
    /// with it, sessions are read-only on the server too, so a write sent
    /// here by mistake fails loudly.
    pub fn read_only(&self) -> &EntraPool {
        self.read_only.as_ref().unwrap_or(&self.primary)
    }

    /// Whether a separate read-only pool exists (`pg_ro_host` is set).
    pub fn has_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Both pools and their token caches, read without locks.
    pub fn status(&self) -> PoolsStatus {
        let mut tokens = Vec::new();
        for pool in std::iter::once(&self.primary).chain(&self.read_only) {
            if let Some(cache) = &pool.tokens
                && !tokens.iter().any(|(c, _)| Arc::ptr_eq(c, cache))
            {
                tokens.push((cache.clone(), cache.status()));
            }
        }
        PoolsStatus {
            primary: self.primary.status(),
            read_only: self.read_only.as_ref().map(EntraPool::status),
            tokens: tokens.into_iter().map(|(_, s)| s).collect(),
        }
    }
}

/// Options for [`Pools`] beyond the settings.
pub struct PoolsBuilder {
    settings: Settings,
    credential: Option<Arc<dyn TokenCredential>>,
    read_only_credential: Option<Arc<dyn TokenCredential>>,
    transport: Option<Transport>,
    refresh: RefreshPolicy,
    retire_spread: Duration,
}

impl std::fmt::Debug for PoolsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolsBuilder")
            .field("refresh", &self.refresh)
            .field("retire_spread", &self.retire_spread)
            .finish_non_exhaustive()
    }
}

impl PoolsBuilder {
    /// Uses `credential` instead of the chain built from the `pg_azure_*`
    /// settings (for example `AzureCliCredential` on a workstation). Applies
    /// to the read-only pool too unless
    /// [`read_only_credential`](Self::read_only_credential) is set.
    pub fn credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.credential = Some(credential);
        self
    }

    /// Uses `credential` for the read-only pool only.
    pub fn read_only_credential(mut self, credential: Arc<dyn TokenCredential>) -> Self {
        self.read_only_credential = Some(credential);
        self
    }

    /// The HTTP transport for the built-in credentials, for proxies and for
    /// tests (see `testkit`). Default: `azure_core`'s own client.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// When tokens are refreshed and how failures back off.
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresh = policy;
        self
    }

    /// The widest window over which connections that logged in with the
    /// same token are retired once it expires. Default: 60 seconds, and at
    /// most half the current token's lifetime.
    pub fn retire_spread(mut self, spread: Duration) -> Self {
        self.retire_spread = spread;
        self
    }

    /// Fetches the first token and builds the pools. Connections are opened
    /// on demand.
    ///
    /// # Errors
    /// - [`Error::Config`] when a setting cannot be used.
    /// - [`Error::Tls`] when a certificate, key or CA file cannot be read.
    /// - [`Error::Credential`] when no credential produces a token; it lists
    ///   each credential tried and why it failed.
    pub async fn build(self) -> Result<Pools, Error> {
        let primary_side = self.settings.primary()?;
        let read_only_side = self.settings.read_only()?;
        let any_entra = primary_side.azure.is_some()
            || read_only_side.as_ref().is_some_and(|s| s.azure.is_some());
        if !any_entra && (self.credential.is_some() || self.read_only_credential.is_some()) {
            warn!("a credential was given but pg_azure_auth is off: it is not used");
        }

        let primary_tokens = match &primary_side.azure {
            Some(azure) => Some(self.start_cache(azure, self.credential.clone()).await?),
            None => None,
        };
        let read_only_tokens = match read_only_side.as_ref().and_then(|s| s.azure.as_ref()) {
            None => None,
            Some(azure) => {
                let shares = self.read_only_credential.is_none()
                    && primary_side
                        .azure
                        .as_ref()
                        .is_some_and(|p| same_identity(p, azure));
                match (&primary_tokens, shares) {
                    (Some(cache), true) => Some(cache.clone()),
                    _ => {
                        let custom = self
                            .read_only_credential
                            .clone()
                            .or(self.credential.clone());
                        Some(self.start_cache(azure, custom).await?)
                    }
                }
            }
        };

        let primary = self.pool("primary", &primary_side, primary_tokens, false)?;
        let read_only = match read_only_side {
            Some(side) => Some(self.pool("read_only", &side, read_only_tokens, true)?),
            None => None,
        };
        Ok(Pools { primary, read_only })
    }

    async fn start_cache(
        &self,
        azure: &AzureSettings,
        custom: Option<Arc<dyn TokenCredential>>,
    ) -> Result<Arc<TokenCache>, Error> {
        let chain = match custom {
            Some(c) => CredentialChain::custom(c, azure.scope.clone()),
            None => CredentialChain::from_settings(azure, self.transport.as_ref()),
        };
        let cache = TokenCache::start(chain, self.refresh.clone()).await?;
        Ok(Arc::new(cache))
    }

    fn pool(
        &self,
        name: &'static str,
        side: &SideSettings,
        tokens: Option<Arc<TokenCache>>,
        read_only: bool,
    ) -> Result<EntraPool, Error> {
        let entra = tokens.is_some();
        if entra && !side.tls.verify {
            warn!(
                pool = name,
                "pg_ssl_verify is off: the token goes to whoever answers at the host"
            );
        }
        let counters = Arc::new(Counters::default());
        let connect = EntraConnect {
            pool: name,
            tls: tls::connector(&side.tls)?,
            tokens: tokens.clone(),
            counters: counters.clone(),
            patience: side.connect_timeout,
        };
        let manager = Manager::from_connect(
            pg_config(side, entra, read_only),
            connect,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let retirement = Retirement {
            tokens: tokens.clone(),
            keepalive: side.pool.keepalive_timeout,
            spread: self.retire_spread,
            counters: counters.clone(),
            seed: Default::default(),
        };
        let max_size = match side.pool.max_concurrent_queries {
            0 => side.pool.size,
            cap => side.pool.size.min(cap),
        };
        let pool = deadpool_postgres::Pool::builder(manager)
            .runtime(Runtime::Tokio1)
            .max_size(max_size)
            .wait_timeout(Some(side.pool.semaphore_timeout))
            // Two logins and a wait for a newer token, each bounded by pg_timeout.
            .create_timeout(Some(side.connect_timeout * 3))
            .recycle_timeout(Some(side.connect_timeout))
            .build()
            .map_err(|e| Error::Pool(e.to_string()))?;
        info!(
            pool = name,
            host = %side.host,
            port = side.port,
            user = %side.user,
            database = %side.database,
            max_size,
            auth = if entra { "entra" } else { "password" },
            "pool built"
        );
        let sweeper = Arc::new(retirement.start(&pool, name));
        Ok(EntraPool {
            name,
            _sweeper: sweeper,
            pool,
            tokens,
            counters,
            backlog: side.pool.backlog,
            user: side.user.clone(),
        })
    }
}

/// Whether two sides would fetch the same token.
fn same_identity(a: &AzureSettings, b: &AzureSettings) -> bool {
    a.client_id == b.client_id
        && a.tenant_id == b.tenant_id
        && a.cloud == b.cloud
        && a.scope == b.scope
        && a.client_secret.as_ref().map(|s| s.expose())
            == b.client_secret.as_ref().map(|s| s.expose())
}

/// The connection config shared by every connection of one pool. With
/// Entra on it has no password: each connection puts the current token into
/// its own copy.
pub(crate) fn pg_config(side: &SideSettings, entra: bool, read_only: bool) -> Config {
    let mut config = Config::new();
    config
        .host(&side.host)
        .port(side.port)
        .user(&side.user)
        .dbname(&side.database)
        .connect_timeout(side.connect_timeout)
        .keepalives(true)
        .ssl_mode(tls::ssl_mode(&side.tls, entra));
    if !entra && let Some(password) = &side.password {
        config.password(password.expose());
    }
    let mut options = Vec::new();
    if let Some(schema) = &side.schema {
        options.push(format!("-c search_path={}", escape_option(schema)));
    }
    if read_only {
        options.push("-c default_transaction_read_only=on".to_owned());
    }
    if !options.is_empty() {
        config.options(options.join(" "));
    }
    config
}

/// Escapes a value for the server's `options` string, where spaces split
/// arguments and a backslash escapes the next character.
fn escape_option(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if c == '\\' || c.is_whitespace() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// deadpool sizes its slot list and semaphore from the pool size up
    /// front: a huge `pg_pool_size` must be a settings error, not a panic
    /// or an allocation that aborts the process. No connection is made.
    #[tokio::test]
    async fn a_huge_pool_size_is_a_config_error() {
        for size in [usize::MAX, 1 << 40] {
            let settings = Settings {
                pg_pool_size: Some(size),
                ..Default::default()
            };
            let err = Pools::builder(settings).build().await.unwrap_err();
            assert!(err.is_config(), "{err}");
            assert!(err.to_string().contains("pg_pool_size"), "{err}");
        }
    }

    #[test]
    fn option_values_escape_spaces_and_backslashes() {
        assert_eq!(escape_option("public"), "public");
        assert_eq!(escape_option("my schema"), "my\\ schema");
        assert_eq!(escape_option("a\\b"), "a\\\\b");
    }
}
