//! The TLS settings of one side: forced on for Entra ID login, client
//! certificate pairs, and files that must exist.

use std::fs;
use std::path::PathBuf;

use super::raw::{Field, SideRaw};
use super::{SettingsError, TlsSettings};

pub(super) fn tls(
    raw: &SideRaw,
    azure: bool,
    pool: &'static str,
) -> Result<TlsSettings, SettingsError> {
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

#[cfg(test)]
mod tests {
    use crate::Settings;
    use crate::settings::test_support::{capture_logs, temp_file};

    #[test]
    fn azure_forces_tls_and_warns_once_about_an_explicit_off() {
        let settings = Settings::from_conf_str("pg_azure_auth = on\npg_ssl = off").unwrap();
        let (side, logs) = capture_logs(|| settings.primary().unwrap());
        assert!(side.tls.enabled && side.tls.required);
        assert_eq!(logs.matches("tls forced on").count(), 1, "{logs}");
        assert!(logs.contains("key=\"pg_ssl\""), "{logs}");

        let settings = Settings::from_conf_str("pg_azure_auth = on").unwrap();
        let (side, logs) = capture_logs(|| settings.primary().unwrap());
        assert!(side.tls.enabled && side.tls.required);
        assert!(logs.is_empty(), "{logs}");
    }

    #[test]
    fn required_only_counts_with_tls_on() {
        let settings = Settings::from_conf_str("pg_ssl_required = on").unwrap();
        assert!(!settings.primary().unwrap().tls.required);
        let settings = Settings::from_conf_str("pg_ssl = on\npg_ssl_required = on").unwrap();
        let tls = settings.primary().unwrap().tls;
        assert!(tls.enabled && tls.required);
    }

    #[test]
    fn certificate_and_key_go_together() {
        let cert = temp_file("client.pem", "cert");
        let key = temp_file("client.key", "key");

        let only_cert = Settings {
            pg_ssl_cert: Some(cert.clone()),
            ..Default::default()
        };
        let error = only_cert.primary().unwrap_err();
        assert_eq!(error.key(), "pg_ssl_cert_key");

        let only_key = Settings {
            pg_ssl_cert_key: Some(key.clone()),
            ..Default::default()
        };
        assert_eq!(only_key.primary().unwrap_err().key(), "pg_ssl_cert");

        let both = Settings {
            pg_ssl_cert: Some(cert.clone()),
            pg_ssl_cert_key: Some(key.clone()),
            pg_ssl_trusted_certificate: Some(cert.clone()),
            ..Default::default()
        };
        let tls = both.primary().unwrap().tls;
        assert_eq!(tls.client_cert, Some(cert.clone()));
        assert_eq!(tls.client_key, Some(key.to_path_buf()));
        assert_eq!(tls.trusted_certificate, Some(cert.to_path_buf()));
    }

    #[test]
    fn named_files_must_exist() {
        let real = temp_file("real.pem", "x");
        let cases = [
            (
                "pg_ssl_cert",
                "pg_ssl_cert = /nonexistent/c.pem\npg_ssl_cert_key = REAL",
            ),
            (
                "pg_ssl_cert_key",
                "pg_ssl_cert = REAL\npg_ssl_cert_key = /nonexistent/c.pem",
            ),
            (
                "pg_ssl_trusted_certificate",
                "pg_ssl_trusted_certificate = /nonexistent/c.pem",
            ),
        ];
        for (key, text) in cases {
            let text = text.replace("REAL", &real.display().to_string());
            let error = Settings::from_conf_str(&text)
                .unwrap()
                .primary()
                .unwrap_err();
            assert_eq!(error.key(), key, "{error}");
            assert!(
                error
                    .to_string()
                    .contains("`/nonexistent/c.pem` does not exist"),
                "{error}"
            );
            assert!(error.to_string().contains("(from conf)"), "{error}");
        }
    }

    #[test]
    fn a_directory_is_not_a_certificate() {
        let file = temp_file("x", "");
        let settings = Settings {
            pg_ssl_trusted_certificate: Some(file.parent().unwrap().to_owned()),
            ..Default::default()
        };
        let error = settings.primary().unwrap_err();
        assert!(error.problem().ends_with("is not a file"), "{error}");
    }

    #[test]
    fn read_only_file_errors_name_the_twin() {
        let settings = Settings::from_conf_str(
            "pg_ro_host = replica\npg_ro_ssl_trusted_certificate = /nonexistent/ro.pem",
        )
        .unwrap();
        assert!(settings.primary().is_ok());
        let error = settings.read_only().unwrap_err();
        assert_eq!(error.key(), "pg_ro_ssl_trusted_certificate");
    }
}
