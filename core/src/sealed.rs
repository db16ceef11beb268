//! Sealed secrets: the committing format, its two suites, and the text armor.
//!
//! ```text
//! header     = version (0x01) ‖ suite ‖ key id (22) ‖ [enc (32), suite 2 only] ‖ nonce (24)
//! sealed     = header ‖ commitment (32) ‖ ciphertext ‖ tag (16)
//! aad        = header ‖ SHA-256(context)
//! commitment = HMAC-SHA-256(commit key, "dkm1/commit" ‖ header ‖ SHA-256(context))
//! ```
//!
//! Suite 1 takes the sealing and commit keys from the interval's leaf ([`IntervalKeys`]).
//! Suite 2 (seal-only) takes them from an HPKE export: DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, export-only, base mode, to the interval's published seal-only public key,
//! `info = "dkm1/seal" ‖ ring id ‖ epoch ‖ interval`. Opening checks the commitment in
//! constant time before decrypting, so a secret opens under exactly one key and one context.

use alloc::string::String;
use alloc::vec::Vec;

use hpke::aead::ExportOnlyAead;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::encoding::Reader;
use crate::error::{Error, ErrorKind, Result};
use crate::keys::{IntervalKeys, KEY_ID_LEN, KeyId, SealOnlyKey};
use crate::labels;
use crate::secret::Secret32;
use crate::xaes::{NONCE_LEN, TAG_LEN, XaesKey};

/// The only format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Length of the commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Length of the HPKE encapsulated key in suite 2.
pub const ENC_LEN: usize = 32;
/// Largest plaintext: 1 GiB.
pub const MAX_PLAINTEXT_LEN: usize = 1 << 30;
/// Largest header (suite 2).
pub const MAX_HEADER_LEN: usize = 2 + KEY_ID_LEN + ENC_LEN + NONCE_LEN;
/// Largest sealed secret in binary form.
pub const MAX_SEALED_LEN: usize = MAX_HEADER_LEN + COMMITMENT_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
/// Largest armored sealed secret.
pub const MAX_ARMOR_LEN: usize = labels::ARMOR_PREFIX.len() + MAX_SEALED_LEN.div_ceil(3) * 4;

/// The algorithm suite of a sealed secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Suite {
    /// XAES-256-GCM with an HMAC-SHA-256 key commitment, keys from the interval's leaf.
    Xaes256GcmCommit = 1,
    /// Seal-only: an HPKE (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, export-only) exchange to
    /// the interval's seal-only public key agrees the keys, then suite 1's format.
    HpkeX25519Xaes256GcmCommit = 2,
}

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 2] = [Suite::Xaes256GcmCommit, Suite::HpkeX25519Xaes256GcmCommit];

    /// `xaes-256-gcm-commit` (sealed by a key holder) or `seal-only` (sealed to the ring's
    /// published key by anyone holding its public part).
    pub const fn name(self) -> &'static str {
        match self {
            Suite::Xaes256GcmCommit => "xaes-256-gcm-commit",
            Suite::HpkeX25519Xaes256GcmCommit => "seal-only",
        }
    }

    /// From its name: `InvalidInput` for any other text.
    pub fn parse(name: &str) -> Result<Suite> {
        Suite::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or(Error::new(
                ErrorKind::InvalidInput,
                "unknown suite: xaes-256-gcm-commit or seal-only",
            ))
    }

    fn from_byte(b: u8) -> Result<Self> {
        match b {
            1 => Ok(Suite::Xaes256GcmCommit),
            2 => Ok(Suite::HpkeX25519Xaes256GcmCommit),
            _ => Err(Error::new(
                ErrorKind::Unsupported,
                "unknown sealed-secret suite: a newer dkm may have sealed it; upgrade to open it",
            )),
        }
    }
}

