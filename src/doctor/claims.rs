//! The claims of a token worth showing. The token itself is never kept.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::Value;

/// The claims that explain who a token is for and who it speaks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Claims {
    /// `aud`: the resource the token is for.
    pub audience: Option<String>,
    /// `iss`: who issued it.
    pub issuer: Option<String>,
    /// `tid`: the tenant.
    pub tenant: Option<String>,
    /// `oid`: the object id of the identity.
    pub object_id: Option<String>,
    /// `appid` or `azp`: the client (application or managed identity) id.
    pub app_id: Option<String>,
    /// `xms_mirid`: the resource id of a managed identity.
    pub managed_identity: Option<String>,
    /// `upn` or `preferred_username`, for a user.
    pub user: Option<String>,
    /// `iat`: issued at, epoch seconds.
    pub issued_at: Option<u64>,
    /// `exp`: expires at, epoch seconds.
    pub expires_at: Option<u64>,
}

impl Claims {
    /// Reads the payload of a JWT. `None` when `token` is not one; the
    /// reason never quotes the token.
    pub(crate) fn decode(token: &str) -> Result<Self, &'static str> {
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("the token is not a JWT (three dot-separated parts)");
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| "the token's payload is not base64url")?;
        let value: Value =
            serde_json::from_slice(&bytes).map_err(|_| "the token's payload is not JSON")?;
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        let number = |name: &str| value.get(name).and_then(Value::as_u64);
        Ok(Self {
            audience: text("aud"),
            issuer: text("iss"),
            tenant: text("tid"),
            object_id: text("oid"),
            app_id: text("appid").or_else(|| text("azp")),
            managed_identity: text("xms_mirid"),
            user: text("upn").or_else(|| text("preferred_username")),
            issued_at: number("iat"),
            expires_at: number("exp"),
        })
    }

    /// The managed identity's name: the last segment of its resource id,
    /// which is also the name of its PostgreSQL role.
    pub fn identity_name(&self) -> Option<&str> {
        self.managed_identity
            .as_deref()
            .and_then(|id| id.rsplit('/').next())
            .filter(|name| !name.is_empty())
    }

    /// Seconds left before `exp`, negative once expired.
    pub fn expires_in(&self) -> Option<i64> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.expires_at.map(|exp| exp as i64 - now as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        format!(
            "eyJhbGciOiJub25lIn0.{}.c2ln",
            URL_SAFE_NO_PAD.encode(payload)
        )
    }

    #[test]
    fn reads_the_claims_that_matter() {
        let token = jwt(
            r#"{"aud":"https://ossrdbms-aad.database.windows.net","tid":"t","oid":"o",
               "azp":"a","xms_mirid":"/subs/x/userAssignedIdentities/app-id","exp":10,"iat":5}"#,
        );
        let c = Claims::decode(&token).unwrap();
        assert_eq!(
            c.audience.as_deref(),
            Some("https://ossrdbms-aad.database.windows.net")
        );
        assert_eq!(c.app_id.as_deref(), Some("a"));
        assert_eq!(c.identity_name(), Some("app-id"));
        assert_eq!((c.issued_at, c.expires_at), (Some(5), Some(10)));
        assert!(c.expires_in().unwrap() < 0);
    }

    #[test]
    fn rejects_what_is_not_a_jwt_without_quoting_it() {
        for bad in ["opaque-secret-value", "a.!!!.c", "a.bm90anNvbg.c"] {
            let reason = Claims::decode(bad).unwrap_err();
            assert!(!reason.contains(bad), "{reason}");
        }
    }
}
