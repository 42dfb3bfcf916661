#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

mod connect;
mod credentials;
#[cfg(feature = "cli")]
pub mod doctor;
mod error;
mod last_answer;
#[cfg(feature = "metrics")]
mod metrics;
mod pool;
mod pools;
mod retire;
mod secret;
mod settings;
mod status;
#[cfg(feature = "testkit")]
pub mod testkit;
mod tls;
mod token;

pub use credentials::{Attempt, CredentialError};
pub use error::Error;
pub use pool::EntraPool;
pub use pools::{Pools, PoolsBuilder};
pub use secret::Secret;
pub use settings::{
    AzureCloud, AzureSettings, Origin, PoolSettings, Provenance, Settings, SettingsError,
    SideSettings, TlsSettings, TlsVersion,
};
pub use status::{FailureKind, PoolStatus, PoolsStatus};
pub use token::{RefreshPolicy, TokenStatus};

/// The credential trait, for [`PoolsBuilder::credential`].
pub use azure_core::credentials::TokenCredential;
/// What deadpool-postgres users already know, so no one has to depend on
/// it directly.
pub use deadpool_postgres::{ClientWrapper, GenericClient, Object, Transaction};
/// The driver underneath, for rows, types and errors.
pub use tokio_postgres;
