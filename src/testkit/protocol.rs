//! The managed identity and Entra token protocols, and issuing a token.

use std::sync::atomic::Ordering;

use serde_json::{Map, Value, json};
use tokio_postgres::NoTls;

use super::cluster::{quote_ident, quote_literal};
use super::endpoint::{IMDS_PATH, Identity, Shared, lock};
use super::fault::ExpiresOnForm;
use super::http::{Message, decode_pairs};
use super::token::{self, Claims, now_secs};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A response to write.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub(crate) fn json(status: u16, body: impl Into<String>) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn error(status: u16, error: &str, description: &str) -> Self {
        Self::json(
            status,
            json!({"error": error, "error_description": description}).to_string(),
        )
    }

    fn entra_error(status: u16, error: &str, code: u32, description: &str) -> Self {
        let body = json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
            "timestamp": token::timestamptz(now_secs()),
            "trace_id": token::random_guid(),
            "correlation_id": token::random_guid(),
        });
        Self::json(status, body.to_string())
    }
}

/// Variations a fault asks of a normal answer.
#[derive(Default)]
pub(crate) struct Options {
    pub same_token: bool,
    pub expires_on: Option<ExpiresOnForm>,
}

/// Which managed identity form a request used.
#[derive(PartialEq, Eq)]
enum Form {
    AppService,
    Imds,
}

pub(crate) async fn answer(
    shared: &Shared,
    method: &str,
    target: &str,
    request: &Message,
    options: Options,
) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let settings = &shared.settings;

    if method == "POST" {
        let tenant = path
            .strip_suffix("/oauth2/v2.0/token")
            .map(|t| t.trim_start_matches('/'));
        return match tenant {
            Some(tenant) if !tenant.contains('/') => {
                entra(
                    shared,
                    tenant,
                    &String::from_utf8_lossy(&request.body),
                    options,
                )
                .await
            }
            _ => Answer::error(404, "not_found", "no such endpoint"),
        };
    }
    if method != "GET" {
        return Answer::error(405, "invalid_request", "method not allowed");
    }

    // azure_identity sends `Metadata: true` on both forms, and the App
    // Service secret header when it has one; the secret decides the form.
    let form = match request.header("x-identity-header") {
        Some(secret) if secret == settings.identity_header => Form::AppService,
        Some(_) => return Answer::error(401, "unauthorized", "X-IDENTITY-HEADER is wrong"),
        None if path == IMDS_PATH => {
            if !request
                .header("metadata")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                return Answer::error(400, "bad_request", "Required metadata header not specified");
            }
            Form::Imds
        }
        None => return Answer::error(401, "unauthorized", "X-IDENTITY-HEADER is missing"),
    };
    managed_identity(shared, form, &decode_pairs(query), options).await
}

