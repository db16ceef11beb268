//! `dkm.Host`: one method per host verb, converting Python values and nothing more.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use dkm_core::access::{RequestId, Scope};
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, GrantId, Policy};
use dkm_host::views::ToJson;
use dkm_host::{
    ChangeOutcome, Clock, Host as HostOf, HostError, LevelSpec, Origin, PinBook, SealOnly,
    Unsealed as HostUnsealed, access_scope, files,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::convert::{self, Data, datetime, opt_datetime, seconds, timedelta, unix, view};
use crate::errors::{from_py, invalid, take_cause, to_py, verb_error};
use crate::identity::{Identity, MemoryPins, PublicIdentity, public_arg};
use crate::store::{AnyStore, store_arg};

type AnyHost = HostOf<AnyStore>;

thread_local! {
    /// Each thread's buffer for sealed bytes, copied into a `bytes` object after each seal
    /// (a nested seal, from a store object's method, takes an empty one).
    static SEALED: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest sealed-bytes buffer a thread keeps between seals.
const KEEP_BUFFER: usize = 4 << 20;

/// Payloads from this size release the GIL even on a memory store (below it, releasing and
/// taking it back costs more than the seal).
const DETACH_MIN: usize = 16 * 1024;

/// A host: the verbs of dkm on the rings of one store, with a pin book and a clock.
///
/// `Host(store, pins=None, clock=None)`: `store` is a `FileStore`, a `MemoryStore`, an
/// `EtcdStore` or any object with the store methods (see the package's `Store` protocol); `pins` is where the
/// rings' pins are kept (`None`: the `dkm` command's pin book, `$DKM_HOME/pins`; a directory;
/// or a `MemoryPins`); `clock` is `None` (the system clock, read at each call), an aware
/// `datetime` (a fixed time: audit records carry the clock-override flag) or a callable
/// returning an aware `datetime` (read at each call).
///
/// Thread safe: one host serves many threads; the GIL is released around store I/O and
/// around sealing and unsealing of large payloads. It keeps verified rings and opened key
/// holders in memory; `close()` (or leaving a `with` block) drops them at once.
/// Every verb that acts as someone takes the identity as the keyword argument `as_`.
#[pyclass(frozen, module = "dkm")]
pub struct Host {
    inner: RwLock<Option<Arc<AnyHost>>>,
    /// The store operations do no I/O (a memory store): small seals keep the GIL.
    in_memory: bool,
    store: Py<PyAny>,
}

/// The empty context, or the given one.
pub(crate) fn ctx_arg<'a>(ctx: Option<&'a Bound<'_, PyAny>>) -> PyResult<Data<'a>> {
    match ctx {
        Some(c) if !c.is_none() => convert::data(c, "the context"),
        _ => Ok(Data::Borrowed(&[])),
    }
}

fn role_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Role> {
    let name = convert::text(obj, "role")?;
    Role::parse(&name).map_err(|_| {
        invalid(
            py,
            format!(
                "{name:?} is not a role: \"admin\", \"service\" (a key holder) or \"approver\""
            ),
        )
    })
}

fn request_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<RequestId> {
    let t = convert::text(obj, "the request id")?;
    RequestId::from_hex(t.trim()).map_err(|e| to_py(py, e.into()))
}

fn grant_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<GrantId> {
    let t = convert::text(obj, "the grant id")?;
    files::grant_id_arg(&t).map_err(|e| to_py(py, e))
}

fn clock_arg(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Clock> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Clock::system());
    };
    if obj.is_callable() && obj.cast::<PyString>().is_err() {
        let f = obj.clone().unbind();
        return Ok(Clock::try_from_fn(move || {
            Python::attach(|py| {
                // A clock may refuse with any kind (as a C clock callback may); anything else
                // it raises is InvalidInput.
                let t = f.bind(py).call0().map_err(|e| {
                    from_py(py, e, "the clock", ErrorKind::InvalidInput, &ErrorKind::ALL)
                })?;
                unix(&t, "the clock's time").map_err(|e| {
                    let message = format!("the clock returned an unusable time: {e}");
                    let kind = from_py(py, e, "the clock", ErrorKind::InvalidInput, &[]).kind();
                    HostError::new(kind, message)
                })
            })
        }));
    }
    Ok(Clock::fixed(unix(obj, "clock")?))
}

