//! SCRAM-SHA-256 password verifiers, computed here so that a token never
//! appears in SQL text (where a driver's query log could show it).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

/// Iterations, as PostgreSQL's own default.
const ITERATIONS: usize = 4096;

/// The verifier PostgreSQL stores for `password`:
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. The server
/// accepts it in `ALTER ROLE ... PASSWORD` as is, without ever seeing the
/// password.
pub(crate) fn verifier(password: &str) -> String {
    let mut salt = [0u8; 16];
    openssl::rand::rand_bytes(&mut salt).expect("random salt");
    let mut salted = [0u8; 32];
    openssl::pkcs5::pbkdf2_hmac(
        password.as_bytes(),
        &salt,
        ITERATIONS,
        MessageDigest::sha256(),
        &mut salted,
    )
    .expect("pbkdf2");
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = openssl::sha::sha256(&client_key);
    let server_key = hmac(&salted, b"Server Key");
    format!(
        "SCRAM-SHA-256${ITERATIONS}:{}${}:{}",
        STANDARD.encode(salt),
        STANDARD.encode(stored_key),
        STANDARD.encode(server_key)
    )
}

/// The MD5 form PostgreSQL stores for `password` of `role`:
/// `md5` + hex(md5(password + role)).
pub(crate) fn md5_verifier(role: &str, password: &str) -> String {
    let mut input = Vec::with_capacity(password.len() + role.len());
    input.extend_from_slice(password.as_bytes());
    input.extend_from_slice(role.as_bytes());
    let digest = openssl::hash::hash(MessageDigest::md5(), &input).expect("md5");
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("md5{hex}")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = PKey::hmac(key).expect("hmac key");
    let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("hmac");
    signer.update(data).expect("hmac update");
    signer.sign_to_vec().expect("hmac sign")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_has_postgres_shape_and_hides_the_password() {
        let v = verifier("eyJhbGciOi.secret-token");
        assert!(v.starts_with("SCRAM-SHA-256$4096:"), "{v}");
        assert!(!v.contains("secret-token"));
        let (_, keys) = v.rsplit_once('$').unwrap();
        let (stored, server) = keys.split_once(':').unwrap();
        assert_eq!(STANDARD.decode(stored).unwrap().len(), 32);
        assert_eq!(STANDARD.decode(server).unwrap().len(), 32);
        assert_ne!(verifier("same"), verifier("same"), "fresh salt each time");
    }

    #[test]
    fn the_md5_form_is_postgres_own() {
        // md5("secret" + "alice"), as PostgreSQL computes it.
        let expected = {
            let d = openssl::hash::hash(MessageDigest::md5(), b"secretalice").unwrap();
            let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
            format!("md5{hex}")
        };
        assert_eq!(md5_verifier("alice", "secret"), expected);
        assert_eq!(md5_verifier("alice", "secret").len(), 35);
    }
}
