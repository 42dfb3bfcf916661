#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod secret;
mod settings;

pub use secret::Secret;
pub use settings::{
    AzureCloud, AzureSettings, Origin, PoolSettings, Provenance, Settings, SettingsError,
    SideSettings, TlsSettings, TlsVersion,
};
