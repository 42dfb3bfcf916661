//! Which Entra credentials are tried, in what order, and why each failed.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use azure_core::credentials::{AccessToken, TokenCredential};
use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use tracing::{debug, info};

use crate::last_answer::{self, LastAnswer, one_line};
use crate::settings::{AzureCloud, AzureSettings};

/// The environment variable whose presence turns on workload identity.
const FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// Why one credential could not produce a token.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Attempt {
    /// The credential, in words: `managed identity (client id 1234…)`.
    pub credential: String,
    /// Why it failed: the credential's own message.
    pub reason: String,
    /// Whether the failure comes from configuration (wrong client id,
    /// identity not assigned, bad secret) rather than from a passing fault.
    pub is_config: bool,
    /// How long the token endpoint asked callers to wait, if it did.
    pub retry_after: Option<Duration>,
}

/// No credential produced a token. Lists each one tried, in order.
#[derive(Clone, Debug)]
pub struct CredentialError {
    attempts: Vec<Attempt>,
}

impl CredentialError {
    pub(crate) fn single(attempt: Attempt) -> Self {
        Self {
            attempts: vec![attempt],
        }
    }

    /// Each credential tried, in order, with why it failed.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// Whether every attempt failed for a reason of configuration, so that
    /// trying again without a change will not help.
    pub fn is_config(&self) -> bool {
        !self.attempts.is_empty() && self.attempts.iter().all(|a| a.is_config)
    }

