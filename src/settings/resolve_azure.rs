//! The Entra ID settings of one side.

use super::raw::SideRaw;
use super::resolve::optional_text;
use super::{AzureSettings, SettingsError};

/// The Entra ID settings of one side, or `None` when `pg_azure_auth` is off.
pub(super) fn azure(raw: &SideRaw) -> Result<Option<AzureSettings>, SettingsError> {
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

#[cfg(test)]
mod tests {
    use crate::settings::test_support::capture_logs;
    use crate::{AzureCloud, Secret, Settings};

    #[test]
    fn azure_drops_the_password_and_warns_once() {
        let settings =
            Settings::from_conf_str("pg_azure_auth = on\npg_password = hunter2").unwrap();
        let (side, logs) = capture_logs(|| settings.primary().unwrap());
        assert_eq!(side.password, None);
        assert_eq!(logs.matches("password ignored").count(), 1, "{logs}");
        assert!(logs.contains("key=\"pg_password\""), "{logs}");
        assert!(!logs.contains("hunter2"), "{logs}");

        let settings = Settings::from_conf_str("pg_azure_auth = on\npg_ssl = on").unwrap();
        let (_, logs) = capture_logs(|| settings.primary().unwrap());
        assert!(logs.is_empty(), "{logs}");
    }

    #[test]
    fn defaults_and_scopes() {
        let azure = Settings::from_conf_str("pg_azure_auth = on")
            .unwrap()
            .primary()
            .unwrap()
            .azure
            .unwrap();
        assert_eq!(azure.cloud, AzureCloud::Public);
        assert_eq!(
            azure.scope,
            "https://ossrdbms-aad.database.windows.net/.default"
        );
        assert_eq!(
            (azure.client_id, azure.tenant_id, azure.client_secret),
            (None, None, None)
        );

        let azure = Settings::from_conf_str(
            "pg_azure_auth = on\npg_azure_cloud = azurechina\npg_azure_scope = api://x/.default",
        )
        .unwrap()
        .primary()
        .unwrap()
        .azure
        .unwrap();
        assert_eq!(azure.cloud, AzureCloud::China);
        assert_eq!(azure.scope, "api://x/.default");
    }

    #[test]
    fn client_secret_needs_tenant_and_client_id() {
        let base = "pg_azure_auth = on\npg_azure_client_secret = hunter2\n";
        let cases = [
            ("pg_azure_tenant_id", "pg_azure_client_id = app"),
            ("pg_azure_client_id", "pg_azure_tenant_id = t"),
            ("pg_azure_tenant_id", ""),
        ];
        for (missing, more) in cases {
            let settings = Settings::from_conf_str(&format!("{base}{more}")).unwrap();
            let error = settings.primary().unwrap_err();
            assert_eq!(error.key(), missing, "{error}");
            assert!(
                error.to_string().contains("`pg_azure_client_secret`"),
                "{error}"
            );
            assert!(!format!("{error} {error:?}").contains("hunter2"));
        }

        let settings = Settings::from_conf_str(&format!(
            "{base}pg_azure_tenant_id = t\npg_azure_client_id = app"
        ))
        .unwrap();
        let azure = settings.primary().unwrap().azure.unwrap();
        assert_eq!(azure.client_secret, Some(Secret::new("hunter2")));
        assert!(!format!("{azure:?} {settings:?}").contains("hunter2"));
    }

    #[test]
    fn client_secret_is_ignored_while_azure_is_off() {
        let settings = Settings::from_conf_str("pg_azure_client_secret = s").unwrap();
        assert_eq!(settings.primary().unwrap().azure, None);
    }

    #[test]
    fn read_only_missing_tenant_names_the_twin() {
        let settings = Settings::from_conf_str(
            "pg_ro_host = replica\npg_ro_azure_auth = on\n\
             pg_ro_azure_client_secret = s\npg_azure_client_id = app",
        )
        .unwrap();
        assert!(settings.primary().unwrap().azure.is_none());
        let error = settings.read_only().unwrap_err();
        assert_eq!(error.key(), "pg_ro_azure_tenant_id");
    }
}
