//! JS values in and out: errors as `DkmError`, bytes, text, times, and views as their JSON
//! forms. Nothing here knows a rule of the ring.

use std::cell::RefCell;

use dkm_core::ErrorKind;
use dkm_host::HostError;
use dkm_host::views::ToJson;
use js_sys::{Array, Date, Function, JsString, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

/// What a conversion or a verb throws.
pub type JsResult<T> = Result<T, JsValue>;

thread_local! {
    /// The package's `DkmError` class, registered by its entry module at load.
    static ERROR_CLASS: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// Registers the class errors are thrown as: `new cls(message, kind, code)`. The package's
/// entry modules call this once, at load, with their `DkmError`.
#[wasm_bindgen(js_name = "setErrorClass")]
pub fn set_error_class(cls: Function) {
    ERROR_CLASS.with(|c| *c.borrow_mut() = Some(cls));
}

/// The error kinds' names, by code (index 0 is code 1).
#[wasm_bindgen(js_name = "errorKinds")]
pub fn error_kinds() -> Vec<String> {
    ErrorKind::ALL.iter().map(|k| k.name().to_owned()).collect()
}

/// A host error as a thrown `DkmError` (a plain `Error` with `name`, `kind` and `code` when
/// no class is registered).
pub fn host_error(e: &HostError) -> JsValue {
    let (message, kind) = (e.message(), e.kind());
    let class = ERROR_CLASS.with(|c| c.borrow().clone());
    if let Some(cls) = class {
        let args = Array::of3(
            &JsValue::from_str(message),
            &JsValue::from_str(kind.name()),
            &JsValue::from(kind.code()),
        );
        if let Ok(err) = Reflect::construct(&cls, &args) {
            return err;
        }
    }
    let err = js_sys::Error::new(message);
    err.set_name("DkmError");
    // Setting a property on a fresh Error cannot fail.
    let _ = Reflect::set(&err, &"kind".into(), &kind.name().into());
    let _ = Reflect::set(&err, &"code".into(), &kind.code().into());
    err.into()
}

/// Any result of the host's as a JS result.
pub fn js<T>(r: dkm_host::Result<T>) -> JsResult<T> {
    r.map_err(|e| host_error(&e))
}

/// A `DkmError` of `kind`.
pub fn error(kind: ErrorKind, message: impl Into<String>) -> JsValue {
    host_error(&HostError::new(kind, message))
}

/// `InvalidInput`.
pub fn invalid(message: impl Into<String>) -> JsValue {
    error(ErrorKind::InvalidInput, message)
}

/// A `TypeError` (a value of the wrong JS type: a caller's bug, as in every JS API).
pub fn type_error(message: impl AsRef<str>) -> JsValue {
    js_sys::TypeError::new(message.as_ref()).into()
}

/// Whether `v` is absent (`undefined` or `null`).
pub fn absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// Bytes: a `Uint8Array` (copied into wasm memory, wiped when dropped) or a string (its
/// UTF-8 bytes).
pub fn data(v: &JsValue, what: &str) -> JsResult<Zeroizing<Vec<u8>>> {
    if let Some(b) = v.dyn_ref::<Uint8Array>() {
        return Ok(Zeroizing::new(b.to_vec()));
    }
    if let Some(s) = v.as_string() {
        return Ok(Zeroizing::new(s.into_bytes()));
    }
    Err(type_error(format!(
        "{what} must be a Uint8Array or a string"
    )))
}

/// Public bytes given as a `Uint8Array` or a string (a sealed secret, binary or armored):
/// copied without the wipe on drop that a plaintext gets (1 MiB wiped byte by byte costs
/// about a millisecond in WASM).
pub fn public_data(v: &JsValue, what: &str) -> JsResult<Vec<u8>> {
    if let Some(b) = v.dyn_ref::<Uint8Array>() {
        return Ok(b.to_vec());
    }
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    Err(type_error(format!(
        "{what} must be a Uint8Array or a string"
    )))
}

/// Optional bytes (absent: empty), such as a context.
pub fn opt_data(v: &JsValue, what: &str) -> JsResult<Zeroizing<Vec<u8>>> {
    if absent(v) {
        return Ok(Zeroizing::new(Vec::new()));
    }
    data(v, what)
}

/// Bytes that are never secret: a `Uint8Array` only.
pub fn bytes(v: &JsValue, what: &str) -> JsResult<Vec<u8>> {
    v.dyn_ref::<Uint8Array>()
        .map(Uint8Array::to_vec)
        .ok_or_else(|| type_error(format!("{what} must be a Uint8Array")))
}

/// A string.
pub fn text(v: &JsValue, what: &str) -> JsResult<String> {
    v.as_string()
        .ok_or_else(|| type_error(format!("{what} must be a string")))
}

/// A whole non-negative number (a JS number that is an integer up to 2^53).
pub fn integer(v: &JsValue, what: &str) -> JsResult<u64> {
    let n = v
        .as_f64()
        .ok_or_else(|| type_error(format!("{what} must be a number")))?;
    if !n.is_finite() || n.fract() != 0.0 || !(0.0..=9_007_199_254_740_991.0).contains(&n) {
        return Err(invalid(format!(
            "{what} must be a whole number from 0 to 2^53 - 1"
        )));
    }
    // Exact: a whole number within 2^53.
    Ok(n as u64)
}

/// A time: a `Date` or a number of milliseconds since 1970 (as `Date.now()`), as Unix
/// seconds (rounded down).
pub fn time(v: &JsValue, what: &str) -> JsResult<u64> {
    let ms = if let Some(d) = v.dyn_ref::<Date>() {
        d.get_time()
    } else if let Some(n) = v.as_f64() {
        n
    } else {
        return Err(type_error(format!(
            "{what} must be a Date or a number of milliseconds since 1970"
        )));
    };
    if !ms.is_finite() || !(0.0..=8_640_000_000_000_000.0).contains(&ms) {
        return Err(error(
            ErrorKind::OutOfRange,
            format!("{what} is not a time from 1970 on"),
        ));
    }
    // Within Date's range: whole seconds fit.
    Ok((ms / 1000.0).floor() as u64)
}

/// Bytes to a new `Uint8Array`.
pub fn to_array(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// A view as its JSON form (docs/API.md: one JSON form per view), as a JS value.
pub fn view(v: &impl ToJson) -> JsResult<JsValue> {
    json(&v.to_json())
}

/// A JSON value as a JS value.
pub fn json(v: &serde_json::Value) -> JsResult<JsValue> {
    js_sys::JSON::parse(&v.to_string())
}

/// A list of views.
pub fn views<T: ToJson>(vs: &[T]) -> JsResult<JsValue> {
    json(&serde_json::Value::Array(
        vs.iter().map(ToJson::to_json).collect(),
    ))
}

/// A JS string array (lines) as strings.
pub fn strings(v: &JsValue, what: &str) -> JsResult<Vec<String>> {
    let a = v
        .dyn_ref::<Array>()
        .ok_or_else(|| type_error(format!("{what} must be an array of strings")))?;
    a.iter()
        .map(|x| {
            x.dyn_ref::<JsString>()
                .map(String::from)
                .ok_or_else(|| type_error(format!("{what} must be an array of strings")))
        })
        .collect()
}

/// Property `key` of object `o`.
pub fn get(o: &JsValue, key: &str) -> JsResult<JsValue> {
    Reflect::get(o, &JsValue::from_str(key))
}

/// A plain object from key-value pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsResult<JsValue> {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v)?;
    }
    Ok(o.into())
}
