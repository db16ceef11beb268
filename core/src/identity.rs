//! Identities: an X25519 key pair (to receive keys wrapped with HPKE) and an Ed25519 key pair
//! (to sign), with a 128-bit id, a printable public form and a secret form.
//!
//! ```text
//! id         = SHA-256("dkm1/id\0" ‖ x25519 public ‖ ed25519 public)[..16]
//! public     = "dkmpub1" ‖ base32(x25519 public ‖ ed25519 public ‖ checksum)
//!              checksum = SHA-256("dkm1/public-checksum\0" ‖ x25519 public ‖ ed25519 public)[..4]
//! secret     = "dkmsec1" ‖ base64url(x25519 secret ‖ ed25519 seed ‖ checksum)
//!              checksum = SHA-256("dkm1/secret-checksum\0" ‖ x25519 secret ‖ ed25519 seed)[..4]
//! signature  = Ed25519(ed25519 seed, "dkm1/<domain>\0" ‖ canonical bytes), verified strictly
//! ```
//! base32 is RFC 4648's alphabet in lower case without padding; base64url is without padding.
//! Neither form contains whitespace, `,` or `:`.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::encoding::{base32_decode, base32_encode};
use crate::error::{Error, ErrorKind, Result};
use crate::labels;
use crate::secret::Secret32;

/// Length of an identity id.
pub const ID_LEN: usize = 16;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
const CHECKSUM_LEN: usize = 4;
const KEYS_LEN: usize = 64;
/// Characters of base32 after the `dkmpub1` prefix: 68 bytes → 109.
const PUBLIC_TEXT_BODY_LEN: usize = ((KEYS_LEN + CHECKSUM_LEN) * 8).div_ceil(5);

/// Refuses an X25519 public key that is not canonical (top bit set, or `u ≥ 2^255 − 19`) or
/// has low order (its shared secrets would be predictable).
pub fn check_x25519_public(u: &[u8; 32]) -> Result<()> {
    const LOW_ORDER: [[u8; 32]; 5] = [
        [0; 32],
        [
            1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0,
        ],
        [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ],
        [
            0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83,
            0xef, 0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd,
            0xd0, 0x9f, 0x11, 0x57,
        ],
        [
            0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xff, 0x7f,
        ],
    ];
    const P_LO: u128 = u128::MAX - 18; // 2^128 - 19
    const P_HI: u128 = u128::MAX >> 1; // 2^127 - 1
    let (lo, hi) = u.split_at(16);
    let lo = u128::from_le_bytes(lo.try_into().unwrap_or([0xff; 16]));
    let hi = u128::from_le_bytes(hi.try_into().unwrap_or([0xff; 16]));
    if hi > P_HI || (hi == P_HI && lo >= P_LO) {
        return Err(Error::malformed(
            "X25519 public key is not canonical (top bit set or not below 2^255 - 19): use the key exactly as dkm printed it",
        ));
    }
    if LOW_ORDER.contains(u) {
        return Err(Error::malformed(
            "X25519 public key has low order: it is not a real identity key; ask its owner for the key dkm printed",
        ));
    }
    Ok(())
}

/// Whether `x` is a clamped X25519 secret (RFC 7748): the canonical secret form.
fn is_clamped(x: &[u8; 32]) -> bool {
    x.first().is_some_and(|b| b & 7 == 0) && x.last().is_some_and(|b| b & 0xc0 == 0x40)
}

fn clamp(x: &mut [u8; 32]) {
    if let Some(b) = x.first_mut() {
        *b &= 248;
    }
    if let Some(b) = x.last_mut() {
        *b = (*b & 127) | 64;
    }
}

/// What a signature is over. Each domain has its own prefix `"dkm1/<name>\0"`, so a signature
/// made for one kind of object is never valid for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigDomain {
    /// A ring's governance part.
    Governance,
    /// A ring's key-state part.
    KeyState,
    /// An elevated-access or governance-change request.
    Request,
    /// An approval or denial of a request.
    Approval,
    /// A grant of elevated access.
    Grant,
    /// An audit record.
    Audit,
    /// A ring's public (seal-only) part.
    RingPublic,
}

