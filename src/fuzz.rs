//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the
//! parts of token-response handling that are ours. Not a stable API.

use std::time::Duration;

use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::{Headers, RETRY_AFTER};
use azure_core::http::{RawResponse, StatusCode};

/// What one failed token response becomes.
#[derive(Debug)]
pub struct Classified {
    /// The attempt's reason, as errors and logs show it.
    pub reason: String,
    /// Whether it counts as a configuration error.
    pub is_config: bool,
    /// The wait the endpoint asked for, as honoured.
    pub retry_after: Option<Duration>,
}

/// Reads a `Retry-After` header value.
pub fn retry_after(value: &str) -> Option<Duration> {
    crate::last_answer::parse_retry_after(value)
}

/// Classifies a token endpoint's failed answer with `status`, `body` and
/// an optional `Retry-After`, as the refresh loop would.
pub fn classify(status: u16, body: &[u8], retry_after: Option<&str>) -> Classified {
    let mut headers = Headers::new();
    if let Some(value) = retry_after {
        headers.insert(RETRY_AFTER, value.to_owned());
    }
    let status = StatusCode::from(status);
    let raw = RawResponse::from_bytes(status, headers, body.to_vec());
    let error = Error::with_message(
        ErrorKind::HttpResponse {
            status,
            error_code: None,
            raw_response: Some(Box::new(raw)),
        },
        String::from_utf8_lossy(body).into_owned(),
    );
    let a = crate::credentials::attempt("fuzz", &error);
    Classified {
        reason: a.reason,
        is_config: a.is_config,
        retry_after: a.retry_after,
    }
}

/// Checks what must hold for any answer; panics otherwise.
pub fn check_classified(status: u16, c: &Classified) {
    assert!(!c.reason.contains('\n'), "reason spans lines");
    assert!(c.reason.starts_with(&format!("HTTP {status}")));
    assert!(c.retry_after <= Some(crate::last_answer::MAX_RETRY_AFTER));
    if c.is_config {
        assert!(matches!(status, 400 | 401 | 403), "{status} as config");
    }
}

/// Reads a conf file's text and resolves both sides; never panics.
pub fn conf(text: &str) {
    if let Ok(settings) = crate::Settings::from_conf_str(text) {
        let _ = format!("{settings:?}");
        let _ = settings.primary().map(|s| format!("{s:?}"));
        let _ = settings.read_only().map(|s| format!("{s:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small random generator, so the randomized tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn text(&mut self, pieces: &[&str], n: usize) -> String {
            (0..n)
                .map(|_| pieces[self.next() as usize % pieces.len()])
                .collect()
        }
    }

    #[test]
    fn random_conf_files_never_panic() {
        let pieces = [
            "pg_",
            "ro_",
            "port",
            "host",
            "ssl",
            "azure_auth",
            "timeout",
            "pool_size",
            "=",
            " ",
            "\n",
            "#",
            "\\#",
            "on",
            "off",
            "70000",
            "-1",
            "0",
            "1",
            "é",
            "\u{0}",
            "tlsv1_3",
            "client_secret",
            "tenant_id",
            "\r\n",
            "  = ",
            "PG_",
            "\t",
            "99999999999999999999",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let n = (rng.next() % 40) as usize;
            conf(&rng.text(&pieces, n));
        }
    }

    #[test]
    fn random_failed_answers_classify_sanely() {
        let pieces = [
            "{",
            "}",
            "\"error\"",
            ":",
            "AADSTS700024",
            "AADSTS7000215",
            "\n",
            "x",
            "\u{fffd}",
            "invalid_client",
            ",",
            "\"",
            "\\",
            " ",
        ];
        let values = [
            "5",
            "-1",
            "1e400",
            "NaN",
            "",
            " 7 ",
            "0.5",
            "9999999999",
            "x",
        ];
        let statuses = [
            400, 401, 403, 404, 410, 429, 500, 502, 503, 504, 599, 100, 0,
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..5_000 {
            let status = statuses[rng.next() as usize % statuses.len()];
            let n = (rng.next() % 30) as usize;
            let body = rng.text(&pieces, n);
            let ra = values[rng.next() as usize % values.len()];
            let ra = rng.next().is_multiple_of(2).then_some(ra);
            check_classified(status, &classify(status, body.as_bytes(), ra));
        }
    }

    #[test]
    fn a_stale_assertion_is_not_a_config_error() {
        let c = classify(401, b"AADSTS700024: assertion expired", None);
        assert!(!c.is_config, "{c:?}");
        let c = classify(401, b"AADSTS7000215: bad secret", Some("3"));
        assert!(c.is_config && c.retry_after == Some(Duration::from_secs(3)));
    }
}
