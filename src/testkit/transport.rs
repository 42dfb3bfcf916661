//! An `azure_core` HTTP transport that can only reach the loopback endpoint.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use azure_core::error::{Error, ErrorKind};
use azure_core::http::headers::Headers;
use azure_core::http::{
    AsyncRawResponse, Body, ClientOptions, HttpClient, Request, StatusCode, Transport,
};
use tokio::net::TcpStream;

use super::endpoint::{MaskedHeaders, lock};
use super::http::{self, Message};

/// Sends every request to `http://127.0.0.1:<port>`, keeping its path and
/// query, whatever scheme, host and port its URL names. So a credential
/// that calls `http://169.254.169.254/metadata/...` or
/// `https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token` reaches
/// the loopback [`TokenEndpoint`](super::TokenEndpoint) instead, and nothing
/// else is ever contacted. It speaks plain HTTP/1.1, one request per
/// connection, with its own small client.
///
/// Clones share one log of what was sent ([`sent`](Self::sent)).
#[derive(Clone)]
pub struct LoopbackTransport {
    port: u16,
    sent: Arc<Mutex<Vec<SentRequest>>>,
}

impl fmt::Debug for LoopbackTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackTransport")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// A request as a credential made it, before [`LoopbackTransport`] sent it
/// to loopback. `Debug` masks secret header values.
#[derive(Clone)]
pub struct SentRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// The URL the credential asked for.
    pub url: String,
    /// The headers it set.
    pub headers: Vec<(String, String)>,
}

impl SentRequest {
    /// The first header called `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        http::find_header(&self.headers, name)
    }
}

impl fmt::Debug for SentRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &MaskedHeaders(&self.headers))
            .finish()
    }
}

impl LoopbackTransport {
    /// A transport to `127.0.0.1:<port>`.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            sent: Arc::default(),
        }
    }

    /// Every request sent through this transport or its clones, oldest first.
    pub fn sent(&self) -> Vec<SentRequest> {
        lock(&self.sent).clone()
    }

    /// This transport, for `ClientOptions::transport`.
    pub fn transport(&self) -> Transport {
        Transport::new(Arc::new(self.clone()))
    }

    /// Default client options with this transport.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            transport: Some(self.transport()),
            ..Default::default()
        }
    }

    async fn send(&self, request: &Request) -> std::io::Result<Message> {
        let url = request.url();
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let body = match request.body() {
            Body::Bytes(bytes) => bytes.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    "LoopbackTransport sends only in-memory bodies",
                ));
            }
        };

        let mut headers = vec![("Host".to_owned(), host)];
        headers.extend(
            request
                .headers()
                .iter()
                .filter(|(k, _)| !k.as_str().eq_ignore_ascii_case("host"))
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned())),
        );
        let message = Message {
            start: format!("{} {} HTTP/1.1", request.method(), request.path_and_query()),
            headers,
            body,
        };

        // The only address this transport ever connects to.
        let target = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect(target).await?;
        http::write_message(&mut stream, &message).await?;
        http::read_message(&mut stream, true).await?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "the token endpoint closed the connection without an answer",
            )
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        lock(&self.sent).push(SentRequest {
            method: request.method().to_string(),
            url: request.url().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned()))
                .collect(),
        });

        let response = self
            .send(request)
            .await
            .map_err(|e| Error::new(ErrorKind::Io, e))?;
        let status = response
            .start
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| Error::with_message(ErrorKind::Io, "malformed HTTP status line"))?;
        let mut headers = Headers::new();
        for (name, value) in response.headers {
            headers.insert(name, value);
        }
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(status),
            headers,
            response.body,
        ))
    }
}
