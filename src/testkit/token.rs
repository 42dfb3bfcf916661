//! JWT-shaped test tokens and the few time formats the endpoint writes.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// What goes into one token.
pub(crate) struct Claims<'a> {
    pub resource: &'a str,
    pub tenant: &'a str,
    pub object_id: &'a str,
    pub app_id: &'a str,
    pub resource_id: &'a str,
    pub issued_at: u64,
    pub expires_at: u64,
    /// Pad the token to at least this many bytes.
    pub min_len: Option<usize>,
}

/// `base64url(header).base64url(claims).base64url(random)`: shaped like an
/// Entra token, signed by nobody. The random part makes each token unique.
pub(crate) fn mint(claims: &Claims<'_>) -> String {
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "pg-entra-testkit"});
    let mut body = json!({
        "aud": claims.resource,
        "iss": format!("https://sts.windows.net/{}/", claims.tenant),
        "tid": claims.tenant,
        "oid": claims.object_id,
        "sub": claims.object_id,
        "appid": claims.app_id,
        "xms_mirid": claims.resource_id,
        "iat": claims.issued_at,
        "nbf": claims.issued_at,
        "exp": claims.expires_at,
    });

    let mut signature = [0u8; 64];
    // A failing RNG would make tokens repeat, which tests must notice.
    openssl::rand::rand_bytes(&mut signature).expect("openssl random bytes");
    let join = |body: &Value| {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(body.to_string()),
            URL_SAFE_NO_PAD.encode(signature)
        )
    };

    let token = join(&body);
    let Some(min_len) = claims.min_len.filter(|&n| n > token.len()) else {
        return token;
    };
    // Each padding byte grows the base64 text by 4/3; `,"pad":""` adds 9.
    let missing = min_len - token.len();
    let pad_len = (missing * 3).div_ceil(4).saturating_sub(9);
    body["pad"] = Value::String("x".repeat(pad_len));
    let mut token = join(&body);
    while token.len() < min_len {
        let pad = body["pad"].as_str().unwrap_or_default().len() + 1;
        body["pad"] = Value::String("x".repeat(pad));
        token = join(&body);
    }
    token
}

/// A random GUID-shaped string (version 4 layout).
pub(crate) fn random_guid() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("openssl random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2024-05-06 07:08:09+00`, a `timestamptz` literal PostgreSQL reads.
pub(crate) fn timestamptz(epoch: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}+00")
}

/// `5/6/2024 7:08:09 AM +00:00`, the date form older App Service versions
/// sent as `expires_on`.
pub(crate) fn app_service_date(epoch: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(epoch);
    let (h12, half) = match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    };
    format!("{mo}/{d}/{y} {h12}:{mi:02}:{s:02} {half} +00:00")
}

/// UTC calendar fields of an epoch second (Howard Hinnant's days-to-civil).
fn civil(epoch: u64) -> (u64, u64, u64, u64, u64, u64) {
    let days = epoch / 86_400;
    let rem = epoch % 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(min_len: Option<usize>) -> Claims<'static> {
        Claims {
            resource: "https://ossrdbms-aad.database.windows.net",
            tenant: "t",
            object_id: "o",
            app_id: "a",
            resource_id: "r",
            issued_at: 1,
            expires_at: 2,
            min_len,
        }
    }

    #[test]
    fn dates_match_known_values() {
        assert_eq!(timestamptz(0), "1970-01-01 00:00:00+00");
        assert_eq!(timestamptz(1_709_210_096), "2024-02-29 12:34:56+00");
        assert_eq!(
            app_service_date(1_709_210_096),
            "2/29/2024 12:34:56 PM +00:00"
        );
        assert_eq!(
            app_service_date(951_782_400),
            "2/29/2000 12:00:00 AM +00:00"
        );
    }

    #[test]
    fn tokens_are_unique_and_padded() {
        assert_ne!(mint(&claims(None)), mint(&claims(None)));
        for len in [1024, 4096, 8192, 8193] {
            let token = mint(&claims(Some(len)));
            assert!(
                (len..len + 4).contains(&token.len()),
                "{len} -> {}",
                token.len()
            );
        }
    }

    #[test]
    fn claims_decode() {
        let token = mint(&claims(None));
        let part = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://ossrdbms-aad.database.windows.net");
        assert_eq!(claims["exp"], 2);
    }
}