impl Host {
    fn host(&self, py: Python<'_>) -> PyResult<Arc<AnyHost>> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| invalid(py, "this host is closed"))
    }

    /// Runs `f` on the host, without the GIL when `detach`.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        detach: bool,
        f: impl FnOnce(&AnyHost) -> dkm_host::Result<T> + Send,
    ) -> PyResult<T> {
        let host = self.host(py)?;
        drop(take_cause());
        let r = if detach {
            py.detach(|| f(&host))
        } else {
            f(&host)
        };
        // A store or clock exception of this verb: the cause of its error, or dropped when
        // the verb succeeded after all (a conflict retried).
        let cause = take_cause();
        r.map_err(|e| verb_error(py, e, cause))
    }

    /// A governance verb as the admin `as_`, its outcome as a `ChangeOutcome`.
    fn govern<'py>(
        &self,
        py: Python<'py>,
        as_: &Bound<'py, Identity>,
        verb: impl FnOnce(&AnyHost, &dkm_core::Identity) -> dkm_host::Result<ChangeOutcome> + Send,
    ) -> PyResult<Bound<'py, PyAny>> {
        let admin = &as_.get().inner;
        let c = self.run(py, true, |h| verb(h, admin))?;
        change(py, &c)
    }

    fn detach_for(&self, len: usize) -> bool {
        !self.in_memory || len >= DETACH_MIN
    }
}

#[pymethods]
impl Host {
    #[new]
    #[pyo3(signature = (store, pins=None, clock=None))]
    fn new(
        py: Python<'_>,
        store: &Bound<'_, PyAny>,
        pins: Option<&Bound<'_, PyAny>>,
        clock: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Host> {
        let (s, in_memory) = store_arg(store)?;
        let clock = clock_arg(clock)?;
        let entropy = crate::fork::entropy().map_err(|e| to_py(py, e))?;
        let host = match pins.filter(|p| !p.is_none()) {
            None => HostOf::with_entropy(
                s,
                PinBook::new(files::dkm_home().join("pins")),
                clock,
                entropy,
            ),
            Some(p) => {
                if let Ok(m) = p.cast::<MemoryPins>() {
                    HostOf::with_entropy(s, Arc::clone(&m.get().inner), clock, entropy)
                } else {
                    let dir: PathBuf = p.extract().map_err(|_| {
                        PyTypeError::new_err(
                            "pins must be None, a directory (str or os.PathLike) or a dkm.MemoryPins",
                        )
                    })?;
                    HostOf::with_entropy(s, PinBook::new(dir), clock, entropy)
                }
            }
        };
        let host = Arc::new(host);
        // On a store that announces other writers' changes (etcd's watch), a thread reloads
        // the rings this host keeps as soon as they change; it ends with the host.
        let _ = HostOf::spawn_refresher(&host);
        Ok(Host {
            inner: RwLock::new(Some(host)),
            in_memory,
            store: store.clone().unbind(),
        })
    }

    /// The store this host runs on.
    #[getter]
    fn store(&self, py: Python<'_>) -> Py<PyAny> {
        self.store.clone_ref(py)
    }

    /// The time now, read from the host's clock.
    fn now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let t = self.run(py, false, |h| h.now())?;
        datetime(py, t)
    }