impl SigDomain {
    /// Every domain.
    pub const ALL: [SigDomain; 7] = [
        SigDomain::Governance,
        SigDomain::KeyState,
        SigDomain::Request,
        SigDomain::Approval,
        SigDomain::Grant,
        SigDomain::Audit,
        SigDomain::RingPublic,
    ];

    /// What is signed: `prefix ‖ message`.
    fn signed_message(self, message: &[u8]) -> Vec<u8> {
        let mut signed = Vec::with_capacity(self.prefix().len() + message.len());
        signed.extend_from_slice(self.prefix());
        signed.extend_from_slice(message);
        signed
    }

    /// The exact prefix signed before the canonical bytes.
    pub const fn prefix(self) -> &'static [u8] {
        match self {
            SigDomain::Governance => b"dkm1/governance\0",
            SigDomain::KeyState => b"dkm1/key-state\0",
            SigDomain::Request => b"dkm1/request\0",
            SigDomain::Approval => b"dkm1/approval\0",
            SigDomain::Grant => b"dkm1/grant\0",
            SigDomain::Audit => b"dkm1/audit\0",
            SigDomain::RingPublic => b"dkm1/ring-public\0",
        }
    }
}

/// A 128-bit identity id, printed as 32 lower-case hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityId(pub [u8; ID_LEN]);

impl fmt::Display for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::encoding::write_hex(f, &self.0)
    }
}

impl fmt::Debug for IdentityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityId({self})")
    }
}

fn checksum(label: &[u8], payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let h = Sha256::new()
        .chain_update(label)
        .chain_update(payload)
        .finalize();
    let mut c = [0u8; CHECKSUM_LEN];
    c.copy_from_slice(h.get(..CHECKSUM_LEN).unwrap_or(&[0; CHECKSUM_LEN]));
    c
}

/// The public half of an identity: what others need to wrap keys to it and check its
/// signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicIdentity {
    x25519: [u8; 32],
    ed25519: VerifyingKey,
    id: IdentityId,
}

impl fmt::Debug for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicIdentity({})", self.id)
    }
}

impl fmt::Display for PublicIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl PublicIdentity {
    /// Length of [`PublicIdentity::to_bytes`].
    pub const ENCODED_LEN: usize = KEYS_LEN;

    /// From the two public keys. Refuses an X25519 key that is not canonical or has low
    /// order, and an Ed25519 key that is not a canonically encoded point or has small order:
    /// one identity, one encoding, one id.
    pub fn from_keys(x25519: [u8; 32], ed25519: [u8; 32]) -> Result<Self> {
        check_x25519_public(&x25519)?;
        let vk = VerifyingKey::from_bytes(&ed25519).map_err(|_| {
            Error::malformed(
                "Ed25519 public key is not a curve point: use the key exactly as dkm printed it",
            )
        })?;
        if vk.to_edwards().compress().to_bytes() != ed25519 {
            return Err(Error::malformed(
                "Ed25519 public key is not canonically encoded: use the key exactly as dkm printed it",
            ));
        }
        if vk.is_weak() {
            return Err(Error::malformed(
                "Ed25519 public key has small order: it is not a real identity key; ask its owner for the key dkm printed",
            ));
        }
        let id_hash = Sha256::new()
            .chain_update(labels::IDENTITY_ID)
            .chain_update(x25519)
            .chain_update(ed25519)
            .finalize();
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(id_hash.get(..ID_LEN).unwrap_or(&[0; ID_LEN]));
        Ok(PublicIdentity {
            x25519,
            ed25519: vk,
            id: IdentityId(id),
        })
    }

    /// The id.
    pub fn id(&self) -> IdentityId {
        self.id
    }

    /// The X25519 public key.
    pub fn x25519(&self) -> &[u8; 32] {
        &self.x25519
    }

    /// The Ed25519 public key.
    pub fn ed25519(&self) -> [u8; 32] {
        self.ed25519.to_bytes()
    }

