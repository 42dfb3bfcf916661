//! Faults a [`TokenEndpoint`](super::TokenEndpoint) can be told to show.

use std::time::Duration;

/// A misbehaviour of the token endpoint, set with
/// [`TokenEndpoint::set_fault`](super::TokenEndpoint::set_fault). It applies
/// to every request until cleared, unless wrapped in
/// [`Fault::every`] or [`Fault::one_in`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status and body (sent as `application/json`), and
    /// a `Retry-After` header in seconds if given.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The response body, sent as is.
        body: String,
        /// `Retry-After` seconds, if any.
        retry_after: Option<u32>,
    },
    /// Accept the connection and read the request, then never answer.
    Hang,
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Read the request, then close the connection without a word.
    CloseWithoutAnswer,
    /// Answer 200 with this raw body (malformed JSON, a missing field...).
    Body(String),
    /// Hand back the last token again instead of a new one (a cached
    /// token), leaving the role's password as it is.
    SameToken,
    /// Send the managed identity `expires_on` in another form.
    ExpiresOn(ExpiresOnForm),
    /// Show `fault` on every `n`th request (counted from the endpoint's
    /// start) and answer the others normally.
    FailEvery {
        /// The period, at least 1.
        n: usize,
        /// What to do on those requests.
        fault: Box<Fault>,
    },
    /// Show `fault` on a random one request in `n`, for soak tests.
    FailOneIn {
        /// The odds, at least 1.
        n: u32,
        /// What to do on those requests.
        fault: Box<Fault>,
    },
}

/// How a managed identity response carries `expires_on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpiresOnForm {
    /// A JSON number of epoch seconds instead of a string.
    Number,
    /// A date string such as `5/6/2024 7:08:09 AM +00:00`.
    DateString,
    /// No `expires_on` at all (and no `expires_in` on the Entra form).
    Missing,
}

impl Fault {
    /// [`Fault::Status`] without `Retry-After`.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        Fault::Status {
            status,
            body: body.into(),
            retry_after: None,
        }
    }

    /// [`Fault::FailEvery`]: `fault` on every `n`th request.
    pub fn every(n: usize, fault: Fault) -> Self {
        Fault::FailEvery {
            n: n.max(1),
            fault: Box::new(fault),
        }
    }

    /// [`Fault::FailOneIn`]: `fault` on a random one request in `n`.
    pub fn one_in(n: u32, fault: Fault) -> Self {
        Fault::FailOneIn {
            n: n.max(1),
            fault: Box::new(fault),
        }
    }

    /// The fault to show on request number `request` (1-based), with the
    /// periodic and random wrappers resolved.
    pub(crate) fn for_request(&self, request: usize) -> Option<&Fault> {
        match self {
            Fault::FailEvery { n, fault } => request
                .is_multiple_of((*n).max(1))
                .then_some(fault)?
                .for_request(request),
            Fault::FailOneIn { n, fault } => {
                let mut b = [0u8; 4];
                openssl::rand::rand_bytes(&mut b).ok()?;
                (u32::from_le_bytes(b) % (*n).max(1) == 0)
                    .then_some(fault)?
                    .for_request(request)
            }
            other => Some(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_third_request_fails() {
        let fault = Fault::every(3, Fault::Hang);
        let hits: Vec<usize> = (1..=9)
            .filter(|&r| fault.for_request(r).is_some())
            .collect();
        assert_eq!(hits, [3, 6, 9]);
        assert_eq!(fault.for_request(3), Some(&Fault::Hang));
    }

    #[test]
    fn one_in_one_always_fails() {
        let fault = Fault::one_in(1, Fault::CloseWithoutAnswer);
        assert!((1..50).all(|r| fault.for_request(r).is_some()));
    }
}