    /// Drops the rings and key holders this host keeps in memory; any later call raises
    /// `InvalidInput`. Calls already running finish.
    fn close(&self) {
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, PyTuple>) -> bool {
        self.close();
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let store = self
            .store
            .bind(py)
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| "?".to_owned());
        let state = if self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            ""
        } else {
            ", closed"
        };
        format!("Host({store}{state})")
    }

    // ---- governance ----

    /// Creates ring `name` with `as_` as its first admin and `policy` (`Policy()` when
    /// `None`); returns the ring's id. The ring has no keys until a key holder is added and
    /// runs `maintain`.
    #[pyo3(signature = (name, *, as_, policy=None))]
    fn create_ring(
        &self,
        py: Python<'_>,
        name: &str,
        as_: &Bound<'_, Identity>,
        policy: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let policy = match policy.filter(|p| !p.is_none()) {
            Some(p) => policy_arg(p)?,
            None => Policy::default(),
        };
        let admin = &as_.get().inner;
        let id = self.run(py, true, |h| h.create_ring(name, admin, policy))?;
        Ok(id.to_string())
    }

    /// Adds `member` (a `PublicIdentity`) with `role` (`"admin"`, `"service"`: a key holder,
    /// or `"approver"`) as the admin `as_`. Applied at once, or logged as a change request
    /// when the approval policy needs a quorum (see the returned `ChangeOutcome`).
    #[pyo3(signature = (ring, role, member, *, as_))]
    fn add_member<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        role: &Bound<'py, PyAny>,
        member: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let role = role_arg(py, role)?;
        let member = public_arg(member, "member")?;
        self.govern(py, as_, |h, admin| h.add_member(ring, admin, role, &member))
    }

    /// Removes `member` as the admin `as_` (no quorum; a key holder's `maintain` carries it
    /// out and rolls the keys).
    #[pyo3(signature = (ring, member, *, as_))]
    fn remove_member<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        member: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let member = public_arg(member, "member")?;
        self.govern(py, as_, |h, admin| h.remove_member(ring, admin, &member))
    }

    /// Sets the approval levels, in order (a sequence of `ApprovalLevel`), as the admin
    /// `as_` (needs the quorum once there are levels).
    #[pyo3(signature = (ring, levels, *, as_))]
    fn set_approval_levels<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        levels: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let specs = levels_arg(levels)?;
        self.govern(py, as_, |h, admin| {
            h.set_approval_levels(ring, admin, &specs)
        })
    }

    /// Revokes epoch `epoch` (1 to 2^31) as the admin `as_`: its secrets no longer open.
    #[pyo3(signature = (ring, epoch, *, as_))]
    fn revoke_epoch<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        epoch: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let n = convert::integer(epoch, "epoch")?;
        let epoch = u32::try_from(n).ok().filter(|e| *e != 0).ok_or_else(|| {
            invalid(
                py,
                format!("epoch {n} does not exist: epoch numbers are 1 to 2^31"),
            )
        })?;
        self.govern(py, as_, |h, admin| h.revoke_epoch(ring, admin, epoch))
    }

    /// Shreds every interval that ends before `cutoff` (an aware datetime, not in the
    /// future) as the admin `as_`: the secrets sealed in them can never be opened again.
    #[pyo3(signature = (ring, cutoff, *, as_))]
    fn shred_before<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        cutoff: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let cutoff = unix(cutoff, "cutoff")?;
        self.govern(py, as_, |h, admin| h.shred_before(ring, admin, cutoff))
    }

    /// Revokes grant `grant` (its id) as the admin `as_` (no quorum).
    #[pyo3(signature = (ring, grant, *, as_))]
    fn revoke_grant<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        grant: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let grant = grant_arg(py, grant)?;
        self.govern(py, as_, |h, admin| h.revoke_grant(ring, admin, grant))
    }

    /// Renames ring `ring` to `new_name` as the admin `as_`; the ring, its request log and
    /// its audit chain move in one write.
    #[pyo3(signature = (ring, new_name, *, as_))]
    fn rename_ring<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        new_name: &str,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.govern(py, as_, |h, admin| h.rename_ring(ring, new_name, admin))
    }

    /// Signs the approved change request `request` with its approvals, as the admin `as_`;
    /// returns the new governance version.
    #[pyo3(signature = (ring, request, *, as_))]
    fn apply(
        &self,
        py: Python<'_>,
        ring: &str,
        request: &Bound<'_, PyAny>,
        as_: &Bound<'_, Identity>,
    ) -> PyResult<u64> {
        let request = request_arg(py, request)?;
        let admin = &as_.get().inner;
        self.run(py, true, |h| h.apply(ring, request, admin))
    }

    // ---- keys at work ----

    /// Runs `maintain` as the key holder `as_`: carries out governance changes, rolls keys
    /// as needed, publishes seal-only keys, renews freshness. Returns what it did (an empty
    /// list when nothing needed writing).
    #[pyo3(signature = (ring, *, as_))]
    fn maintain<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyList>> {
        let holder = &as_.get().inner;
        let e = self.run(py, true, |h| h.maintain(ring, holder))?;
        events(py, &e)
    }

    /// `maintain`, and a new epoch in any case.
    #[pyo3(signature = (ring, *, as_))]
    fn roll_epoch<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyList>> {
        let holder = &as_.get().inner;
        let e = self.run(py, true, |h| h.roll_epoch(ring, holder))?;
        events(py, &e)
    }

    /// Seals `data` (bytes-like) with the ring's current key as the key holder `as_`, bound
    /// to `context` (bytes-like; the same context must be given to unseal it). Runs
    /// `maintain` first when the ring needs it. Returns the sealed secret's bytes.
    #[pyo3(signature = (ring, data, context=None, *, as_))]
    fn seal<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (pt, ctx) = (convert::data(data, "the data")?, ctx_arg(context)?);
        let holder = &as_.get().inner;
        let (pt, ctx) = (&*pt, &*ctx);
        // This thread's buffer (public bytes once sealed): no allocation to fault in per seal.
        let mut out = SEALED.take();
        let r = self.run(py, self.detach_for(pt.len()), |h| {
            h.seal_into(ring, holder, pt, ctx, &mut out)
        });
        let bytes = r.map(|()| PyBytes::new(py, &out));
        if out.capacity() <= KEEP_BUFFER {
            SEALED.set(out);
        }
        bytes
    }

    /// `seal`, as the text armor (`dkm1:...`), for JSON, YAML or a database text column.
    #[pyo3(signature = (ring, data, context=None, *, as_))]
    fn seal_armored(
        &self,
        py: Python<'_>,
        ring: &str,
        data: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        as_: &Bound<'_, Identity>,
    ) -> PyResult<String> {
        let (pt, ctx) = (convert::data(data, "the data")?, ctx_arg(context)?);
        let holder = &as_.get().inner;
        let (pt, ctx) = (&*pt, &*ctx);
        self.run(py, self.detach_for(pt.len()), |h| {
            h.seal_armored(ring, holder, pt, ctx)
        })
    }

    /// Opens a sealed secret (bytes-like, binary or armored, or an armored `str`) as the key
    /// holder `as_`, with the `context` it was sealed with. Returns an `Unsealed` (the
    /// plaintext and its origin: `"key-holder"` or `"seal-only"`); with
    /// `accept_seal_only=False` a secret sealed by a seal-only party (whose origin nobody
    /// authenticates) is refused (`InvalidInput`) before it is opened.
    #[pyo3(signature = (ring, sealed, context=None, *, as_, accept_seal_only=true))]
    fn unseal(
        &self,
        py: Python<'_>,
        ring: &str,
        sealed: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        as_: &Bound<'_, Identity>,
        accept_seal_only: bool,
    ) -> PyResult<Unsealed> {
        let (bytes, ctx) = (convert::sealed(sealed)?, ctx_arg(context)?);
        let holder = &as_.get().inner;
        let mode = seal_only_mode(accept_seal_only);
        let (b, ctx) = (&*bytes, &*ctx);
        let u = self.run(py, self.detach_for(b.len()), |h| {
            h.unseal(ring, holder, b, ctx, mode)
        })?;
        Ok(Unsealed::new(py, &u))
    }

    /// Opens a sealed secret through grant `grant` (its id) as its requester `as_`; the
    /// audit record is written to the store first (no audit, no plaintext). `GrantExpired`
    /// outside the grant's window or after its revocation; `UnknownKey` outside its scope.
    #[pyo3(signature = (ring, grant, sealed, context=None, *, as_, accept_seal_only=true))]
    #[allow(clippy::too_many_arguments)]
    fn unseal_with_grant(
        &self,
        py: Python<'_>,
        ring: &str,
        grant: &Bound<'_, PyAny>,
        sealed: &Bound<'_, PyAny>,
        context: Option<&Bound<'_, PyAny>>,
        as_: &Bound<'_, Identity>,
        accept_seal_only: bool,
    ) -> PyResult<Unsealed> {
        let grant = grant_arg(py, grant)?;
        let (bytes, ctx) = (convert::sealed(sealed)?, ctx_arg(context)?);
        let requester = &as_.get().inner;
        let mode = seal_only_mode(accept_seal_only);
        let (b, ctx) = (&*bytes, &*ctx);
        let u = self.run(py, true, |h| {
            h.unseal_with_grant(ring, requester, grant, b, ctx, mode)
        })?;
        Ok(Unsealed::new(py, &u))
    }

    /// The ring's public part (bytes): what a seal-only party loads with `RingPublic`.
    fn export_public<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.run(py, true, |h| h.export_public(ring))?;
        Ok(PyBytes::new(py, &b))
    }

    /// Seals `data` to a ring's public part (`RingPublic`) at the host's clock: seal-only.
    #[pyo3(signature = (public, data, context=None))]
    fn seal_to<'py>(
        &self,
        py: Python<'py>,
        public: &Bound<'py, crate::identity::RingPublic>,
        data: &Bound<'py, PyAny>,
        context: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let (pt, ctx) = (convert::data(data, "the data")?, ctx_arg(context)?);
        let part = &public.get().inner;
        let (pt, ctx) = (&*pt, &*ctx);
        let out = self.run(py, true, |h| h.seal_public(part, pt, ctx))?;
        Ok(PyBytes::new(py, &out))
    }

    // ---- elevated access ----

    /// Logs an access request by `as_` (not a key holder) for `duration` (a `timedelta`, at
    /// most the ring's longest grant), with `reason`; the scope is secrets sealed `since` a
    /// time (an aware datetime), or the closed `epochs` named, or (neither) secrets sealed
    /// from now on. Returns the request's id.
    #[pyo3(signature = (ring, reason, duration, *, as_, since=None, epochs=None))]
    #[allow(clippy::too_many_arguments)]
    fn request_access(
        &self,
        py: Python<'_>,
        ring: &str,
        reason: &str,
        duration: &Bound<'_, PyAny>,
        as_: &Bound<'_, Identity>,
        since: Option<&Bound<'_, PyAny>>,
        epochs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<String> {
        let secs = seconds(duration, "duration")?;
        let since = since
            .filter(|s| !s.is_none())
            .map(|s| unix(s, "since"))
            .transpose()?;
        let epochs: Vec<u32> = match epochs.filter(|e| !e.is_none()) {
            Some(e) => epoch_list(py, e)?,
            None => Vec::new(),
        };
        let scope: Option<Scope> = access_scope(since, &epochs).map_err(|e| to_py(py, e))?;
        let requester = &as_.get().inner;
        let id = self.run(py, true, |h| {
            h.request_access(ring, requester, reason, secs, scope)
        })?;
        Ok(id.to_string())
    }

    /// Every logged request (access requests and governance changes) and where it stands.
    fn requests<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyList>> {
        let rs = self.run(py, true, |h| h.requests(ring))?;
        let out = PyList::empty(py);
        for r in &rs {
            out.append(request_view(py, r)?)?;
        }
        Ok(out)
    }

    /// Logs the approval of `request` at approval level `level` by the approver `as_`.
    #[pyo3(signature = (ring, request, level, *, as_))]
    fn approve(
        &self,
        py: Python<'_>,
        ring: &str,
        request: &Bound<'_, PyAny>,
        level: &str,
        as_: &Bound<'_, Identity>,
    ) -> PyResult<()> {
        let request = request_arg(py, request)?;
        let approver = &as_.get().inner;
        self.run(py, true, |h| h.approve(ring, request, level, approver))
    }

    /// Logs the denial of `request` at `level` by the approver `as_` (one valid denial ends
    /// a request).
    #[pyo3(signature = (ring, request, level, *, as_))]
    fn deny(
        &self,
        py: Python<'_>,
        ring: &str,
        request: &Bound<'_, PyAny>,
        level: &str,
        as_: &Bound<'_, Identity>,
    ) -> PyResult<()> {
        let request = request_arg(py, request)?;
        let approver = &as_.get().inner;
        self.run(py, true, |h| h.deny(ring, request, level, approver))
    }

    /// Issues the grant for the approved access request `request` as the key holder `as_`;
    /// returns it (`IssuedGrant`: its id is what `unseal_with_grant` takes).
    #[pyo3(signature = (ring, request, *, as_))]
    fn grant<'py>(
        &self,
        py: Python<'py>,
        ring: &str,
        request: &Bound<'py, PyAny>,
        as_: &Bound<'py, Identity>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let request = request_arg(py, request)?;
        let holder = &as_.get().inner;
        let g = self.run(py, true, |h| h.grant(ring, request, holder))?;
        view!(py, "IssuedGrant", {
            id: g.id.to_string(),
            request: g.request.to_string(),
            requester: g.requester.to_string(),
            not_before: datetime(py, g.not_before)?,
            not_after: datetime(py, g.not_after)?,
            bytes: PyBytes::new(py, &g.bytes),
        })
    }

    // ---- views ----

    /// The ring's keys: epochs, the current key, freshness (`KeyListing`; never key
    /// material).
    fn keys<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyAny>> {
        let k = self.run(py, true, |h| h.keys(ring))?;
        let epochs = PyList::empty(py);
        for e in &k.epochs {
            epochs.append(view!(py, "EpochInfo", {
                epoch: e.epoch,
                state: e.state.name(),
                start: datetime(py, e.start)?,
                end: datetime(py, e.end)?,
                interval: timedelta(py, e.interval_secs)?,
                created: datetime(py, e.created)?,
                retired: opt_datetime(py, e.retired)?,
                readable: PyTuple::new(py, &e.readable)?,
            })?)?;
        }
        let current = match k.current {
            Some(c) => view!(py, "KeyId", {
                ring: c.ring.to_string(),
                epoch: c.epoch,
                interval: c.interval,
            })?,
            None => py.None().into_bound(py),
        };
        view!(py, "KeyListing", {
            ring: k.ring.to_string(),
            current: current,
            write_time: opt_datetime(py, k.write_time)?,
            fresh_until: opt_datetime(py, k.fresh_until)?,
            stale: k.stale,
            pending: k.pending,
            bootstrap: k.bootstrap,
            kek_generation: k.kek_generation,
            epochs: PyTuple::new(py, epochs)?,
        })
    }

    /// The ring as an operator inspects it: members, policy, epochs, warnings (`RingInfo`).
    fn ring_info<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyAny>> {
        let i = self.run(py, true, |h| h.ring_info(ring))?;
        let members = PyList::empty(py);
        for m in &i.members {
            let public =
                dkm_core::PublicIdentity::from_text(&m.public).map_err(|e| to_py(py, e.into()))?;
            members.append(view!(py, "Member", {
                role: m.role.name(),
                id: m.id.to_string(),
                public: PublicIdentity { inner: public },
            })?)?;
        }
        let epochs = PyList::empty(py);
        for (n, s) in &i.epochs {
            epochs.append((*n, s.name()))?;
        }
        view!(py, "RingInfo", {
            name: &i.name,
            id: i.id.to_string(),
            governance_version: i.governance_version,
            applied_version: i.applied_version,
            members: PyTuple::new(py, members)?,
            policy: policy_view(py, &i.policy)?,
            epochs: PyTuple::new(py, epochs)?,
            pending: i.pending,
            warnings: PyTuple::new(py, &i.warnings)?,
        })
    }

    /// The ring's audit chain as stored, oldest first (`AuditRecord`s).
    fn audit_records<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyList>> {
        let rs = self.run(py, true, |h| h.audit_records(ring))?;
        let out = PyList::empty(py);
        for r in &rs {
            let detail = r.detail;
            out.append(view!(py, "AuditRecord", {
                seq: r.seq,
                time: datetime(py, r.time)?,
                action: r.action.name(),
                actor: r.actor().id().to_string(),
                clock_override: r.flags & dkm_core::audit::FLAG_CLOCK_OVERRIDE != 0,
                epoch: detail.epoch,
                grant: detail.grant.map(|g| g.to_string()),
                hash: hex::encode(r.hash()),
                line: dkm_core::audit::AuditRecord::to_json(r),
            })?)?;
        }
        Ok(out)
    }

    /// Verifies the ring's audit chain from the ring's anchor: a broken chain is data
    /// (`AuditReport.problem`), not an error.
    fn audit_verify<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyAny>> {
        let r = self.run(py, true, |h| h.audit_verify(ring))?;
        let (head_seq, head_hash) = match r.head {
            Some(h) => (Some(h.seq), Some(hex::encode(h.hash))),
            None => (None, None),
        };
        view!(py, "AuditReport", {
            records: r.records,
            verified: r.problem.is_none(),
            head_seq: head_seq,
            head_hash: head_hash,
            problem_index: r.problem.map(|p| p.index),
            problem_fault: r.problem.map(|p| p.fault.name()),
        })
    }

    // ---- snapshots ----

    /// The ring with its request log and audit chain, as one file (to move it to another
    /// store).
    fn export_snapshot<'py>(&self, py: Python<'py>, ring: &str) -> PyResult<Bound<'py, PyBytes>> {
        let b = self.run(py, true, |h| h.export_snapshot(ring))?;
        Ok(PyBytes::new(py, &b))
    }

    /// Imports a snapshot into this host's store (verified; the ring's name must be free);
    /// returns the ring's name.
    fn import_snapshot(&self, py: Python<'_>, snapshot: &Bound<'_, PyAny>) -> PyResult<String> {
        let b = convert::data(snapshot, "the snapshot")?;
        let b = &*b;
        self.run(py, true, |h| h.import_snapshot(b))
    }
}

