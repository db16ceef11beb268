//! The envelope every signed ring record shares: `body ‖ signer public identity (64) ‖
//! signature (64)`, the signature over `domain prefix ‖ body ‖ signer`, and the record hash
//! `SHA-256(label ‖ record)`.

use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use crate::encoding::{Reader, Writer};
use crate::error::{Error, Result};
use crate::identity::{Identity, PublicIdentity, SIGNATURE_LEN, SigDomain};

/// `SHA-256(label ‖ record)`.
pub(crate) fn record_hash(label: &[u8], record: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label);
    h.update(record);
    h.finalize().into()
}

/// Appends the signer and its signature to `body`; returns the record and its hash.
pub(crate) fn sign_record(
    mut body: Vec<u8>,
    signer: &Identity,
    domain: SigDomain,
    hash_label: &[u8],
) -> (Vec<u8>, [u8; 32]) {
    body.put(&signer.public().to_bytes());
    let sig = signer.sign(domain, &body);
    body.put(&sig);
    let hash = record_hash(hash_label, &body);
    (body, hash)
}

/// The signer and signature read from the end of a record.
pub(crate) struct Envelope {
    pub(crate) signer: PublicIdentity,
    signature: [u8; SIGNATURE_LEN],
    signed_len: usize,
}

impl Envelope {
    /// Reads the signer and signature that end `record` (the reader must stand just after
    /// the body) and refuses trailing bytes.
    pub(crate) fn read(mut r: Reader<'_>, record: &[u8]) -> Result<Envelope> {
        let body_len = record.len().saturating_sub(r.remaining());
        let signer = PublicIdentity::from_bytes(r.bytes(PublicIdentity::ENCODED_LEN)?)?;
        let signature = r.array()?;
        r.finish()?;
        Ok(Envelope {
            signer,
            signature,
            signed_len: body_len.saturating_add(PublicIdentity::ENCODED_LEN),
        })
    }

    /// Checks the signature over `record`'s body and signer.
    pub(crate) fn verify(&self, record: &[u8], domain: SigDomain) -> Result<()> {
        let signed = record
            .get(..self.signed_len)
            .ok_or(Error::malformed("a signed record is truncated"))?;
        self.signer.verify(domain, signed, &self.signature)
    }
}
