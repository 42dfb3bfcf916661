//! The error returned when a setting is malformed, missing or inconsistent.

use std::error::Error;
use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

/// A setting that cannot be read or used.
///
/// The message names the `pg_*` key at fault and what is wrong with it. It
/// never contains the value of `pg_password`, `pg_azure_client_secret` or
/// their `pg_ro_` twins.
#[derive(Debug, Clone)]
pub struct SettingsError {
    key: String,
    place: Option<String>,
    problem: String,
    source: Option<Arc<io::Error>>,
}

impl SettingsError {
    /// An error about `key`; `problem` must not hold a secret value.
    pub(super) fn new(key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            place: None,
            problem: problem.into(),
            source: None,
        }
    }

    /// A value of `key` that does not parse or is out of range.
    ///
    /// `expected` completes "... is not": "a port (1-65535)".
    pub(super) fn invalid(key: &str, value: &str, expected: &str) -> Self {
        let shown = if is_secret_key(key) {
            "the value".to_owned()
        } else {
            format!("`{value}`")
        };
        Self::new(key, format!("{shown} is not {expected}"))
    }

    /// A file that cannot be read; `key` is empty for a conf file.
    pub(super) fn unreadable(key: &str, path: &Path, error: io::Error) -> Self {
        let problem = if error.kind() == io::ErrorKind::NotFound {
            format!("`{}` does not exist", path.display())
        } else {
            format!("`{}` cannot be read", path.display())
        };
        Self {
            source: Some(Arc::new(error)),
            ..Self::new(key, problem)
        }
    }

    /// Says where the value was read, unless that is already said.
    pub(super) fn at(mut self, place: impl Into<String>) -> Self {
        self.place.get_or_insert_with(|| place.into());
        self
    }

    /// The `pg_*` key at fault, or the empty string when the error is not
    /// about one key (a conf file that cannot be read).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// What is wrong, without the key and the place.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.key.is_empty(), &self.place) {
            (true, _) => f.write_str(&self.problem),
            (false, None) => write!(f, "`{}`: {}", self.key, self.problem),
            (false, Some(place)) => write!(f, "`{}` ({place}): {}", self.key, self.problem),
        }
    }
}

impl Error for SettingsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|error| error as _)
    }
}

/// Whether the value of `key` must never appear in a message.
pub(super) fn is_secret_key(key: &str) -> bool {
    key.ends_with("_password") || key.ends_with("_client_secret")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_names_key_and_value() {
        let error = SettingsError::invalid("pg_port", "70000", "a port (1-65535)");
        assert_eq!(error.key(), "pg_port");
        assert_eq!(
            error.to_string(),
            "`pg_port`: `70000` is not a port (1-65535)"
        );
    }

    #[test]
    fn invalid_never_echoes_a_secret() {
        for key in [
            "pg_password",
            "pg_ro_password",
            "pg_azure_client_secret",
            "pg_ro_azure_client_secret",
        ] {
            let error = SettingsError::invalid(key, "hunter2", "anything").at("conf line 1");
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("the value is not anything"), "{shown}");
        }
    }

    #[test]
    fn place_is_shown_once_and_first_wins() {
        let error = SettingsError::new("pg_host", "must not be empty")
            .at("conf line 3")
            .at("elsewhere");
        assert_eq!(
            error.to_string(),
            "`pg_host` (conf line 3): must not be empty"
        );
    }

    #[test]
    fn unreadable_keeps_the_cause_as_source() {
        let cause = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let error = SettingsError::unreadable("", Path::new("/x/kong.conf"), cause);
        assert_eq!(error.to_string(), "`/x/kong.conf` cannot be read");
        assert!(error.source().is_some());
        assert_eq!(error.key(), "");
    }
}