fn seal_only_mode(accept: bool) -> SealOnly {
    if accept {
        SealOnly::Accept
    } else {
        SealOnly::Refuse
    }
}

fn epoch_list(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u32>> {
    if obj.cast::<PyString>().is_ok() {
        return Err(PyTypeError::new_err("epochs must be a sequence of int"));
    }
    let mut out = Vec::new();
    for e in obj.try_iter()? {
        let n = convert::integer(&e?, "an epoch")?;
        out.push(u32::try_from(n).map_err(|_| invalid(py, format!("epoch {n} does not exist")))?);
    }
    Ok(out)
}

/// An opened secret: `plaintext` (bytes) and `origin` (`"key-holder"`: sealed with the
/// ring's key by a key holder, or a grant holder within scope; `"seal-only"`: by anyone with
/// the ring's public part). Its `repr` never shows the plaintext.
#[pyclass(frozen, module = "dkm")]
pub struct Unsealed {
    plaintext: Py<PyBytes>,
    origin: Origin,
}

impl Unsealed {
    fn new(py: Python<'_>, u: &HostUnsealed) -> Unsealed {
        Unsealed {
            plaintext: PyBytes::new(py, &u.plaintext).unbind(),
            origin: u.origin,
        }
    }
}

#[pymethods]
impl Unsealed {
    /// The plaintext.
    #[getter]
    fn plaintext(&self, py: Python<'_>) -> Py<PyBytes> {
        self.plaintext.clone_ref(py)
    }

    /// `"key-holder"` or `"seal-only"`.
    #[getter]
    fn origin(&self) -> &'static str {
        self.origin.name()
    }

    fn __bytes__(&self, py: Python<'_>) -> Py<PyBytes> {
        self.plaintext.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Unsealed(origin='{}', plaintext=<{} bytes>)",
            self.origin.name(),
            self.plaintext.bind(py).as_bytes().len()
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Unsealed>().is_ok_and(|o| {
            let o = o.get();
            // Plaintexts are secrets: compared in constant time (for equal lengths).
            o.origin == self.origin
                && bool::from(subtle::ConstantTimeEq::ct_eq(
                    o.plaintext.bind(py).as_bytes(),
                    self.plaintext.bind(py).as_bytes(),
                ))
        })
    }
}

