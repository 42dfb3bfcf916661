//! A throw-away certificate authority and a server certificate it signs.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder};

/// The file names written by [`write_all`], relative to its directory.
pub(crate) const CA_FILE: &str = "ca.crt";
pub(crate) const CA_KEY_FILE: &str = "ca.key";
pub(crate) const OTHER_CA_FILE: &str = "other-ca.crt";
pub(crate) const SERVER_CERT_FILE: &str = "server.crt";
pub(crate) const SERVER_KEY_FILE: &str = "server.key";

/// Writes a CA, a server certificate for `localhost` and 127.0.0.1 signed by
/// it, and a second unrelated CA into `dir`. Keys are mode 0600.
pub(crate) fn write_all(dir: &Path) -> io::Result<()> {
    let (ca, ca_key) = make_ca("pg-entra-pool testkit CA").map_err(io::Error::other)?;
    let (server, server_key) = make_server_cert(&ca, &ca_key).map_err(io::Error::other)?;
    let (other_ca, _) = make_ca("pg-entra-pool testkit unrelated CA").map_err(io::Error::other)?;

    let pem = |r: Result<Vec<u8>, ErrorStack>| r.map_err(io::Error::other);
    fs::write(dir.join(CA_FILE), pem(ca.to_pem())?)?;
    write_private(
        &dir.join(CA_KEY_FILE),
        &pem(ca_key.private_key_to_pem_pkcs8())?,
    )?;
    fs::write(dir.join(OTHER_CA_FILE), pem(other_ca.to_pem())?)?;
    fs::write(dir.join(SERVER_CERT_FILE), pem(server.to_pem())?)?;
    write_private(
        &dir.join(SERVER_KEY_FILE),
        &pem(server_key.private_key_to_pem_pkcs8())?,
    )?;
    Ok(())
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    fs::write(path, contents)?;
    // PostgreSQL refuses a key that group or others can read.
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
}

// P-256 keys: much faster to make than RSA, and PostgreSQL takes them.
fn new_key() -> Result<PKey<Private>, ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    PKey::from_ec_key(EcKey::generate(&group)?)
}

fn builder_subject(cn: &str) -> Result<X509Name, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_nid(Nid::COMMONNAME, cn)?;
    Ok(name.build())
}

fn base_builder(subject_cn: &str, key: &PKey<Private>) -> Result<X509Builder, ErrorStack> {
    let name = builder_subject(subject_cn)?;

    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;

    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_serial_number(serial.to_asn1_integer()?.as_ref())?;
    builder.set_subject_name(&name)?;
    builder.set_pubkey(key)?;
    // A day of slack before now, in case clocks of test hosts disagree.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    builder.set_not_before(Asn1Time::from_unix(now - 86_400)?.as_ref())?;
    builder.set_not_after(Asn1Time::days_from_now(30)?.as_ref())?;
    Ok(builder)
}

fn make_ca(cn: &str) -> Result<(X509, PKey<Private>), ErrorStack> {
    let key = new_key()?;
    let mut builder = base_builder(cn, &key)?;
    // Self-signed: the issuer is the subject.
    let subject = builder_subject(cn)?;
    builder.set_issuer_name(&subject)?;
    builder.append_extension(BasicConstraints::new().critical().ca().build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None))?;
    builder.append_extension(ski)?;
    builder.sign(&key, MessageDigest::sha256())?;
    Ok((builder.build(), key))
}

fn make_server_cert(
    ca: &X509,
    ca_key: &PKey<Private>,
) -> Result<(X509, PKey<Private>), ErrorStack> {
    let key = new_key()?;
    let mut builder = base_builder("localhost", &key)?;
    builder.set_issuer_name(ca.subject_name())?;
    builder.append_extension(BasicConstraints::new().build()?)?;
    builder.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .key_agreement()
            .build()?,
    )?;
    builder.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    let san = SubjectAlternativeName::new()
        .dns("localhost")
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(Some(ca), None))?;
    builder.append_extension(san)?;
    let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(Some(ca), None))?;
    builder.append_extension(ski)?;
    let aki = AuthorityKeyIdentifier::new()
        .keyid(false)
        .build(&builder.x509v3_context(Some(ca), None))?;
    builder.append_extension(aki)?;
    builder.sign(ca_key, MessageDigest::sha256())?;
    Ok((builder.build(), key))
}
