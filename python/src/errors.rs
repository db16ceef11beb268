//! `dkm.DkmError` and one subclass per error kind, with `.kind` (the kind's name) and `.code`
//! (its stable code, SPEC §9) on each class; the conversion of a host error into one.

use std::cell::RefCell;

use dkm_core::ErrorKind;
use dkm_host::HostError;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;

pyo3::create_exception!(
    dkm,
    DkmError,
    PyException,
    "A dkm operation failed. `.kind` is the error kind's name and `.code` its stable code; \
     catch a subclass (`dkm.Tampered`, `dkm.Stale`, ...) to handle one kind. Messages never \
     carry a secret."
);

macro_rules! kinds {
    ($($kind:ident: $doc:literal),* $(,)?) => {
        $(pyo3::create_exception!(dkm, $kind, DkmError, $doc);)*

        /// The exception class of `kind`.
        fn class(py: Python<'_>, kind: ErrorKind) -> Bound<'_, PyType> {
            match kind {
                $(ErrorKind::$kind => py.get_type::<$kind>(),)*
            }
        }

        /// Adds the base and every subclass to `m`, each with its `kind` and `code`.
        pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
            let py = m.py();
            let base = py.get_type::<DkmError>();
            base.setattr("kind", py.None())?;
            base.setattr("code", py.None())?;
            m.add("DkmError", base)?;
            for kind in ErrorKind::ALL {
                let c = class(py, kind);
                c.setattr("kind", kind.name())?;
                c.setattr("code", kind.code())?;
                m.add(kind.name(), c)?;
            }
            Ok(())
        }
    };
}

kinds! {
    Malformed: "Bytes or text that do not follow the documented format (truncated, trailing bytes, a wrong length).",
    Unsupported: "A format version or algorithm suite this build does not know.",
    TooLarge: "A length past a documented limit (plaintext, sealed secret, ring).",
    BadChecksum: "A printed identity whose checksum does not match: most likely a typo or a truncated copy.",
    Tampered: "Authentication failed: a sealed secret, signature or ring was modified, or opened with the wrong key or context.",
    UnknownKey: "The key a sealed secret names is not derivable from the key material at hand.",
    KeyRevoked: "The key exists but its epoch was revoked.",
    KeyDestroyed: "The key was destroyed by an approved shredding instruction.",
    OutOfRange: "A time outside the range a key schedule covers.",
    InvalidInput: "An argument that is well formed but not acceptable.",
    NotAMember: "The caller is not a member of the ring with the role the operation needs.",
    GrantExpired: "A grant used outside its validity window, or after it was revoked.",
    PolicyUnsatisfied: "An approval policy is not met: quorum short, a denial, a missing level.",
    Conflict: "A compare-and-swap lost a race with another writer (a store's commit raises it).",
    StoreUnavailable: "The store could not be reached or read (a store object's exception becomes this, as its __cause__).",
    Stale: "The ring's freshness deadline has passed: a key holder must run maintain.",
    Rollback: "A version lower than, or different from, what the pin has already seen.",
    Internal: "An internal invariant failed. Never expected; report it as a bug.",
}

thread_local! {
    /// The exception a Python store or clock raised in this thread during the current verb,
    /// attached as the `__cause__` of the error the verb raises (or raised itself when it is
    /// not an `Exception`: `KeyboardInterrupt`, `SystemExit`).
    static CAUSE: RefCell<Option<PyErr>> = const { RefCell::new(None) };
}

/// Takes the cause a Python store or clock left in this thread.
pub(crate) fn take_cause() -> Option<PyErr> {
    CAUSE.try_with(|c| c.borrow_mut().take()).ok().flatten()
}

fn keep_cause(e: PyErr) {
    let _ = CAUSE.try_with(|c| *c.borrow_mut() = Some(e));
}

/// The exception of a host error.
pub(crate) fn to_py(py: Python<'_>, e: HostError) -> PyErr {
    PyErr::from_type(class(py, e.kind()), e.message().to_owned())
}

/// The exception a verb raises for `e`, given the Python exception a store or clock raised
/// during it (`cause`): that exception itself when it is not an `Exception` (Ctrl-C stops the
/// program, not the verb), else the verb's error with it as `__cause__`.
pub(crate) fn verb_error(py: Python<'_>, e: HostError, cause: Option<PyErr>) -> PyErr {
    match cause {
        Some(c) if !c.is_instance_of::<pyo3::exceptions::PyException>(py) => c,
        Some(c) => {
            let err = to_py(py, e);
            err.set_cause(py, Some(c));
            err
        }
        None => to_py(py, e),
    }
}

/// `dkm.InvalidInput` with `message`.
pub(crate) fn invalid(py: Python<'_>, message: impl Into<String>) -> PyErr {
    PyErr::from_type(class(py, ErrorKind::InvalidInput), message.into())
}

/// The kind of a `dkm.DkmError` instance.
fn kind_of(py: Python<'_>, e: &PyErr) -> Option<ErrorKind> {
    if !e.is_instance_of::<DkmError>(py) {
        return None;
    }
    e.value(py)
        .getattr("code")
        .ok()
        .and_then(|c| c.extract::<u32>().ok())
        .and_then(ErrorKind::from_code)
}

/// The host error a Python exception raised by a store or clock stands for, its message
/// naming `what` raised it: `kind`, except that a `dkm.DkmError` of one of the kinds in `keep`
/// keeps its kind (a store's commit raises `dkm.Conflict`). The exception is kept as the
/// cause.
pub(crate) fn from_py(
    py: Python<'_>,
    e: PyErr,
    what: &str,
    kind: ErrorKind,
    keep: &[ErrorKind],
) -> HostError {
    let kind = kind_of(py, &e).filter(|k| keep.contains(k)).unwrap_or(kind);
    let message = format!("{what} raised {e}");
    keep_cause(e);
    HostError::new(kind, message)
}
