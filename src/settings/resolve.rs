//! Turning [`Settings`] into the [`SideSettings`] of each pool: defaults,
//! read-only inheritance and the checks that need more than one key.

use std::thread;
use std::time::Duration;

use super::raw::{Field, SideRaw};
use super::resolve_azure::azure;
use super::resolve_tls::tls;
use super::values::{MILLIS, PORT, POSITIVE};
use super::{Origin, PoolSettings, Settings, SettingsError, SideSettings};

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
            let unused: Vec<&str> = Settings::keys()
                .iter()
                .copied()
                .filter(|k| k.starts_with("pg_ro_") && self.is_set(k))
                .collect();
            if !unused.is_empty() {
                tracing::warn!(
                    keys = %unused.join(", "),
                    "pg_ro_host is unset, so the read-only pool is off and these keys are unused; \
                     reads go to the primary"
                );
            }
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
    let size_key = size.key;
    let size = nonzero(size, default_pool_size(), POSITIVE)?;
    // deadpool reserves a slot per connection up front: a size no server
    // could fill would only panic or abort there.
    if size > MAX_POOL_SIZE {
        return Err(SettingsError::invalid(
            size_key,
            &size.to_string(),
            "at most 262143 (the most connections PostgreSQL allows)",
        ));
    }
    Ok(PoolSettings {
        size,
        max_concurrent_queries: max_concurrent_queries.value.unwrap_or(0),
        semaphore_timeout: Duration::from_millis(semaphore_timeout.value.unwrap_or(60_000)),
        keepalive_timeout: (keepalive_ms > 0).then(|| Duration::from_millis(keepalive_ms)),
        backlog,
    })
}

/// PostgreSQL's own ceiling on `max_connections` (2^18 - 1).
const MAX_POOL_SIZE: usize = 262_143;

/// Four connections per CPU this process may use.
fn default_pool_size() -> usize {
    4 * thread::available_parallelism().map_or(1, |cpus| cpus.get())
}

/// A text with a default; an empty text set in code is an error.
fn text(field: Field<String>, default: &str) -> Result<String, SettingsError> {
    Ok(optional_text(&field)?.unwrap_or_else(|| default.to_owned()))
}

