//! The crate's one error type.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::credentials::CredentialError;
use crate::settings::SettingsError;

/// Everything that can go wrong while building a pool or getting a
/// connection from it.
///
/// Messages never contain a token, a client secret or a password. Each
/// variant either prints its cause or returns it from
/// [`source`](std::error::Error::source), never both.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A setting has a value that cannot be used.
    Config(SettingsError),
    /// The TLS connector could not be built (a certificate or key file that
    /// OpenSSL cannot read, an unsupported protocol version).
    Tls {
        /// Which setting or step failed.
        context: String,
        /// OpenSSL's own error.
        source: openssl::error::ErrorStack,
    },
    /// No credential produced a token; lists each one tried and why it
    /// failed.
    Credential(CredentialError),
    /// The token has expired and refreshing it keeps failing, so no new
    /// connection can log in. Connections already open keep working.
    TokenUnavailable {
        /// The credential's own error from the last refresh attempt.
        last_error: String,
        /// How many refreshes in a row have failed.
        consecutive_failures: u32,
    },
    /// The server (or the network path to it) refused the connection. Holds
    /// the server's message and SQLSTATE where it sent one.
    Postgres(tokio_postgres::Error),
    /// The server refused a login made with a fresh token (after one retry
    /// with a newer one): the role, the identity or the audience does not
    /// match. Holds the server's message and SQLSTATE.
    LoginRefused {
        /// The role the pool logs in as (`pg_user`).
        user: String,
        /// The server's error.
        error: tokio_postgres::Error,
    },
    /// Waiting timed out.
    Timeout {
        /// What was being waited for.
        waiting_for: &'static str,
        /// How long it waited.
        after: Duration,
        /// The last error seen while connecting, if any, so that a slow
        /// failure is not reported as a bare timeout.
        last_error: Option<String>,
    },
    /// More callers are waiting for a connection than `pg_backlog` allows.
    Backlog {
        /// The configured limit.
        limit: usize,
    },
    /// The pool has been closed.
    Closed,
    /// The pool itself failed in a way none of the above describes.
    Pool(String),
}

impl Error {
    /// Whether the server refused the login (SQLSTATE class 28) or no
    /// credential could produce a token.
    pub fn is_auth_failure(&self) -> bool {
        match self {
            Error::Credential(_) | Error::TokenUnavailable { .. } => true,
            Error::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("28")),
            Error::LoginRefused { .. } => true,
            _ => false,
        }
    }

    /// Whether the error comes from the configuration: retrying without a
    /// change will not help.
    pub fn is_config(&self) -> bool {
        match self {
            Error::Config(_) | Error::Tls { .. } => true,
            Error::Credential(e) => e.is_config(),
            Error::Postgres(e) => is_tls_refusal(e),
            _ => false,
        }
    }

    /// Whether the same call may well succeed if it is tried again later.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Backlog { .. } | Error::TokenUnavailable { .. } => true,
            Error::Credential(e) => !e.is_config(),
            Error::Postgres(e) => match e.code() {
                // 08: connection exception, 57P0x: server shutting down or
                // starting, 53: insufficient resources.
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || code.starts_with("57P") || code.starts_with("53")
                }
                // No SQLSTATE: the socket failed (worth another try) or
                // TLS did (a certificate or a server setting: not).
                None => e.as_db_error().is_none() && !is_tls_refusal(e),
            },
            _ => false,
        }
    }

    /// The SQLSTATE the server sent, if this error carries one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Postgres(e) | Error::LoginRefused { error: e, .. } => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "invalid settings: {e}"),
            Error::Tls { context, .. } => write!(f, "tls setup failed: {context}"),
            Error::Credential(e) => e.fmt(f),
            Error::TokenUnavailable {
                last_error,
                consecutive_failures,
            } => write!(
                f,
                "the access token has expired and {consecutive_failures} refresh attempt(s) \
                 failed; last error: {last_error}"
            ),
            Error::Postgres(e) => f.write_str(&describe_postgres(e)),
            Error::LoginRefused { user, error } => write!(
                f,
                "token login as `{user}`: {}; pg_user must be the role made for this identity \
                 (pgaadauth_create_principal) and the token must be for this server's cloud; \
                 `pg-entra-pool doctor` checks each step",
                describe_postgres(error)
            ),
            Error::Timeout {
                waiting_for,
                after,
                last_error,
            } => {
                write!(f, "timed out after {after:?} waiting for {waiting_for}")?;
                if let Some(last) = last_error {
                    write!(f, "; last error: {last}")?;
                }
                Ok(())
            }
            Error::Backlog { limit } => write!(
                f,
                "too many callers waiting for a connection (pg_backlog = {limit})"
            ),
            Error::Closed => f.write_str("the pool is closed"),
            Error::Pool(message) => write!(f, "pool error: {message}"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Error::Tls { source, .. } => Some(source),
            // tokio-postgres prints its own cause, and ours prints the
            // database error's text: nothing is left for `source`.
            _ => None,
        }
    }
}

impl From<SettingsError> for Error {
    fn from(e: SettingsError) -> Self {
        Error::Config(e)
    }
}

impl From<CredentialError> for Error {
    fn from(e: CredentialError) -> Self {
        Error::Credential(e)
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        Error::Postgres(e)
    }
}

/// Whether the connection failed in TLS: a certificate that does not
/// verify, or a server that does not offer TLS. Configuration, not chance.
fn is_tls_refusal(e: &tokio_postgres::Error) -> bool {
    if e.as_db_error().is_some() {
        return false;
    }
    let mut cause: Option<&(dyn StdError + 'static)> = e.source();
    while let Some(c) = cause {
        if c.is::<openssl::ssl::Error>() || c.is::<openssl::error::ErrorStack>() {
            return true;
        }
        cause = c.source();
    }
    // tokio-postgres's own words, one cause down, when the server answers
    // the TLS request with "no".
    describe_postgres(e).contains("does not support TLS")
}

/// A tokio-postgres error in words: the server's severity, message and
/// SQLSTATE when it sent them (tokio-postgres's own text is just "db
/// error"), or the failed step with its causes, each printed once (OpenSSL
/// repeats itself down the chain).
pub(crate) fn describe_postgres(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!(
            "postgres refused: {}: {} (sqlstate {})",
            db.severity(),
            db.message(),
            db.code().code()
        );
    }
    let mut text = format!("postgres connection failed: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}
