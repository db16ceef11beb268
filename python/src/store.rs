//! Stores: the embedded file store, the memory store, and any Python object with the
//! foreign-store methods (a dict, a database table) over the host's foreign-store primitives.

use std::path::PathBuf;
use std::sync::Arc;

use dkm_core::ErrorKind;
use dkm_host::foreign::{Commit, ForeignAdapter, ForeignStore, Stream};
use dkm_host::{FileStore as HostFileStore, HostError, MemoryStore as HostMemoryStore, Store};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::convert::view;
use crate::errors::from_py;

/// Any store a host runs on.
pub(crate) type AnyStore = Arc<dyn Store + Send + Sync>;

/// The embedded file store: rings, request logs and audit chains as files in a directory
/// (created on first write), the layout the `dkm` command uses (`--store DIR`), safe to share
/// between processes.
#[pyclass(frozen, module = "dkm")]
pub struct FileStore {
    inner: Arc<HostFileStore>,
    path: PathBuf,
}

#[pymethods]
impl FileStore {
    /// The file store in directory `path`.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<FileStore> {
        if path.as_os_str().is_empty() {
            return Err(crate::errors::invalid(py, "the store's directory is empty"));
        }
        Ok(FileStore {
            inner: Arc::new(HostFileStore::new(path.clone())),
            path,
        })
    }

    /// The directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __repr__(&self) -> String {
        format!("FileStore({:?})", self.path.display().to_string())
    }
}

/// A store in memory: rings, request logs and audit chains of this process only, each write
/// atomic; lost with the object. Rings move in and out with `Host.export_snapshot` and
/// `Host.import_snapshot`. Several hosts may share one.
#[pyclass(frozen, module = "dkm")]
pub struct MemoryStore {
    inner: Arc<HostMemoryStore>,
}

#[pymethods]
impl MemoryStore {
    /// An empty memory store.
    #[new]
    fn new() -> MemoryStore {
        MemoryStore {
            inner: Arc::new(HostMemoryStore::new()),
        }
    }

    /// The names of the rings it holds.
    fn names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.inner.rings().map_err(|e| crate::errors::to_py(py, e))
    }

    fn __repr__(&self) -> String {
        let n = self.inner.rings().map(|n| n.len()).unwrap_or(0);
        format!("MemoryStore({n} rings)")
    }
}

/// What a host needs of a store argument: the store, and whether it is in memory (its
/// operations do no I/O, so small seals keep the GIL).
pub(crate) fn store_arg(obj: &Bound<'_, PyAny>) -> PyResult<(AnyStore, bool)> {
    if let Ok(s) = obj.cast::<FileStore>() {
        return Ok((s.get().inner.clone(), false));
    }
    if let Ok(s) = obj.cast::<MemoryStore>() {
        return Ok((s.get().inner.clone(), true));
    }
    const METHODS: [&str; 7] = [
        "ring",
        "line_count",
        "last_line",
        "lines_from",
        "commit",
        "names",
        "location",
    ];
    let missing: Vec<&str> = METHODS
        .iter()
        .copied()
        .filter(|m| !obj.hasattr(*m).unwrap_or(false))
        .collect();
    if !missing.is_empty() {
        return Err(PyTypeError::new_err(format!(
            "the store must be a dkm.FileStore, a dkm.MemoryStore or an object with the store methods (missing: {})",
            missing.join(", ")
        )));
    }
    let location = match obj.call_method0("location") {
        Ok(l) => l,
        Err(e) => {
            let py = obj.py();
            let err = crate::errors::to_py(
                py,
                HostError::new(
                    ErrorKind::StoreUnavailable,
                    format!("the store's location() raised {e}"),
                ),
            );
            err.set_cause(py, Some(e));
            return Err(err);
        }
    };
    let location = location
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("the store's location() must return a str"))?
        .to_cow()?
        .into_owned();
    let foreign = PyStore {
        obj: obj.clone().unbind(),
        location,
    };
    Ok((Arc::new(ForeignAdapter::new(foreign)), false))
}

/// A Python object as a foreign store. Its methods are called with the GIL taken and no lock
/// of the host held.
struct PyStore {
    obj: Py<PyAny>,
    location: String,
}

/// A reply of the wrong shape: the store breaks its contract.
fn bad(method: &str, expected: &str) -> HostError {
    HostError::new(
        ErrorKind::StoreUnavailable,
        format!("the store's {method}() must return {expected}"),
    )
}

