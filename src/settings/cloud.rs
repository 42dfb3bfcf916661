//! The Azure clouds, with their token scope and login host.

/// The Azure cloud that issues tokens (`pg_azure_cloud`).
///
/// These are only names and constants; nothing here makes a network call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum AzureCloud {
    /// Azure public cloud (`public`), the default.
    #[default]
    Public,
    /// Azure operated by 21Vianet in China (`china`).
    China,
    /// Azure US Government (`usgovernment`).
    UsGovernment,
}

impl AzureCloud {
    /// What the clouds are expected to look like, for error messages.
    pub(super) const EXPECTED: &'static str = "an azure cloud (public, china or usgovernment)";

    /// The name used in `pg_azure_cloud`: `public`, `china` or
    /// `usgovernment`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::China => "china",
            Self::UsGovernment => "usgovernment",
        }
    }

    /// The token scope of Azure Database for PostgreSQL in this cloud,
    /// used when `pg_azure_scope` is unset.
    pub fn scope(&self) -> &'static str {
        match self {
            Self::Public => "https://ossrdbms-aad.database.windows.net/.default",
            Self::China => "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
            Self::UsGovernment => "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
        }
    }

    /// The Entra ID login host of this cloud.
    pub fn authority_host(&self) -> &'static str {
        match self {
            Self::Public => "https://login.microsoftonline.com",
            Self::China => "https://login.chinacloudapi.cn",
            Self::UsGovernment => "https://login.microsoftonline.us",
        }
    }

    /// Reads a name, forgiving case, `_`, `-`, spaces and the `azure` and
    /// `cloud` words that other tools put around it (`AzureChinaCloud`,
    /// `us_government`, `AzureUSGovernment`, `AzureCloud`).
    pub(super) fn from_name(name: &str) -> Option<Self> {
        let squeezed: String = name
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let core = squeezed.strip_prefix("azure").unwrap_or(&squeezed);
        let core = core.strip_suffix("cloud").unwrap_or(core);
        match core {
            // "AzureCloud" is how the Azure CLI names the public cloud.
            "public" => Some(Self::Public),
            "" if squeezed.starts_with("azure") => Some(Self::Public),
            "china" => Some(Self::China),
            "usgovernment" | "usgov" => Some(Self::UsGovernment),
            _ => None,
        }
    }
}

named_enum!(AzureCloud);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        use AzureCloud::*;
        let cases = [
            ("public", Public),
            ("AzureCloud", Public),
            ("azure_public_cloud", Public),
            ("china", China),
            ("azurechina", China),
            ("AzureChinaCloud", China),
            ("usgovernment", UsGovernment),
            ("us_government", UsGovernment),
            ("AzureUSGovernment", UsGovernment),
            ("us-gov", UsGovernment),
        ];
        for (name, cloud) in cases {
            assert_eq!(AzureCloud::from_name(name), Some(cloud), "{name}");
        }
        for name in ["", "cloud", "germany", "azure germany"] {
            assert_eq!(AzureCloud::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn scopes_and_hosts() {
        assert_eq!(
            AzureCloud::China.scope(),
            "https://ossrdbms-aad.database.chinacloudapi.cn/.default"
        );
        assert_eq!(
            AzureCloud::UsGovernment.authority_host(),
            "https://login.microsoftonline.us"
        );
        assert_eq!(AzureCloud::default().as_str(), "public");
    }
}