    /// The longest `Retry-After` any token endpoint asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        self.attempts.iter().filter_map(|a| a.retry_after).max()
    }
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.attempts.as_slice() {
            [] => f.write_str("no credential is configured"),
            [one] => write!(
                f,
                "{} could not get a token: {}",
                one.credential, one.reason
            ),
            many => {
                write!(f, "no credential could get a token (tried {}):", many.len())?;
                for (i, a) in many.iter().enumerate() {
                    write!(f, "\n  {}. {}: {}", i + 1, a.credential, a.reason)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for CredentialError {}

struct Entry {
    label: String,
    credential: Result<Arc<dyn TokenCredential>, Attempt>,
}

/// The credentials to try, in order. Once one has produced a token, only
/// that one is used from then on, so a passing fault can never switch the
/// pool to another identity (and so to another database role).
pub(crate) struct CredentialChain {
    entries: Vec<Entry>,
    chosen: OnceLock<usize>,
    scope: String,
    /// What the token endpoint last answered during the current request.
    last_answer: Arc<LastAnswer>,
}

impl fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialChain")
            .field("credential", &self.describe())
            .field("scope", &self.scope)
            .finish()
    }
}

impl CredentialChain {
    /// A chain of one credential that the user built.
    pub(crate) fn custom(credential: Arc<dyn TokenCredential>, scope: String) -> Self {
        // Only the type's name from its `Debug`: a credential of the user's
        // with a derived `Debug` could otherwise print a secret it holds.
        let printed = format!("{credential:?}");
        let name = printed
            .split(['{', '(', ' '])
            .next()
            .unwrap_or_default()
            .trim();
        let label = format!("custom credential ({name})");
        Self {
            entries: vec![Entry {
                label,
                credential: Ok(credential),
            }],
            chosen: OnceLock::new(),
            scope,
            last_answer: Arc::default(),
        }
    }

    /// The chain for `azure`: client secret when client id, secret and
    /// tenant are all set; workload identity when
    /// `AZURE_FEDERATED_TOKEN_FILE` is set; then managed identity,
    /// user-assigned by client id or system-assigned without one.
    pub(crate) fn from_settings(azure: &AzureSettings, transport: Option<&Transport>) -> Self {
        let last_answer = Arc::<LastAnswer>::default();
        // The Entra token endpoint answers 429 and 5xx with `Retry-After`:
        // our refresh loop honours it and backs off with jitter, so
        // azure_core's own retries (up to a minute) are turned off there.
        // The managed identity credential insists on its own retries.
        let options = |entra: bool| ClientOptions {
            transport: transport.cloned(),
            cloud: entra.then(|| Arc::new(cloud_configuration(azure.cloud))),
            retry: if entra {
                RetryOptions::none()
            } else {
                RetryOptions::default()
            },
            per_try_policies: vec![last_answer.policy()],
            ..Default::default()
        };
        let mut entries = Vec::new();

        if let (Some(client_id), Some(secret), Some(tenant)) =
            (&azure.client_id, &azure.client_secret, &azure.tenant_id)
        {
            let label = format!("client secret (tenant {tenant}, client id {client_id})");
            let built = ClientSecretCredential::new(
                tenant,
                client_id.clone(),
                secret.expose().to_owned().into(),
                Some(ClientSecretCredentialOptions {
                    client_options: options(true),
                }),
            );
            entries.push(entry(label, built.map(|c| c as Arc<dyn TokenCredential>)));
        }

        if let Some(file) = std::env::var_os(FEDERATED_TOKEN_FILE) {
            let label = format!(
                "workload identity (tenant {}, client id {}, token file {})",
                azure.tenant_id.as_deref().unwrap_or("from AZURE_TENANT_ID"),
                azure.client_id.as_deref().unwrap_or("from AZURE_CLIENT_ID"),
                std::path::Path::new(&file).display(),
            );
            let mut wi = WorkloadIdentityCredentialOptions {
                client_id: azure.client_id.clone(),
                tenant_id: azure.tenant_id.clone(),
                ..Default::default()
            };
            wi.credential_options.client_options = options(true);
            let built = WorkloadIdentityCredential::new(Some(wi));
            entries.push(entry(label, built.map(|c| c as Arc<dyn TokenCredential>)));
        }

        let (label, user_assigned_id) = match &azure.client_id {
            Some(id) => (
                format!("managed identity (user-assigned, client id {id})"),
                Some(UserAssignedId::ClientId(id.clone())),
            ),
            None => ("managed identity (system-assigned)".to_owned(), None),
        };
        let built = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
            user_assigned_id,
            client_options: options(false),
        }));
        entries.push(entry(label, built.map(|c| c as Arc<dyn TokenCredential>)));

        Self {
            entries,
            chosen: OnceLock::new(),
            scope: azure.scope.clone(),
            last_answer,
        }
    }

    /// What the token endpoint last answered, when that was not a success,
    /// during the request under way or the last one.
    pub(crate) fn last_answer(&self) -> Option<last_answer::Answer> {
        self.last_answer.get()
    }

    /// The scope tokens are requested for.
    pub(crate) fn scope(&self) -> &str {
        &self.scope
    }

    /// The credential in use, or the ones that will be tried.
    pub(crate) fn describe(&self) -> String {
        match self.chosen.get() {
            Some(&i) => self.entries[i].label.clone(),
            None => self
                .entries
                .iter()
                .map(|e| e.label.as_str())
                .collect::<Vec<_>>()
                .join(", then "),
        }
    }

    /// Asks the chosen credential for a token, or, before one has worked,
    /// each credential in turn.
    pub(crate) async fn get_token(&self) -> Result<AccessToken, CredentialError> {
        let scopes = [self.scope.as_str()];
        self.last_answer.clear();
        if let Some(&i) = self.chosen.get() {
            let e = &self.entries[i];
            let credential = e
                .credential
                .as_ref()
                .map_err(|a| CredentialError::single(a.clone()))?;
            return credential
                .get_token(&scopes, None)
                .await
                .map_err(|err| CredentialError::single(attempt(&e.label, &err)));
        }

        let mut attempts = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let credential = match &e.credential {
                Ok(c) => c,
                Err(a) => {
                    debug!(credential = %e.label, reason = %a.reason, "credential unavailable");
                    attempts.push(a.clone());
                    continue;
                }
            };
            match credential.get_token(&scopes, None).await {
                Ok(token) => {
                    if self.chosen.set(i).is_ok() {
                        info!(credential = %e.label, scope = %self.scope, "using credential");
                    }
                    return Ok(token);
                }
                Err(err) => {
                    let a = attempt(&e.label, &err);
                    debug!(credential = %e.label, reason = %a.reason, "credential failed");
                    attempts.push(a);
                }
            }
        }
        Err(CredentialError { attempts })
    }
}

