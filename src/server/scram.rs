//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) against PostgreSQL-format verifiers.
//!
//! pgwire's SCRAM needs the *salted password*, which is as good as the
//! password itself to an attacker who reads it. PostgreSQL instead stores
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, from which no
//! login can be forged, and checks the client's proof against `StoredKey`.
//! This module does the same, so the configuration only ever holds
//! verifiers (`huntlake passwd` prints one) and the server never sees a
//! password at all: the client derives its keys itself.

use std::fmt;
use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

/// PostgreSQL's default iteration count (`scram_iterations`).
pub const DEFAULT_ITERATIONS: u32 = 4096;
const KEY_LEN: usize = 32;

/// A stored SCRAM-SHA-256 verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct ScramVerifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: [u8; KEY_LEN],
    pub server_key: [u8; KEY_LEN],
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ScramVerifier(<redacted>)")
    }
}

/// Why a verifier string was not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a SCRAM-SHA-256 verifier (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as printed by `huntlake passwd`): {0}")]
pub struct VerifierError(&'static str);

pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut out).expect("the system random generator works");
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; KEY_LEN] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data);
    tag.as_ref().try_into().expect("HMAC-SHA-256 is 32 bytes")
}

fn sha256(data: &[u8]) -> [u8; KEY_LEN] {
    digest::digest(&digest::SHA256, data).as_ref().try_into().expect("SHA-256 is 32 bytes")
}

/// Compares without an early exit, so timing tells nothing about where two
/// secrets differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl ScramVerifier {
    /// A verifier for `password` with a fresh random salt.
    pub fn generate(password: &str) -> Self {
        Self::from_password(password, &random_bytes(16), DEFAULT_ITERATIONS)
    }

    /// The verifier PostgreSQL computes: the password is SASLprep-normalised
    /// when possible and used as-is otherwise (as PostgreSQL does).
    pub fn from_password(password: &str, salt: &[u8], iterations: u32) -> Self {
        let normalized = stringprep::saslprep(password).map(|p| p.into_owned()).unwrap_or_else(|_| password.to_string());
        let mut salted = [0u8; KEY_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations.max(1)).expect("at least one"),
            salt,
            normalized.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// Parses PostgreSQL's `rolpassword` format.
    pub fn parse(text: &str) -> Result<Self, VerifierError> {
        let rest = text.trim().strip_prefix("SCRAM-SHA-256$").ok_or(VerifierError("missing SCRAM-SHA-256$ prefix"))?;
        let (params, keys) = rest.split_once('$').ok_or(VerifierError("missing $ before the keys"))?;
        let (iterations, salt) = params.split_once(':').ok_or(VerifierError("missing iterations:salt"))?;
        let (stored, server) = keys.split_once(':').ok_or(VerifierError("missing StoredKey:ServerKey"))?;
        let iterations: u32 = iterations.parse().map_err(|_| VerifierError("iterations is not a number"))?;
        if iterations == 0 {
            return Err(VerifierError("iterations must be positive"));
        }
        let salt = B64.decode(salt).map_err(|_| VerifierError("salt is not base64"))?;
        if salt.is_empty() {
            return Err(VerifierError("empty salt"));
        }
        let key = |s: &str| -> Result<[u8; KEY_LEN], VerifierError> {
            B64.decode(s)
                .map_err(|_| VerifierError("key is not base64"))?
                .try_into()
                .map_err(|_| VerifierError("key is not 32 bytes"))
        };
        Ok(Self { iterations, salt, stored_key: key(stored)?, server_key: key(server)? })
    }

    /// A verifier no password matches, with a salt that is stable per `name`:
    /// used for unknown users so that their exchange looks like a real one
    /// (same salt each time, same iterations, same failure).
    pub fn decoy(secret: &[u8], name: &str) -> Self {
        let salt = hmac_sha256(secret, name.as_bytes())[..16].to_vec();
        let junk = hmac_sha256(secret, format!("{name}\0keys").as_bytes());
        Self { iterations: DEFAULT_ITERATIONS, salt, stored_key: junk, server_key: junk }
    }
}

impl fmt::Display for ScramVerifier {
    /// The PostgreSQL verifier text. Not a secret in the sense of a
    /// password, but still never logged: it allows offline guessing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

/// A protocol error in the SCRAM exchange (not a wrong password).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported; use SCRAM-SHA-256")]
    ChannelBinding,
    #[error("password authentication failed")]
    WrongProof,
}

/// Server state between the client-first and client-final messages.
pub struct ServerFirst {
    client_first_bare: String,
    gs2_header: String,
    server_first: String,
    nonce: String,
}

impl ServerFirst {
    /// The `server-first-message` to send.
    pub fn message(&self) -> &str {
        &self.server_first
    }
}