fn change<'py>(py: Python<'py>, c: &ChangeOutcome) -> PyResult<Bound<'py, PyAny>> {
    match c {
        ChangeOutcome::Applied { version, pending } => view!(py, "ChangeOutcome", {
            outcome: "applied",
            version: Some(*version),
            pending: *pending,
            request: None::<String>,
        }),
        ChangeOutcome::Requested { request } => view!(py, "ChangeOutcome", {
            outcome: "requested",
            version: None::<u64>,
            pending: true,
            request: Some(request.to_string()),
        }),
    }
}

fn events<'py>(py: Python<'py>, es: &[dkm_core::Event]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in es {
        let j = e.to_json();
        let s = |k: &str| j.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let n = |k: &str| j.get(k).and_then(serde_json::Value::as_u64);
        out.append(view!(py, "Event", {
            action: s("action"),
            text: s("text"),
            version: n("version"),
            subject: s("subject"),
            epoch: n("epoch"),
            grant: s("grant"),
        })?)?;
    }
    Ok(out)
}

fn request_view<'py>(py: Python<'py>, r: &dkm_host::RequestView) -> PyResult<Bound<'py, PyAny>> {
    let (duration, since, epochs) = match &r.access {
        Some((secs, Scope::Since(t))) => (
            timedelta(py, *secs)?.unbind(),
            datetime(py, *t)?.unbind(),
            py.None(),
        ),
        Some((secs, Scope::Epochs(e))) => (
            timedelta(py, *secs)?.unbind(),
            py.None(),
            PyTuple::new(py, e)?.into_any().unbind(),
        ),
        None => (py.None(), py.None(), py.None()),
    };
    let levels = PyList::empty(py);
    for (name, n, q) in &r.levels {
        levels.append(view!(py, "LevelTally", {
            level: name,
            approvals: *n,
            quorum: *q,
        })?)?;
    }
    view!(py, "RequestView", {
        id: r.id.to_string(),
        kind: if r.access.is_some() { "access" } else { "governance" },
        description: r.description(),
        author: r.author.to_string(),
        reason: &r.reason,
        created: datetime(py, r.created)?,
        expires: datetime(py, r.expires)?,
        state: r.state.name(),
        duration: duration,
        since: since,
        epochs: epochs,
        change: r.change.as_deref(),
        levels: PyTuple::new(py, levels)?,
    })
}

