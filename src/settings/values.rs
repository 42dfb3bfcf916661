//! Turning the text of a conf line or an environment variable into a value.
//!
//! Each reader returns what it expected on failure, so that the caller
//! builds the message and decides whether the value may be shown.

use std::path::PathBuf;

use super::{AzureCloud, TlsVersion};
use crate::Secret;

/// A parsed value, or what the text should have looked like.
pub(super) type Parsed<T> = Result<T, &'static str>;

pub(super) fn text(value: &str) -> Parsed<String> {
    Ok(value.to_owned())
}

pub(super) fn secret(value: &str) -> Parsed<Secret> {
    Ok(Secret::new(value))
}

pub(super) fn path(value: &str) -> Parsed<PathBuf> {
    Ok(PathBuf::from(value))
}

pub(super) fn port(value: &str) -> Parsed<u16> {
    match value.parse() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(PORT),
    }
}

pub(super) fn millis(value: &str) -> Parsed<u64> {
    value.parse().map_err(|_| MILLIS)
}

pub(super) fn count(value: &str) -> Parsed<usize> {
    value.parse().map_err(|_| COUNT)
}

pub(super) fn positive(value: &str) -> Parsed<usize> {
    match value.parse() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(POSITIVE),
    }
}

pub(super) fn boolean(value: &str) -> Parsed<bool> {
    match value.to_ascii_lowercase().as_str() {
        "on" | "true" => Ok(true),
        "off" | "false" => Ok(false),
        _ => Err("a boolean (on or off)"),
    }
}

pub(super) fn tls_version(value: &str) -> Parsed<TlsVersion> {
    TlsVersion::from_name(value).ok_or(TlsVersion::EXPECTED)
}

pub(super) fn cloud(value: &str) -> Parsed<AzureCloud> {
    AzureCloud::from_name(value).ok_or(AzureCloud::EXPECTED)
}

/// Shared with the checks on values set in code.
pub(super) const PORT: &str = "a port (1-65535)";
pub(super) const MILLIS: &str = "a duration in milliseconds";
pub(super) const COUNT: &str = "a whole number";
pub(super) const POSITIVE: &str = "a whole number above 0";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(port("5432"), Ok(5432));
        assert_eq!(port("0"), Err(PORT));
        assert_eq!(port("70000"), Err(PORT));
        assert_eq!(port("x"), Err(PORT));
    }

    #[test]
    fn booleans() {
        for text in ["on", "ON", "true", "True"] {
            assert_eq!(boolean(text), Ok(true), "{text}");
        }
        for text in ["off", "Off", "false"] {
            assert_eq!(boolean(text), Ok(false), "{text}");
        }
        assert!(boolean("yes").is_err());
        assert!(boolean("1").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(millis("5000"), Ok(5000));
        assert_eq!(millis("5s"), Err(MILLIS));
        assert_eq!(millis("-1"), Err(MILLIS));
        assert_eq!(count("0"), Ok(0));
        assert_eq!(positive("0"), Err(POSITIVE));
        assert_eq!(positive("12"), Ok(12));
    }

    #[test]
    fn names() {
        assert_eq!(tls_version("any"), Ok(TlsVersion::Any));
        assert_eq!(tls_version("ssl3"), Err(TlsVersion::EXPECTED));
        assert_eq!(cloud("azurechina"), Ok(AzureCloud::China));
        assert_eq!(cloud("mars"), Err(AzureCloud::EXPECTED));
    }
}