pub(super) fn optional_text(field: &Field<String>) -> Result<Option<String>, SettingsError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::test_support::{capture_logs, temp_file};
    use crate::{AzureCloud, Secret, TlsVersion};

    #[test]
    fn defaults() {
        let side = Settings::default().primary().unwrap();
        assert_eq!(side.host, "127.0.0.1");
        assert_eq!(side.port, 5432);
        assert_eq!(side.connect_timeout, Duration::from_millis(5000));
        assert_eq!(side.user, "kong");
        assert_eq!(side.password, None);
        assert_eq!(side.database, "kong");
        assert_eq!(side.schema, None);
        assert!(!side.tls.enabled && !side.tls.required && side.tls.verify);
        assert_eq!(side.tls.version, TlsVersion::Tlsv1_2);
        assert_eq!(side.tls.client_cert, None);
        assert_eq!(side.tls.trusted_certificate, None);
        assert_eq!(side.pool.size, default_pool_size());
        assert_eq!(side.pool.size % 4, 0);
        assert_eq!(side.pool.max_concurrent_queries, 0);
        assert_eq!(side.pool.semaphore_timeout, Duration::from_secs(60));
        assert_eq!(side.pool.keepalive_timeout, Some(Duration::from_secs(60)));
        assert_eq!(side.pool.backlog, None);
        assert_eq!(side.azure, None);
        assert_eq!(Settings::default().read_only().unwrap(), None);
    }

    #[test]
    fn values_and_unlimited_keepalive() {
        let settings = Settings::from_conf_str(
            "pg_keepalive_timeout = 0\npg_backlog = 7\npg_pool_size = 3\n\
             pg_max_concurrent_queries = 2\npg_semaphore_timeout = 10\npg_schema = s",
        )
        .unwrap();
        let side = settings.primary().unwrap();
        assert_eq!(side.pool.keepalive_timeout, None);
        assert_eq!(side.pool.backlog, Some(7));
        assert_eq!(side.pool.size, 3);
        assert_eq!(side.pool.max_concurrent_queries, 2);
        assert_eq!(side.pool.semaphore_timeout, Duration::from_millis(10));
        assert_eq!(side.schema.as_deref(), Some("s"));
    }

    #[test]
    fn read_only_inherits_every_unset_key() {
        let settings = Settings::from_conf_str(
            "pg_host = primary\npg_port = 6000\npg_user = app\npg_password = pw\n\
             pg_ssl = on\npg_pool_size = 9\npg_ro_host = replica",
        )
        .unwrap();
        let primary = settings.primary().unwrap();
        let replica = settings.read_only().unwrap().unwrap();
        assert_eq!(replica.host, "replica");
        assert_eq!(
            SideSettings {
                host: "primary".into(),
                ..replica
            },
            primary
        );
    }

    #[test]
    fn read_only_inherits_azure_keys_and_a_set_twin_wins() {
        let settings = Settings::from_conf_str(
            "pg_azure_auth = on\npg_azure_client_id = app\npg_azure_tenant_id = t\n\
             pg_azure_client_secret = s\npg_azure_cloud = usgovernment\n\
             pg_ro_host = replica\npg_ro_azure_client_id = ro-app\npg_ro_port = 7000",
        )
        .unwrap();
        let replica = settings.read_only().unwrap().unwrap();
        let azure = replica.azure.unwrap();
        assert_eq!(azure.client_id.as_deref(), Some("ro-app"));
        assert_eq!(azure.tenant_id.as_deref(), Some("t"));
        assert_eq!(azure.client_secret, Some(Secret::new("s")));
        assert_eq!(azure.cloud, AzureCloud::UsGovernment);
        assert_eq!(azure.scope, AzureCloud::UsGovernment.scope());
        assert_eq!(replica.port, 7000);
        assert_eq!(settings.primary().unwrap().port, 5432);

        // A set twin wins even when it turns a feature off.
        let settings = settings.merge(Settings {
            pg_ro_azure_auth: Some(false),
            ..Default::default()
        });
        assert_eq!(settings.read_only().unwrap().unwrap().azure, None);
        assert!(settings.primary().unwrap().azure.is_some());
    }

    #[test]
    fn zeros_set_in_code_are_errors() {
        let cases: [(&str, Settings); 5] = [
            (
                "pg_port",
                Settings {
                    pg_port: Some(0),
                    ..Default::default()
                },
            ),
            (
                "pg_timeout",
                Settings {
                    pg_timeout: Some(0),
                    ..Default::default()
                },
            ),
            (
                "pg_pool_size",
                Settings {
                    pg_pool_size: Some(0),
                    ..Default::default()
                },
            ),
            (
                "pg_backlog",
                Settings {
                    pg_backlog: Some(0),
                    ..Default::default()
                },
            ),
            (
                "pg_host",
                Settings {
                    pg_host: Some(String::new()),
                    ..Default::default()
                },
            ),
        ];
        for (key, settings) in cases {
            let error = settings.primary().unwrap_err();
            assert_eq!(error.key(), key, "{error}");
        }
        let error = Settings {
            pg_port: Some(0),
            ..Default::default()
        }
        .primary()
        .unwrap_err();
        assert_eq!(error.to_string(), "`pg_port`: `0` is not a port (1-65535)");
    }

    #[test]
    fn zeros_in_text_are_errors() {
        for key in ["pg_port", "pg_pool_size", "pg_backlog", "pg_ro_backlog"] {
            let error = Settings::from_conf_str(&format!("{key} = 0")).unwrap_err();
            assert_eq!(error.key(), key, "{error}");
        }
    }

    #[test]
    fn read_only_errors_name_the_key_used() {
        let settings = Settings {
            pg_pool_size: Some(0),
            pg_ro_host: Some("replica".into()),
            ..Default::default()
        };
        assert_eq!(settings.read_only().unwrap_err().key(), "pg_pool_size");
        let settings = Settings {
            pg_ro_pool_size: Some(0),
            pg_ro_host: Some("replica".into()),
            ..Default::default()
        };
        assert_eq!(settings.read_only().unwrap_err().key(), "pg_ro_pool_size");
        assert!(settings.primary().is_ok());
    }

    #[test]
    fn merge_order_default_file_env() {
        let path = temp_file(
            "kong.conf",
            "pg_host = file\npg_port = 1111\npg_user = file\n",
        );
        let file = Settings::from_conf_file(&path).unwrap();
        let env = Settings::from_vars([("KONG_PG_PORT", "2222")], "KONG_").unwrap();
        let settings = file.merge(env);
        let side = settings.primary().unwrap();
        assert_eq!((side.host.as_str(), side.port), ("file", 2222));
        assert_eq!(side.database, "kong");
        assert_eq!(settings.origin("pg_host"), Origin::File(path.to_path_buf()));
        assert_eq!(
            settings.origin("pg_port"),
            Origin::Env("KONG_PG_PORT".into())
        );
        assert_eq!(settings.origin("pg_database"), Origin::Default);
        assert_eq!(
            settings.origin("pg_ro_port"),
            Origin::Env("KONG_PG_PORT".into())
        );

        // Code over both.
        let settings = settings.merge(Settings {
            pg_port: Some(3333),
            ..Default::default()
        });
        assert_eq!(settings.primary().unwrap().port, 3333);
        assert_eq!(settings.origin("pg_port"), Origin::Code);
    }

    #[test]
    fn errors_say_where_the_value_was_read() {
        let settings = Settings::from_vars([("PG_SSL_CERT", "/nonexistent/c.pem")], "").unwrap();
        let error = settings.primary().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`pg_ssl_cert_key`: must be set when `pg_ssl_cert` is set"
        );
        let settings =
            Settings::from_vars([("PG_SSL_TRUSTED_CERTIFICATE", "/nonexistent/ca.pem")], "")
                .unwrap();
        let error = settings.primary().unwrap_err();
        assert_eq!(
            error.to_string(),
            "`pg_ssl_trusted_certificate` (from PG_SSL_TRUSTED_CERTIFICATE): \
             `/nonexistent/ca.pem` does not exist"
        );
    }

    #[test]
    fn password_is_kept_without_azure() {
        let settings = Settings {
            pg_password: Some("pw".into()),
            ..Default::default()
        };
        let (side, logs) = capture_logs(|| settings.primary().unwrap());
        assert_eq!(side.password, Some(Secret::new("pw")));
        assert!(logs.is_empty(), "{logs}");
        assert!(!format!("{side:?}").contains("\"pw\""));
    }
}
