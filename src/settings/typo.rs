//! Finding the known key closest to a misspelt one.

use super::Settings;

/// The known key with the fewest single-character edits from `key`; the
/// first in table order on a tie.
pub(super) fn closest_key(key: &str) -> &'static str {
    Settings::keys()
        .iter()
        .copied()
        .min_by_key(|known| edit_distance(key, known))
        .expect("the key table is not empty")
}

/// The known key within two edits of `key`, if any: close enough to be a
/// typo rather than a variable of some other program.
pub(super) fn near_key(key: &str) -> Option<&'static str> {
    let closest = closest_key(key);
    (edit_distance(key, closest) <= 2).then_some(closest)
}

/// Levenshtein distance: insertions, deletions and substitutions of one
/// character each count one.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();

    // One row of the classic table at a time: `row[j]` is the distance
    // between the prefix of `a` read so far and the first `j` chars of `b`.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, a_char) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, b_char) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(a_char != *b_char);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
        assert_eq!(edit_distance("pg_hots", "pg_host"), 2);
        assert_eq!(edit_distance("pg_hst", "pg_host"), 1);
    }

    #[test]
    fn closest() {
        assert_eq!(closest_key("pg_hots"), "pg_host");
        assert_eq!(closest_key("pg_pasword"), "pg_password");
        assert_eq!(closest_key("pg_ssl_verfy"), "pg_ssl_verify");
        assert_eq!(
            closest_key("pg_ro_azure_tennant_id"),
            "pg_ro_azure_tenant_id"
        );
        assert_eq!(closest_key("pg_pool_sise"), "pg_pool_size");
        assert_eq!(near_key("pg_databse"), Some("pg_database"));
        assert_eq!(near_key("pg_version"), None);
    }
}
