//! `pg-entra-pool doctor`: why can it not connect? (feature `cli`)
//!
//! For the primary side and then the read-only side, the doctor prints the
//! settings in effect and where each came from, asks each credential of
//! the chain for a token, shows the claims of the token it got (never the
//! token), logs in over TLS and runs a query, and turns the failures it
//! knows into one-line [`Hint`]s.
//!
//! The `pg-entra-pool` binary is a thin wrapper over [`run`]:
//!
//! ```sh
//! pg-entra-pool doctor --env-prefix KONG_ --conf /etc/kong/kong.conf
//! pg-entra-pool doctor --json | jq '.sides[].hints'
//! ```
//!
//! It exits 0 when every configured side works, 1 otherwise, and 2 when the
//! settings cannot be read.

mod claims;
mod hints;
mod probe;
mod report;
mod settings_lines;

use std::time::Duration;

use azure_core::http::Transport;

pub use claims::Claims;
pub use hints::{Hint, HintKind};
pub use report::{ConnectionLine, CredentialLine, Report, SettingLine, SideReport};

use crate::Secret;
use crate::credentials::{CredentialChain, Tried};
use crate::settings::{Settings, SideSettings};

/// How the doctor runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The HTTP transport for the credentials (default: `azure_core`'s own
    /// client); tests pass the testkit's loopback transport.
    pub transport: Option<Transport>,
    /// How long each credential may take to answer (default 10 s).
    pub credential_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            transport: None,
            credential_timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// Sends every credential request through `transport`.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }
}

/// Checks both sides of `settings`. Never fails: what goes wrong is in the
/// report.
pub async fn run(settings: &Settings, options: &Options) -> Report {
    let mut report = Report {
        ok: false,
        error: None,
        warnings: settings.warnings().to_vec(),
        sides: Vec::new(),
    };
    match settings.primary() {
        Ok(side) => {
            let checked = check_side(settings, "primary", &side, false, options).await;
            report.sides.push(checked);
        }
        Err(e) => report.error = Some(format!("invalid settings: {e}")),
    }
    match settings.read_only() {
        Ok(Some(side)) => {
            let checked = check_side(settings, "read_only", &side, true, options).await;
            report.sides.push(checked);
        }
        Ok(None) => {}
        Err(e) => {
            let e = format!("invalid settings: {e}");
            // The same faulty key may spoil both sides: say it once.
            if report.error.as_ref() != Some(&e) {
                report.error = Some(report.error.map_or(e.clone(), |p| format!("{p}; {e}")));
            }
        }
    }
    report.ok = report.error.is_none() && report.sides.iter().all(|s| s.ok);
    report
}

async fn check_side(
    settings: &Settings,
    name: &'static str,
    side: &SideSettings,
    read_only: bool,
    options: &Options,
) -> SideReport {
    let mut report = SideReport {
        side: name,
        ok: false,
        auth: if side.azure.is_some() {
            "entra"
        } else {
            "password"
        },
        settings: settings_lines::lines(settings, side, read_only),
        credentials: Vec::new(),
        token: None,
        connection: None,
        hints: Vec::new(),
    };

    // The token, credential by credential.
    let mut password = side.password.clone();
    if let Some(azure) = &side.azure {
        let chain = CredentialChain::from_settings(azure, options.transport.as_ref());
        for (credential, tried) in chain.try_each(options.credential_timeout).await {
            let (outcome, detail) = match tried {
                Tried::Token(token) => {
                    password = Some(Secret::new(token.token.secret()));
                    let left = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
                    let mut detail = format!("expires in {}s", left.whole_seconds());
                    match Claims::decode(token.token.secret()) {
                        Ok(claims) => report.token = Some(claims),
                        Err(why) => detail.push_str(&format!("; no claims shown: {why}")),
                    }
                    ("token", Some(detail))
                }
                Tried::Failed(attempt) => {
                    let hint =
                        hints::credential_failure(&attempt.reason, azure.client_id.as_deref());
                    report.hints.extend(hint);
                    ("failed", Some(attempt.reason))
                }
                Tried::Skipped => ("skipped", Some("an earlier credential worked".to_owned())),
            };
            report.credentials.push(CredentialLine {
                credential,
                outcome,
                detail,
            });
        }
        if password.is_none() {
            return report;
        }
        if let Some(claims) = &report.token {
            let resource = azure.cloud.scope().trim_end_matches("/.default");
            report.hints.extend(hints::token_claims(claims, resource));
        }
    }

    // The login and a query over TLS.
    let entra = side.azure.is_some();
    let (connection, error) = probe::connect(side, entra, read_only, password.as_ref()).await;
    if let Some(error) = &error
        && let Some(hint) = hints::connect_failure(error, &side.user, report.token.as_ref())
        && !report.hints.contains(&hint)
    {
        report.hints.push(hint);
    }
    let expired = report
        .hints
        .iter()
        .any(|h| h.kind == HintKind::TokenExpired);
    report.ok = connection.error.is_none() && !expired;
    report.connection = Some(connection);
    report
}
