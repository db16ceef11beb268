//! Stores: the embedded file store, the memory store, and any Python object with the
//! foreign-store methods (a dict, a database table) over the host's foreign-store primitives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dkm_core::ErrorKind;
use dkm_host::foreign::{Commit, ForeignAdapter, ForeignStore, Stream};
use dkm_host::{
    EtcdOptions, EtcdStore as HostEtcdStore, FileStore as HostFileStore, HostError,
    MemoryStore as HostMemoryStore, Store,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use zeroize::Zeroizing;

use crate::convert::{self, type_name, view};
use crate::errors::{from_py, invalid};

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

/// Rings, request logs and audit chains in etcd (a consensus-replicated key-value store):
/// one store for every host of a fleet, each write one etcd transaction.
///
/// `EtcdStore(endpoints, prefix, *, timeout=5.0, ca=None, cert=None, key=None, user=None,
/// password=None, watch=True)`: `endpoints` is a `str` (`"HOST:PORT"`, several separated by
/// commas, or `http://` / `https://` URLs) or a list of them; `prefix` the key prefix the
/// rings live under (`"/dkm"`: no trailing `/`); `timeout` the seconds connecting and each
/// request may take (a float, an int or a `timedelta`); `ca` (the CA certificate that signed
/// the members' certificates), `cert` and `key` (TLS client authentication, together) are PEM
/// bytes or the path of a PEM file, and turn `HOST:PORT` endpoints into `https://`; `user` and
/// `password` are etcd's authentication; `watch=False` reads each ring's revision from etcd
/// before every operation instead of trusting the watch (confirmed every 250 ms, trusted while
/// confirmed within 1 s).
///
/// Connecting waits (without the GIL) at most `timeout` and raises `dkm.StoreUnavailable`
/// when etcd does not answer; a malformed argument raises `dkm.InvalidInput`. A store opened
/// before `os.fork()` raises `dkm.StoreUnavailable` in the child: open a new one there.
#[pyclass(frozen, module = "dkm")]
pub struct EtcdStore {
    inner: Arc<HostEtcdStore>,
    endpoints: Vec<String>,
    prefix: String,
    tls: bool,
    user: Option<String>,
    watch: bool,
}

/// Endpoints: a `str` (comma-separated members) or a list or tuple of `str`.
fn endpoints_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    let py = obj.py();
    let items: Vec<String> = if let Ok(s) = obj.cast::<PyString>() {
        s.to_cow()?
            .split(',')
            .map(|e| e.trim().to_owned())
            .collect()
    } else if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let mut v = Vec::new();
        for item in obj.try_iter()? {
            v.push(
                convert::text(&item?, "each etcd endpoint")?
                    .trim()
                    .to_owned(),
            );
        }
        v
    } else {
        return Err(PyTypeError::new_err(format!(
            "endpoints must be a str or a list of str, not {}",
            type_name(obj)
        )));
    };
    if items.is_empty() {
        return Err(invalid(py, "etcd needs at least one member"));
    }
    if let Some(bad) = items
        .iter()
        .find(|e| e.is_empty() || e.contains([' ', '@']))
    {
        return Err(invalid(
            py,
            format!("invalid etcd member {bad:?} (HOST:PORT or http(s)://HOST:PORT)"),
        ));
    }
    Ok(items)
}

/// Seconds `> 0`: a float, an int (not a bool) or a `timedelta`.
fn timeout_arg(obj: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let py = obj.py();
    let secs: f64 = if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "timeout must be seconds (a float or an int) or a timedelta, not bool",
        ));
    } else if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>() {
        obj.extract()
            .map_err(|_| invalid(py, "the etcd timeout is too large"))?
    } else if obj.is_instance(&py.import("datetime")?.getattr("timedelta")?)? {
        obj.call_method0("total_seconds")?.extract()?
    } else {
        return Err(PyTypeError::new_err(format!(
            "timeout must be seconds (a float or an int) or a timedelta, not {}",
            type_name(obj)
        )));
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(invalid(py, "the etcd timeout must be positive seconds"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| invalid(py, "the etcd timeout is too large"))
}

/// PEM bytes, or the path (`str` or `os.PathLike`) of a PEM file, read here.
fn pem_arg(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Zeroizing<Vec<u8>>> {
    let py = obj.py();
    let bytes = if obj.cast::<PyString>().is_ok() || obj.hasattr("__fspath__")? {
        let path: PathBuf = obj.extract()?;
        let p = path.clone();
        py.detach(move || std::fs::read(&p))
            .map(Zeroizing::new)
            .map_err(|e| invalid(py, format!("{what}: cannot read {}: {e}", path.display())))?
    } else {
        match convert::data(obj, what) {
            Ok(d) => Zeroizing::new(d.to_vec()),
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "{what} must be PEM bytes or the path (str or os.PathLike) of a PEM file, not {}",
                    type_name(obj)
                )));
            }
        }
    };
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(invalid(
            py,
            format!("{what} is not PEM (no -----BEGIN line)"),
        ));
    }
    Ok(bytes)
}

impl EtcdStore {
    /// Connects with `options` (checked by the host), without the GIL.
    fn connect(py: Python<'_>, options: EtcdOptions) -> PyResult<EtcdStore> {
        let endpoints = options.endpoints.clone();
        let prefix = options.prefix.clone();
        let tls = options.ca_pem.is_some() || options.client_cert_pem.is_some();
        let user = options.user.as_ref().map(|(u, _)| u.clone());
        let watch = options.watch;
        let store = py
            .detach(move || HostEtcdStore::connect(options))
            .map_err(|e| crate::errors::to_py(py, e))?;
        Ok(EtcdStore {
            inner: Arc::new(store),
            endpoints,
            prefix,
            tls,
            user,
            watch,
        })
    }
}

