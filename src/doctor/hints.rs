//! Known failures, each turned into one line that says what to change.

use std::fmt;

use serde::Serialize;

use super::claims::Claims;

/// Which known failure a [`Hint`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HintKind {
    /// The managed identity endpoint does not know the identity.
    IdentityNotFound,
    /// Entra ID refused the application, tenant or secret.
    BadClient,
    /// The token is for another resource than the server's.
    AudienceNotValid,
    /// The role the login names does not exist (or takes no tokens).
    RoleDoesNotExist,
    /// A managed identity logged in under another role's name.
    WrongUser,
    /// The token had expired.
    TokenExpired,
    /// The TLS handshake did not happen or did not verify.
    TlsRefused,
    /// Nothing answers at the host and port.
    Unreachable,
    /// A static password was refused.
    PasswordRefused,
    /// The database named by `pg_database` does not exist.
    DatabaseMissing,
}

/// One line that turns a failure into what to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Hint {
    /// The failure.
    pub kind: HintKind,
    /// What it means and what to do.
    pub text: String,
}

impl Hint {
    fn new(kind: HintKind, text: impl Into<String>) -> Self {
        Self {
            kind,
            text: text.into(),
        }
    }
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A credential's failure, from its message.
pub(crate) fn credential_failure(reason: &str, client_id: Option<&str>) -> Option<Hint> {
    let lower = reason.to_ascii_lowercase();
    // azure_identity rewrites the endpoint's "Identity not found" as this.
    if lower.contains("identity not found") || lower.contains("identity has not been assigned") {
        let text = match client_id {
            Some(id) => format!(
                "identity not found: the managed identity with client id {id} is not assigned \
                 to this host, or pg_azure_client_id is wrong"
            ),
            None => "identity not found: this host has no system-assigned managed identity; \
                     turn it on or set pg_azure_client_id to a user-assigned one"
                .to_owned(),
        };
        return Some(Hint::new(HintKind::IdentityNotFound, text));
    }
    let bad_client = [
        (
            "aadsts700016",
            "the application is not in this tenant: check pg_azure_client_id and pg_azure_tenant_id",
        ),
        (
            "aadsts90002",
            "the tenant does not exist: check pg_azure_tenant_id",
        ),
        (
            "aadsts7000215",
            "the client secret is wrong: pg_azure_client_secret must be the secret's value, not its id",
        ),
        (
            "aadsts700024",
            "the federated token has expired: the platform should rotate AZURE_FEDERATED_TOKEN_FILE",
        ),
    ];
    bad_client
        .iter()
        .find(|(code, _)| lower.contains(code))
        .map(|(_, text)| Hint::new(HintKind::BadClient, *text))
}

/// What the claims of a token that was issued say is wrong with it.
/// `resource` is the server's resource in the configured cloud.
pub(crate) fn token_claims(claims: &Claims, resource: &str) -> Vec<Hint> {
    let mut hints = Vec::new();
    if let Some(aud) = &claims.audience
        && aud.trim_end_matches('/') != resource.trim_end_matches('/')
    {
        hints.push(Hint::new(
            HintKind::AudienceNotValid,
            format!(
                "audience not valid: the token is for {aud}, the server expects {resource}; \
                 check pg_azure_cloud and pg_azure_scope"
            ),
        ));
    }
    if claims.expires_in().is_some_and(|s| s <= 0) {
        hints.push(token_expired());
    }
    hints
}

fn token_expired() -> Hint {
    Hint::new(
        HintKind::TokenExpired,
        "token expired: the credential handed out a token past its expiry; check the host's \
         clock and the identity endpoint",
    )
}

/// What a failed connect means. `token` is the token's claims when the
/// login used one.
pub(crate) fn connect_failure(
    error: &tokio_postgres::Error,
    user: &str,
    token: Option<&Claims>,
) -> Option<Hint> {
    let Some(db) = error.as_db_error() else {
        return transport_failure(&error_chain(error));
    };
    let message = db.message().to_ascii_lowercase();
    if message.contains("token has expired") || token.is_some_and(|c| c.expires_in() <= Some(0)) {
        return Some(token_expired());
    }
    if message.contains("audience") {
        return Some(Hint::new(
            HintKind::AudienceNotValid,
            "audience not valid: the server refused the token's audience; check pg_azure_cloud \
             and pg_azure_scope",
        ));
    }
    if db.code().code() == "3D000" {
        return Some(Hint::new(
            HintKind::DatabaseMissing,
            format!(
                "database does not exist: check pg_database ({})",
                db.message()
            ),
        ));
    }
    let refused = db.code().code().starts_with("28");
    let role_missing = message.contains("does not exist");
    match token {
        Some(claims) if refused => match claims.identity_name() {
            Some(name) if name != user && !role_missing => Some(Hint::new(
                HintKind::WrongUser,
                format!(
                    "password authentication failed for a managed identity: pg_user is {user}, \
                     but must be the identity's role name, {name}"
                ),
            )),
            _ => Some(role_does_not_exist(user)),
        },
        None if role_missing => Some(role_does_not_exist(user)),
        None if refused => Some(Hint::new(
            HintKind::PasswordRefused,
            format!("the server refused the password of {user}: check pg_user and pg_password"),
        )),
        _ => None,
    }
}

fn role_does_not_exist(user: &str) -> Hint {
    Hint::new(
        HintKind::RoleDoesNotExist,
        format!(
            "role does not exist: no role {user} takes Entra tokens; create it with \
             SELECT pgaadauth_create_principal('{user}', false, false) named after the managed \
             identity"
        ),
    )
}

fn transport_failure(chain: &str) -> Option<Hint> {
    let lower = chain.to_ascii_lowercase();
    let text = if lower.contains("does not support tls") || lower.contains("does not support ssl") {
        "TLS refused: the server does not offer TLS, and Entra logins (or pg_ssl_required) need it"
    } else if lower.contains("certificate verify failed") {
        "TLS refused: the server's certificate does not verify; set pg_ssl_trusted_certificate \
         to the CA that signed it and check that pg_host is a name the certificate carries"
    } else if lower.contains("ssl") || lower.contains("tls") {
        "TLS refused: the handshake failed; check pg_ssl_version and the server's TLS settings"
    } else if lower.contains("refused") || lower.contains("timed out") || lower.contains("timeout")
    {
        return Some(Hint::new(
            HintKind::Unreachable,
            "nothing answered at pg_host:pg_port: check the host, port and firewall",
        ));
    } else {
        return None;
    };
    Some(Hint::new(HintKind::TlsRefused, text))
}

/// The error with each of its causes, as one line.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_not_found_names_the_client_id() {
        let hint = credential_failure("400 Bad Request: Identity not found", Some("abc")).unwrap();
        assert_eq!(hint.kind, HintKind::IdentityNotFound);
        assert!(hint.text.contains("abc"));
        assert!(credential_failure("503 busy", None).is_none());
    }

    #[test]
    fn audience_is_compared_without_a_trailing_slash() {
        let claims = Claims {
            audience: Some("https://ossrdbms-aad.database.windows.net/".into()),
            ..Default::default()
        };
        assert!(token_claims(&claims, "https://ossrdbms-aad.database.windows.net").is_empty());
        let hints = token_claims(&claims, "https://ossrdbms-aad.database.chinacloudapi.cn");
        assert_eq!(hints[0].kind, HintKind::AudienceNotValid);
    }

    #[test]
    fn transport_failures() {
        let tls = transport_failure("error performing TLS handshake: server does not support TLS");
        assert_eq!(tls.unwrap().kind, HintKind::TlsRefused);
        let ca = transport_failure("error performing TLS handshake: certificate verify failed");
        assert_eq!(ca.unwrap().kind, HintKind::TlsRefused);
        let down = transport_failure("error connecting to server: Connection refused");
        assert_eq!(down.unwrap().kind, HintKind::Unreachable);
    }
}