fn policy_view<'py>(py: Python<'py>, p: &Policy) -> PyResult<Bound<'py, PyAny>> {
    let levels = PyList::empty(py);
    for l in &p.levels {
        let approvers: Vec<String> = l.approvers.iter().map(ToString::to_string).collect();
        levels.append(view!(py, "LevelPolicy", {
            name: &l.name,
            quorum: l.quorum,
            approvers: PyTuple::new(py, approvers)?,
        })?)?;
    }
    view!(py, "Policy", {
        interval: timedelta(py, p.interval_secs)?,
        max_grant: timedelta(py, p.max_grant_secs)?,
        max_lookback: timedelta(py, p.max_lookback_secs)?,
        request_lifetime: timedelta(py, p.request_lifetime_secs)?,
        freshness_intervals: p.freshness_intervals,
        approver_cooloff: timedelta(py, p.approver_cooloff_secs)?,
        levels: PyTuple::new(py, levels)?,
    })
}

/// A `dkm.Policy` as the core's policy (its levels are set with `set_approval_levels`:
/// given at creation they are refused).
fn policy_arg(obj: &Bound<'_, PyAny>) -> PyResult<Policy> {
    let py = obj.py();
    if !obj.is_instance(&convert::view_class(py, "Policy")?)? {
        return Err(PyTypeError::new_err("policy must be a dkm.Policy"));
    }
    if obj.getattr("levels")?.len()? != 0 {
        return Err(invalid(
            py,
            "a ring is created without approval levels: set them with set_approval_levels once its approvers are members",
        ));
    }
    let secs = |k: &str| seconds(&obj.getattr(k)?, k);
    let fi = convert::integer(&obj.getattr("freshness_intervals")?, "freshness_intervals")?;
    Ok(Policy {
        interval_secs: secs("interval")?,
        max_grant_secs: secs("max_grant")?,
        max_lookback_secs: secs("max_lookback")?,
        request_lifetime_secs: secs("request_lifetime")?,
        freshness_intervals: u32::try_from(fi)
            .map_err(|_| invalid(py, "freshness_intervals is at most 64"))?,
        approver_cooloff_secs: secs("approver_cooloff")?,
        levels: Vec::new(),
    })
}