/// What one credential of the chain did when asked on its own.
#[cfg(feature = "cli")]
pub(crate) enum Tried {
    /// It produced a token.
    Token(AccessToken),
    /// It could not be built or could not produce a token.
    Failed(Attempt),
    /// An earlier credential worked, so the chain would never ask this one.
    Skipped,
}

#[cfg(feature = "cli")]
impl CredentialChain {
    /// Asks each credential in chain order, each within `patience`, and stops
    /// at the first that yields a token, as [`get_token`](Self::get_token)
    /// does, but reports every step and chooses nothing.
    pub(crate) async fn try_each(&self, patience: Duration) -> Vec<(String, Tried)> {
        let scopes = [self.scope.as_str()];
        let mut found = false;
        let mut out = Vec::with_capacity(self.entries.len());
        for e in &self.entries {
            let tried = match &e.credential {
                _ if found => Tried::Skipped,
                Err(a) => Tried::Failed(a.clone()),
                Ok(c) => match tokio::time::timeout(patience, c.get_token(&scopes, None)).await {
                    Ok(Ok(token)) => {
                        found = true;
                        Tried::Token(token)
                    }
                    Ok(Err(err)) => Tried::Failed(attempt(&e.label, &err)),
                    Err(_) => Tried::Failed(Attempt {
                        credential: e.label.clone(),
                        reason: format!("no answer within {patience:?}"),
                        is_config: false,
                        retry_after: None,
                    }),
                },
            };
            out.push((e.label.clone(), tried));
        }
        out
    }
}

fn entry(label: String, built: azure_core::Result<Arc<dyn TokenCredential>>) -> Entry {
    let credential = built.map_err(|err| {
        let mut a = attempt(&label, &err);
        // A credential that cannot even be built is misconfigured.
        a.is_config = true;
        a
    });
    Entry { label, credential }
}

fn cloud_configuration(cloud: AzureCloud) -> azure_core::cloud::CloudConfiguration {
    use azure_core::cloud::CloudConfiguration as C;
    match cloud {
        AzureCloud::Public => C::AzurePublic,
        AzureCloud::China => C::AzureChina,
        AzureCloud::UsGovernment => C::AzureGovernment,
    }
}

/// Turns an `azure_core` error into an attempt record.
pub(crate) fn attempt(label: &str, err: &azure_core::Error) -> Attempt {
    let (status, retry_after) = http_details(err);
    // The credentials' messages often leave the status out ("throttled").
    let reason = match status {
        Some(code) => format!("HTTP {code}: {err}"),
        None => err.to_string(),
    };
    let is_config = match status {
        // Identity not assigned, bad secret, bad assertion, forbidden. A
        // federated assertion that is stale (AADSTS700024) heals itself when
        // the platform rotates the token file.
        Some(400 | 401 | 403) => !reason.contains("AADSTS700024"),
        Some(_) => false,
        None => false,
    };
    Attempt {
        credential: label.to_owned(),
        reason: one_line(&reason),
        is_config,
        retry_after,
    }
}

/// The HTTP status and `Retry-After` of the first error in the chain that
/// carries a response.
fn http_details(err: &azure_core::Error) -> (Option<u16>, Option<Duration>) {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(az) = e.downcast_ref::<azure_core::Error>()
            && let ErrorKind::HttpResponse {
                status,
                raw_response,
                ..
            } = az.kind()
        {
            let retry_after = raw_response.as_ref().and_then(|r| {
                r.headers()
                    .get_optional_str(&azure_core::http::headers::RETRY_AFTER)
                    .and_then(last_answer::parse_retry_after)
            });
            return (Some(u16::from(*status)), retry_after);
        }
        current = e.source();
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Leaky {
        #[allow(dead_code)]
        token: String,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Leaky {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<azure_core::credentials::TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            Err(azure_core::Error::with_message(ErrorKind::Other, "no"))
        }
    }

    #[test]
    fn a_custom_credential_is_named_by_type_only() {
        let chain = CredentialChain::custom(
            Arc::new(Leaky {
                token: "eyJ-secret-held-by-the-credential".into(),
            }),
            "scope/.default".into(),
        );
        let described = chain.describe();
        assert_eq!(described, "custom credential (Leaky)");
        assert!(!format!("{chain:?}").contains("eyJ-secret"));
    }
}
