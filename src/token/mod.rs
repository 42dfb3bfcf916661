//! Where the token is cached and refreshed.
//!
//! The current token lives in an [`ArcSwap`](arc_swap::ArcSwap): opening a
//! connection reads it without a lock or a wait. One background task per
//! cache fetches the next token ahead of expiry, so however many
//! connections are being opened, one token request is under way at most.

mod cache;
mod policy;
mod snapshot;

pub(crate) use cache::TokenCache;
pub use cache::TokenStatus;
pub use policy::RefreshPolicy;
pub(crate) use policy::jitter_unit;
pub(crate) use snapshot::TokenSnapshot;

#[cfg(test)]
mod tests;