/// A parsed sealed secret: a view over the bytes, checked for structure but not yet
/// authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealedSecret<'a> {
    bytes: &'a [u8],
    header_len: usize,
    suite: Suite,
    key_id: KeyId,
    enc: Option<[u8; ENC_LEN]>,
    nonce: [u8; NONCE_LEN],
    commitment: [u8; COMMITMENT_LEN],
    body: &'a [u8],
}

impl<'a> SealedSecret<'a> {
    /// Parses the binary form. Refuses unknown versions and suites, truncation, and a body
    /// past [`MAX_PLAINTEXT_LEN`]. Never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() > MAX_SEALED_LEN {
            return Err(Error::new(
                ErrorKind::TooLarge,
                "sealed secret is larger than the 1 GiB limit",
            ));
        }
        let mut r = Reader::new(bytes);
        let version = r.u8()?;
        if version != VERSION {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "unknown sealed-secret version: a newer dkm may have sealed it, or it is not a sealed secret",
            ));
        }
        let suite = Suite::from_byte(r.u8()?)?;
        let key_id = KeyId::read(&mut r)?;
        let enc = match suite {
            Suite::Xaes256GcmCommit => None,
            Suite::HpkeX25519Xaes256GcmCommit => Some(r.array()?),
        };
        let nonce = r.array()?;
        let header_len = bytes.len().saturating_sub(r.remaining());
        let commitment = r.array()?;
        if r.remaining() < TAG_LEN {
            return Err(Error::malformed(
                "sealed secret is truncated: the authentication tag is missing",
            ));
        }
        let body = r.rest();
        check_plaintext_len(body.len().saturating_sub(TAG_LEN))?;
        Ok(SealedSecret {
            bytes,
            header_len,
            suite,
            key_id,
            enc,
            nonce,
            commitment,
            body,
        })
    }

    /// The key id the secret was sealed under.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The header bytes (authenticated).
    pub fn header(&self) -> &'a [u8] {
        self.bytes.get(..self.header_len).unwrap_or_default()
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The commitment.
    pub fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    /// `ciphertext ‖ tag`.
    pub fn ciphertext_and_tag(&self) -> &'a [u8] {
        self.body
    }

    /// The HPKE encapsulated key (suite 2).
    pub fn encapsulated_key(&self) -> Option<&[u8; ENC_LEN]> {
        self.enc.as_ref()
    }

    /// Length of the plaintext inside.
    pub fn plaintext_len(&self) -> usize {
        self.body.len().saturating_sub(TAG_LEN)
    }

    /// The whole sealed secret.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// `SHA-256("")`: the hash of the empty context, the most common one, kept as a constant.
const EMPTY_CONTEXT_HASH: [u8; 32] = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// `SHA-256(context)`.
pub(crate) fn context_hash(context: &[u8]) -> [u8; 32] {
    if context.is_empty() {
        return EMPTY_CONTEXT_HASH;
    }
    dkm_prims::sha256(context)
}

/// A plaintext opened in place, in the buffer that held its sealed secret
/// ([`IntervalKeys::unseal_owned`]): no second buffer, no copy. Derefs to the plaintext;
/// the whole buffer is zeroized when dropped. `Debug` shows only the length.
pub struct Opened {
    buf: Zeroizing<Vec<u8>>,
    start: usize,
    end: usize,
}

impl Opened {
    /// The plaintext.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// The plaintext alone in its buffer (moved to the front within it, no new allocation),
    /// still zeroized when dropped.
    pub fn into_vec(mut self) -> Zeroizing<Vec<u8>> {
        let (start, end) = (self.start, self.end);
        self.buf.copy_within(start..end, 0);
        let mut buf = core::mem::take(&mut *self.buf);
        // The tail (the moved-from bytes and the tag) is cleared before it is cut off.
        if let Some(tail) = buf.get_mut(end - start..) {
            zeroize::Zeroize::zeroize(tail);
        }
        buf.truncate(end - start);
        Zeroizing::new(buf)
    }
}

impl core::ops::Deref for Opened {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl core::fmt::Debug for Opened {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Opened(<{} bytes redacted>)", self.end - self.start)
    }
}

