//! XAES-256-GCM as specified by C2SP (<https://c2sp.org/XAES-256-GCM>): AES-256-GCM under a
//! key derived per 192-bit nonce, so one key can seal an effectively unlimited number of
//! messages with random nonces.
//!
//! The derivation is the specification's: `L = AES-256_K(0^128)`, `K1 = L << 1` (xor `0x87`
//! into the last byte when the top bit of `L` was set), `M1 = 00 01 58 00 ‖ N[..12]`,
//! `M2 = 00 02 58 00 ‖ N[..12]`, `Kx = AES-256_K(M1 ⊕ K1) ‖ AES-256_K(M2 ⊕ K1)`,
//! `Nx = N[12..]`, then AES-256-GCM with `Kx` and `Nx`. The block cipher and GCM are the
//! RustCrypto `aes` and `aes-gcm` crates; only the two-block key derivation is written here.
//!
//! With the `fast-aes` feature on x86-64 and aarch64 Linux, messages of at least
//! [`FAST_MIN_LEN`] bytes go through `ring`'s AES-256-GCM instead (VAES / AVX2 or ARMv8
//! assembly, several times RustCrypto's throughput); shorter ones stay on RustCrypto, whose
//! per-key setup is cheaper and whose key schedule is zeroized on drop. Both paths give
//! identical bytes (a differential property test checks it; ADR 0006).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use dkm_prims::{Aes256Key, gcm_open, gcm_seal};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};

/// Length of an XAES-256-GCM key.
pub const KEY_LEN: usize = 32;
/// Length of an XAES-256-GCM nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the authentication tag.
pub const TAG_LEN: usize = 16;
/// The shortest message the fast AES-GCM path (`fast-aes`) takes: below it RustCrypto is as
/// fast (its key setup is cheaper), and it zeroizes its key schedule.
pub const FAST_MIN_LEN: usize = 1024;
/// Whether this build has the fast AES-GCM path (the `fast-aes` feature on x86-64 or
/// aarch64 Linux).
pub const HAS_FAST_PATH: bool = cfg!(dkm_fast_aes);

/// An XAES-256-GCM key with its AES key schedule and `K1` precomputed, so each message costs
/// two AES blocks of derivation plus one AES-256-GCM key setup.
pub struct XaesKey {
    // Boxed: moving an XaesKey moves a pointer, not the round keys.
    aes: Box<Aes256Key>,
    k1: Zeroizing<u128>,
}

impl XaesKey {
    /// Prepares a 32-byte key.
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let aes = Box::new(Aes256Key::new(key));
        let mut l = Zeroizing::new([0u8; 16]);
        aes.encrypt_block(&mut l);
        let lv = Zeroizing::new(u128::from_be_bytes(*l));
        // K1 = L << 1, reduced by x^128 + x^7 + x^2 + x + 1 when the top bit falls off.
        let k1 = Zeroizing::new((*lv << 1) ^ (0x87 * (*lv >> 127)));
        XaesKey { aes, k1 }
    }

    /// The per-nonce AES-256-GCM key `Kx` and its 96-bit nonce `Nx`.
    pub(crate) fn derive(&self, nonce: &[u8; NONCE_LEN]) -> (Zeroizing<[u8; 32]>, [u8; 12]) {
        let (n12, nx) = nonce.split_at(12);
        let mut m = Zeroizing::new([[0u8; 16]; 2]);
        for (counter, block) in [1u8, 2u8].into_iter().zip(m.iter_mut()) {
            let (prefix, tail) = block.split_at_mut(4);
            prefix.copy_from_slice(&[0x00, counter, 0x58, 0x00]);
            tail.copy_from_slice(n12);
            *block = (u128::from_be_bytes(*block) ^ *self.k1).to_be_bytes();
        }
        let [m1, m2] = &mut *m;
        self.aes.encrypt_two(m1, m2);
        let mut kx = Zeroizing::new([0u8; 32]);
        for (half, block) in kx.chunks_exact_mut(16).zip(m.iter()) {
            half.copy_from_slice(block);
        }
        let mut nx12 = [0u8; 12];
        nx12.copy_from_slice(nx);
        (kx, nx12)
    }

    /// Encrypts `buf` in place and returns the tag.
    pub fn encrypt_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let (kx, nx) = self.derive(nonce);
        #[cfg(dkm_fast_aes)]
        if buf.len() >= FAST_MIN_LEN {
            return fast::seal(&kx, nx, aad, buf);
        }
        portable::seal(&kx, nx, aad, buf)
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
        let (kx, nx) = self.derive(nonce);
        #[cfg(dkm_fast_aes)]
        let opened = if buf.len() >= FAST_MIN_LEN {
            fast::open(&kx, nx, aad, buf, tag)
        } else {
            portable::open(&kx, nx, aad, buf, tag)
        };
        #[cfg(not(dkm_fast_aes))]
        let opened = portable::open(&kx, nx, aad, buf, tag);
        if opened.is_err() {
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
        // One byte of spare room: a binding that hands the plaintext on as a C string (with a
        // NUL after it) can then do so in this very allocation, with no second copy.
        let mut out = Zeroizing::new(Vec::with_capacity(ct_len.saturating_add(1)));
        out.extend_from_slice(ct);
        self.decrypt_in_place(nonce, aad, &mut out, &tag)?;
        Ok(out)
    }
}

