//! Test support (stub).

mod certs;
mod cluster;
mod pg_bin;
mod watchdog;

pub use cluster::{ADMIN_USER, TestCluster, TestClusterBuilder};