/// A commit key, kept as an HMAC-SHA-256 state already keyed (and already fed the
/// `"dkm1/commit"` label), so each commitment costs no key setup. Zeroized on drop.
#[derive(Clone)]
pub(crate) struct CommitKey(dkm_prims::HmacSha256);

impl CommitKey {
    pub(crate) fn new(key: &Secret32) -> Result<Self> {
        let mut mac = dkm_prims::HmacSha256::new(key.expose());
        mac.update(labels::COMMIT);
        Ok(CommitKey(mac))
    }

    /// `HMAC-SHA-256(commit key, "dkm1/commit" ‖ header ‖ SHA-256(context))`.
    pub(crate) fn commitment(&self, header: &[u8], ctx_hash: &[u8; 32]) -> [u8; 32] {
        let mut mac = self.0.clone();
        mac.update(header);
        mac.update(ctx_hash);
        mac.finalize()
    }
}

/// Empties `out` and writes `version ‖ suite ‖ key id ‖ [enc]`, the header up to the nonce,
/// into it, with room for the whole sealed secret of a `plaintext_len`-byte plaintext.
fn push_header(
    out: &mut Vec<u8>,
    suite: Suite,
    id: &KeyId,
    enc: Option<&[u8]>,
    plaintext_len: usize,
) {
    out.clear();
    out.reserve((MAX_HEADER_LEN + COMMITMENT_LEN + TAG_LEN).saturating_add(plaintext_len));
    out.push(VERSION);
    out.push(suite as u8);
    out.extend_from_slice(&id.to_bytes());
    if let Some(e) = enc {
        out.extend_from_slice(e);
    }
}

fn check_plaintext_len(len: usize) -> Result<()> {
    if len > MAX_PLAINTEXT_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "plaintext is larger than the 1 GiB limit: seal a data key instead and encrypt the data with it",
        ));
    }
    Ok(())
}

/// Appends `nonce ‖ commitment ‖ ciphertext ‖ tag` to `out` (which holds the header up to
/// the nonce). On an error `out` is wiped and emptied: it may have held a copy of the
/// plaintext.
fn seal_raw(
    out: &mut Vec<u8>,
    xaes: &XaesKey,
    commit_key: &CommitKey,
    plaintext: &[u8],
    context: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<()> {
    let r = seal_raw_body(out, (xaes, commit_key), plaintext, context, rng);
    if r.is_err() {
        zeroize::Zeroize::zeroize(out);
    }
    r
}

fn seal_raw_body(
    out: &mut Vec<u8>,
    (xaes, commit_key): (&XaesKey, &CommitKey),
    plaintext: &[u8],
    context: &[u8],
    rng: &mut impl CryptoRng,
) -> Result<()> {
    check_plaintext_len(plaintext.len())?;
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    out.extend_from_slice(&nonce);
    let ctx_hash = context_hash(context);
    let mut aad_buf = [0u8; MAX_HEADER_LEN + 32];
    let aad = aad_of(&mut aad_buf, out, &ctx_hash)?;
    let c = commit_key.commitment(out, &ctx_hash);
    out.extend_from_slice(&c);
    let body_start = out.len();
    out.extend_from_slice(plaintext);
    xaes.encrypt_tail(&nonce, aad, out, body_start)
}

/// `header ‖ SHA-256(context)` in a stack buffer.
fn aad_of<'b>(
    buf: &'b mut [u8; MAX_HEADER_LEN + 32],
    header: &[u8],
    ctx_hash: &[u8; 32],
) -> Result<&'b [u8]> {
    let len = header.len() + 32;
    let aad = buf.get_mut(..len).ok_or(Error::new(
        ErrorKind::Internal,
        "header longer than its maximum",
    ))?;
    let (h, c) = aad.split_at_mut(header.len());
    h.copy_from_slice(header);
    c.copy_from_slice(ctx_hash);
    Ok(aad)
}

