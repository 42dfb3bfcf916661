//! The loopback token endpoint: its settings, its handle and what it saw.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use azure_core::http::{ClientOptions, Transport};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::cluster::{Login, TestCluster};
use super::fault::Fault;
use super::http::find_header;
use super::serve;
use super::token::random_guid;
use super::transport::LoopbackTransport;

/// The tenant the endpoint answers for unless told otherwise.
pub const DEFAULT_TENANT: &str = "00000000-0000-4000-8000-00000000c0de";

/// The path of the instance metadata form of the managed identity endpoint.
pub const IMDS_PATH: &str = "/metadata/identity/oauth2/token";

/// One identity the endpoint knows.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// `None` for the system-assigned identity.
    pub client_id: Option<String>,
    /// The `appid` claim: the client id, or a made-up one when system-assigned.
    pub app_id: String,
    pub object_id: String,
    pub resource_id: String,
    pub role: String,
}

/// Settings shared by the endpoint's tasks.
pub(crate) struct Settings {
    pub identities: Vec<Identity>,
    pub identity_header: String,
    pub client_secret: Option<String>,
    pub client_assertion: Option<String>,
    pub tenant: String,
    pub lifetime: Duration,
    pub min_token_len: Option<usize>,
    pub admin: Option<tokio_postgres::Config>,
    /// How the linked cluster checks passwords, so issued tokens are stored
    /// in a form it can check.
    pub login: Login,
}

/// What the endpoint's tasks share with its handle.
pub(crate) struct Shared {
    pub settings: Settings,
    pub fault: Mutex<Option<Fault>>,
    pub requests: AtomicUsize,
    pub tokens_issued: AtomicUsize,
    /// The last token handed out and its expiry (epoch seconds).
    pub last: Mutex<Option<(String, u64)>>,
    /// Every token handed out, oldest first.
    pub issued: Mutex<Vec<String>>,
    pub recorded: Mutex<Vec<RecordedRequest>>,
    /// Serialises issuing, so the role's password is always the last token;
    /// holds the admin connection between requests.
    pub issuer: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    pub shutdown: watch::Sender<bool>,
}

/// Locks `mutex`, shrugging off poisoning: a panicked test thread must not
/// take the endpoint down for the next assertion.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Settings for a [`TokenEndpoint`]; made by [`TokenEndpoint::builder`].
pub struct TokenEndpointBuilder {
    identities: Vec<Identity>,
    identity_header: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    tenant: String,
    lifetime: Duration,
    min_token_len: Option<usize>,
    admin: Option<tokio_postgres::Config>,
    login: Login,
    listener: Option<std::net::TcpListener>,
}

