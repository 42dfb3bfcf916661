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
//! # Testing your own service
//!
//! Add the crate with the feature to your dev-dependencies
//! (`pg-entra-pool = { version = "…", features = ["testkit"] }`) and give
//! your pools the endpoint's [`transport`](TokenEndpoint::transport): the
//! real azure_identity credentials then fetch tokens from 127.0.0.1, and
//! the server checks each login against the token the endpoint issued. No
//! Azure account is needed; PostgreSQL's server binaries must be installed
//! (Debian: `apt-get install postgresql`).
//!
//! Tests in one binary can share a cluster with [`TestCluster::shared`],
//! each with roles of its own ([`unique_name`]).
//!
//! This test, copied into `tests/`, builds the pools, runs queries and
//! keeps working across a token rotation:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use pg_entra_pool::testkit::{TestCluster, TokenEndpoint};
//! use pg_entra_pool::{Pools, Settings};
//!
//! #[tokio::test]
//! async fn my_service_survives_a_token_rotation() {
//!     // The server and the role your service logs in as.
//!     let cluster = tokio::task::spawn_blocking(TestCluster::start)
//!         .await
//!         .unwrap()
//!         .expect("PostgreSQL server binaries are installed");
//!     cluster.create_role("my_service", None).await.unwrap();
//!     cluster.create_database("my_db", "my_service").await.unwrap();
//!
//!     // A managed identity whose tokens live 3 seconds.
//!     let endpoint = TokenEndpoint::builder()
//!         .identity(None, "my_service")
//!         .lifetime(Duration::from_secs(3))
//!         .cluster(&cluster)
//!         .start()
//!         .await
//!         .unwrap();
//!
//!     // The settings your service would read from its environment:
//!     // Entra login as `my_service`, TLS verified against the cluster's CA.
//!     let settings = Settings {
//!         pg_database: Some("my_db".into()),
//!         ..cluster.entra_settings("my_service")
//!     };
//!     let pools = Pools::builder(settings)
//!         // Never leave this out in a test: without it the managed
//!         // identity credential asks the real instance metadata service.
//!         .transport(endpoint.transport())
//!         .build()
//!         .await
//!         .unwrap();
//!
//!     let client = pools.primary().get().await.unwrap();
//!     client.execute("CREATE TABLE t (n int)", &[]).await.unwrap();
//!     drop(client);
//!
//!     // Past the first token's expiry the server refuses it for new
//!     // logins; the pool has already fetched the next one.
//!     tokio::time::sleep(Duration::from_secs(4)).await;
//!     let client = pools.primary().get().await.unwrap();
//!     client.execute("INSERT INTO t VALUES (1)", &[]).await.unwrap();
//!     assert!(endpoint.tokens_issued() >= 2);
//!     assert_eq!(pools.status().tokens[0].consecutive_failures, 0);
//! }
//! ```
//!
//! To test how your service behaves when Entra ID misbehaves, switch a
//! [`Fault`] on with [`TokenEndpoint::set_fault`]; to test a database
//! restart, use [`TestCluster::restart`].
//!
//! # The parts on their own
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
mod token_file;
mod transport;
mod wait;
mod watchdog;

pub use cluster::{ADMIN_USER, Login, TestCluster, TestClusterBuilder};
pub use endpoint::{
    DEFAULT_TENANT, IMDS_PATH, RecordedRequest, TokenEndpoint, TokenEndpointBuilder,
};
pub use fault::{ExpiresOnForm, Fault};
pub use token_file::FederatedTokenFile;
pub use transport::{LoopbackTransport, SentRequest};
pub use wait::{eventually, unique_name};