fn unseal_raw(
    sealed: &SealedSecret<'_>,
    xaes: &XaesKey,
    commit_key: &CommitKey,
    context: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let ctx_hash = context_hash(context);
    let header = sealed.header();
    let expected = commit_key.commitment(header, &ctx_hash);
    if !bool::from(expected.ct_eq(&sealed.commitment)) {
        return Err(Error::tampered());
    }
    let mut aad_buf = [0u8; MAX_HEADER_LEN + 32];
    let aad = aad_of(&mut aad_buf, header, &ctx_hash)?;
    xaes.decrypt(&sealed.nonce, aad, sealed.body)
}

fn seal_info(id: &KeyId) -> Vec<u8> {
    let mut info = Vec::with_capacity(labels::SEAL_INFO.len() + KEY_ID_LEN);
    info.extend_from_slice(labels::SEAL_INFO);
    info.extend_from_slice(&id.to_bytes());
    info
}

/// The sealing and commit keys of a seal-only exchange, from the HPKE context's exporter.
fn export_keys(
    export: impl Fn(&[u8], &mut [u8]) -> core::result::Result<(), hpke::HpkeError>,
) -> Result<(XaesKey, CommitKey)> {
    const FAILED: Error = Error::new(ErrorKind::Internal, "HPKE export failed");
    let mut seal = Zeroizing::new([0u8; 32]);
    export(labels::EXPORT_SEAL_KEY, &mut *seal).map_err(|_| FAILED)?;
    let mut commit = [0u8; 32];
    export(labels::EXPORT_COMMIT_KEY, &mut commit).map_err(|_| FAILED)?;
    let commit = Secret32::from_array(&mut commit);
    Ok((XaesKey::new(&seal), CommitKey::new(&commit)?))
}

/// A suite-1 message's AES-256-GCM inputs, for an external AES-GCM engine
/// ([`IntervalKeys::seal_parts`], [`IntervalKeys::open_parts`]). The key is wiped on drop.
pub struct GcmParts {
    /// What precedes the ciphertext: `header ‖ nonce ‖ commitment` (empty when opening).
    pub prefix: Vec<u8>,
    /// The message's AES-256-GCM key (XAES-derived from the nonce).
    pub key: Zeroizing<[u8; 32]>,
    /// The 96-bit GCM IV.
    pub iv: [u8; 12],
    /// The additional data: `header ‖ SHA-256(context)`.
    pub aad: Vec<u8>,
}

impl core::fmt::Debug for GcmParts {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("GcmParts").finish_non_exhaustive()
    }
}

