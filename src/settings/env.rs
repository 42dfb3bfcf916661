//! Reading the `pg_*` keys from environment variables.
//!
//! A key is read from its upper-cased name after a prefix: `PG_HOST`, or
//! `KONG_PG_HOST` with the prefix `KONG_`. Values use the conf file syntax
//! except that `#` is never a comment. Variables that name no key are
//! ignored, so libpq's own `PGHOST` and friends never count.

use std::ffi::OsStr;

use super::{Origin, Settings, SettingsError};

impl Settings {
    /// Reads the keys from the environment of this process: `PG_HOST`,
    /// `PG_RO_HOST`, ...
    ///
    /// # Errors
    ///
    /// When a value does not parse or is not UTF-8; the error names the key
    /// and the variable.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_env_prefixed("")
    }

    /// Reads the keys from the environment with a prefix: `KONG_` reads
    /// `KONG_PG_HOST`.
    ///
    /// # Errors
    ///
    /// As [`Settings::from_env`].
    pub fn from_env_prefixed(prefix: &str) -> Result<Self, SettingsError> {
        Self::from_vars(std::env::vars_os(), prefix)
    }

    /// Reads the keys from any list of `(name, value)` pairs, as
    /// [`Settings::from_env_prefixed`] does from the environment.
    ///
    /// An empty value leaves the key unset; when a name repeats, the last
    /// one wins.
    ///
    /// # Errors
    ///
    /// When a value of a known key does not parse or is not UTF-8.
    pub fn from_vars<I, K, V>(vars: I, prefix: &str) -> Result<Self, SettingsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut settings = Settings::default();
        for (name, value) in vars {
            let Some(name) = name.as_ref().to_str() else {
                continue;
            };
            let Some(key) = key_of(name, prefix) else {
                settings.warn_if_typo(name, prefix);
                continue;
            };
            let place = || format!("from {name}");
            let Some(value) = value.as_ref().to_str() else {
                return Err(SettingsError::new(key, "the value is not utf-8").at(place()));
            };
            let origin = Origin::Env(name.to_owned());
            settings
                .set_text(key, value.trim(), &origin)
                .map_err(|error| error.at(place()))?;
        }
        Ok(settings)
    }
}

impl Settings {
    /// A `PG_*` variable that is no key but nearly one is most likely a
    /// typo: say so, once, with the key it resembles.
    fn warn_if_typo(&mut self, name: &str, prefix: &str) {
        let Some(rest) = name.strip_prefix(prefix) else {
            return;
        };
        if !rest.starts_with("PG_") {
            return;
        }
        let Some(near) = super::typo::near_key(&rest.to_ascii_lowercase()) else {
            return;
        };
        let warning = format!(
            "unknown variable `{name}` ignored; did you mean `{prefix}{}`?",
            near.to_ascii_uppercase()
        );
        tracing::warn!("{warning}");
        self.provenance.warn(warning);
    }
}

/// The key that the variable `name` sets, if any.
fn key_of(name: &str, prefix: &str) -> Option<&'static str> {
    let rest = name.strip_prefix(prefix)?;
    Settings::keys().iter().copied().find(|key| {
        rest.len() == key.len() && rest.bytes().eq(key.bytes().map(|b| b.to_ascii_uppercase()))
    })
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    use std::ffi::OsString;

    use super::*;

    #[test]
    fn a_misspelt_variable_warns_with_the_closest_key() {
        let settings = Settings::from_vars(
            [("KONG_PG_DATABSE", "app"), ("KONG_PG_VERSION", "15")],
            "KONG_",
        )
        .unwrap();
        assert_eq!(settings.pg_database, None);
        assert_eq!(
            settings.warnings(),
            ["unknown variable `KONG_PG_DATABSE` ignored; did you mean `KONG_PG_DATABASE`?"]
        );
    }

    #[test]
    fn without_prefix() {
        let vars = [
            ("PG_HOST", "db"),
            ("PG_RO_PORT", "6432"),
            ("PGHOST", "libpq-only"),
            ("PG_HOSTNAME", "unknown"),
            ("pg_user", "lowercase-is-not-ours"),
            ("PG_AZURE_AUTH", "ON"),
            ("PG_SCHEMA", ""),
            ("PATH", "/usr/bin"),
        ];
        let settings = Settings::from_vars(vars, "").unwrap();
        assert_eq!(settings.pg_host.as_deref(), Some("db"));
        assert_eq!(settings.pg_ro_port, Some(6432));
        assert_eq!(settings.pg_user, None);
        assert_eq!(settings.pg_azure_auth, Some(true));
        assert_eq!(settings.pg_schema, None);
        assert!(settings.warnings().is_empty());
        assert_eq!(settings.origin("pg_host"), Origin::Env("PG_HOST".into()));
    }

    #[test]
    fn with_prefix() {
        let vars = [
            ("KONG_PG_HOST", "db"),
            ("PG_PORT", "1"),
            ("KONG_PG_PASSWORD", "a # not a comment"),
        ];
        let settings = Settings::from_vars(vars, "KONG_").unwrap();
        assert_eq!(settings.pg_host.as_deref(), Some("db"));
        assert_eq!(settings.pg_port, None);
        assert_eq!(settings.pg_password.unwrap().expose(), "a # not a comment");
    }

    #[test]
    fn last_repeat_wins() {
        let settings = Settings::from_vars([("PG_PORT", "1"), ("PG_PORT", "2")], "").unwrap();
        assert_eq!(settings.pg_port, Some(2));
    }

    #[test]
    fn bad_value_names_the_variable() {
        let error = Settings::from_vars([("KONG_PG_SSL", "maybe")], "KONG_").unwrap_err();
        assert_eq!(error.key(), "pg_ssl");
        assert_eq!(
            error.to_string(),
            "`pg_ssl` (from KONG_PG_SSL): `maybe` is not a boolean (on or off)"
        );
    }

    #[cfg(unix)]
    #[test]
    fn value_that_is_not_utf8() {
        use std::os::unix::ffi::OsStringExt;

        let not_utf8 = OsString::from_vec(vec![b'h', 0xff, b'2']);
        let error = Settings::from_vars([("PG_RO_PASSWORD", not_utf8)], "").unwrap_err();
        assert_eq!(error.key(), "pg_ro_password");
        assert_eq!(error.problem(), "the value is not utf-8");
    }

    #[test]
    fn process_environment_with_an_unused_prefix() {
        let settings = Settings::from_env_prefixed("PG_ENTRA_POOL_TEST_UNUSED_").unwrap();
        assert!(Settings::keys().iter().all(|key| !settings.is_set(key)));
    }
}