async fn managed_identity(
    shared: &Shared,
    form: Form,
    params: &[(String, String)],
    options: Options,
) -> Answer {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if param("api-version").is_none() {
        return Answer::error(
            400,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(resource) = param("resource") else {
        return Answer::error(
            400,
            "invalid_request",
            "Required query variable 'resource' is missing",
        );
    };

    let identities = &shared.settings.identities;
    let found = if let Some(client_id) = param("client_id") {
        identities
            .iter()
            .find(|i| i.client_id.as_deref() == Some(client_id))
    } else if let Some(object_id) = param("object_id") {
        identities
            .iter()
            .find(|i| i.client_id.is_some() && i.object_id == object_id)
    } else if let Some(id) = param("msi_res_id").or(param("mi_res_id")) {
        identities
            .iter()
            .find(|i| i.client_id.is_some() && i.resource_id.eq_ignore_ascii_case(id))
    } else {
        identities.iter().find(|i| i.client_id.is_none())
    };
    let Some(identity) = found else {
        return Answer::error(400, "invalid_request", "Identity not found");
    };

    let (access_token, expires_on) =
        match issue(shared, identity, resource, options.same_token).await {
            Ok(issued) => issued,
            Err(answer) => return answer,
        };
    let now = now_secs();
    let mut body = Map::new();
    body.insert("access_token".into(), access_token.into());
    match options.expires_on {
        None => body.insert("expires_on".into(), expires_on.to_string().into()),
        Some(ExpiresOnForm::Number) => body.insert("expires_on".into(), expires_on.into()),
        Some(ExpiresOnForm::DateString) => body.insert(
            "expires_on".into(),
            token::app_service_date(expires_on).into(),
        ),
        Some(ExpiresOnForm::Missing) => None,
    };
    if form == Form::Imds {
        let expires_in = expires_on.saturating_sub(now).to_string();
        body.insert("expires_in".into(), expires_in.clone().into());
        body.insert("ext_expires_in".into(), expires_in.into());
        body.insert("not_before".into(), now.to_string().into());
    }
    body.insert("resource".into(), resource.into());
    body.insert("token_type".into(), "Bearer".into());
    body.insert("client_id".into(), identity.app_id.clone().into());
    Answer::json(200, Value::Object(body).to_string())
}

async fn entra(shared: &Shared, tenant: &str, body: &str, options: Options) -> Answer {
    let settings = &shared.settings;
    if tenant != settings.tenant {
        let text = format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
        );
        return Answer::entra_error(400, "invalid_request", 90002, &text);
    }
    let form = decode_pairs(body);
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };

    if field("grant_type") != Some("client_credentials") {
        let text = "The request body must contain the following parameter: 'grant_type'.";
        return Answer::entra_error(400, "invalid_request", 900144, text);
    }
    let Some(resource) = field("scope").and_then(|s| s.strip_suffix("/.default")) else {
        let text = "The provided value for the input parameter 'scope' is not valid.";
        return Answer::entra_error(400, "invalid_scope", 70011, text);
    };
    let client_id = field("client_id").unwrap_or_default();
    let Some(identity) = settings
        .identities
        .iter()
        .find(|i| i.client_id.as_deref() == Some(client_id))
    else {
        let text =
            format!("Application with identifier '{client_id}' was not found in the directory.");
        return Answer::entra_error(400, "unauthorized_client", 700016, &text);
    };

    if let Some(secret) = field("client_secret") {
        if settings.client_secret.as_deref() != Some(secret) {
            let text = format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is \
                 the client secret value, not the client secret ID, for a secret added to app \
                 '{client_id}'."
            );
            return Answer::entra_error(401, "invalid_client", 7000215, &text);
        }
    } else if let Some(assertion) = field("client_assertion") {
        let right_type = field("client_assertion_type") == Some(ASSERTION_TYPE);
        if !right_type || settings.client_assertion.as_deref() != Some(assertion) {
            let text = "Client assertion is not within its valid time range.";
            return Answer::entra_error(401, "invalid_client", 700024, text);
        }
    } else {
        let text = "The request body must contain the following parameter: 'client_assertion' or \
                    'client_secret'.";
        return Answer::entra_error(401, "invalid_client", 7000218, text);
    }

    let (access_token, expires_on) =
        match issue(shared, identity, resource, options.same_token).await {
            Ok(issued) => issued,
            Err(answer) => return answer,
        };
    let mut body = json!({"token_type": "Bearer", "access_token": access_token});
    if options.expires_on != Some(ExpiresOnForm::Missing) {
        // Counted from the next whole second, so that a client adding it to
        // its own clock never outlives the role's VALID UNTIL.
        let expires_in = expires_on.saturating_sub(now_secs() + 1);
        body["expires_in"] = expires_in.into();
        body["ext_expires_in"] = expires_in.into();
    }
    Answer::json(200, body.to_string())
}

/// Mints a token for `identity` (or hands back the last one) and makes it
/// the role's password; returns the token and its expiry.
async fn issue(
    shared: &Shared,
    identity: &Identity,
    resource: &str,
    same_token: bool,
) -> Result<(String, u64), Answer> {
    let settings = &shared.settings;
    let mut admin = shared.issuer.lock().await;
    if same_token && let Some(last) = lock(&shared.last).clone() {
        return Ok(last);
    }

    let issued_at = now_secs();
    // Whole seconds, as the protocols send them: from the next whole
    // second, so a token lives at least its lifetime (at least one second)
    // and the client, counting `expires_in` from its own clock, never
    // believes in a token the role's VALID UNTIL has already ended.
    let expires_at = issued_at + 1 + settings.lifetime.as_secs().max(1);
    let token = token::mint(&Claims {
        resource,
        tenant: &settings.tenant,
        object_id: &identity.object_id,
        app_id: &identity.app_id,
        resource_id: &identity.resource_id,
        issued_at,
        expires_at,
        min_len: settings.min_token_len,
    });

    if let Some(config) = &settings.admin {
        let sql = format!(
            "ALTER ROLE {} PASSWORD {} VALID UNTIL {}",
            quote_ident(&identity.role),
            quote_literal(&settings.login.stored_password(&identity.role, &token)),
            quote_literal(&token::timestamptz(expires_at))
        );
        if let Err(error) = set_password(config, &mut admin, &sql).await {
            let text = format!(
                "testkit could not set the password of role `{}`: {error}",
                identity.role
            );
            return Err(Answer::error(500, "testkit_error", &text));
        }
    }

    *lock(&shared.last) = Some((token.clone(), expires_at));
    lock(&shared.issued).push(token.clone());
    shared.tokens_issued.fetch_add(1, Ordering::SeqCst);
    Ok((token, expires_at))
}

/// Runs `sql` on the cached admin connection, reconnecting once if the
/// server went away (a restarted cluster) since the last token.
async fn set_password(
    config: &tokio_postgres::Config,
    admin: &mut Option<tokio_postgres::Client>,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    if let Some(client) = admin.as_ref().filter(|c| !c.is_closed()) {
        match client.batch_execute(sql).await {
            Ok(()) => return Ok(()),
            Err(error) if !client.is_closed() => return Err(error),
            Err(_) => {}
        }
    }
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(connection);
    let result = client.batch_execute(sql).await;
    *admin = Some(client);
    result
}