fn too_long() -> Error {
    Error::new(crate::ErrorKind::TooLarge, "message too long for AES-GCM")
}

/// AES-256-GCM from RustCrypto `aes-gcm` through `dkm-prims` (every target; its key schedule
/// zeroizes on drop).
pub(crate) mod portable {
    use super::*;

    pub(crate) fn seal(
        kx: &[u8; 32],
        nx: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        gcm_seal(kx, nx, aad, buf).map_err(|_| too_long())
    }

    /// Opens in place; on failure `buf` holds no plaintext the caller may use.
    pub(crate) fn open(
        kx: &[u8; 32],
        nx: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        gcm_open(kx, nx, aad, buf, tag).map_err(|_| Error::tampered())
    }
}

/// AES-256-GCM from `ring` (x86-64 and aarch64 Linux with `fast-aes`): the same function, in
/// assembly. `ring` keeps the expanded key in its own type and has no way to clear it: that
/// key opens only the one message it was derived for (ADR 0006).
#[cfg(dkm_fast_aes)]
pub(crate) mod fast {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

    use super::*;

    fn key(kx: &[u8; 32]) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, kx)
            .map(LessSafeKey::new)
            .map_err(|_| Error::new(crate::ErrorKind::Internal, "AES-256-GCM key setup failed"))
    }

    pub(crate) fn seal(
        kx: &[u8; 32],
        nx: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN]> {
        let tag = key(kx)?
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nx), Aad::from(aad), buf)
            .map_err(|_| too_long())?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens in place; on failure `buf` holds no plaintext the caller may use.
    pub(crate) fn open(
        kx: &[u8; 32],
        nx: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<()> {
        key(kx)?
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nx),
                Aad::from(aad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| Error::tampered())
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

    /// The fast path (when this build has it) and the portable one give the same bytes, and
    /// each opens what the other sealed; a changed byte fails both.
    #[cfg(dkm_fast_aes)]
    mod differential {
        use alloc::vec::Vec;

        use proptest::prelude::*;

        use super::super::{fast, portable};

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            #[test]
            fn fast_and_portable_agree(
                kx in any::<[u8; 32]>(),
                nx in any::<[u8; 12]>(),
                aad in proptest::collection::vec(any::<u8>(), 0..120),
                pt in proptest::collection::vec(any::<u8>(), 0..5000),
                flip in any::<prop::sample::Index>(),
            ) {
                let mut a = pt.clone();
                let mut b = pt.clone();
                let ta = portable::seal(&kx, nx, &aad, &mut a).unwrap();
                let tb = fast::seal(&kx, nx, &aad, &mut b).unwrap();
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(ta, tb);
                let mut c = a.clone();
                fast::open(&kx, nx, &aad, &mut c, &ta).unwrap();
                prop_assert_eq!(&c, &pt);
                portable::open(&kx, nx, &aad, &mut b, &tb).unwrap();
                prop_assert_eq!(&b, &pt);
                // One changed bit of the ciphertext or the tag: both refuse.
                let mut bad: Vec<u8> = a.clone();
                let mut tag = ta;
                if bad.is_empty() {
                    tag[flip.index(16)] ^= 1;
                } else {
                    let i = flip.index(bad.len());
                    bad[i] ^= 1;
                }
                prop_assert!(fast::open(&kx, nx, &aad, &mut bad.clone(), &tag).is_err());
                prop_assert!(portable::open(&kx, nx, &aad, &mut bad, &tag).is_err());
            }
        }

        #[test]
        fn the_dispatch_switches_paths_at_fast_min_len_without_changing_bytes() {
            let key = super::XaesKey::new(&[7u8; 32]);
            let nonce = [9u8; super::NONCE_LEN];
            for len in [
                0,
                1,
                64,
                super::FAST_MIN_LEN - 1,
                super::FAST_MIN_LEN,
                1 << 20,
            ] {
                let pt: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                let sealed = key.encrypt(&nonce, b"aad", &pt).unwrap();
                let (kx, nx) = key.derive(&nonce);
                let mut expected = pt.clone();
                let tag = portable::seal(&kx, nx, b"aad", &mut expected).unwrap();
                expected.extend_from_slice(&tag);
                assert_eq!(sealed, expected, "length {len}");
                assert_eq!(&*key.decrypt(&nonce, b"aad", &sealed).unwrap(), &pt[..]);
            }
        }
    }

    #[test]
    fn k1_matches_bytewise_doubling() {
        // An independent byte-by-byte shift, for keys whose L has the top bit set and clear.
        let mut seen = [false; 2];
        for seed in 0u8..16 {
            let key = [seed; 32];
            let x = XaesKey::new(&key);
            // RustCrypto's AES directly, not through dkm-prims.
            use aes::cipher::{BlockCipherEncrypt, KeyInit};
            let aes = aes::Aes256::new((&key).into());
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