impl IntervalKeys {
    /// Seals `plaintext` under this interval's key (suite 1), binding `context`.
    pub fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.seal_into(plaintext, context, rng, &mut out)?;
        Ok(out)
    }

    /// [`IntervalKeys::seal`] into `out`, which is emptied first and keeps its allocation: a
    /// caller that seals many secrets (a binding copying each into its own string type)
    /// reuses one buffer instead of allocating, and faulting in, a new one per seal. On an
    /// error `out` is left wiped and empty.
    pub fn seal_into(
        &self,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<()> {
        push_header(
            out,
            Suite::Xaes256GcmCommit,
            &self.id(),
            None,
            plaintext.len(),
        );
        seal_raw(out, &self.xaes, &self.commit, plaintext, context, rng)
    }

    /// Hazmat, for a binding whose platform has a faster AES-256-GCM (WebCrypto in a
    /// browser: software AES in WASM runs at tens of MB/s): everything of a suite-1 seal of a
    /// `plaintext_len`-byte plaintext but the bulk encryption. The sealed secret is
    /// `prefix ‖ AES-256-GCM(key, iv, aad, plaintext)` (ciphertext then the 16-byte tag),
    /// byte for byte what [`IntervalKeys::seal`] makes with the same randomness. The key is
    /// the message's own XAES-derived key (one nonce, one message): the caller must use it
    /// for this plaintext only, import it non-extractable, and wipe its copy.
    pub fn seal_parts(
        &self,
        plaintext_len: usize,
        context: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<GcmParts> {
        check_plaintext_len(plaintext_len)?;
        let mut prefix = Vec::new();
        push_header(&mut prefix, Suite::Xaes256GcmCommit, &self.id(), None, 0);
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        prefix.extend_from_slice(&nonce);
        let ctx_hash = context_hash(context);
        let mut aad_buf = [0u8; MAX_HEADER_LEN + 32];
        let aad = aad_of(&mut aad_buf, &prefix, &ctx_hash)?.to_vec();
        let c = self.commit.commitment(&prefix, &ctx_hash);
        prefix.extend_from_slice(&c);
        let (key, iv) = self.xaes.derive(&nonce);
        Ok(GcmParts {
            prefix,
            key,
            iv,
            aad,
        })
    }

    /// Hazmat, the opening half of [`IntervalKeys::seal_parts`]: checks a suite-1 secret's
    /// key id and commitment (constant time; any mismatch is [`ErrorKind::Tampered`]) and
    /// returns the AES-256-GCM key, IV and AAD under which `sealed.ciphertext_and_tag()`
    /// decrypts. `prefix` is empty. A seal-only secret is refused (`InvalidInput`).
    pub fn open_parts(&self, sealed: &SealedSecret<'_>, context: &[u8]) -> Result<GcmParts> {
        self.check_id(sealed)?;
        if sealed.suite != Suite::Xaes256GcmCommit {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "open_parts opens a key holder's secret (suite 1) only",
            ));
        }
        let ctx_hash = context_hash(context);
        let header = sealed.header();
        let expected = self.commit.commitment(header, &ctx_hash);
        if !bool::from(expected.ct_eq(&sealed.commitment)) {
            return Err(Error::tampered());
        }
        let mut aad_buf = [0u8; MAX_HEADER_LEN + 32];
        let aad = aad_of(&mut aad_buf, header, &ctx_hash)?.to_vec();
        let (key, iv) = self.xaes.derive(&sealed.nonce);
        Ok(GcmParts {
            prefix: Vec::new(),
            key,
            iv,
            aad,
        })
    }

    /// Opens a secret a key holder sealed (suite 1) under this interval's key. The
    /// commitment is checked in constant time before anything is decrypted; any mismatch of
    /// key, context or bytes is [`ErrorKind::Tampered`].
    ///
    /// A seal-only secret (suite 2) is refused with [`ErrorKind::InvalidInput`]: anyone holding
    /// the ring's public part can make one, so the caller must ask for it explicitly with
    /// [`IntervalKeys::unseal_seal_only`].
    pub fn unseal(&self, sealed: &SealedSecret<'_>, context: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.check_id(sealed)?;
        match sealed.suite {
            Suite::Xaes256GcmCommit => unseal_raw(sealed, &self.xaes, &self.commit, context),
            Suite::HpkeX25519Xaes256GcmCommit => Err(Error::new(
                ErrorKind::InvalidInput,
                "this is a seal-only secret, which anyone holding the ring's public part can make: open it with unseal_seal_only",
            )),
        }
    }

    /// Opens a seal-only secret (suite 2) sealed to this interval's published key. Its
    /// origin is not authenticated: anyone holding the seal-only public key could have made
    /// it. A key holder's secret (suite 1) is refused with [`ErrorKind::InvalidInput`].
    pub fn unseal_seal_only(
        &self,
        sealed: &SealedSecret<'_>,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.check_id(sealed)?;
        let Some(enc_bytes) = sealed.enc else {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "this secret was sealed by a key holder, not a seal-only party: open it with unseal",
            ));
        };
        let enc = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&enc_bytes)
            .map_err(|_| Error::tampered())?;
        let sk = self.seal_only_secret();
        let ctx = hpke::setup_receiver::<ExportOnlyAead, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &sk,
            &enc,
            &seal_info(&sealed.key_id),
        )
        .map_err(|_| Error::tampered())?;
        let (xaes, commit) = export_keys(|c, out| ctx.export(c, out))?;
        unseal_raw(sealed, &xaes, &commit, context)
    }

    /// Opens a key holder's secret (suite 1) like [`IntervalKeys::unseal`], but in place:
    /// it takes the sealed bytes (binary form) and decrypts them where they are, so a large
    /// secret costs no second buffer and no copy. The buffer is zeroized when the result is
    /// dropped, and on any failure before it is returned.
    pub fn unseal_owned(&self, sealed: Vec<u8>, context: &[u8]) -> Result<Opened> {
        let mut buf = Zeroizing::new(sealed);
        let (nonce, aad_buf, aad_len, tag, start, end) = {
            let s = SealedSecret::parse(&buf)?;
            self.check_id(&s)?;
            if s.suite != Suite::Xaes256GcmCommit {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "this is a seal-only secret, which anyone holding the ring's public part can make: open it with unseal_seal_only",
                ));
            }
            let ctx_hash = context_hash(context);
            let expected = self.commit.commitment(s.header(), &ctx_hash);
            if !bool::from(expected.ct_eq(&s.commitment)) {
                return Err(Error::tampered());
            }
            let mut aad_buf = [0u8; MAX_HEADER_LEN + 32];
            let aad_len = aad_of(&mut aad_buf, s.header(), &ctx_hash)?.len();
            let start = s.header_len + COMMITMENT_LEN;
            let end = buf.len().saturating_sub(TAG_LEN);
            let tag: [u8; TAG_LEN] = buf
                .get(end..)
                .and_then(|t| t.try_into().ok())
                .ok_or(Error::malformed("ciphertext shorter than its tag"))?;
            (s.nonce, aad_buf, aad_len, tag, start, end)
        };
        let aad = aad_buf.get(..aad_len).unwrap_or_default();
        let body = buf
            .get_mut(start..end)
            .ok_or(Error::malformed("ciphertext shorter than its tag"))?;
        self.xaes.decrypt_in_place(&nonce, aad, body, &tag)?;
        Ok(Opened { buf, start, end })
    }

    fn check_id(&self, sealed: &SealedSecret<'_>) -> Result<()> {
        if sealed.key_id != self.id() {
            return Err(Error::new(
                ErrorKind::UnknownKey,
                "the sealed secret names another key than this interval's",
            ));
        }
        Ok(())
    }
}

