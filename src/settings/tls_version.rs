//! The TLS version named by `pg_ssl_version`.

/// The TLS version for the connection to PostgreSQL (`pg_ssl_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.1 (`tlsv1_1`).
    Tlsv1_1,
    /// TLS 1.2 (`tlsv1_2`), the default.
    #[default]
    Tlsv1_2,
    /// TLS 1.3 (`tlsv1_3`).
    Tlsv1_3,
    /// Whatever the TLS library negotiates (`any`).
    Any,
}

impl TlsVersion {
    /// What the versions are expected to look like, for error messages.
    pub(super) const EXPECTED: &'static str = "a tls version (tlsv1_1, tlsv1_2, tlsv1_3 or any)";

    /// The name used in `pg_ssl_version`: `tlsv1_2`, `any`, ...
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Tlsv1_1 => "tlsv1_1",
            Self::Tlsv1_2 => "tlsv1_2",
            Self::Tlsv1_3 => "tlsv1_3",
            Self::Any => "any",
        }
    }

    /// Reads a name, ignoring ASCII case.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        [Self::Tlsv1_1, Self::Tlsv1_2, Self::Tlsv1_3, Self::Any]
            .into_iter()
            .find(|version| version.as_str().eq_ignore_ascii_case(name))
    }
}

named_enum!(TlsVersion);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for version in [
            TlsVersion::Tlsv1_1,
            TlsVersion::Tlsv1_2,
            TlsVersion::Tlsv1_3,
            TlsVersion::Any,
        ] {
            assert_eq!(TlsVersion::from_name(version.as_str()), Some(version));
        }
        assert_eq!(TlsVersion::from_name("TLSv1_3"), Some(TlsVersion::Tlsv1_3));
        assert_eq!(TlsVersion::from_name("tlsv1.2"), None);
        assert_eq!(TlsVersion::default(), TlsVersion::Tlsv1_2);
    }
}