impl fmt::Debug for TokenEndpointBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpointBuilder")
            .field("identities", &self.identities.len())
            .field("tenant", &self.tenant)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl TokenEndpointBuilder {
    /// Adds an identity whose tokens are the password of PostgreSQL role
    /// `role`. `client_id` `None` is the system-assigned identity; `Some`
    /// is a user-assigned identity, or an app registration on the Entra
    /// form. With no identity added, the endpoint knows none.
    pub fn identity(mut self, client_id: Option<&str>, role: &str) -> Self {
        let object_id = random_guid();
        let kind = if client_id.is_some() {
            "userAssignedIdentities"
        } else {
            "virtualMachines"
        };
        self.identities.push(Identity {
            client_id: client_id.map(str::to_owned),
            app_id: client_id.map_or_else(random_guid, str::to_owned),
            resource_id: format!(
                "/subscriptions/00000000-0000-4000-8000-000000000000/resourcegroups/testkit\
                 /providers/Microsoft.ManagedIdentity/{kind}/{role}"
            ),
            object_id,
            role: role.to_owned(),
        });
        self
    }

    /// The secret that the App Service form must send in
    /// `X-IDENTITY-HEADER` (default: random).
    pub fn identity_header(mut self, value: &str) -> Self {
        self.identity_header = Some(value.to_owned());
        self
    }

    /// The client secret the Entra form accepts (default: none accepted).
    pub fn client_secret(mut self, secret: &str) -> Self {
        self.client_secret = Some(secret.to_owned());
        self
    }

    /// The client assertion (federated token) the Entra form accepts
    /// (default: none accepted).
    pub fn client_assertion(mut self, assertion: &str) -> Self {
        self.client_assertion = Some(assertion.to_owned());
        self
    }

    /// The tenant id (default [`DEFAULT_TENANT`]); the Entra form refuses
    /// other tenants in its path.
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.tenant = tenant.to_owned();
        self
    }

    /// How long each token lives (default 10 s). azure_identity refreshes
    /// tokens within 5 minutes of expiry, so short lives mean each
    /// `get_token` reaches the endpoint.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Pads tokens with a filler claim to at least `len` bytes (at most 3
    /// more); default: no padding, about 700 bytes.
    pub fn token_len(mut self, len: usize) -> Self {
        self.min_token_len = Some(len);
        self
    }

    /// Makes each issued token the password of its identity's role in
    /// `cluster`, valid until the token expires.
    pub fn cluster(mut self, cluster: &TestCluster) -> Self {
        self.login = cluster.login();
        self.admin_config(cluster.admin_config())
    }

    /// As [`cluster`](Self::cluster), for any server this superuser
    /// `config` reaches (without TLS).
    pub fn admin_config(mut self, config: tokio_postgres::Config) -> Self {
        self.admin = Some(config);
        self
    }

    /// Serves on `listener` instead of a port of its own choosing, so that
    /// the address can be known (and put into `IDENTITY_ENDPOINT`) before
    /// any runtime or thread starts. It must be bound to a loopback address.
    pub fn listener(mut self, listener: std::net::TcpListener) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Binds 127.0.0.1 at a free port (or takes the given
    /// [`listener`](Self::listener)) and serves on the current tokio
    /// runtime until the endpoint is dropped.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound, or the given listener is not on
    /// a loopback address.
    pub async fn start(self) -> io::Result<TokenEndpoint> {
        let listener = match self.listener {
            Some(std_listener) => {
                if !std_listener.local_addr()?.ip().is_loopback() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the token endpoint serves on loopback addresses only",
                    ));
                }
                std_listener.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(std_listener)?
            }
            None => serve::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?,
        };
        let addr = listener.local_addr()?;
        let (shutdown, _) = watch::channel(false);
        let identity_header = self
            .identity_header
            .unwrap_or_else(|| random_guid().replace('-', ""));
        let shared = Arc::new(Shared {
            settings: Settings {
                identities: self.identities,
                identity_header,
                client_secret: self.client_secret,
                client_assertion: self.client_assertion,
                tenant: self.tenant,
                lifetime: self.lifetime,
                min_token_len: self.min_token_len,
                admin: self.admin,
                login: self.login,
            },
            fault: Mutex::new(None),
            requests: AtomicUsize::new(0),
            tokens_issued: AtomicUsize::new(0),
            last: Mutex::new(None),
            issued: Mutex::new(Vec::new()),
            recorded: Mutex::new(Vec::new()),
            issuer: tokio::sync::Mutex::new(None),
            shutdown,
        });
        let accept = tokio::spawn(serve::accept_loop(listener, shared.clone()));
        Ok(TokenEndpoint {
            transport: LoopbackTransport::new(addr.port()),
            shared,
            addr,
            accept: Mutex::new(Some(accept)),
            runtime: Handle::current(),
        })
    }
}

/// A token endpoint on 127.0.0.1 that speaks the managed identity (App
/// Service and instance metadata forms) and Entra token protocols.
///
/// Every successful request issues a new JWT-shaped token. When linked to
/// a cluster, the token first becomes the password of the identity's role,
/// valid until the token expires, so the server refuses the previous token
/// and any expired one. Faults can be switched on with
/// [`set_fault`](Self::set_fault).
///
/// Dropping it stops serving, hung connections included.
pub struct TokenEndpoint {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Mutex<Option<JoinHandle<()>>>,
    runtime: Handle,
    transport: LoopbackTransport,
}