/// Handles `client-first-message`: returns the state to keep and the
/// server-first message to send.
pub fn client_first(message: &[u8], verifier: &ScramVerifier) -> Result<ServerFirst, ScramError> {
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    // gs2-header: cbind-flag "," [authzid] ","
    let mut parts = text.splitn(3, ',');
    let flag = parts.next().ok_or(ScramError::Malformed("no gs2 header"))?;
    let authzid = parts.next().ok_or(ScramError::Malformed("no gs2 header"))?;
    let bare = parts.next().ok_or(ScramError::Malformed("no client-first-bare"))?;
    match flag {
        "n" | "y" => {}
        f if f.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("bad channel-binding flag")),
    }
    if !authzid.is_empty() && !authzid.starts_with("a=") {
        return Err(ScramError::Malformed("bad authzid"));
    }
    // client-first-bare: [reserved-mext ","] username "," nonce ["," extensions]
    if bare.starts_with("m=") {
        return Err(ScramError::Malformed("mandatory extensions are not supported"));
    }
    let mut attrs = bare.split(',');
    // The user name comes from the startup packet, as in PostgreSQL.
    attrs.next().filter(|a| a.starts_with("n=")).ok_or(ScramError::Malformed("no username attribute"))?;
    let client_nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b','))
        .ok_or(ScramError::Malformed("no or invalid nonce"))?;
    let nonce = format!("{client_nonce}{}", B64.encode(random_bytes(18)));
    let server_first = format!("r={nonce},s={},i={}", B64.encode(&verifier.salt), verifier.iterations);
    Ok(ServerFirst {
        client_first_bare: bare.to_string(),
        gs2_header: format!("{flag},{authzid},"),
        server_first,
        nonce,
    })
}

/// Handles `client-final-message`: checks the proof against the verifier and
/// returns the `server-final-message` on success.
pub fn client_final(state: &ServerFirst, message: &[u8], verifier: &ScramVerifier) -> Result<String, ScramError> {
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or(ScramError::Malformed("no proof"))?;
    let mut attrs = without_proof.split(',');
    let binding = attrs.next().and_then(|a| a.strip_prefix("c=")).ok_or(ScramError::Malformed("no channel binding"))?;
    let nonce = attrs.next().and_then(|a| a.strip_prefix("r=")).ok_or(ScramError::Malformed("no nonce"))?;
    if B64.decode(binding).ok().as_deref() != Some(state.gs2_header.as_bytes()) {
        return Err(ScramError::Malformed("channel binding does not match"));
    }
    if nonce != state.nonce {
        return Err(ScramError::Malformed("nonce does not match"));
    }
    let proof = B64.decode(proof).map_err(|_| ScramError::Malformed("proof is not base64"))?;
    if proof.len() != KEY_LEN {
        return Err(ScramError::Malformed("proof is not 32 bytes"));
    }
    let auth_message = format!("{},{},{}", state.client_first_bare, state.server_first, without_proof);
    let client_signature = hmac_sha256(&verifier.stored_key, auth_message.as_bytes());
    let client_key: Vec<u8> = proof.iter().zip(client_signature).map(|(p, s)| p ^ s).collect();
    if !constant_time_eq(&sha256(&client_key), &verifier.stored_key) {
        return Err(ScramError::WrongProof);
    }
    let server_signature = hmac_sha256(&verifier.server_key, auth_message.as_bytes());
    Ok(format!("v={}", B64.encode(server_signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The RFC 7677 test vector, as a PostgreSQL verifier.
    #[test]
    fn rfc7677_exchange() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let v = ScramVerifier::from_password("pencil", &salt, 4096);
        let parsed = ScramVerifier::parse(&v.to_string()).unwrap();
        assert_eq!(parsed, v);
        let first = client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &v).unwrap();
        // Replay the RFC's server nonce, so its client proof is valid.
        let state = ServerFirst {
            nonce: "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
            server_first: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".into(),
            ..first
        };
        let server_final = client_final(
            &state,
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            &v,
        )
        .unwrap();
        assert_eq!(server_final, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
        let wrong = ScramVerifier::from_password("pen", &salt, 4096);
        assert_eq!(
            client_final(
                &state,
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                &wrong
            ),
            Err(ScramError::WrongProof)
        );
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let v = ScramVerifier::generate("x");
        for m in [&b""[..], b"n", b"n,,", b"p=tls-server-end-point,,n=,r=a", b"n,,n=u", b"n,,n=u,r=", b"\xff\xfe", b"m=x,,n=u,r=a"] {
            assert!(client_first(m, &v).is_err(), "{m:?}");
        }
        let s = client_first(b"n,,n=u,r=abc", &v).unwrap();
        for m in [&b""[..], b"c=biws", b"c=biws,r=abc,p=!!", b"c=eSws,r=abc,p=AAAA", b"\xff"] {
            assert!(client_final(&s, m, &v).is_err(), "{m:?}");
        }
    }

    #[test]
    fn verifier_parsing() {
        assert!(ScramVerifier::parse("plaintext").is_err());
        assert!(ScramVerifier::parse("SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA").is_err());
        let v = ScramVerifier::generate("hunter2");
        assert!(!v.to_string().contains("hunter2"));
        assert!(!format!("{v:?}").contains(&B64.encode(v.stored_key)));
        assert_eq!(ScramVerifier::decoy(b"k", "bob").salt, ScramVerifier::decoy(b"k", "bob").salt);
    }
}
