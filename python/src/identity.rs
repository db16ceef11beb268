//! Identities (secret and public), a ring's public part for seal-only sealing, and the
//! in-memory pin book.

use std::path::PathBuf;
use std::sync::Arc;

use dkm_core::Pin;
use dkm_host::{HostError, MemoryPins as HostMemoryPins, files, text};
use pyo3::exceptions::PyUserWarning;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::{self, data};
use crate::errors::to_py;

/// A secret identity: a service account (a key holder), an admin, an approver or a
/// requester. Its secret keys never leave it except through `to_text` or `save`; they are
/// wiped from memory when the object is collected. Immutable and safe to share between
/// threads; it cannot be pickled.
#[pyclass(frozen, module = "dkm")]
pub struct Identity {
    pub(crate) inner: dkm_core::Identity,
}

#[pymethods]
impl Identity {
    /// A new identity from the operating system's randomness.
    #[staticmethod]
    fn generate(py: Python<'_>) -> PyResult<Identity> {
        let inner = files::generate_identity().map_err(|e| to_py(py, e))?;
        Ok(Identity { inner })
    }

    /// The identity in `text`: the text of an identity file (comment lines and one secret
    /// identity `dkmsec1...`), as `str` or bytes. A public identity in its place is
    /// `InvalidInput`; anything else that is not exactly one secret identity is `Malformed`.
    #[staticmethod]
    fn from_text(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<Identity> {
        let bytes = if let Ok(s) = text.cast::<PyString>() {
            zeroize::Zeroizing::new(s.to_cow()?.as_bytes().to_vec())
        } else {
            zeroize::Zeroizing::new(data(text, "the identity text")?.to_vec())
        };
        let inner =
            text::identity_from_file_text(&bytes, "the identity text").map_err(|e| to_py(py, e))?;
        Ok(Identity { inner })
    }

    /// Reads an identity file (as the `dkm` command writes it). Refused when group or others
    /// may write the file; a `UserWarning` when they may read it.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Identity> {
        let f = py
            .detach(|| files::read_identity(&path))
            .map_err(|e| to_py(py, e))?;
        if let Some(w) = f.warning {
            let category = py.get_type::<PyUserWarning>();
            PyErr::warn(
                py,
                &category,
                &std::ffi::CString::new(w).unwrap_or_default(),
                1,
            )?;
        }
        Ok(Identity { inner: f.identity })
    }

    /// Writes this identity to a new file at `path` (mode 0600; an existing file is never
    /// replaced), with `name` in its comment line (1 to 64 characters).
    fn save(&self, py: Python<'_>, path: PathBuf, name: &str) -> PyResult<()> {
        let inner = &self.inner;
        py.detach(|| files::write_identity(&path, name, inner))
            .map_err(|e| to_py(py, e))
    }

    /// The text of an identity file for this identity, named `name`: a secret, to keep in a
    /// secret manager (a Python `str` cannot be wiped from memory: prefer `save`).
    fn to_text(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        let t = text::identity_file_text(name, &self.inner).map_err(|e| to_py(py, e))?;
        Ok(t.as_str().to_owned())
    }

    /// The public identity (what an admin adds to a ring).
    #[getter]
    fn public(&self) -> PublicIdentity {
        PublicIdentity {
            inner: self.inner.public().clone(),
        }
    }

    /// The identity's id (hex of its public keys' hash).
    #[getter]
    fn id(&self) -> String {
        self.inner.id().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Identity(id='{}')", self.inner.id())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<Identity>()
            .is_ok_and(|o| o.get().inner.public() == self.inner.public())
    }

    fn __hash__(&self) -> u64 {
        hash_of(&self.inner.public().to_bytes())
    }
}

fn hash_of(bytes: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    h.finish()
}

/// A public identity (`dkmpub1...`): what an admin adds to a ring, what a grant is made for.
#[pyclass(frozen, module = "dkm")]
#[derive(Clone)]
pub struct PublicIdentity {
    pub(crate) inner: dkm_core::PublicIdentity,
}

#[pymethods]
impl PublicIdentity {
    /// Parses `text` (`dkmpub1...`; surrounding whitespace is ignored). A secret identity in
    /// its place is `InvalidInput`; a typo is `BadChecksum` or `Malformed`.
    #[new]
    fn new(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<PublicIdentity> {
        let t = convert::text(text, "a public identity")?;
        let inner = text::parse_public_identity(&t).map_err(|e| to_py(py, e))?;
        Ok(PublicIdentity { inner })
    }

    /// Parses `text`, as the constructor does.
    #[staticmethod]
    fn from_text(py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<PublicIdentity> {
        PublicIdentity::new(py, text)
    }

    /// The printable form, `dkmpub1...`.
    fn to_text(&self) -> String {
        self.inner.to_text()
    }

    /// The identity's id.
    #[getter]
    fn id(&self) -> String {
        self.inner.id().to_string()
    }

    fn __str__(&self) -> String {
        self.inner.to_text()
    }

    fn __repr__(&self) -> String {
        format!("PublicIdentity('{}')", self.inner.to_text())
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PublicIdentity>()
            .is_ok_and(|o| o.get().inner == self.inner)
    }

    fn __hash__(&self) -> u64 {
        hash_of(&self.inner.to_bytes())
    }

    /// Pickles as its text (public data).
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(Bound<'py, pyo3::types::PyType>, (String,))> {
        Ok((slf.get_type(), (slf.get().inner.to_text(),)))
    }

    /// Immutable: a copy is itself.
    fn __copy__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// Immutable: a deep copy is itself.
    fn __deepcopy__(slf: Py<Self>, _memo: &Bound<'_, PyAny>) -> Py<Self> {
        slf
    }
}

/// `obj` as a public identity: a `PublicIdentity` (a secret `Identity` is a `TypeError`:
/// pass `identity.public`).
pub(crate) fn public_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<dkm_core::PublicIdentity> {
    if let Ok(p) = obj.cast::<PublicIdentity>() {
        return Ok(p.get().inner.clone());
    }
    let hint = if obj.cast::<Identity>().is_ok() {
        " (pass identity.public)"
    } else {
        ""
    };
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "{what} must be a PublicIdentity{hint}"
    )))
}