impl fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("addr", &self.addr)
            .field("requests", &self.requests())
            .field("tokens_issued", &self.tokens_issued())
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    /// Settings for an endpoint: no identities, no client secret, tokens
    /// living 10 s.
    pub fn builder() -> TokenEndpointBuilder {
        TokenEndpointBuilder {
            identities: Vec::new(),
            identity_header: None,
            client_secret: None,
            client_assertion: None,
            tenant: DEFAULT_TENANT.to_owned(),
            lifetime: Duration::from_secs(10),
            min_token_len: None,
            admin: None,
            login: Login::Scram,
            listener: None,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port the endpoint listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The secret the App Service form expects in `X-IDENTITY-HEADER`.
    pub fn identity_header(&self) -> &str {
        &self.shared.settings.identity_header
    }

    /// The tenant id the endpoint answers for.
    pub fn tenant(&self) -> &str {
        &self.shared.settings.tenant
    }

    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` for azure_identity's App
    /// Service managed identity; setting them is up to the caller.
    pub fn app_service_env(&self) -> [(String, String); 2] {
        [
            (
                "IDENTITY_ENDPOINT".to_owned(),
                format!("{}/msi/token", self.url()),
            ),
            (
                "IDENTITY_HEADER".to_owned(),
                self.identity_header().to_owned(),
            ),
        ]
    }

    /// Shows `fault` on the following requests until cleared or replaced.
    pub fn set_fault(&self, fault: Fault) {
        *lock(&self.shared.fault) = Some(fault);
    }

    /// Back to normal answers.
    pub fn clear_fault(&self) {
        *lock(&self.shared.fault) = None;
    }

    /// Closes the listening socket: new connections are refused until
    /// [`resume`](Self::resume). Connections already accepted carry on.
    pub fn stop_listening(&self) {
        if let Some(accept) = lock(&self.accept).take() {
            accept.abort();
        }
    }

    /// Listens again on the same port after
    /// [`stop_listening`](Self::stop_listening).
    ///
    /// # Errors
    ///
    /// When the port was taken by another socket meanwhile.
    pub fn resume(&self) -> io::Result<()> {
        let mut accept = lock(&self.accept);
        if accept.is_some() {
            return Ok(());
        }
        let _runtime = self.runtime.enter();
        let listener = serve::bind(self.addr)?;
        *accept = Some(
            self.runtime
                .spawn(serve::accept_loop(listener, self.shared.clone())),
        );
        Ok(())
    }

    /// How many requests arrived, faulted ones included.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// How many new tokens were issued (a [`Fault::SameToken`] answer is
    /// not a new one).
    pub fn tokens_issued(&self) -> usize {
        self.shared.tokens_issued.load(Ordering::SeqCst)
    }

    /// Every token handed out so far, oldest first: for tests that check
    /// no token ever shows up in logs or errors.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.issued).clone()
    }

    /// The last token handed out, if any.
    pub fn last_token(&self) -> Option<String> {
        lock(&self.shared.last)
            .as_ref()
            .map(|(token, _)| token.clone())
    }

    /// Every request so far, oldest first.
    pub fn recorded(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.recorded).clone()
    }

    /// A transport that sends every request, whatever its URL, here; all
    /// transports of one endpoint share one log of what was sent.
    pub fn loopback_transport(&self) -> LoopbackTransport {
        self.transport.clone()
    }

    /// [`loopback_transport`](Self::loopback_transport) as an `azure_core`
    /// transport.
    pub fn transport(&self) -> Transport {
        self.transport.transport()
    }

    /// Default client options with [`transport`](Self::transport), for any
    /// azure_identity credential.
    pub fn client_options(&self) -> ClientOptions {
        self.transport.client_options()
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        self.stop_listening();
        // Ends hung connections and those still being answered.
        self.shared.shutdown.send_replace(true);
    }
}

/// One request the endpoint received.
///
/// `Debug` masks the `X-IDENTITY-HEADER` and `Authorization` values and
/// prints only the body's length, since it may hold a client secret.
#[derive(Clone)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The path and query, as sent.
    pub target: String,
    /// The headers, as sent.
    pub headers: Vec<(String, String)>,
    /// The body, as text.
    pub body: String,
}

impl RecordedRequest {
    /// The first header called `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    /// The decoded query parameter `name`.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        super::http::decode_pairs(query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The decoded form field `name` of the body.
    pub fn form(&self, name: &str) -> Option<String> {
        super::http::decode_pairs(&self.body)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Header names whose values `Debug` impls mask.
pub(crate) fn is_secret_header(name: &str) -> bool {
    ["x-identity-header", "authorization", "secret"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

pub(crate) struct MaskedHeaders<'a>(pub &'a [(String, String)]);

impl fmt::Debug for MaskedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| {
                (
                    k.as_str(),
                    if is_secret_header(k) {
                        "<redacted>"
                    } else {
                        v.as_str()
                    },
                )
            }))
            .finish()
    }
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &MaskedHeaders(&self.headers))
            .field("body_len", &self.body.len())
            .finish()
    }
}