/// A sequence of `dkm.ApprovalLevel` as the host's level specs.
fn levels_arg(obj: &Bound<'_, PyAny>) -> PyResult<Vec<LevelSpec>> {
    let py = obj.py();
    let class = convert::view_class(py, "ApprovalLevel")?;
    if obj.cast::<PyString>().is_ok() {
        return Err(PyTypeError::new_err(
            "levels must be a sequence of dkm.ApprovalLevel",
        ));
    }
    let mut out = Vec::new();
    for l in obj.try_iter()? {
        let l = l?;
        if !l.is_instance(&class)? {
            return Err(PyTypeError::new_err(
                "levels must be a sequence of dkm.ApprovalLevel",
            ));
        }
        let name = convert::text(&l.getattr("name")?, "a level's name")?;
        let q = convert::integer(&l.getattr("quorum")?, "a level's quorum")?;
        let quorum =
            u8::try_from(q).map_err(|_| invalid(py, format!("quorum {q} is not 1 to 32")))?;
        let mut approvers = Vec::new();
        let list = l.getattr("approvers")?;
        if list.cast::<PyString>().is_ok() {
            return Err(PyTypeError::new_err(
                "approvers must be a sequence of PublicIdentity",
            ));
        }
        for a in list.try_iter()? {
            approvers.push(public_arg(&a?, "an approver")?);
        }
        out.push(LevelSpec {
            name,
            quorum,
            approvers,
        });
    }
    Ok(out)
}