    /// `x25519 public (32) ‖ ed25519 public (32)`.
    pub fn to_bytes(&self) -> [u8; KEYS_LEN] {
        let mut out = [0u8; KEYS_LEN];
        let (x, e) = out.split_at_mut(32);
        x.copy_from_slice(&self.x25519);
        e.copy_from_slice(&self.ed25519.to_bytes());
        out
    }

    /// Strict inverse of [`PublicIdentity::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = crate::encoding::Reader::new(bytes);
        let x = r.array()?;
        let e = r.array()?;
        r.finish()?;
        PublicIdentity::from_keys(x, e)
    }

    /// The printable form: `dkmpub1` and lower-case base32 of the keys and a 4-byte checksum.
    pub fn to_text(&self) -> String {
        let keys = self.to_bytes();
        let mut payload = Vec::with_capacity(KEYS_LEN + CHECKSUM_LEN);
        payload.extend_from_slice(&keys);
        payload.extend_from_slice(&checksum(labels::PUBLIC_CHECKSUM, &keys));
        let mut s = String::from(labels::PUBLIC_PREFIX);
        s.push_str(&base32_encode(&payload));
        s
    }

    /// Parses the printable form. A typo gives [`ErrorKind::BadChecksum`] (or
    /// [`ErrorKind::Malformed`] when the text is not even base32 of the right length).
    pub fn from_text(text: &str) -> Result<Self> {
        let body = text
            .strip_prefix(labels::PUBLIC_PREFIX)
            .ok_or(Error::malformed(
                "a public identity starts with \"dkmpub1\"",
            ))?;
        if body.len() != PUBLIC_TEXT_BODY_LEN {
            return Err(Error::malformed(
                "a public identity has 109 characters after \"dkmpub1\": check it was copied completely",
            ));
        }
        let payload = base32_decode(body)?;
        let (keys, sum) = payload.split_at(payload.len().min(KEYS_LEN));
        if sum != checksum(labels::PUBLIC_CHECKSUM, keys) {
            return Err(Error::new(
                ErrorKind::BadChecksum,
                "public identity checksum mismatch: the text has a typo or was altered",
            ));
        }
        PublicIdentity::from_bytes(keys)
    }

    /// Checks an Ed25519 signature (strict verification) over `domain ‖ message`. Any
    /// failure is [`ErrorKind::Tampered`].
    pub fn verify(&self, domain: SigDomain, message: &[u8], signature: &[u8]) -> Result<()> {
        let sig = Signature::from_slice(signature).map_err(|_| Error::tampered())?;
        self.ed25519
            .verify_strict(&domain.signed_message(message), &sig)
            .map_err(|_| Error::tampered())
    }

    /// The X25519 key as the HPKE crate's type.
    pub fn hpke_public(&self) -> Result<<X25519HkdfSha256 as Kem>::PublicKey> {
        <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&self.x25519).map_err(|_| {
            Error::malformed("X25519 public key has the wrong length: it must be 32 bytes")
        })
    }
}

/// A secret identity: both secret keys and the public identity. Zeroized on drop; `Debug`
/// prints the id only.
pub struct Identity {
    x25519: Secret32,
    ed25519: SigningKey,
    public: PublicIdentity,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Identity {
            x25519: _,
            ed25519: _,
            public,
        } = self;
        write!(f, "Identity({}, <secret redacted>)", public.id)
    }
}

impl Identity {
    /// A fresh identity from `rng`.
    pub fn generate(rng: &mut impl CryptoRng) -> Self {
        let mut x = [0u8; 32];
        let mut e = [0u8; 32];
        rng.fill_bytes(&mut x);
        rng.fill_bytes(&mut e);
        clamp(&mut x);
        let id = Identity::from_secrets(Secret32::from_array(&mut x), Secret32::from_array(&mut e));
        // A clamped X25519 scalar and any Ed25519 seed are valid; from_secrets cannot fail
        // on them, but stay total: fall back to a second draw.
        match id {
            Ok(id) => id,
            Err(_) => Identity::generate(rng),
        }
    }

