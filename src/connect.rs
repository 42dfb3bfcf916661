//! Where a connection is made: the current token goes into a copy of the
//! config made for this one connection, then TLS and login.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Connect;
use postgres_openssl::MakeTlsConnector;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, Config};
use tracing::{debug, trace, warn};

use crate::status::Counters;
use crate::token::TokenCache;

type ConnectResult = Result<(Client, JoinHandle<()>), tokio_postgres::Error>;
type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// Makes connections for one pool.
pub(crate) struct EntraConnect {
    pub(crate) pool: &'static str,
    pub(crate) tls: MakeTlsConnector,
    /// `None` when Entra authentication is off: the config's own password is
    /// used as it is.
    pub(crate) tokens: Option<Arc<TokenCache>>,
    pub(crate) counters: Arc<Counters>,
    /// How long a refused login may wait for a newer token.
    pub(crate) patience: Duration,
}

impl Connect for EntraConnect {
    fn connect(&self, config: &Config) -> BoxFuture<'_, ConnectResult> {
        let config = config.clone();
        Box::pin(async move {
            let result = match &self.tokens {
                None => self.connect_once(config).await,
                Some(tokens) => self.connect_with_token(tokens, config).await,
            };
            match &result {
                Ok(_) => self.counters.opened(),
                Err(e) => self
                    .counters
                    .record_error(&crate::error::describe_postgres(e)),
            }
            result
        })
    }
}

impl EntraConnect {
    async fn connect_with_token(&self, tokens: &TokenCache, mut config: Config) -> ConnectResult {
        let token = tokens.current();
        config.password(token.token.expose());
        let error = match self.connect_once(config.clone()).await {
            Ok(connected) => {
                trace!(pool = self.pool, fingerprint = %token.fingerprint, "connection opened");
                return Ok(connected);
            }
            Err(e) if is_login_refused(&e) => e,
            Err(e) => return Err(e),
        };

        // The server may already want a token we have not installed yet
        // (a rollover under way), or have revoked ours: one retry with a
        // newer token, fetched single-flight by the cache.
        let Some(newer) = tokio::time::timeout(self.patience, tokens.newer_than(token.generation))
            .await
            .ok()
            .flatten()
        else {
            debug!(pool = self.pool, fingerprint = %token.fingerprint, %error, "login refused; no newer token");
            return Err(error);
        };
        Counters::bump(&self.counters.login_retries);
        warn!(
            pool = self.pool,
            refused = %token.fingerprint,
            retry_with = %newer.fingerprint,
            sqlstate = error.code().map(|c| c.code()).unwrap_or(""),
            "login refused; retrying once with a newer token"
        );
        config.password(newer.token.expose());
        let retried = self.connect_once(config).await;
        if let Err(e) = &retried {
            let current = tokens.current();
            debug!(pool = self.pool, retried_with = %newer.fingerprint, current = %current.fingerprint, error = %e, "login with a newer token failed too");
        }
        retried
    }

    async fn connect_once(&self, config: Config) -> ConnectResult {
        let (client, connection) = config.connect(self.tls.clone()).await?;
        let pool = self.pool;
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                debug!(pool, %error, "connection closed with an error");
            }
        });
        Ok((client, task))
    }
}

/// SQLSTATE class 28: invalid authorization specification.
pub(crate) fn is_login_refused(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| c.code().starts_with("28"))
}
