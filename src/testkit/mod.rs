//! Test support: a throw-away PostgreSQL cluster and a loopback Entra token
//! endpoint (feature `testkit`).
//!
//! Used by this crate's own tests, examples and benches, and meant for
//! yours too. Nothing here reaches beyond 127.0.0.1.
//!
//! - [`TestCluster`]: a PostgreSQL server in a temp dir that checks
//!   `scram-sha-256` passwords over TLS, with a throw-away CA.
//! - [`TokenEndpoint`]: speaks the managed identity (App Service and
//!   instance metadata forms) and Entra token protocols; each token it
//!   issues becomes the password of a role in the cluster, valid until the
//!   token expires. Faults on command ([`Fault`]).
//! - [`LoopbackTransport`]: an `azure_core` transport that sends every
//!   request to the endpoint, so azure_identity's real credentials can run
//!   against it.
//!
//! ```no_run
//! use azure_core::credentials::TokenCredential;
//! use azure_identity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions};
//! use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = TestCluster::start()?;
//! cluster.create_role("app", None).await?;
//! let endpoint = TokenEndpoint::builder()
//!     .identity(None, "app")
//!     .cluster(&cluster)
//!     .start()
//!     .await?;
//!
//! // The instance metadata form, but on loopback.
//! let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
//!     client_options: endpoint.client_options(),
//!     ..Default::default()
//! }))?;
//! let token = credential
//!     .get_token(&["https://ossrdbms-aad.database.windows.net/.default"], None)
//!     .await?;
//!
//! // The token is now the password of role `app`, over TLS.
//! let mut config = cluster.user_config("app");
//! config.password(token.token.secret());
//! let tls = TestCluster::tls_connector(cluster.ca_file())?;
//! let (client, connection) = config.connect(tls).await?;
//! tokio::spawn(connection);
//! client.simple_query("SELECT 1").await?;
//! # Ok(())
//! # }
//! ```

mod certs;
mod cluster;
mod endpoint;
mod fault;
mod http;
mod pg_bin;
mod protocol;
mod scram;
mod serve;
mod token;
mod transport;
mod watchdog;

pub use cluster::{ADMIN_USER, TestCluster, TestClusterBuilder};
pub use endpoint::{
    DEFAULT_TENANT, IMDS_PATH, RecordedRequest, TokenEndpoint, TokenEndpointBuilder,
};
pub use fault::{ExpiresOnForm, Fault};
pub use transport::{LoopbackTransport, SentRequest};