impl SealOnlyKey {
    /// Seals `plaintext` to the holders of this interval's key (suite 2), binding `context`.
    /// Whoever seals cannot open the result.
    pub fn seal(
        &self,
        plaintext: &[u8],
        context: &[u8],
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>> {
        check_plaintext_len(plaintext.len())?;
        let pk = self.hpke_public()?;
        let (enc, ctx) =
            hpke::setup_sender_with_rng::<ExportOnlyAead, HkdfSha256, X25519HkdfSha256>(
                &OpModeS::Base,
                &pk,
                &seal_info(&self.id()),
                rng,
            )
            .map_err(|_| {
                Error::new(
                    ErrorKind::InvalidInput,
                    "the seal-only public key is a low-order point: it was not published by dkm",
                )
            })?;
        let (xaes, commit) = export_keys(|c, out| ctx.export(c, out))?;
        let enc_bytes = enc.to_bytes();
        let mut out = Vec::new();
        push_header(
            &mut out,
            Suite::HpkeX25519Xaes256GcmCommit,
            &self.id(),
            Some(&enc_bytes),
            plaintext.len(),
        );
        seal_raw(&mut out, &xaes, &commit, plaintext, context, rng)?;
        Ok(out)
    }
}

/// Text armor: `dkm1:` followed by the binary form in base64url without padding.
pub fn armor(sealed: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut s = String::with_capacity(labels::ARMOR_PREFIX.len() + sealed.len().div_ceil(3) * 4);
    s.push_str(labels::ARMOR_PREFIX);
    s.push_str(&Base64UrlUnpadded::encode_string(sealed));
    s
}

/// Strict inverse of [`armor`]: exact prefix, canonical base64url, no whitespace.
pub fn dearmor(text: &str) -> Result<Vec<u8>> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    if text.len() > MAX_ARMOR_LEN {
        return Err(Error::new(
            ErrorKind::TooLarge,
            "armored sealed secret is larger than the limit",
        ));
    }
    let body = text
        .strip_prefix(labels::ARMOR_PREFIX)
        .ok_or(Error::malformed(
            "armored sealed secrets start with \"dkm1:\"",
        ))?;
    Base64UrlUnpadded::decode_vec(body).map_err(|_| {
        Error::malformed(
            "armor is not canonical base64url without padding: check it was copied completely and unchanged",
        )
    })
}

