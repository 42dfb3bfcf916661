//! Turning [`Settings`] into the [`SideSettings`] of each pool: defaults,
//! read-only inheritance and the checks that need more than one key.

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use super::raw::{Field, SideRaw};
use super::values::{MILLIS, PORT, POSITIVE};
use super::{
    AzureSettings, Origin, PoolSettings, Settings, SettingsError, SideSettings, TlsSettings,
};

impl Settings {
    /// The settings of the primary pool, from the `pg_*` keys.
    ///
    /// When `pg_azure_auth` is on, `pg_password` is ignored and TLS is
    /// forced on and required; each logs a warning when it overrides a
    /// value that was set.
    ///
    /// # Errors
    ///
    /// When a value set in code is out of range (`pg_port`, `pg_timeout`,
    /// `pg_pool_size` or `pg_backlog` at 0, an empty `pg_host`), when only
    /// one of `pg_ssl_cert` and `pg_ssl_cert_key` is set, when a file named
    /// by them or by `pg_ssl_trusted_certificate` does not exist, or when
    /// `pg_azure_auth` is on and `pg_azure_client_secret` is set without
    /// `pg_azure_tenant_id` or `pg_azure_client_id`.
    pub fn primary(&self) -> Result<SideSettings, SettingsError> {
        resolve(self.side(false), "primary").map_err(|error| self.locate(error))
    }

    /// The settings of the read-only pool, or `None` when `pg_ro_host` is
    /// unset.
    ///
    /// Each `pg_ro_*` key that is unset takes the value of its `pg_*`
    /// twin; errors name the key whose value was used.
    ///
    /// # Errors
    ///
    /// As [`Settings::primary`], for the values the read-only side uses.
    pub fn read_only(&self) -> Result<Option<SideSettings>, SettingsError> {
        if self.pg_ro_host.is_none() {
            return Ok(None);
        }
        resolve(self.side(true), "read_only")
            .map(Some)
            .map_err(|error| self.locate(error))
    }

    /// Says in the error where the faulty value was read.
    fn locate(&self, error: SettingsError) -> SettingsError {
        match self.origin(error.key()) {
            Origin::File(path) => error.at(format!("from {}", path.display())),
            Origin::Env(name) => error.at(format!("from {name}")),
            _ => error,
        }
    }
}

/// Applies the defaults and checks of one side; `pool` names it in logs.
fn resolve(raw: SideRaw, pool: &'static str) -> Result<SideSettings, SettingsError> {
    let azure = azure(&raw)?;
    let tls = tls(&raw, azure.is_some(), pool)?;

    // Entra ID tokens replace the password.
    let mut password = raw
        .pg_password
        .value
        .filter(|password| !password.is_empty());
    if azure.is_some() && password.take().is_some() {
        tracing::warn!(
            pool,
            key = raw.pg_password.key,
            "password ignored: entra id login is on"
        );
    }

    Ok(SideSettings {
        host: text(raw.pg_host, "127.0.0.1")?,
        port: nonzero(raw.pg_port, 5432, PORT)?,
        connect_timeout: Duration::from_millis(nonzero(raw.pg_timeout, 5000, MILLIS)?),
        user: text(raw.pg_user, "kong")?,
        password,
        database: text(raw.pg_database, "kong")?,
        schema: raw.pg_schema.value.filter(|schema| !schema.is_empty()),
        tls,
        pool: pool_settings(
            raw.pg_pool_size,
            raw.pg_max_concurrent_queries,
            raw.pg_semaphore_timeout,
            raw.pg_keepalive_timeout,
            raw.pg_backlog,
        )?,
        azure,
    })
}

fn tls(raw: &SideRaw, azure: bool, pool: &'static str) -> Result<TlsSettings, SettingsError> {
    let mut enabled = raw.pg_ssl.value.unwrap_or(false);
    let mut required = enabled && raw.pg_ssl_required.value.unwrap_or(false);

    // A token is a credential: it must not travel in clear text.
    if azure {
        if raw.pg_ssl.value == Some(false) {
            tracing::warn!(
                pool,
                key = raw.pg_ssl.key,
                "tls forced on: entra id login is on"
            );
        }
        enabled = true;
        required = true;
    }

    let cert = &raw.pg_ssl_cert;
    let key = &raw.pg_ssl_cert_key;
    match (&cert.value, &key.value) {
        (Some(_), None) => return Err(missing_pair(key, cert)),
        (None, Some(_)) => return Err(missing_pair(cert, key)),
        _ => {}
    }

    Ok(TlsSettings {
        enabled,
        required,
        verify: raw.pg_ssl_verify.value.unwrap_or(true),
        version: raw.pg_ssl_version.value.unwrap_or_default(),
        client_cert: existing_file(cert)?,
        client_key: existing_file(key)?,
        trusted_certificate: existing_file(&raw.pg_ssl_trusted_certificate)?,
    })
}

