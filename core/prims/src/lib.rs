//! The primitives of dkm's seal path behind plain, non-generic functions: AES-256 blocks,
//! AES-256-GCM, HMAC-SHA-256 and SHA-256 from the RustCrypto crates, unchanged.
//!
//! Why a crate: Rust instantiates generic code (`AesGcm<Aes256, U12>`, `Hmac<Sha256>`, the
//! block-cipher and counter-mode plumbing under them) in the crate that first uses it with
//! concrete types. Done in `dkm-core`, it is compiled at the core's optimization level; the
//! WASM module builds the core for size (`opt-level = "z"`), which leaves that plumbing
//! un-inlined and made a small seal half again as slow. Here it is compiled once, at this
//! crate's level (`opt-level = 3` in the `wasm` profile), and the core calls it.
#![no_std]
#![forbid(unsafe_code)]

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// An AES-256 key schedule (zeroized on drop: `aes`'s `zeroize` feature).
pub struct Aes256Key(Aes256);

impl Aes256Key {
    /// Expands `key`.
    pub fn new(key: &[u8; 32]) -> Aes256Key {
        Aes256Key(Aes256::new(key.into()))
    }

    /// Encrypts one block in place.
    pub fn encrypt_block(&self, block: &mut [u8; 16]) {
        self.0.encrypt_block(block.into());
    }

    /// Encrypts two blocks in place (one pass of the bitsliced software backend, which
    /// works on two blocks at a time on 32-bit targets).
    pub fn encrypt_two(&self, a: &mut [u8; 16], b: &mut [u8; 16]) {
        let mut blocks = [aes::Block::from(*a), aes::Block::from(*b)];
        self.0.encrypt_blocks(&mut blocks);
        for (dst, src) in [a, b].into_iter().zip(blocks.iter()) {
            dst.copy_from_slice(src);
        }
        // The blocks are key material (XAES derives keys with them).
        for block in &mut blocks {
            zeroize::Zeroize::zeroize(block.as_mut_slice());
        }
    }
}

/// The message is longer than AES-GCM allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooLong;

/// The tag does not match: nothing of `buf` may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unauthentic;

/// AES-256-GCM: encrypts `buf` in place under `key` and `iv` with `aad`; returns the tag.
pub fn gcm_seal(
    key: &[u8; 32],
    iv: [u8; 12],
    aad: &[u8],
    buf: &mut [u8],
) -> Result<[u8; 16], TooLong> {
    let tag = Aes256Gcm::new(key.into())
        .encrypt_inout_detached(&Nonce::from(iv), aad, InOutBuf::from(buf))
        .map_err(|_| TooLong)?;
    Ok(tag.into())
}

/// AES-256-GCM: checks `tag` and decrypts `buf` in place.
pub fn gcm_open(
    key: &[u8; 32],
    iv: [u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8; 16],
) -> Result<(), Unauthentic> {
    Aes256Gcm::new(key.into())
        .decrypt_inout_detached(&Nonce::from(iv), aad, InOutBuf::from(buf), &Tag::from(*tag))
        .map_err(|_| Unauthentic)
}

/// An HMAC-SHA-256 state (key-equivalent once keyed: it clears itself on drop, as sha2's
/// cores do with their `zeroize` feature; checked at compile time below).
#[derive(Clone)]
pub struct HmacSha256(Hmac<Sha256>);

// `Hmac` has no `Drop` of its own; its key-derived state is two SHA-256 cores, and those
// zeroize on drop (sha2's `zeroize` feature). This fails to compile if that stops being true.
const _: fn() = || {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<<Sha256 as hmac::digest::block_api::CoreProxy>::Core>();
};

impl HmacSha256 {
    /// Keyed with `key` (any length).
    pub fn new(key: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: this cannot fail.
        match <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
            Ok(m) => HmacSha256(m),
            Err(_) => HmacSha256(<Hmac<Sha256> as hmac::KeyInit>::new(&Default::default())),
        }
    }

    /// Feeds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    /// The MAC.
    pub fn finalize(self) -> [u8; 32] {
        self.0.finalize().into_bytes().into()
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn known_answers() {
        // FIPS 180-2 "abc".
        assert_eq!(sha256(b"abc")[..4], [0xba, 0x78, 0x16, 0xbf]);
        // RFC 4231 test case 2.
        let mut m = HmacSha256::new(b"Jefe");
        m.update(b"what do ya want for nothing?");
        assert_eq!(m.finalize()[..4], [0x5b, 0xdc, 0xc1, 0x46]);
        // Two blocks at once equal two single blocks.
        let k = Aes256Key::new(&[7; 32]);
        let (mut a, mut b) = ([1u8; 16], [2u8; 16]);
        let (mut a1, mut b1) = (a, b);
        k.encrypt_two(&mut a, &mut b);
        k.encrypt_block(&mut a1);
        k.encrypt_block(&mut b1);
        assert_eq!((a, b), (a1, b1));
        // GCM round trip and a refused tag.
        let mut buf = *b"sixteen byte msg";
        let tag = gcm_seal(&[3; 32], [4; 12], b"aad", &mut buf).unwrap();
        let mut back = buf;
        gcm_open(&[3; 32], [4; 12], b"aad", &mut back, &tag).unwrap();
        assert_eq!(&back, b"sixteen byte msg");
        assert_eq!(
            gcm_open(&[3; 32], [4; 12], b"aaX", &mut buf, &tag),
            Err(Unauthentic)
        );
    }
}
