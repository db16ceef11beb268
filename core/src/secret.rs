//! A 32-byte secret that zeroizes on drop and never prints.

use alloc::boxed::Box;
use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// 32 secret bytes on the heap (so moves do not leave copies behind), zeroized on drop,
/// compared in constant time, redacted in `Debug`.
#[derive(Clone)]
pub struct Secret32(Box<[u8; 32]>);

impl Secret32 {
    /// Takes ownership of `bytes` and zeroizes the caller's copy.
    pub fn from_array(bytes: &mut [u8; 32]) -> Self {
        let s = Secret32::fill_with(|b| b.copy_from_slice(bytes));
        bytes.zeroize();
        s
    }

    /// A secret filled by `f` directly in its final location.
    pub(crate) fn fill_with(f: impl FnOnce(&mut [u8; 32])) -> Self {
        let mut b = Box::new([0u8; 32]);
        f(&mut b);
        Secret32(b)
    }

    /// A second copy (zeroized on drop like the first).
    pub(crate) fn duplicate(&self) -> Self {
        Secret32::fill_with(|b| b.copy_from_slice(self.expose()))
    }

    /// The secret bytes. Handle with care: do not copy them into unzeroized memory.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for Secret32 {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Secret32 {}

impl PartialEq for Secret32 {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for Secret32 {}

impl fmt::Debug for Secret32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret32(<redacted>)")
    }
}