/// A ring's public part, verified: what a browser, partner or any seal-only party needs to
/// seal secrets to a ring without being able to read them back (`Host.export_public` makes
/// the bytes). Immutable.
#[pyclass(frozen, module = "dkm")]
pub struct RingPublic {
    pub(crate) inner: dkm_core::RingPublic,
}

#[pymethods]
impl RingPublic {
    /// Loads a ring's public part (the bytes of `Host.export_public`), verified through
    /// `pin` when given (the ring's pin: raw bytes or its hex text, as `dkm ring pin` prints
    /// it), else through the pin the part carries (which trusts whoever made the part).
    #[new]
    #[pyo3(signature = (data, pin=None))]
    fn new(
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        pin: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<RingPublic> {
        let part = convert::data(data, "the ring's public part")?;
        let pin = pin.map(|p| pin_arg(p)).transpose()?;
        let inner = dkm_host::load_public(&part, pin.as_ref()).map_err(|e| to_py(py, e))?;
        Ok(RingPublic { inner })
    }

    /// Seals `data` to the ring (seal-only: only key holders can open it, and their unseal
    /// reports its origin as `"seal-only"`), at `now` (an aware datetime; the system clock
    /// when `None`). `Stale` when the ring's published keys do not cover the time.
    #[pyo3(signature = (data, context=None, now=None))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        now: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let out = self.seal_bytes(py, data, context, now)?;
        Ok(PyBytes::new(py, &out))
    }

    /// `seal`, as the text armor (`dkm1:...`).
    #[pyo3(signature = (data, context=None, now=None))]
    fn seal_armored(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        Ok(dkm_core::armor(&self.seal_bytes(py, data, context, now)?))
    }

    /// The ring's name.
    #[getter]
    fn name(&self) -> String {
        self.inner.ring().governance().name.clone()
    }

    /// The ring's id (hex).
    #[getter]
    fn ring_id(&self) -> String {
        self.inner.ring().id().to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "RingPublic(name='{}', ring_id='{}')",
            self.inner.ring().governance().name,
            self.inner.ring().id()
        )
    }
}

impl RingPublic {
    fn seal_bytes(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<u8>> {
        let pt = convert::data(data, "the data")?;
        let ctx = crate::host::ctx_arg(context)?;
        let now = match now {
            Some(t) => convert::unix(t, "now")?,
            None => dkm_host::Clock::system().now().map_err(|e| to_py(py, e))?,
        };
        let inner = &self.inner;
        let (pt, ctx) = (&*pt, &*ctx);
        py.detach(|| {
            let mut rng = dkm_core::rng::SystemRng::new()?;
            Ok::<_, HostError>(inner.seal(now, pt, ctx, &mut rng)?)
        })
        .map_err(|e| to_py(py, e))
    }
}

/// A pin: raw bytes, or its hex text.
pub(crate) fn pin_arg(obj: &Bound<'_, PyAny>) -> PyResult<Pin> {
    let py = obj.py();
    let pin = if let Ok(s) = obj.cast::<PyString>() {
        text::parse_pin_text(&s.to_cow()?, std::path::Path::new("the pin"))
    } else {
        let b = data(obj, "the pin")?;
        Pin::from_bytes(&b).map_err(HostError::from)
    };
    pin.map_err(|e| to_py(py, e))
}

/// A pin book kept in memory (for tests, and for services that keep no pin files): pins
/// last as long as the object. Give it to several hosts to share it.
#[pyclass(frozen, module = "dkm")]
pub struct MemoryPins {
    pub(crate) inner: Arc<HostMemoryPins>,
}

#[pymethods]
impl MemoryPins {
    /// An empty pin book.
    #[new]
    fn new() -> MemoryPins {
        MemoryPins {
            inner: Arc::new(HostMemoryPins::new()),
        }
    }

    /// The pins it holds, as hex text (what `RingPublic(..., pin=)` takes).
    fn pins(&self) -> Vec<String> {
        self.inner
            .pins()
            .iter()
            .map(|p| hex::encode(p.to_bytes()))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!("MemoryPins({} pins)", self.inner.pins().len())
    }
}