fn missing_pair(missing: &Field<PathBuf>, set: &Field<PathBuf>) -> SettingsError {
    SettingsError::new(
        missing.key,
        format!("must be set when `{}` is set", set.key),
    )
}

fn existing_file(field: &Field<PathBuf>) -> Result<Option<PathBuf>, SettingsError> {
    let Some(path) = &field.value else {
        return Ok(None);
    };
    match fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => Ok(Some(path.clone())),
        Ok(_) => Err(SettingsError::new(
            field.key,
            format!("`{}` is not a file", path.display()),
        )),
        Err(error) => Err(SettingsError::unreadable(field.key, path, error)),
    }
}

fn pool_settings(
    size: Field<usize>,
    max_concurrent_queries: Field<usize>,
    semaphore_timeout: Field<u64>,
    keepalive_timeout: Field<u64>,
    backlog: Field<usize>,
) -> Result<PoolSettings, SettingsError> {
    let keepalive_ms = keepalive_timeout.value.unwrap_or(60_000);
    let backlog = match backlog.value {
        Some(0) => return Err(SettingsError::invalid(backlog.key, "0", POSITIVE)),
        other => other,
    };
    Ok(PoolSettings {
        size: nonzero(size, default_pool_size(), POSITIVE)?,
        max_concurrent_queries: max_concurrent_queries.value.unwrap_or(0),
        semaphore_timeout: Duration::from_millis(semaphore_timeout.value.unwrap_or(60_000)),
        keepalive_timeout: (keepalive_ms > 0).then(|| Duration::from_millis(keepalive_ms)),
        backlog,
    })
}

/// Four connections per CPU this process may use.
fn default_pool_size() -> usize {
    4 * thread::available_parallelism().map_or(1, |cpus| cpus.get())
}

fn azure(raw: &SideRaw) -> Result<Option<AzureSettings>, SettingsError> {
    if !raw.pg_azure_auth.value.unwrap_or(false) {
        return Ok(None);
    }

    let client_id = optional_text(&raw.pg_azure_client_id)?;
    let tenant_id = optional_text(&raw.pg_azure_tenant_id)?;
    let client_secret = raw
        .pg_azure_client_secret
        .value
        .clone()
        .filter(|secret| !secret.is_empty());
    if client_secret.is_some() {
        let secret_key = raw.pg_azure_client_secret.key;
        for (value, key) in [
            (&tenant_id, raw.pg_azure_tenant_id.key),
            (&client_id, raw.pg_azure_client_id.key),
        ] {
            if value.is_none() {
                return Err(SettingsError::new(
                    key,
                    format!("must be set when `{secret_key}` is set"),
                ));
            }
        }
    }

    let cloud = raw.pg_azure_cloud.value.unwrap_or_default();
    let scope = optional_text(&raw.pg_azure_scope)?.unwrap_or_else(|| cloud.scope().to_owned());
    Ok(Some(AzureSettings {
        client_id,
        client_secret,
        tenant_id,
        cloud,
        scope,
    }))
}

/// A text with a default; an empty text set in code is an error.
fn text(field: Field<String>, default: &str) -> Result<String, SettingsError> {
    Ok(optional_text(&field)?.unwrap_or_else(|| default.to_owned()))
}

fn optional_text(field: &Field<String>) -> Result<Option<String>, SettingsError> {
    match &field.value {
        Some(text) if text.is_empty() => Err(SettingsError::new(field.key, "must not be empty")),
        other => Ok(other.clone()),
    }
}

/// A number with a default; a zero set in code is an error.
fn nonzero<T>(field: Field<T>, default: T, expected: &str) -> Result<T, SettingsError>
where
    T: Default + PartialEq + ToString,
{
    match field.value {
        Some(zero) if zero == T::default() => Err(SettingsError::invalid(
            field.key,
            &zero.to_string(),
            expected,
        )),
        value => Ok(value.unwrap_or(default)),
    }
}
