//! Stores: the memory store, a synchronous store given as a JS object (over the host's
//! foreign-store primitives), and the JS forms of a snapshot and a write set (asynchronous
//! storage, driven by the package's `AsyncHost`).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

use dkm_core::ErrorKind;
use dkm_host::foreign::{Commit, ForeignStore, RingWrite, Stream};
use dkm_host::{HostError, RingData, Snapshot, Store};
use js_sys::{Array, Function, Object, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{self, JsResult, absent, get, object};

/// A store in memory: rings, request logs and audit chains of this page or process only,
/// each write atomic; lost with the object. Rings move in and out with
/// `host.exportSnapshot` and `host.importSnapshot`. Several hosts may share one.
#[wasm_bindgen]
#[derive(Default)]
pub struct MemoryStore {
    pub(crate) inner: Arc<dkm_host::MemoryStore>,
}

#[wasm_bindgen]
impl MemoryStore {
    /// An empty memory store.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// The names of the rings it holds.
    pub fn names(&self) -> JsResult<Vec<String>> {
        convert::js(self.inner.rings())
    }
}

thread_local! {
    /// The JS store objects hosts run on, by handle (wasm32 has one thread: a handle is all
    /// a host, which must be `Send + Sync`, keeps).
    static OBJECTS: RefCell<BTreeMap<u32, JsValue>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT: Cell<u32> = const { Cell::new(0) };
}

/// A synchronous store given as a JS object with the methods `ring`, `lineCount`,
/// `lastLine`, `linesFrom`, `commit`, `names` and `location` (see the package's
/// `SyncStore` type).
pub struct JsStore {
    handle: u32,
}

impl JsStore {
    /// The store over `obj`, after checking it has every method.
    pub fn new(obj: JsValue) -> JsResult<JsStore> {
        for m in [
            "ring",
            "lineCount",
            "lastLine",
            "linesFrom",
            "commit",
            "names",
            "location",
        ] {
            if !get(&obj, m)?.is_function() {
                return Err(convert::type_error(format!(
                    "a store must be a MemoryStore or an object with the store methods; this one has no method {m:?}"
                )));
            }
        }
        let handle = NEXT.with(|n| {
            let h = n.get();
            n.set(h.wrapping_add(1));
            h
        });
        OBJECTS.with(|o| o.borrow_mut().insert(handle, obj));
        Ok(JsStore { handle })
    }

    /// Calls `method` with `args`; a throw or a missing object is `StoreUnavailable` (or the
    /// `DkmError` kind it carries, when `keep` lists it).
    fn call(
        &self,
        method: &str,
        args: &[JsValue],
        keep: &[ErrorKind],
    ) -> dkm_host::Result<JsValue> {
        let obj = OBJECTS
            .with(|o| o.borrow().get(&self.handle).cloned())
            .ok_or_else(|| unavailable(method, "the store object is gone"))?;
        let f: Function = get(&obj, method)
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| unavailable(method, "it is not a function"))?;
        let array = args.iter().collect::<Array>();
        f.apply(&obj, &array).map_err(|e| {
            let message = error_message(&e);
            let kind = get(&e, "kind")
                .ok()
                .and_then(|k| k.as_string())
                .and_then(|k| keep.iter().copied().find(|c| c.name() == k));
            match kind {
                Some(k) => HostError::new(k, format!("the store's {method}: {message}")),
                None => unavailable(method, &message),
            }
        })
    }
}

impl Drop for JsStore {
    fn drop(&mut self) {
        // `try_with`: nothing to release once the thread's storage is gone.
        let _ = OBJECTS.try_with(|o| o.borrow_mut().remove(&self.handle));
    }
}

fn unavailable(method: &str, why: &str) -> HostError {
    HostError::new(
        ErrorKind::StoreUnavailable,
        format!("the store's {method} failed: {why}"),
    )
}

fn bad_answer(method: &str, what: &str) -> HostError {
    unavailable(method, &format!("it must return {what}"))
}

/// A thrown value's message (an `Error`'s, else its string form).
pub fn error_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string()
        .unwrap_or_else(|| String::from(js_sys::JSON::stringify(e).unwrap_or_else(|_| "?".into())))
}

fn stream_name(s: Stream) -> JsValue {
    JsValue::from_str(s.name())
}

/// A ring's bytes and token as the store or snapshot gives them: `{bytes, token}` or
/// absent.
fn ring_of(v: &JsValue, method: &str) -> dkm_host::Result<Option<(Vec<u8>, String)>> {
    if absent(v) {
        return Ok(None);
    }
    let what = "null or {bytes: Uint8Array, token: string}";
    let bytes = get(v, "bytes")
        .ok()
        .and_then(|b| b.dyn_into::<Uint8Array>().ok())
        .ok_or_else(|| bad_answer(method, what))?;
    let token = get(v, "token")
        .ok()
        .and_then(|t| t.as_string())
        .ok_or_else(|| bad_answer(method, what))?;
    Ok(Some((bytes.to_vec(), token)))
}

fn lines_of(v: &JsValue, method: &str) -> dkm_host::Result<Vec<String>> {
    convert::strings(v, "lines").map_err(|_| bad_answer(method, "an array of strings"))
}

