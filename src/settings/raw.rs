//! [`Settings`]: the `pg_*` keys as users write them, all optional.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

use super::values::{self, Parsed};
use super::{AzureCloud, Origin, Provenance, SettingsError, TlsVersion};
use crate::Secret;

settings_table! {
    /// The `pg_*` keys of Kong Gateway, as written in a conf file, the
    /// environment or code; every key is optional.
    ///
    /// Turn them into something usable with [`Settings::primary`] and
    /// [`Settings::read_only`], which apply the defaults and check the
    /// values.
    ///
    #[doc = include_str!("guide.md")]
    pub struct Settings {
        /// `pg_host`: the host name or address of the server. Setting
        /// `pg_ro_host` turns the read-only pool on; without it every other
        /// `pg_ro_*` key is unused (and a warning says so).
        ///
        /// Default: `127.0.0.1`.
        pg_host / pg_ro_host: String = values::text,
        /// `pg_port`: the TCP port of the server (1-65535).
        ///
        /// Default: `5432`.
        pg_port / pg_ro_port: u16 = values::port,
        /// `pg_timeout`: how long to wait for the server to accept a
        /// connection, in milliseconds. Opening a connection may take up
        /// to three times this: two logins and a wait for a newer token.
        ///
        /// Default: `5000`.
        pg_timeout / pg_ro_timeout: u64 = values::millis,
        /// `pg_user`: the role to log in as.
        ///
        /// Default: `kong`.
        pg_user / pg_ro_user: String = values::text,
        /// `pg_password`: the password of `pg_user`; ignored when
        /// `pg_azure_auth` is on.
        ///
        /// Default: unset (no password).
        pg_password / pg_ro_password: Secret = values::secret,
        /// `pg_database`: the database to connect to.
        ///
        /// Default: `kong`.
        pg_database / pg_ro_database: String = values::text,
        /// `pg_schema`: the schema to use.
        ///
        /// Default: unset (the server's default search path).
        pg_schema / pg_ro_schema: String = values::text,
        /// `pg_ssl`: whether to use TLS; forced on by `pg_azure_auth`.
        ///
        /// Default: `off`.
        pg_ssl / pg_ro_ssl: bool = values::boolean,
        /// `pg_ssl_required`: when `pg_ssl` is on, whether to refuse a
        /// server that does not offer TLS; forced on by `pg_azure_auth`.
        ///
        /// Default: `off`.
        pg_ssl_required / pg_ro_ssl_required: bool = values::boolean,
        /// `pg_ssl_verify`: whether to check the server's certificate and
        /// host name.
        ///
        /// Default: `on`.
        pg_ssl_verify / pg_ro_ssl_verify: bool = values::boolean,
        /// `pg_ssl_version`: the TLS version (`tlsv1_1`, `tlsv1_2`,
        /// `tlsv1_3` or `any`).
        ///
        /// Default: `tlsv1_2`.
        pg_ssl_version / pg_ro_ssl_version: TlsVersion = values::tls_version,
        /// `pg_ssl_cert`: a PEM client certificate; needs `pg_ssl_cert_key`.
        ///
        /// Default: unset (no client certificate).
        pg_ssl_cert / pg_ro_ssl_cert: PathBuf = values::path,
        /// `pg_ssl_cert_key`: the PEM private key of `pg_ssl_cert`.
        ///
        /// Default: unset.
        pg_ssl_cert_key / pg_ro_ssl_cert_key: PathBuf = values::path,
        /// `pg_ssl_trusted_certificate`: a PEM bundle of the certificate
        /// authorities to trust.
        ///
        /// Default: unset (the system's roots).
        pg_ssl_trusted_certificate / pg_ro_ssl_trusted_certificate: PathBuf = values::path,
        /// `pg_pool_size`: the most connections the pool holds (1 to 262143).
        ///
        /// Default: four per available CPU.
        pg_pool_size / pg_ro_pool_size: usize = values::positive,
        /// `pg_max_concurrent_queries`: the most queries in flight at once;
        /// `0` means unlimited.
        ///
        /// Default: `0`.
        pg_max_concurrent_queries / pg_ro_max_concurrent_queries: usize = values::count,
        /// `pg_semaphore_timeout`: how long a caller waits for a free
        /// connection, in milliseconds. At most `pg_pool_size` connections
        /// (or `pg_max_concurrent_queries`, when smaller) are out at once.
        ///
        /// Default: `60000`.
        pg_semaphore_timeout / pg_ro_semaphore_timeout: u64 = values::millis,
        /// `pg_keepalive_timeout`: how long an idle connection is kept, in
        /// milliseconds; `0` keeps it forever.
        ///
        /// Default: `60000`.
        pg_keepalive_timeout / pg_ro_keepalive_timeout: u64 = values::millis,
        /// `pg_backlog`: how many callers may wait for a connection when
        /// the pool is full (1 or more).
        ///
        /// Default: unset (unlimited).
        pg_backlog / pg_ro_backlog: usize = values::positive,
        /// `pg_azure_auth`: whether to log in with Microsoft Entra ID
        /// tokens instead of `pg_password`; forces TLS on.
        ///
        /// Default: `off`.
        pg_azure_auth / pg_ro_azure_auth: bool = values::boolean,
        /// `pg_azure_client_id`: the client id of the application or
        /// user-assigned managed identity.
        ///
        /// Default: unset (the host's default identity).
        pg_azure_client_id / pg_ro_azure_client_id: String = values::text,
        /// `pg_azure_client_secret`: the client secret of the application;
        /// needs `pg_azure_client_id` and `pg_azure_tenant_id`.
        ///
        /// Default: unset (no client secret).
        pg_azure_client_secret / pg_ro_azure_client_secret: Secret = values::secret,
        /// `pg_azure_tenant_id`: the directory (tenant) id.
        ///
        /// Default: unset.
        pg_azure_tenant_id / pg_ro_azure_tenant_id: String = values::text,
        /// `pg_azure_cloud`: the Azure cloud (`public`, `china` or
        /// `usgovernment`).
        ///
        /// Default: `public`.
        pg_azure_cloud / pg_ro_azure_cloud: AzureCloud = values::cloud,
        /// `pg_azure_scope`: the scope of the tokens requested.
        ///
        /// Default: the scope of `pg_azure_cloud`, see
        /// [`AzureCloud::scope`].
        pg_azure_scope / pg_ro_azure_scope: String = values::text,
    }
}