    /// From the X25519 secret key (clamped, RFC 7748: the only form accepted, so each
    /// identity has one secret form) and the Ed25519 seed.
    pub fn from_secrets(x25519: Secret32, ed25519_seed: Secret32) -> Result<Self> {
        if !is_clamped(x25519.expose()) {
            return Err(Error::malformed(
                "X25519 secret key is not clamped: not a key dkm generated",
            ));
        }
        let sk =
            <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(x25519.expose()).map_err(|_| {
                Error::malformed("X25519 secret key has the wrong length: it must be 32 bytes")
            })?;
        let pk = X25519HkdfSha256::sk_to_pk(&sk);
        let mut xp = [0u8; 32];
        xp.copy_from_slice(&pk.to_bytes());
        let signing = SigningKey::from_bytes(ed25519_seed.expose());
        let public = PublicIdentity::from_keys(xp, signing.verifying_key().to_bytes())?;
        Ok(Identity {
            x25519,
            ed25519: signing,
            public,
        })
    }

    /// The public identity.
    pub fn public(&self) -> &PublicIdentity {
        &self.public
    }

    /// The id.
    pub fn id(&self) -> IdentityId {
        self.public.id
    }

    /// Signs `domain ‖ message`.
    pub fn sign(&self, domain: SigDomain, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.ed25519
            .sign(&domain.signed_message(message))
            .to_bytes()
    }

    /// The X25519 secret as the HPKE crate's type (to unwrap keys wrapped to this identity).
    pub fn hpke_secret(&self) -> Result<<X25519HkdfSha256 as Kem>::PrivateKey> {
        <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(self.x25519.expose()).map_err(|_| {
            Error::malformed("X25519 secret key has the wrong length: it must be 32 bytes")
        })
    }

    /// The secret form: `dkmsec1` and base64url (constant-time encoder) of both secrets and a
    /// checksum. Keep it like a password.
    pub fn to_secret_text(&self) -> Zeroizing<String> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let mut payload = Zeroizing::new([0u8; KEYS_LEN + CHECKSUM_LEN]);
        let (keys, sum) = payload.split_at_mut(KEYS_LEN);
        let (x, e) = keys.split_at_mut(32);
        x.copy_from_slice(self.x25519.expose());
        e.copy_from_slice(self.ed25519.as_bytes());
        sum.copy_from_slice(&checksum(labels::SECRET_CHECKSUM, keys));
        let mut s = Zeroizing::new(String::with_capacity(7 + 92));
        s.push_str(labels::SECRET_PREFIX);
        let mut buf = Zeroizing::new([0u8; 96]);
        if let Ok(enc) = Base64UrlUnpadded::encode(&*payload, &mut *buf) {
            s.push_str(enc);
        }
        s
    }

    /// Parses the secret form. A damaged copy gives [`ErrorKind::BadChecksum`].
    pub fn from_secret_text(text: &str) -> Result<Self> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let body = text
            .strip_prefix(labels::SECRET_PREFIX)
            .ok_or(Error::malformed(
                "a secret identity starts with \"dkmsec1\"",
            ))?;
        const DAMAGED: Error = Error::malformed(
            "a secret identity is \"dkmsec1\" and 91 base64url characters: the text is damaged",
        );
        let mut payload = Zeroizing::new([0u8; KEYS_LEN + CHECKSUM_LEN]);
        let n = Base64UrlUnpadded::decode(body, &mut *payload)
            .map_err(|_| DAMAGED)?
            .len();
        if n != KEYS_LEN + CHECKSUM_LEN {
            return Err(DAMAGED);
        }
        let (keys, sum) = payload.split_at(KEYS_LEN);
        let expected = checksum(labels::SECRET_CHECKSUM, keys);
        if !bool::from(expected.ct_eq(sum)) {
            return Err(Error::new(
                ErrorKind::BadChecksum,
                "secret identity checksum mismatch: the file is damaged",
            ));
        }
        let mut x = [0u8; 32];
        let mut e = [0u8; 32];
        x.copy_from_slice(keys.get(..32).unwrap_or(&[0; 32]));
        e.copy_from_slice(keys.get(32..).unwrap_or(&[0; 32]));
        let id = Identity::from_secrets(Secret32::from_array(&mut x), Secret32::from_array(&mut e));
        x.zeroize();
        e.zeroize();
        id
    }
}