/// Accepts either form: text starting with `dkm1:` is dearmored, anything else is taken as
/// the binary form.
pub fn decode_any(input: &[u8]) -> Result<alloc::borrow::Cow<'_, [u8]>> {
    if input.starts_with(labels::ARMOR_PREFIX.as_bytes()) {
        let text = core::str::from_utf8(input)
            .map_err(|_| Error::malformed("armored sealed secret is not valid UTF-8"))?;
        Ok(alloc::borrow::Cow::Owned(dearmor(text)?))
    } else {
        Ok(alloc::borrow::Cow::Borrowed(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn the_empty_context_hash_constant_is_sha256_of_nothing() {
        let computed: [u8; 32] = Sha256::digest([]).into();
        assert_eq!(EMPTY_CONTEXT_HASH, computed);
        assert_eq!(context_hash(b""), computed);
        let one: [u8; 32] = Sha256::digest([0u8]).into();
        assert_eq!(context_hash(&[0]), one);
    }

    /// An external AES-256-GCM engine over `seal_parts` / `open_parts` makes and opens the
    /// very bytes of `seal` / `unseal`.
    #[test]
    #[allow(clippy::unwrap_used)]
    fn gcm_parts_make_the_same_bytes_as_seal() {
        use aes_gcm::aead::{Aead, Payload};
        use aes_gcm::{Aes256Gcm, KeyInit as _};
        use chacha20::ChaCha20Rng;
        use rand_core::SeedableRng;

        let ring = crate::RingId([7; 16]);
        let sched = crate::tree::Schedule::new(0, 3600).unwrap();
        let nodes = crate::tree::NodeSet::from_root(Secret32::from_array(&mut [9; 32]));
        let mut epoch = crate::EpochKeys::new(ring, 1, sched, nodes);
        let keys = epoch.interval_keys(3).unwrap();
        for len in [0usize, 1, 64, 1500] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sealed = keys
                .seal(&pt, b"ctx", &mut ChaCha20Rng::seed_from_u64(5))
                .unwrap();
            let parts = keys
                .seal_parts(len, b"ctx", &mut ChaCha20Rng::seed_from_u64(5))
                .unwrap();
            let gcm = Aes256Gcm::new((&*parts.key).into());
            let body = gcm
                .encrypt(
                    (&parts.iv).into(),
                    Payload {
                        msg: &pt,
                        aad: &parts.aad,
                    },
                )
                .unwrap();
            assert_eq!(
                [parts.prefix.clone(), body].concat(),
                sealed,
                "length {len}"
            );

            let parsed = SealedSecret::parse(&sealed).unwrap();
            let open = keys.open_parts(&parsed, b"ctx").unwrap();
            let gcm = Aes256Gcm::new((&*open.key).into());
            let back = gcm
                .decrypt(
                    (&open.iv).into(),
                    Payload {
                        msg: parsed.ciphertext_and_tag(),
                        aad: &open.aad,
                    },
                )
                .unwrap();
            assert_eq!(back, pt);
            // Another context fails the commitment before any key is handed out.
            let e = keys.open_parts(&parsed, b"other").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Tampered);
        }
        let e = keys
            .seal_parts(
                MAX_PLAINTEXT_LEN + 1,
                b"",
                &mut ChaCha20Rng::seed_from_u64(1),
            )
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooLarge);
    }
}
