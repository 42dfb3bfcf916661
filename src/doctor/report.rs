//! What the doctor found, printable as text for people or JSON for scripts.
//! Nothing here ever holds a token, a password or a client secret.

use std::fmt;

use serde::Serialize;

use super::claims::Claims;
use super::hints::Hint;

/// The doctor's findings for both sides.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// Whether every side that is configured could log in and query.
    pub ok: bool,
    /// Settings that could not be read or resolved.
    pub error: Option<String>,
    /// Warnings raised while reading the settings.
    pub warnings: Vec<String>,
    /// The primary side, then the read-only side when `pg_ro_host` is set.
    pub sides: Vec<SideReport>,
}

/// The findings for one side (primary or read-only).
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct SideReport {
    /// `primary` or `read_only`.
    pub side: &'static str,
    /// Whether this side got a token (with Entra on), logged in and queried.
    pub ok: bool,
    /// `entra` or `password`.
    pub auth: &'static str,
    /// Each setting in effect and where it came from; secrets masked.
    pub settings: Vec<SettingLine>,
    /// Each credential of the chain, in order, and what it did.
    pub credentials: Vec<CredentialLine>,
    /// The claims of the token the chain got, if it got one.
    pub token: Option<Claims>,
    /// The connection attempt, when one was made.
    pub connection: Option<ConnectionLine>,
    /// One line per known failure seen on this side.
    pub hints: Vec<Hint>,
}

/// One setting in effect.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct SettingLine {
    /// The `pg_*` or `pg_ro_*` key.
    pub key: String,
    /// The value in effect; `<redacted>` for a secret that is set.
    pub value: String,
    /// `default`, `file PATH`, `environment variable NAME` or `code`.
    pub origin: String,
}

/// What one credential of the chain did.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct CredentialLine {
    /// The credential, in words.
    pub credential: String,
    /// `token`, `failed` or `skipped` (an earlier one worked).
    pub outcome: &'static str,
    /// Why it failed, or when the token it got expires.
    pub detail: Option<String>,
}

/// The connection attempt.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ConnectionLine {
    /// The error, with its causes, when the connect or query failed.
    pub error: Option<String>,
    /// The SQLSTATE the server sent with its error.
    pub sqlstate: Option<String>,
    /// The subject of the server's certificate, as seen in the handshake.
    pub server_certificate: Option<String>,
    /// Whether the server's certificate verified against the trusted CAs
    /// (`None` when no certificate was seen).
    pub certificate_verified: Option<bool>,
    /// The TLS protocol of the session, e.g. `TLSv1.3`; `None` without TLS
    /// or when the handshake did not get that far.
    pub protocol: Option<String>,
    /// The TLS cipher of the session.
    pub cipher: Option<String>,
    /// `current_user`.
    pub user: Option<String>,
    /// `current_database()`.
    pub database: Option<String>,
    /// Whether the session is read-only (`transaction_read_only`).
    pub read_only: Option<bool>,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Every hint of every side.
    pub fn hints(&self) -> impl Iterator<Item = &Hint> {
        self.sides.iter().flat_map(|s| &s.hints)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        if let Some(e) = &self.error {
            writeln!(f, "error: {e}")?;
        }
        for side in &self.sides {
            write!(f, "{side}")?;
        }
        if !self.sides.iter().any(|s| s.side == "read_only") && self.error.is_none() {
            writeln!(f, "\n== read_only: not configured (pg_ro_host is unset)")?;
        }
        let verdict = if self.ok {
            "all checks passed"
        } else {
            "some checks failed"
        };
        writeln!(f, "\n{verdict}")
    }
}

impl fmt::Display for SideReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.ok { "ok" } else { "FAILED" };
        writeln!(f, "\n== {} ({} login): {verdict}", self.side, self.auth)?;

        writeln!(f, "settings")?;
        let width = self.settings.iter().map(|s| s.key.len()).max().unwrap_or(0);
        for s in &self.settings {
            writeln!(f, "  {:width$}  {}  [{}]", s.key, s.value, s.origin)?;
        }

        if !self.credentials.is_empty() {
            writeln!(f, "credentials, in the order the chain tries them")?;
        }
        for (i, c) in self.credentials.iter().enumerate() {
            write!(f, "  {}. {}: {}", i + 1, c.credential, c.outcome)?;
            match &c.detail {
                Some(d) => writeln!(f, " ({d})")?,
                None => writeln!(f)?,
            }
        }

        if let Some(t) = &self.token {
            writeln!(f, "token claims (the token itself is never shown)")?;
            let lines = [
                ("aud", t.audience.clone()),
                ("iss", t.issuer.clone()),
                ("tid", t.tenant.clone()),
                ("oid", t.object_id.clone()),
                ("appid", t.app_id.clone()),
                ("xms_mirid", t.managed_identity.clone()),
                ("upn", t.user.clone()),
                ("exp", t.expires_at.map(|e| expiry(e, t.expires_in()))),
            ];
            for (name, value) in lines {
                if let Some(v) = value {
                    writeln!(f, "  {name:9}  {v}")?;
                }
            }
        }

        if let Some(c) = &self.connection {
            writeln!(f, "connection")?;
            let tls = match (&c.protocol, &c.cipher) {
                (Some(p), Some(cipher)) => format!("{p}, {cipher}"),
                (Some(p), None) => p.clone(),
                _ if c.error.is_none() => "none".to_owned(),
                _ => "not established".to_owned(),
            };
            writeln!(f, "  tls                 {tls}")?;
            if let Some(s) = &c.server_certificate {
                let note = if c.certificate_verified == Some(false) {
                    " (did not verify)"
                } else {
                    ""
                };
                writeln!(f, "  server certificate  {s}{note}")?;
            }
            if let (Some(u), Some(d), Some(ro)) = (&c.user, &c.database, c.read_only) {
                let ro = if ro { "read-only" } else { "read-write" };
                writeln!(f, "  session             user {u}, database {d}, {ro}")?;
            }
            if let Some(e) = &c.error {
                writeln!(f, "  error               {e}")?;
            }
        }

        for h in &self.hints {
            writeln!(f, "hint: {h}")?;
        }
        Ok(())
    }
}

fn expiry(exp: u64, left: Option<i64>) -> String {
    match left {
        Some(s) if s > 0 => format!("{exp} (in {}m {:02}s)", s / 60, s % 60),
        Some(s) => format!("{exp} (EXPIRED {}s ago)", -s),
        None => exp.to_string(),
    }
}
