#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod secret;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use secret::Secret;
