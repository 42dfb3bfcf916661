//! `Display` and serde for the settings' enums that are read by name.

/// Implements `Display` (the name) and `Deserialize` (from a name, through
/// the type's `from_name`, or an error that says what was expected) for an
/// enum with `as_str`, `from_name` and `EXPECTED`.
macro_rules! named_enum {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                use serde::de::{Error, Unexpected};
                let name = String::deserialize(deserializer)?;
                Self::from_name(&name)
                    .ok_or_else(|| D::Error::invalid_value(Unexpected::Str(&name), &Self::EXPECTED))
            }
        }
    };
}
