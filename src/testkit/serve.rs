//! Accepting connections, applying faults and writing answers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};

use super::endpoint::{RecordedRequest, Shared, lock};
use super::fault::Fault;
use super::http::{self, Message};
use super::protocol::{self, Answer, Options};

/// A request that sends nothing for this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds a listener with `SO_REUSEADDR`, so that [`resume`] can take the
/// port back while closed connections linger in TIME_WAIT.
///
/// [`resume`]: super::TokenEndpoint::resume
pub(crate) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off, keep serving.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let shared = shared.clone();
        let mut shutdown = shared.shutdown.subscribe();
        tokio::spawn(async move {
            tokio::select! {
                _ = serve_one(stream, &shared) => {}
                _ = shutdown.wait_for(|stop| *stop) => {}
            }
        });
    }
}

async fn serve_one(mut stream: TcpStream, shared: &Shared) {
    let read = tokio::time::timeout(READ_TIMEOUT, http::read_message(&mut stream, false)).await;
    let Ok(Ok(Some(request))) = read else {
        return;
    };
    let number = shared.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let (method, target) = split_start(&request.start);
    lock(&shared.recorded).push(RecordedRequest {
        method: method.to_owned(),
        target: target.to_owned(),
        headers: request.headers.clone(),
        body: String::from_utf8_lossy(&request.body).into_owned(),
    });

    let fault = lock(&shared.fault)
        .as_ref()
        .and_then(|f| f.for_request(number).cloned());
    let mut options = Options::default();
    let answer = match fault {
        None => None,
        Some(Fault::Hang) => {
            // The shutdown signal in `accept_loop` ends this wait.
            std::future::pending::<()>().await;
            return;
        }
        Some(Fault::CloseWithoutAnswer) => return,
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(Fault::Status {
            status,
            body,
            retry_after,
        }) => {
            let mut answer = Answer::json(status, body);
            if let Some(secs) = retry_after {
                answer
                    .headers
                    .push(("Retry-After".to_owned(), secs.to_string()));
            }
            Some(answer)
        }
        Some(Fault::Body(body)) => Some(Answer::json(200, body)),
        Some(Fault::SameToken) => {
            options.same_token = true;
            None
        }
        Some(Fault::ExpiresOn(form)) => {
            options.expires_on = Some(form);
            None
        }
        // `for_request` resolves the wrappers.
        Some(Fault::FailEvery { .. } | Fault::FailOneIn { .. }) => None,
    };
    let answer = match answer {
        Some(answer) => answer,
        None => protocol::answer(shared, method, target, &request, options).await,
    };

    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/json; charset=utf-8".to_owned(),
    )];
    headers.extend(answer.headers);
    let response = Message {
        start: format!("HTTP/1.1 {} {}", answer.status, http::reason(answer.status)),
        headers,
        body: answer.body.into_bytes(),
    };
    let _ = http::write_message(&mut stream, &response).await;
}

fn split_start(start: &str) -> (&str, &str) {
    let mut parts = start.split(' ');
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    )
}
