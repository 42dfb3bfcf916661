//! The TLS connector built from the `pg_ssl_*` settings.

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode, SslVersion};
use postgres_openssl::MakeTlsConnector;
use tokio_postgres::config::SslMode;

use crate::Error;
use crate::settings::{TlsSettings, TlsVersion};

/// The SSL mode for `tls`: off, opportunistic, or required. With Entra
/// authentication on, the caller passes `force = true`: a token is never
/// sent over an unencrypted connection.
pub(crate) fn ssl_mode(tls: &TlsSettings, force: bool) -> SslMode {
    if force || (tls.enabled && tls.required) {
        SslMode::Require
    } else if tls.enabled {
        SslMode::Prefer
    } else {
        SslMode::Disable
    }
}

/// Builds the connector. `pg_ssl_version` is the lowest protocol version
/// accepted; with `pg_ssl_verify` on, the server certificate must chain to
/// `pg_ssl_trusted_certificate` (or the system's roots) and name the host.
///
/// # Errors
/// When a certificate, key or CA file cannot be read or does not match.
pub(crate) fn connector(tls: &TlsSettings) -> Result<MakeTlsConnector, Error> {
    let fail = |context: String| move |source| Error::Tls { context, source };
    let mut builder = SslConnector::builder(SslMethod::tls_client())
        .map_err(fail("cannot create an openssl context".into()))?;

    let min = match tls.version {
        TlsVersion::Tlsv1_1 => Some(SslVersion::TLS1_1),
        TlsVersion::Tlsv1_2 => Some(SslVersion::TLS1_2),
        TlsVersion::Tlsv1_3 => Some(SslVersion::TLS1_3),
        TlsVersion::Any => None,
    };
    builder.set_min_proto_version(min).map_err(fail(format!(
        "pg_ssl_version {:?} is not supported",
        tls.version
    )))?;

    if let Some(ca) = &tls.trusted_certificate {
        builder.set_ca_file(ca).map_err(fail(format!(
            "cannot read pg_ssl_trusted_certificate {}",
            ca.display()
        )))?;
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        builder
            .set_certificate_chain_file(cert)
            .map_err(fail(format!("cannot read pg_ssl_cert {}", cert.display())))?;
        builder
            .set_private_key_file(key, SslFiletype::PEM)
            .map_err(fail(format!(
                "cannot read pg_ssl_cert_key {}",
                key.display()
            )))?;
        builder
            .check_private_key()
            .map_err(fail("pg_ssl_cert_key does not match pg_ssl_cert".into()))?;
    }
    builder.set_verify(if tls.verify {
        SslVerifyMode::PEER
    } else {
        SslVerifyMode::NONE
    });

    let mut connector = MakeTlsConnector::new(builder.build());
    if !tls.verify {
        connector.set_callback(|config, _| {
            config.set_verify_hostname(false);
            Ok(())
        });
    }
    Ok(connector)
}
