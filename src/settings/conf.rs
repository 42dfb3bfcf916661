//! Reading a kong.conf style file.
//!
//! One `key = value` per line; `#` starts a comment unless written `\#`;
//! keys ignore case; `key =` unsets the key. Only `pg_*` keys are read:
//! the file may hold every other Kong setting too.

use std::fs;
use std::path::Path;

use super::typo::closest_key;
use super::{Origin, Settings, SettingsError};

impl Settings {
    /// Reads the `pg_*` keys from the text of a kong.conf style file.
    ///
    /// Values read here report their origin as `Origin::File("conf")`.
    /// Unknown `pg_*` keys are skipped with a warning that names the
    /// closest known key (see [`Settings::warnings`]); keys that do not
    /// start with `pg_` are skipped silently.
    ///
    /// # Errors
    ///
    /// When a value does not parse (`pg_port = 70000`), or when a line that
    /// starts with `pg_` has no `=`. The error names the key and the line.
    pub fn from_conf_str(text: &str) -> Result<Self, SettingsError> {
        read(text, Path::new("conf"))
    }

    /// Reads the `pg_*` keys from a kong.conf style file; see
    /// [`Settings::from_conf_str`].
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is not UTF-8, and in the cases of
    /// [`Settings::from_conf_str`].
    pub fn from_conf_file(path: impl AsRef<Path>) -> Result<Self, SettingsError> {
        let path = path.as_ref();
        let text =
            fs::read_to_string(path).map_err(|error| SettingsError::unreadable("", path, error))?;
        read(&text, path)
    }
}

fn read(text: &str, path: &Path) -> Result<Settings, SettingsError> {
    let origin = Origin::File(path.to_owned());
    let mut settings = Settings::default();
    for (index, line) in text.lines().enumerate() {
        let place = || format!("{} line {}", path.display(), index + 1);
        let line = strip_comment(line);
        let line = line.trim();
        if !starts_with_pg(line) {
            continue;
        }

        // A malformed line may hold a secret: name only its key.
        let Some((key, value)) = line.split_once('=') else {
            return Err(malformed(line).at(place()));
        };
        let key = key.trim().to_ascii_lowercase();
        if !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(malformed(line).at(place()));
        }

        let known = settings
            .set_text(&key, value.trim(), &origin)
            .map_err(|error| error.at(place()))?;
        if !known {
            let closest = closest_key(&key);
            tracing::warn!(key, closest, place = %place(), "unknown setting ignored");
            settings.provenance.warn(format!(
                "unknown key `{key}` ({}) ignored; did you mean `{closest}`?",
                place()
            ));
        }
    }
    Ok(settings)
}

/// Cuts the line at the first `#` that is not written `\#`, and turns each
/// `\#` into `#`.
fn strip_comment(line: &str) -> String {
    let mut kept = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'#') => {
                kept.push('#');
                chars.next();
            }
            '#' => break,
            _ => kept.push(c),
        }
    }
    kept
}

fn starts_with_pg(line: &str) -> bool {
    line.get(..3)
        .is_some_and(|start| start.eq_ignore_ascii_case("pg_"))
}

/// The error for a `pg_*` line without `key = value`, naming only the
/// leading word characters so that no value leaks into the message.
fn malformed(line: &str) -> SettingsError {
    let key: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SettingsError::new(key, "expected `key = value`")
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::settings::test_support::{capture_logs, temp_file};

    #[test]
    fn reads_keys_values_and_skips_the_rest() {
        let text = "
            # Kong settings
            database = postgres
            admin_listen = 127.0.0.1:8001   # not ours

            PG_Host = db.internal
              pg_port=6432
            pg_ssl = on
            pg_ssl_verify = false
            pg_timeout = 250
            pg_schema =
            pg_ro_host = replica
        ";
        let settings = Settings::from_conf_str(text).unwrap();
        assert_eq!(settings.pg_host.as_deref(), Some("db.internal"));
        assert_eq!(settings.pg_port, Some(6432));
        assert_eq!(settings.pg_ssl, Some(true));
        assert_eq!(settings.pg_ssl_verify, Some(false));
        assert_eq!(settings.pg_timeout, Some(250));
        assert_eq!(settings.pg_schema, None);
        assert_eq!(settings.pg_ro_host.as_deref(), Some("replica"));
        assert!(settings.warnings().is_empty());
        assert_eq!(
            settings.origin("pg_host"),
            Origin::File(PathBuf::from("conf"))
        );
    }

    #[test]
    fn comments_and_escaped_hashes() {
        let text = "pg_password = a\\#b#c  # trailing comment\npg_user = kong # me\n#pg_port = 1";
        let settings = Settings::from_conf_str(text).unwrap();
        assert_eq!(settings.pg_password.unwrap().expose(), "a#b");
        assert_eq!(settings.pg_user.as_deref(), Some("kong"));
        assert_eq!(settings.pg_port, None);
        assert_eq!(strip_comment(r"x \# y \z # w"), r"x # y \z ");
    }

    #[test]
    fn empty_value_unsets_an_earlier_line() {
        let settings = Settings::from_conf_str("pg_user = a\npg_user =\n").unwrap();
        assert_eq!(settings.pg_user, None);
        assert_eq!(settings.origin("pg_user"), Origin::Default);
    }

    #[test]
    fn bad_value_names_key_and_line() {
        let error = Settings::from_conf_str("\npg_port = 70000\n").unwrap_err();
        assert_eq!(error.key(), "pg_port");
        assert_eq!(
            error.to_string(),
            "`pg_port` (conf line 2): `70000` is not a port (1-65535)"
        );
    }

    #[test]
    fn malformed_line_never_echoes_a_secret() {
        let lines = [
            "pg_password hunter2",
            "pg_password:hunter2",
            "pg_password:hunter2 = x",
            "pg_ro_password",
        ];
        for line in lines {
            let error = Settings::from_conf_str(line).unwrap_err();
            let shown = format!("{error} {error:?}");
            assert!(error.key().ends_with("_password"), "{shown}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }

    #[test]
    fn unknown_key_warns_with_the_closest_key() {
        let (settings, logs) = capture_logs(|| {
            Settings::from_conf_str("pg_hots = db\npg_pasword = hunter2\nfoo_bar = 1").unwrap()
        });
        let warnings = settings.warnings();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("`pg_hots`"), "{}", warnings[0]);
        assert!(
            warnings[0].contains("did you mean `pg_host`"),
            "{}",
            warnings[0]
        );
        assert!(warnings[1].contains("`pg_password`"), "{}", warnings[1]);
        assert_eq!(logs.matches("unknown setting ignored").count(), 2, "{logs}");
        assert!(logs.contains("closest=\"pg_host\""), "{logs}");
        assert!(!logs.contains("hunter2") && !format!("{warnings:?}").contains("hunter2"));
    }

    #[test]
    fn reads_a_file_and_records_its_path() {
        let path = temp_file("kong.conf", "pg_host = from-file\n");
        let settings = Settings::from_conf_file(&path).unwrap();
        assert_eq!(settings.pg_host.as_deref(), Some("from-file"));
        assert_eq!(settings.origin("pg_host"), Origin::File(path.clone()));
        assert_eq!(
            settings.origin("pg_ro_host"),
            Origin::File(path.to_path_buf())
        );
    }

    #[test]
    fn missing_file_is_an_error() {
        let error = Settings::from_conf_file("/nonexistent/kong.conf").unwrap_err();
        assert_eq!(error.key(), "");
        assert_eq!(error.to_string(), "`/nonexistent/kong.conf` does not exist");
    }
}
