//! The login and one query, over TLS, noting what the handshake showed.

use std::sync::{Arc, Mutex};

use openssl::ssl::SslVerifyMode;
use openssl::x509::{X509NameRef, X509StoreContext};
use tokio_postgres::Client;

use super::hints::error_chain;
use super::report::ConnectionLine;
use crate::settings::SideSettings;
use crate::{Secret, pools, tls};

/// What the server says about the session it gave us.
const SESSION: &str = "SELECT current_user::text, current_database()::text, \
     current_setting('transaction_read_only') = 'on', \
     (SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()), \
     (SELECT cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid())";

/// What the TLS handshake showed, noted while the server's certificate
/// is checked.
struct Handshake {
    subject: String,
    /// Whether every certificate of the chain verified (always `true`
    /// with `pg_ssl_verify` off, where nothing is checked).
    verified: bool,
    protocol: Option<String>,
    cipher: Option<String>,
}

/// Logs in as the pool would and runs [`SESSION`]. Returns the driver's
/// error too, for the hints.
pub(super) async fn connect(
    side: &SideSettings,
    entra: bool,
    read_only: bool,
    password: Option<&Secret>,
) -> (ConnectionLine, Option<tokio_postgres::Error>) {
    let mut line = ConnectionLine {
        error: None,
        sqlstate: None,
        server_certificate: None,
        certificate_verified: None,
        protocol: None,
        cipher: None,
        user: None,
        database: None,
        read_only: None,
    };
    let mut connector = match tls::connector(&side.tls) {
        Ok(c) => c,
        Err(e) => {
            line.error = Some(error_chain(&e));
            return (line, None);
        }
    };

    // The connector's own callback only turns host name checks off; this
    // one does the same and also notes the server certificate's subject.
    let subject = Arc::new(Mutex::new(None::<Handshake>));
    let seen = subject.clone();
    let verify = side.tls.verify;
    connector.set_callback(move |config, _host| {
        if !verify {
            config.set_verify_hostname(false);
        }
        let seen = seen.clone();
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mode = if verify {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        };
        config.set_verify_callback(mode, move |ok, ctx| {
            // OpenSSL checks the chain from its top down to the server's
            // own certificate (depth 0) and reports a failure at the depth
            // where it happens: remember it for the leaf's line.
            if !ok {
                failed.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if ctx.error_depth() == 0
                && let Some(cert) = ctx.current_cert()
            {
                // The protocol and cipher are settled by the time the
                // server's certificate is checked.
                let ssl = X509StoreContext::ssl_idx()
                    .ok()
                    .and_then(|idx| ctx.ex_data(idx));
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(Handshake {
                    subject: name(cert.subject_name()),
                    verified: !failed.load(std::sync::atomic::Ordering::Relaxed),
                    protocol: ssl.map(|s| s.version_str().to_owned()),
                    cipher: ssl
                        .and_then(|s| s.current_cipher())
                        .map(|c| c.name().to_owned()),
                });
            }
            ok
        });
        Ok(())
    });

    let mut config = pools::pg_config(side, entra, read_only);
    if let Some(p) = password {
        config.password(p.expose());
    }
    let patience = side.connect_timeout * 2;
    let result = tokio::time::timeout(patience, async {
        let (client, connection) = config.connect(connector).await?;
        let task = tokio::spawn(connection);
        let row = session(&client).await;
        drop(client);
        let _ = task.await;
        row
    })
    .await;
    if let Some(h) = subject.lock().unwrap_or_else(|p| p.into_inner()).take() {
        line.server_certificate = Some(h.subject);
        line.certificate_verified = Some(h.verified);
        line.protocol = h.protocol;
        line.cipher = h.cipher;
    }

    match result {
        Ok(Ok(row)) => {
            line.user = row.get(0);
            line.database = row.get(1);
            line.read_only = row.get(2);
            // The server's view wins; it is also there without TLS (none).
            line.protocol = row.get(3);
            line.cipher = row.get(4);
            (line, None)
        }
        Ok(Err(e)) => {
            line.error = Some(match e.as_db_error() {
                Some(db) => format!("{}: {}", db.severity(), db.message()),
                None => error_chain(&e),
            });
            line.sqlstate = e.code().map(|c| c.code().to_owned());
            (line, Some(e))
        }
        Err(_) => {
            line.error = Some(format!("no answer within {patience:?}"));
            (line, None)
        }
    }
}

async fn session(client: &Client) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
    client.query_one(SESSION, &[]).await
}

/// `CN=localhost, O=...`.
fn name(name: &X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_default();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}
