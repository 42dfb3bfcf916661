#![doc = include_str!("guide.md")]
//!
//! The files: `raw.rs` holds the key table ([`Settings`]), `table.rs` the
//! macro that expands it, `conf.rs` and `env.rs` the readers, `resolve*.rs`
//! the defaults and checks that produce [`SideSettings`].

#[macro_use]
mod named;
#[macro_use]
mod table;

mod cloud;
mod conf;
mod env;
mod error;
mod origin;
mod raw;
mod resolve;
mod resolve_azure;
mod resolve_tls;
mod resolved;
mod tls_version;
mod typo;
mod values;

#[cfg(test)]
mod test_support;

pub use cloud::AzureCloud;
pub use error::SettingsError;
pub use origin::{Origin, Provenance};
pub use raw::Settings;
pub use resolved::{AzureSettings, PoolSettings, SideSettings, TlsSettings};
pub use tls_version::TlsVersion;