#[pymethods]
impl EtcdStore {
    /// Connects to etcd (see the class's documentation).
    #[new]
    #[pyo3(
        signature = (endpoints, prefix, *, timeout=None, ca=None, cert=None, key=None, user=None, password=None, watch=true),
        text_signature = "(endpoints, prefix, *, timeout=5.0, ca=None, cert=None, key=None, user=None, password=None, watch=True)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        endpoints: &Bound<'_, PyAny>,
        prefix: &Bound<'_, PyAny>,
        timeout: Option<&Bound<'_, PyAny>>,
        ca: Option<&Bound<'_, PyAny>>,
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        user: Option<&Bound<'_, PyAny>>,
        password: Option<&Bound<'_, PyAny>>,
        watch: bool,
    ) -> PyResult<EtcdStore> {
        fn some<'a, 'py>(o: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
            o.filter(|o| !o.is_none())
        }
        let endpoints = endpoints_arg(endpoints)?;
        let prefix = convert::text(prefix, "prefix")?;
        let timeout = match some(timeout) {
            Some(t) => timeout_arg(t)?,
            None => Duration::from_secs(5),
        };
        let user = some(user).map(|u| convert::text(u, "user")).transpose()?;
        let password = some(password)
            .map(|p| convert::text(p, "password").map(Zeroizing::new))
            .transpose()?;
        let ca = some(ca).map(|c| pem_arg(c, "ca")).transpose()?;
        let cert = some(cert).map(|c| pem_arg(c, "cert")).transpose()?;
        let key = some(key).map(|k| pem_arg(k, "key")).transpose()?;
        let mut options = EtcdOptions::new(endpoints, &prefix);
        options.timeout = timeout;
        options.watch = watch;
        options.ca_pem = ca.map(|c| c.to_vec());
        options.client_cert_pem = match (cert, key) {
            (Some(c), Some(k)) => Some((c.to_vec(), k)),
            (None, None) => None,
            _ => {
                return Err(invalid(
                    py,
                    "cert and key go together (TLS client authentication)",
                ));
            }
        };
        options.user = match (user, password) {
            (Some(u), p) => {
                if u.is_empty() {
                    return Err(invalid(py, "the etcd user is empty"));
                }
                Some((u, p.unwrap_or_default()))
            }
            (None, Some(_)) => return Err(invalid(py, "an etcd password without a user")),
            (None, None) => None,
        };
        EtcdStore::connect(py, options)
    }

    /// Connects to the store an `etcd://HOST:PORT[,HOST:PORT...]/PREFIX` URL names (the
    /// `dkm` command's `--store`): options `timeout=2s` and `watch=off`; `etcds://` for TLS,
    /// with `ca=FILE`, `cert=FILE&key=FILE` (read now) and `user=NAME`. The password is never
    /// part of the URL: give it as `password`.
    #[staticmethod]
    #[pyo3(signature = (url, password=None))]
    fn from_url(
        py: Python<'_>,
        url: &Bound<'_, PyAny>,
        password: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<EtcdStore> {
        let url = convert::text(url, "url")?;
        let password = password
            .filter(|p| !p.is_none())
            .map(|p| convert::text(p, "password").map(Zeroizing::new))
            .transpose()?;
        let options = py
            .detach(|| EtcdOptions::from_url(&url, password.as_deref().map(String::as_str)))
            .map_err(|e| crate::errors::to_py(py, e))?;
        EtcdStore::connect(py, options)
    }

    /// Where the rings are: `"etcd:"`, the cluster id in hex, then the prefix (what audit
    /// records and pins name; the same from every member of the cluster).
    #[getter]
    fn location(&self) -> String {
        self.inner.location()
    }

    /// The etcd cluster's id.
    #[getter]
    fn cluster_id(&self) -> u64 {
        self.inner.cluster_id()
    }

    /// The key prefix the rings live under.
    #[getter]
    fn prefix(&self) -> String {
        self.prefix.clone()
    }

    /// The members, as given.
    #[getter]
    fn endpoints(&self) -> Vec<String> {
        self.endpoints.clone()
    }

    /// How many requests this store has sent to etcd for operations (the watch's own not
    /// counted): with a current watch, a seal on a cached ring sends none.
    #[getter]
    fn round_trips(&self) -> u64 {
        self.inner.round_trips()
    }

    /// What the watch knows now: `{"current": bool, "delivered": int, "rings": int}` —
    /// whether it stands in for the per-operation check (confirmed within 1 s), the etcd
    /// revision it has delivered every change up to, and how many rings it follows.
    fn watch_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let w = self.inner.watch_status();
        let d = PyDict::new(py);
        d.set_item("current", w.current)?;
        d.set_item("delivered", w.delivered)?;
        d.set_item("rings", w.rings)?;
        Ok(d)
    }

    /// The names of the rings under the prefix.
    fn names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let inner = Arc::clone(&self.inner);
        py.detach(move || inner.rings())
            .map_err(|e| crate::errors::to_py(py, e))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut s = format!(
            "EtcdStore({}, {}, cluster_id=0x{:016x}",
            PyList::new(py, &self.endpoints)?.repr()?,
            PyString::new(py, &self.prefix).repr()?,
            self.inner.cluster_id()
        );
        if self.tls {
            s.push_str(", tls=True");
        }
        if let Some(u) = &self.user {
            s.push_str(&format!(", user={}", PyString::new(py, u).repr()?));
        }
        if !self.watch {
            s.push_str(", watch=False");
        }
        s.push(')');
        Ok(s)
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
    if let Ok(s) = obj.cast::<EtcdStore>() {
        return Ok((s.get().inner.clone(), false));
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
            "the store must be a dkm.FileStore, a dkm.MemoryStore, a dkm.EtcdStore or an object with the store methods (missing: {})",
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