impl PyStore {
    /// Calls the store's `method` with `args`; `convert` reads its reply (`None`: not the
    /// `expected` shape).
    fn call<T>(
        &self,
        method: &str,
        args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
        convert: impl for<'py> FnOnce(&Bound<'py, PyAny>) -> Option<T>,
        expected: &str,
    ) -> dkm_host::Result<T> {
        Python::attach(|py| {
            let result = args(py).and_then(|a| self.obj.bind(py).call_method1(method, a));
            match result {
                Ok(v) => convert(&v).ok_or_else(|| bad(method, expected)),
                // Only a commit may lose a race; any other failure of a store is
                // StoreUnavailable, whatever it raised.
                Err(e) => Err(from_py(
                    py,
                    e,
                    &format!("the store's {method}()"),
                    ErrorKind::StoreUnavailable,
                    if method == "commit" {
                        &[ErrorKind::Conflict]
                    } else {
                        &[]
                    },
                )),
            }
        })
    }
}

fn lines_of(v: &Bound<'_, PyAny>) -> Option<Vec<String>> {
    if v.cast::<PyList>().is_err() && v.cast::<PyTuple>().is_err() {
        return None;
    }
    v.try_iter()
        .ok()?
        .map(|l| Some(l.ok()?.cast::<PyString>().ok()?.to_cow().ok()?.into_owned()))
        .collect()
}

impl ForeignStore for PyStore {
    fn ring(&self, name: &str) -> dkm_host::Result<Option<(Vec<u8>, String)>> {
        self.call(
            "ring",
            |py| PyTuple::new(py, [name]),
            |v| {
                if v.is_none() {
                    return Some(None);
                }
                let t = v.cast::<PyTuple>().ok()?;
                let (b, tok) = t.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>().ok()?;
                let b = b.cast::<PyBytes>().ok()?.as_bytes().to_vec();
                let tok = tok.cast::<PyString>().ok()?.to_cow().ok()?.into_owned();
                Some(Some((b, tok)))
            },
            "None or a (bytes, str) tuple",
        )
    }

    fn line_count(&self, name: &str, stream: Stream) -> dkm_host::Result<u64> {
        self.call(
            "line_count",
            |py| PyTuple::new(py, [name, stream.name()]),
            |v| v.extract::<u64>().ok(),
            "an int >= 0",
        )
    }

    fn last_line(&self, name: &str, stream: Stream) -> dkm_host::Result<Option<String>> {
        self.call(
            "last_line",
            |py| PyTuple::new(py, [name, stream.name()]),
            |v| {
                if v.is_none() {
                    return Some(None);
                }
                Some(Some(v.cast::<PyString>().ok()?.to_cow().ok()?.into_owned()))
            },
            "None or a str",
        )
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> dkm_host::Result<Vec<String>> {
        self.call(
            "lines_from",
            |py| {
                PyTuple::new(
                    py,
                    [
                        name.into_pyobject(py)?.into_any(),
                        stream.name().into_pyobject(py)?.into_any(),
                        from.into_pyobject(py)?.into_any(),
                    ],
                )
            },
            lines_of,
            "a list (or tuple) of str",
        )
    }

    fn commit(&self, name: &str, commit: &Commit) -> dkm_host::Result<()> {
        self.call(
            "commit",
            |py| {
                let ring = match &commit.ring {
                    Some(w) => view!(py, "RingWrite", {
                        expected_token: w.expected_token.as_deref(),
                        bytes: PyBytes::new(py, &w.bytes),
                    })?,
                    None => py.None().into_bound(py),
                };
                let mut appends = Vec::with_capacity(commit.appends.len());
                for (stream, expected, lines) in &commit.appends {
                    appends.push((stream.name(), *expected, PyTuple::new(py, lines)?));
                }
                let appends = PyTuple::new(py, appends)?;
                let c = view!(py, "Commit", {
                    ring: ring,
                    appends: appends,
                    move_to: commit.move_to.as_deref(),
                })?;
                PyTuple::new(py, [name.into_pyobject(py)?.into_any(), c])
            },
            |_| Some(()),
            "None",
        )
    }

    fn names(&self) -> dkm_host::Result<Vec<String>> {
        self.call(
            "names",
            |py| Ok(PyTuple::empty(py)),
            lines_of,
            "a list (or tuple) of str",
        )
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}
