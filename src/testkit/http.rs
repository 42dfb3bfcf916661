//! Just enough HTTP/1.1 for one request and one answer per connection.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The start line, headers and body of a request or response.
#[derive(Clone)]
pub(crate) struct Message {
    /// `GET /path?q HTTP/1.1` or `HTTP/1.1 200 OK`.
    pub start: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    /// The first header called `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Reads one message. With `body_to_eof` (a response on a `Connection:
/// close` connection) the body runs to the end of the stream unless a
/// `Content-Length` says otherwise; else it is `Content-Length` bytes.
/// `Ok(None)` when the peer closed before sending anything.
pub(crate) async fn read_message<R>(
    stream: &mut R,
    body_to_eof: bool,
) -> io::Result<Option<Message>>
where
    R: AsyncRead + Unpin,
{
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("message head too long"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-head",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };

    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| invalid("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let start = lines.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid("malformed header"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }

    let mut body = buf[head_end + 4..].to_vec();
    let length = match find_header(&headers, "content-length") {
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| invalid("bad content-length"))?,
        ),
        None if body_to_eof => None,
        None => Some(0),
    };
    match length {
        Some(n) if n > MAX_BODY => return Err(invalid("body too long")),
        Some(n) => {
            while body.len() < n {
                let mut chunk = vec![0u8; (n - body.len()).min(64 * 1024)];
                let got = stream.read(&mut chunk).await?;
                if got == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "body cut short",
                    ));
                }
                body.extend_from_slice(&chunk[..got]);
            }
            body.truncate(n);
        }
        None => {
            stream.take(MAX_BODY as u64).read_to_end(&mut body).await?;
        }
    }
    Ok(Some(Message {
        start,
        headers,
        body,
    }))
}

/// Writes `message`, adding `Content-Length` and `Connection: close`.
pub(crate) async fn write_message<W>(stream: &mut W, message: &Message) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut out = format!("{}\r\n", message.start);
    for (name, value) in &message.headers {
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("connection")
        {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        message.body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&message.body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// The reason phrase for the status codes the endpoint sends.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        410 => "Gone",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Splits `a=1&b=x%20y` into decoded pairs (form and query encoding).
pub(crate) fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
    encoded
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode() {
        let pairs = decode_pairs("scope=https%3A%2F%2Fx%2F.default&a=b+c&flag&bad=%zz&end=%4");
        assert_eq!(pairs[0], ("scope".into(), "https://x/.default".into()));
        assert_eq!(pairs[1], ("a".into(), "b c".into()));
        assert_eq!(pairs[2], ("flag".into(), "".into()));
        assert_eq!(pairs[3], ("bad".into(), "%zz".into()));
        assert_eq!(pairs[4], ("end".into(), "%4".into()));
    }

    #[tokio::test]
    async fn request_round_trips() {
        let message = Message {
            start: "POST /t/oauth2/v2.0/token HTTP/1.1".into(),
            headers: vec![("Host".into(), "x".into())],
            body: b"a=b".to_vec(),
        };
        let mut wire = Vec::new();
        write_message(&mut wire, &message).await.unwrap();
        let read = read_message(&mut wire.as_slice(), false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read.start, message.start);
        assert_eq!(read.header("content-length"), Some("3"));
        assert_eq!(read.body, b"a=b");
    }
}