impl ForeignStore for JsStore {
    fn ring(&self, name: &str) -> dkm_host::Result<Option<(Vec<u8>, String)>> {
        let v = self.call("ring", &[name.into()], &[])?;
        ring_of(&v, "ring")
    }

    fn line_count(&self, name: &str, stream: Stream) -> dkm_host::Result<u64> {
        let v = self.call("lineCount", &[name.into(), stream_name(stream)], &[])?;
        convert::integer(&v, "a line count").map_err(|_| bad_answer("lineCount", "a whole number"))
    }

    fn last_line(&self, name: &str, stream: Stream) -> dkm_host::Result<Option<String>> {
        let v = self.call("lastLine", &[name.into(), stream_name(stream)], &[])?;
        if absent(&v) {
            return Ok(None);
        }
        v.as_string()
            .map(Some)
            .ok_or_else(|| bad_answer("lastLine", "a string or null"))
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> dkm_host::Result<Vec<String>> {
        // Line indexes stay far below 2^53.
        let v = self.call(
            "linesFrom",
            &[name.into(), stream_name(stream), JsValue::from(from as f64)],
            &[],
        )?;
        lines_of(&v, "linesFrom")
    }

    fn commit(&self, name: &str, commit: &Commit) -> dkm_host::Result<()> {
        let c = commit_js(commit).map_err(|e| unavailable("commit", &error_message(&e)))?;
        let v = self.call("commit", &[name.into(), c], &[ErrorKind::Conflict])?;
        if v.as_bool() == Some(false) {
            return Err(HostError::new(
                ErrorKind::Conflict,
                "the store's commit found the ring or a stream changed: retry",
            ));
        }
        Ok(())
    }

    fn names(&self) -> dkm_host::Result<Vec<String>> {
        let v = self.call("names", &[], &[])?;
        lines_of(&v, "names")
    }

    fn location(&self) -> String {
        // A location that cannot be read names this object alone.
        self.call("location", &[], &[])
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_else(|| format!("js-store:{}", self.handle))
    }
}

/// A commit as JS: `{ring: {expectedToken, bytes} | null, appends: [{stream, expectedCount,
/// lines}], moveTo: string | null}`.
pub fn commit_js(c: &Commit) -> JsResult<JsValue> {
    let ring = match &c.ring {
        Some(RingWrite {
            expected_token,
            bytes,
        }) => object(&[
            (
                "expectedToken",
                expected_token
                    .as_deref()
                    .map_or(JsValue::NULL, JsValue::from_str),
            ),
            ("bytes", convert::to_array(bytes)),
        ])?,
        None => JsValue::NULL,
    };
    let appends = Array::new();
    for (s, count, lines) in &c.appends {
        let l: Array = lines.iter().map(|x| JsValue::from_str(x)).collect();
        appends.push(&object(&[
            ("stream", stream_name(*s)),
            ("expectedCount", JsValue::from(*count as f64)),
            ("lines", l.into()),
        ])?);
    }
    object(&[
        ("ring", ring),
        ("appends", appends.into()),
        (
            "moveTo",
            c.move_to
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
        ),
    ])
}

/// A write set as JS: `[{name, ring, appends, moveTo}]`.
pub fn write_set_js(ws: &[(String, Commit)]) -> JsResult<JsValue> {
    let out = Array::new();
    for (name, c) in ws {
        let o = commit_js(c)?;
        js_sys::Reflect::set(&o, &"name".into(), &JsValue::from_str(name))?;
        out.push(&o);
    }
    Ok(out.into())
}

/// A snapshot the driver read: `{location: string, rings: {NAME: {ring: {bytes, token} |
/// null, audit: string[], requests: string[]}}}`.
pub fn snapshot_arg(v: &JsValue) -> JsResult<Snapshot> {
    // The storage's answer, not the caller's argument: a bad one means the storage failed.
    let bad = |what: &str| {
        convert::error(
            ErrorKind::StoreUnavailable,
            format!("the storage's read returned a bad snapshot: its {what}"),
        )
    };
    if !v.is_object() {
        return Err(bad("value must be {location, rings}"));
    }
    let location = get(v, "location")?
        .as_string()
        .ok_or_else(|| bad("location must be a string"))?;
    let rings = get(v, "rings")?;
    let rings_obj = rings
        .dyn_ref::<Object>()
        .ok_or_else(|| bad("rings must be an object of ring names"))?;
    let mut out = BTreeMap::new();
    for entry in Object::entries(rings_obj).iter() {
        let pair: Array = entry.dyn_into()?;
        let name = pair.get(0).as_string().ok_or_else(|| bad("ring names"))?;
        let d = pair.get(1);
        if !d.is_object() {
            return Err(bad("rings must be {ring, audit, requests} objects"));
        }
        let ring = ring_of(&get(&d, "ring")?, "read")
            .map_err(|_| bad("ring must be null or {bytes: Uint8Array, token: string}"))?;
        let lines = |k: &str| -> JsResult<Vec<String>> {
            let l = get(&d, k)?;
            if absent(&l) {
                return Ok(Vec::new());
            }
            convert::strings(&l, k).map_err(|_| bad("lines must be arrays of strings"))
        };
        out.insert(
            name,
            RingData {
                ring,
                audit: lines("audit")?,
                requests: lines("requests")?,
            },
        );
    }
    Ok(Snapshot {
        rings: out,
        location,
    })
}
