//! XAES-256-GCM as specified by C2SP (<https://c2sp.org/XAES-256-GCM>): AES-256-GCM under a
//! key derived per 192-bit nonce, so one key can seal an effectively unlimited number of
//! messages with random nonces.
//!
//! The derivation is the specification's: `L = AES-256_K(0^128)`, `K1 = L << 1` (xor `0x87`
//! into the last byte when the top bit of `L` was set), `M1 = 00 01 58 00 ‖ N[..12]`,
//! `M2 = 00 02 58 00 ‖ N[..12]`, `Kx = AES-256_K(M1 ⊕ K1) ‖ AES-256_K(M2 ⊕ K1)`,
//! `Nx = N[12..]`, then AES-256-GCM with `Kx` and `Nx`. The block cipher and GCM are the
//! RustCrypto `aes` and `aes-gcm` crates; only the two-block key derivation is written here.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use aes::Aes256;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Length of an XAES-256-GCM key.
pub const KEY_LEN: usize = 32;
/// Length of an XAES-256-GCM nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag.
pub const TAG_LEN: usize = 16;

/// An XAES-256-GCM key with its AES key schedule and `K1` precomputed, so each message costs
/// two AES blocks of derivation plus one AES-256-GCM key setup.
pub struct XaesKey {
    // Boxed: moving an XaesKey moves a pointer, not the round keys.
    aes: Box<Aes256>,
    k1: Zeroizing<u128>,
}

impl XaesKey {
    /// Prepares a 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let aes = Box::new(Aes256::new(key.into()));
        let mut l = Zeroizing::new([0u8; 16]);
        aes.encrypt_block((&mut *l).into());
        let lv = Zeroizing::new(u128::from_be_bytes(*l));
        // K1 = L << 1, reduced by x^128 + x^7 + x^2 + x + 1 when the top bit falls off.
        let k1 = Zeroizing::new((*lv << 1) ^ (0x87 * (*lv >> 127)));
        XaesKey { aes, k1 }
    }

    /// The per-nonce AES-256-GCM instance and its 96-bit nonce.
    fn derive(&self, nonce: &[u8; NONCE_LEN]) -> (Aes256Gcm, [u8; 12]) {
        let (n12, nx) = nonce.split_at(12);
        let mut kx = Zeroizing::new([0u8; 32]);
        for (counter, half) in [1u8, 2u8].into_iter().zip(kx.chunks_exact_mut(16)) {
            let mut m = Zeroizing::new([0u8; 16]);
            let (prefix, tail) = m.split_at_mut(4);
            prefix.copy_from_slice(&[0x00, counter, 0x58, 0x00]);
            tail.copy_from_slice(n12);
            *m = (u128::from_be_bytes(*m) ^ *self.k1).to_be_bytes();
            self.aes.encrypt_block((&mut *m).into());
            half.copy_from_slice(&*m);
        }
        let mut nx12 = [0u8; 12];
        nx12.copy_from_slice(nx);
        (Aes256Gcm::new((&*kx).into()), nx12)
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let (gcm, nx) = self.derive(nonce);
        let tag = gcm
            .encrypt_inout_detached(&Nonce::from(nx), aad, InOutBuf::from(buf))
            .map_err(|_| Error::new(crate::ErrorKind::TooLarge, "message too long for AES-GCM"))?;
        Ok(tag.into())
    }

    /// Decrypts `buf` in place after checking `tag`; on failure `buf` is zeroed and the
    /// error is [`crate::ErrorKind::Tampered`].
    pub fn decrypt_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        let (gcm, nx) = self.derive(nonce);
        let res = gcm.decrypt_inout_detached(
            &Nonce::from(nx),
            aad,
            InOutBuf::from(&mut *buf),
            &Tag::from(*tag),
        );
        if res.is_err() {
            buf.zeroize();
            return Err(Error::tampered());
        }
        Ok(())
    }

    /// Returns `ciphertext ‖ tag`.
    pub fn encrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(plaintext.len().saturating_add(TAG_LEN));
        out.extend_from_slice(plaintext);
        self.encrypt_tail(nonce, aad, &mut out, 0)?;
        Ok(out)
    }

    /// Encrypts `out[start..]` in place and appends the tag. On failure the whole buffer,
    /// which holds plaintext, is zeroized and emptied.
    pub(crate) fn encrypt_tail(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<()> {
        let res = match out.get_mut(start..) {
            Some(body) => self.encrypt_in_place(nonce, aad, body),
            None => Err(Error::new(
                crate::ErrorKind::Internal,
                "body start past the buffer",
            )),
        };
        match res {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                Ok(())
            }
            Err(e) => {
                out.zeroize();
                Err(e)
            }
        }
    }

    /// Opens `ciphertext ‖ tag`.
    pub fn decrypt(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let ct_len = ciphertext_and_tag
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(Error::malformed("ciphertext shorter than its tag"))?;
        let (ct, tag) = ciphertext_and_tag.split_at(ct_len);
        let tag: [u8; TAG_LEN] = tag
            .try_into()
            .map_err(|_| Error::malformed("ciphertext shorter than its tag"))?;
        let mut out = Zeroizing::new(ct.to_vec());
        self.decrypt_in_place(nonce, aad, &mut out, &tag)?;
        Ok(out)
    }
}

impl fmt::Debug for XaesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("XaesKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k1_matches_bytewise_doubling() {
        // An independent byte-by-byte shift, for keys whose L has the top bit set and clear.
        let mut seen = [false; 2];
        for seed in 0u8..16 {
            let key = [seed; 32];
            let x = XaesKey::new(&key);
            let aes = Aes256::new((&key).into());
            let mut l = [0u8; 16];
            aes.encrypt_block((&mut l).into());
            let mut k1 = [0u8; 16];
            for i in 0..16 {
                let carry = if i < 15 { l[i + 1] >> 7 } else { 0 };
                k1[i] = (l[i] << 1) | carry;
            }
            if l[0] & 0x80 != 0 {
                k1[15] ^= 0x87;
            }
            seen[usize::from(l[0] >> 7)] = true;
            assert_eq!(x.k1.to_be_bytes(), k1);
        }
        assert_eq!(seen, [true, true]);
    }
}
