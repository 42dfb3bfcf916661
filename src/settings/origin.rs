//! Where each value came from, and the warnings raised while reading.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use super::Settings;

/// Where the value of one key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The key is unset: the built-in default applies.
    Default,
    /// A conf file at this path; `conf` for [`Settings::from_conf_str`].
    File(PathBuf),
    /// The environment variable with this name.
    Env(String),
    /// Set in code or deserialized with serde.
    Code,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("default"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Code => f.write_str("code"),
        }
    }
}

/// The bookkeeping behind [`Settings::origin`] and [`Settings::warnings`].
///
/// Filled by the readers ([`Settings::from_conf_file`],
/// [`Settings::from_env`], ...) and carried by [`Settings::merge`]. Leave it
/// to `Default` when building [`Settings`] in code: values set there report
/// [`Origin::Code`].
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    origins: HashMap<&'static str, Origin>,
    warnings: Vec<String>,
}

impl Provenance {
    /// Notes that `key` was just read from `origin`, or unset by it.
    pub(super) fn record(&mut self, key: &'static str, set: bool, origin: &Origin) {
        if set {
            self.origins.insert(key, origin.clone());
        } else {
            self.origins.remove(key);
        }
    }

    /// Takes the origin of `key` from `other`, whose value won a merge.
    pub(super) fn adopt(&mut self, key: &'static str, other: &Provenance) {
        match other.origins.get(key) {
            Some(origin) => self.origins.insert(key, origin.clone()),
            None => self.origins.remove(key),
        };
    }

    pub(super) fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    pub(super) fn append_warnings(&mut self, other: Provenance) {
        self.warnings.extend(other.warnings);
    }
}

impl Settings {
    /// Where the value of `key` (a `pg_*` name, any case) came from.
    ///
    /// An unset `pg_ro_*` key reports the origin of its primary twin, since
    /// that is where its value comes from. An unset or unknown key reports
    /// [`Origin::Default`].
    ///
    /// Origins are recorded by the readers and by [`Settings::merge`]. A
    /// field assigned directly after reading keeps the origin it had (the
    /// field is public, so nothing sees the assignment); to override a value
    /// read from a file or the environment and have the origin follow, merge
    /// a `Settings` holding the new value instead.
    pub fn origin(&self, key: &str) -> Origin {
        let key = key.to_ascii_lowercase();
        let Some(key) = Self::keys().iter().copied().find(|known| *known == key) else {
            return Origin::Default;
        };
        if self.is_set(key) {
            return self
                .provenance
                .origins
                .get(key)
                .cloned()
                .unwrap_or(Origin::Code);
        }
        match key.strip_prefix("pg_ro_") {
            Some(rest) => self.origin(&format!("pg_{rest}")),
            None => Origin::Default,
        }
    }

    /// Warnings raised while reading, such as an unknown `pg_*` key in a
    /// conf file; each was also logged with `tracing::warn!`.
    pub fn warnings(&self) -> &[String] {
        &self.provenance.warnings
    }
}
