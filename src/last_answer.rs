//! What the token endpoint last answered. azure_identity retries 429 and
//! 5xx answers and refused connections on its own, for up to 72 seconds
//! for the instance metadata endpoint; when that outlasts our fetch
//! timeout, its error never reaches us. This per-try pipeline policy keeps
//! the last answer, so a timeout can still say what went wrong.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};

/// The longest `Retry-After` honoured. A larger one is cut to this, so a
/// confused endpoint cannot stop refreshes for days.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// One answer that was not a success.
#[derive(Clone, Debug)]
pub(crate) struct Answer {
    /// `HTTP 429` or the transport's error, on one line.
    pub(crate) what: String,
    pub(crate) retry_after: Option<Duration>,
}

/// Shared between a credential chain and the policies it installs.
#[derive(Debug, Default)]
pub(crate) struct LastAnswer {
    slot: Mutex<Option<Answer>>,
}

impl LastAnswer {
    /// Forgets what was seen, before a new token request.
    pub(crate) fn clear(&self) {
        *self.lock() = None;
    }

    /// The last failed answer since [`clear`](Self::clear), if any.
    pub(crate) fn get(&self) -> Option<Answer> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Answer>> {
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The policy to put in `ClientOptions::per_try_policies`.
    pub(crate) fn policy(self: &Arc<Self>) -> Arc<dyn Policy> {
        Arc::new(Watch(self.clone()))
    }
}

#[derive(Debug)]
struct Watch(Arc<LastAnswer>);

#[async_trait::async_trait]
impl Policy for Watch {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let result = next[0].send(ctx, request, &next[1..]).await;
        let seen = match &result {
            Ok(response) if response.status().is_success() => None,
            Ok(response) => Some(Answer {
                what: format!("HTTP {}", u16::from(response.status())),
                retry_after: response
                    .headers()
                    .get_optional_str(&azure_core::http::headers::RETRY_AFTER)
                    .and_then(parse_retry_after),
            }),
            // The transport's own words: refused, reset, timed out. They
            // carry the URL at most, never the request body.
            Err(e) => Some(Answer {
                what: one_line(&e.to_string()),
                retry_after: None,
            }),
        };
        *self.0.lock() = seen;
        result
    }
}

/// A `Retry-After` value in seconds (the form token endpoints send), cut
/// to [`MAX_RETRY_AFTER`]. The HTTP-date form is not read.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    // TODO: read the HTTP-date form too; no Entra or managed identity endpoint is known to send it.
    let secs = value.trim().parse::<f64>().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        secs.min(MAX_RETRY_AFTER.as_secs_f64()),
    ))
}

/// Keeps a message to one line, so chain errors stay readable.
pub(crate) fn one_line(s: &str) -> String {
    s.split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_is_capped() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("99999999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("1e400"), None);
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after(""), None);
    }

    #[test]
    fn one_line_joins_lines() {
        assert_eq!(one_line("a\n  b\n\nc "), "a b c");
    }
}
