//! The settings in effect for one side, where each came from, secrets
//! masked.

use super::report::SettingLine;
use crate::settings::{Settings, SideSettings};

const REDACTED: &str = "<redacted>";

pub(super) fn lines(settings: &Settings, side: &SideSettings, read_only: bool) -> Vec<SettingLine> {
    let on = |b: bool| if b { "on" } else { "off" }.to_owned();
    let path = |p: &Option<std::path::PathBuf>, none: &str| {
        p.as_ref()
            .map_or_else(|| none.to_owned(), |p| p.display().to_string())
    };
    let entra = side.azure.is_some();
    let mut values = vec![
        ("host", side.host.clone()),
        ("port", side.port.to_string()),
        ("timeout", side.connect_timeout.as_millis().to_string()),
        ("user", side.user.clone()),
        (
            "password",
            match (
                &side.password,
                settings_set(settings, "password", read_only),
            ) {
                (Some(_), _) => REDACTED.to_owned(),
                (None, true) => format!("{REDACTED} (ignored: pg_azure_auth is on)"),
                (None, false) => "unset".to_owned(),
            },
        ),
        ("database", side.database.clone()),
        (
            "schema",
            side.schema.clone().unwrap_or_else(|| "unset".into()),
        ),
        ("ssl", on(side.tls.enabled)),
        ("ssl_required", on(side.tls.required)),
        ("ssl_verify", on(side.tls.verify)),
        ("ssl_version", side.tls.version.as_str().to_owned()),
        ("ssl_cert", path(&side.tls.client_cert, "unset")),
        ("ssl_cert_key", path(&side.tls.client_key, "unset")),
        (
            "ssl_trusted_certificate",
            path(&side.tls.trusted_certificate, "the system's roots"),
        ),
        ("pool_size", side.pool.size.to_string()),
        ("azure_auth", on(entra)),
    ];
    if let Some(azure) = &side.azure {
        let unset = || "unset".to_owned();
        values.extend([
            (
                "azure_client_id",
                azure.client_id.clone().unwrap_or_else(unset),
            ),
            (
                "azure_client_secret",
                azure
                    .client_secret
                    .as_ref()
                    .map_or_else(unset, |_| REDACTED.to_owned()),
            ),
            (
                "azure_tenant_id",
                azure.tenant_id.clone().unwrap_or_else(unset),
            ),
            ("azure_cloud", azure.cloud.as_str().to_owned()),
            ("azure_scope", azure.scope.clone()),
        ]);
    }

    values
        .into_iter()
        .map(|(name, value)| {
            let key = key(name, read_only);
            let forced = entra && matches!(name, "ssl" | "ssl_required");
            let origin = if forced {
                "forced on by pg_azure_auth".to_owned()
            } else {
                settings.origin(&key).to_string()
            };
            SettingLine { key, value, origin }
        })
        .collect()
}

fn key(name: &str, read_only: bool) -> String {
    let prefix = if read_only { "pg_ro_" } else { "pg_" };
    format!("{prefix}{name}")
}

/// Whether the side's key (or, on the read-only side, its twin) holds a value.
fn settings_set(settings: &Settings, name: &str, read_only: bool) -> bool {
    settings.is_set(&key(name, read_only)) || settings.is_set(&key(name, false))
}
