//! Integration tests against a throw-away PostgreSQL that checks every
//! password (scram-sha-256) over TLS, with tokens from a loopback endpoint
//! reached through azure_identity's real credentials.

mod support;

mod cold_start;
mod credentials;
mod faults_db;
mod faults_token;
mod lifecycle;
mod login;
mod read_only;
mod retire;
mod rotation;
mod tls;
