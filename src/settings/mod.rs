//! TEMPORARY STUB (not committed): replaced by the settings branch.
#![allow(missing_docs, dead_code)]
use crate::Secret;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Clone, Default, Debug)]
pub struct Settings {
    pub pg_host: Option<String>,
    pub pg_ro_host: Option<String>,
}
impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Ok(Self::default())
    }
    pub fn primary(&self) -> Result<SideSettings, SettingsError> {
        todo!()
    }
    pub fn read_only(&self) -> Result<Option<SideSettings>, SettingsError> {
        todo!()
    }
}
#[derive(Clone, Debug)]
pub struct SideSettings {
    pub host: String,
    pub port: u16,
    pub connect_timeout: Duration,
    pub user: String,
    pub password: Option<Secret>,
    pub database: String,
    pub schema: Option<String>,
    pub tls: TlsSettings,
    pub pool: PoolSettings,
    pub azure: Option<AzureSettings>,
}
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub enabled: bool,
    pub required: bool,
    pub verify: bool,
    pub version: TlsVersion,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub trusted_certificate: Option<PathBuf>,
}
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub size: usize,
    pub max_concurrent_queries: usize,
    pub semaphore_timeout: Duration,
    pub keepalive_timeout: Option<Duration>,
    pub backlog: Option<usize>,
}
#[derive(Clone, Debug)]
pub struct AzureSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub tenant_id: Option<String>,
    pub cloud: AzureCloud,
    pub scope: String,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsVersion {
    Tlsv1_1,
    Tlsv1_2,
    Tlsv1_3,
    Any,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AzureCloud {
    Public,
    China,
    UsGovernment,
}
#[derive(Clone, Debug)]
pub struct SettingsError;
impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("x")
    }
}
impl std::error::Error for SettingsError {}