impl Settings {
    /// Every key, primary ones first, then their `pg_ro_` twins.
    pub fn keys() -> &'static [&'static str] {
        Self::KEYS
    }
}

/// One value of a side, with the key it came from, for error messages.
pub(super) struct Field<T> {
    pub(super) key: &'static str,
    pub(super) value: Option<T>,
}

impl<T: Clone> Field<T> {
    /// On the read-only side a set `pg_ro_*` key wins, then its primary
    /// twin; a value missing from both is blamed on the `pg_ro_*` key.
    fn pick(
        read_only: bool,
        (primary_key, primary): (&'static str, &Option<T>),
        (twin_key, twin): (&'static str, &Option<T>),
    ) -> Self {
        let (key, value) = match (read_only, twin, primary) {
            (false, _, value) => (primary_key, value),
            (true, Some(_), _) => (twin_key, twin),
            (true, None, Some(_)) => (primary_key, primary),
            (true, None, None) => (twin_key, twin),
        };
        Self {
            key,
            value: value.clone(),
        }
    }
}

/// Reads one value; an empty text means unset.
fn read<T>(
    key: &str,
    value: &str,
    reader: fn(&str) -> Parsed<T>,
) -> Result<Option<T>, SettingsError> {
    if value.is_empty() {
        return Ok(None);
    }
    reader(value)
        .map(Some)
        .map_err(|expected| SettingsError::invalid(key, value, expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_keys_in_twins() {
        let keys = Settings::keys();
        assert_eq!(keys.len(), 50);
        for (primary, twin) in keys[..25].iter().zip(&keys[25..]) {
            assert_eq!(twin.replacen("pg_ro_", "pg_", 1), *primary);
        }
    }

    #[test]
    fn struct_literal_and_is_set() {
        let settings = Settings {
            pg_host: Some("db".into()),
            ..Default::default()
        };
        assert!(settings.is_set("pg_host"));
        assert!(settings.is_set("PG_HOST"));
        assert!(!settings.is_set("pg_port"));
        assert!(!settings.is_set("pg_nope"));
        assert_eq!(settings.origin("pg_host"), Origin::Code);
        assert_eq!(settings.origin("pg_port"), Origin::Default);
    }

    #[test]
    fn serde_from_a_struct() {
        let json = r#"{
            "pg_host": "db.internal",
            "pg_port": 6432,
            "pg_password": "hunter2",
            "pg_ssl": true,
            "pg_ssl_version": "tlsv1_3",
            "pg_azure_cloud": "azurechina",
            "pg_ro_host": "replica"
        }"#;
        let settings: Settings = serde_json::from_str(json).unwrap();
        assert_eq!(settings.pg_host.as_deref(), Some("db.internal"));
        assert_eq!(settings.pg_port, Some(6432));
        assert_eq!(settings.pg_password.as_ref().unwrap().expose(), "hunter2");
        assert_eq!(settings.pg_ssl_version, Some(TlsVersion::Tlsv1_3));
        assert_eq!(settings.pg_azure_cloud, Some(AzureCloud::China));
        assert_eq!(settings.pg_ro_host.as_deref(), Some("replica"));
    }

    #[test]
    fn serde_rejects_unknown_keys_and_bad_names() {
        assert!(serde_json::from_str::<Settings>(r#"{"pg_hots": "x"}"#).is_err());
        assert!(serde_json::from_str::<Settings>(r#"{"provenance": {}}"#).is_err());
        let error = serde_json::from_str::<Settings>(r#"{"pg_ssl_version": "ssl3"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("tlsv1_2"), "{error}");
    }

    #[test]
    fn debug_shows_set_keys_and_hides_secrets() {
        let settings = Settings {
            pg_host: Some("db".into()),
            pg_password: Some(Secret::new("hunter2")),
            pg_ro_azure_client_secret: Some(Secret::new("s3cr3t-value")),
            ..Default::default()
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("pg_host: \"db\""), "{shown}");
        assert!(shown.contains("pg_password"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!shown.contains("pg_port"), "{shown}");
    }

    #[test]
    fn merge_keeps_unset_and_takes_set() {
        let base = Settings {
            pg_host: Some("a".into()),
            pg_port: Some(1),
            ..Default::default()
        };
        let over = Settings {
            pg_port: Some(2),
            pg_ro_user: Some("ro".into()),
            ..Default::default()
        };
        let merged = base.merge(over);
        assert_eq!(merged.pg_host.as_deref(), Some("a"));
        assert_eq!(merged.pg_port, Some(2));
        assert_eq!(merged.pg_ro_user.as_deref(), Some("ro"));
    }

    #[test]
    fn read_only_side_picks_twin_then_primary() {
        let settings = Settings {
            pg_host: Some("a".into()),
            pg_port: Some(1),
            pg_ro_port: Some(2),
            ..Default::default()
        };
        let side = settings.side(true);
        assert_eq!(
            (side.pg_port.key, side.pg_port.value),
            ("pg_ro_port", Some(2))
        );
        assert_eq!(side.pg_host.key, "pg_host");
        assert_eq!(side.pg_user.key, "pg_ro_user");
        let side = settings.side(false);
        assert_eq!((side.pg_port.key, side.pg_port.value), ("pg_port", Some(1)));
    }
}
