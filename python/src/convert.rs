//! Python values to Rust and back: bytes-like data, aware datetimes, durations, and the view
//! classes of `dkm._views` (frozen dataclasses) built from keyword arguments.

use std::ops::Deref;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};
use zeroize::Zeroizing;

use crate::errors::invalid;

/// Bytes from Python: borrowed from an immutable `bytes` object, else copied (and wiped when
/// dropped) from a `bytearray` or `memoryview`, which another thread could change while the
/// GIL is released.
pub(crate) enum Data<'a> {
    /// A `bytes` object's contents.
    Borrowed(&'a [u8]),
    /// A copy.
    Owned(Zeroizing<Vec<u8>>),
}

impl Deref for Data<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Data::Borrowed(b) => b,
            Data::Owned(v) => v,
        }
    }
}

/// The name of `obj`'s type, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

/// `obj` as bytes: `bytes`, `bytearray` or `memoryview` (of bytes); anything else is a
/// `TypeError` naming `what`.
pub(crate) fn data<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Data<'a>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Data::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Data::Owned(Zeroizing::new(b.to_vec())));
    }
    if is_memoryview(obj)? {
        let copy = obj.call_method0("tobytes")?;
        let b = copy.cast::<PyBytes>().map_err(|_| {
            PyTypeError::new_err(format!("{what}: memoryview.tobytes() gave no bytes"))
        })?;
        return Ok(Data::Owned(Zeroizing::new(b.as_bytes().to_vec())));
    }
    Err(PyTypeError::new_err(format!(
        "{what} must be bytes, bytearray or memoryview, not {}",
        type_name(obj)
    )))
}

fn is_memoryview(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    static MEMORYVIEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = obj.py();
    let t = MEMORYVIEW.get_or_try_init(py, || {
        Ok::<_, PyErr>(py.import("builtins")?.getattr("memoryview")?.unbind())
    })?;
    obj.is_instance(t.bind(py))
}

/// A sealed secret as given to an unseal: bytes-like (binary or armored bytes) or an armored
/// `str`.
pub(crate) fn sealed<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<Data<'a>> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Data::Owned(Zeroizing::new(s.to_cow()?.as_bytes().to_vec())));
    }
    data(obj, "the sealed secret").map_err(|_| {
        PyTypeError::new_err(format!(
            "the sealed secret must be bytes, bytearray, memoryview or an armored str, not {}",
            type_name(obj)
        ))
    })
}

/// `obj` as a `str`, a `TypeError` naming `what` otherwise.
pub(crate) fn text(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what} must be a str, not {}",
            type_name(obj)
        ))),
    }
}

struct Time {
    datetime: Py<PyAny>,
    timedelta: Py<PyAny>,
    utc: Py<PyAny>,
    max: Py<PyAny>,
}

fn time(py: Python<'_>) -> PyResult<&Time> {
    static TIME: PyOnceLock<Time> = PyOnceLock::new();
    TIME.get_or_try_init(py, || {
        let m = py.import("datetime")?;
        let utc = m.getattr("timezone")?.getattr("utc")?;
        let max = m.getattr("datetime")?.getattr("max")?;
        let kw = PyDict::new(py);
        kw.set_item("tzinfo", &utc)?;
        let max = max.call_method("replace", (), Some(&kw))?;
        Ok::<_, PyErr>(Time {
            datetime: m.getattr("datetime")?.unbind(),
            timedelta: m.getattr("timedelta")?.unbind(),
            utc: utc.unbind(),
            max: max.unbind(),
        })
    })
}

/// The latest second a `datetime` holds (9999-12-31T23:59:59Z).
const MAX_SECS: u64 = 253_402_300_799;

/// Unix seconds as an aware UTC `datetime` (times past the year 9999 show as `datetime.max`
/// in UTC).
pub(crate) fn datetime(py: Python<'_>, secs: u64) -> PyResult<Bound<'_, PyAny>> {
    let t = time(py)?;
    if secs > MAX_SECS {
        return Ok(t.max.bind(py).clone());
    }
    t.datetime
        .bind(py)
        .call_method1("fromtimestamp", (secs, t.utc.bind(py)))
}

/// An optional time.
pub(crate) fn opt_datetime(py: Python<'_>, secs: Option<u64>) -> PyResult<Bound<'_, PyAny>> {
    match secs {
        Some(s) => datetime(py, s),
        None => Ok(py.None().into_bound(py)),
    }
}

/// Seconds as a `timedelta`.
pub(crate) fn timedelta(py: Python<'_>, secs: u64) -> PyResult<Bound<'_, PyAny>> {
    let kw = PyDict::new(py);
    kw.set_item("seconds", secs)?;
    time(py)?.timedelta.bind(py).call((), Some(&kw))
}

/// An aware `datetime` as Unix seconds (rounded down); a naive one is `InvalidInput` (it
/// names no instant), anything else a `TypeError`.
pub(crate) fn unix(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    let py = obj.py();
    if !obj.is_instance(time(py)?.datetime.bind(py))? {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a datetime, not {}",
            type_name(obj)
        )));
    }
    if obj.getattr("tzinfo")?.is_none() || obj.call_method0("utcoffset")?.is_none() {
        return Err(invalid(
            py,
            format!(
                "{what} is a naive datetime: give one with a time zone (e.g. tzinfo=datetime.timezone.utc)"
            ),
        ));
    }
    let secs: f64 = obj.call_method0("timestamp")?.extract()?;
    if !(0.0..=MAX_SECS as f64).contains(&secs) {
        return Err(invalid(py, format!("{what} is before 1970")));
    }
    // In range and non-negative: the cast keeps the whole seconds.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(secs.floor() as u64)
}

/// A duration: a `timedelta` of whole seconds, or an `int` of seconds; negative or fractional
/// durations are `InvalidInput`, anything else a `TypeError`.
pub(crate) fn seconds(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    let py = obj.py();
    if obj.is_instance(time(py)?.timedelta.bind(py))? {
        let days: i64 = obj.getattr("days")?.extract()?;
        let secs: i64 = obj.getattr("seconds")?.extract()?;
        let micros: i64 = obj.getattr("microseconds")?.extract()?;
        if micros != 0 {
            return Err(invalid(py, format!("{what} must be whole seconds")));
        }
        let total = days.checked_mul(86_400).and_then(|d| d.checked_add(secs));
        return match total.and_then(|t| u64::try_from(t).ok()) {
            Some(t) => Ok(t),
            None => Err(invalid(py, format!("{what} is negative"))),
        };
    }
    if !obj.is_instance_of::<pyo3::types::PyInt>() || obj.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be a timedelta or an int of seconds, not {}",
            type_name(obj)
        )));
    }
    integer(obj, what)
}

/// A non-negative `int` (not a `bool`); a negative one is `InvalidInput`.
pub(crate) fn integer(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<u64> {
    let py = obj.py();
    if obj.is_instance_of::<pyo3::types::PyBool>() || !obj.is_instance_of::<pyo3::types::PyInt>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be an int, not {}",
            type_name(obj)
        )));
    }
    match obj.extract::<u64>() {
        Ok(v) => Ok(v),
        Err(_) if obj.lt(0)? => Err(invalid(py, format!("{what} must not be negative"))),
        Err(_) => Err(invalid(py, format!("{what} is too large"))),
    }
}

/// A class of `dkm._views`.
pub(crate) fn view_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static VIEWS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let m = VIEWS.get_or_try_init(py, || Ok::<_, PyErr>(py.import("dkm._views")?.unbind()))?;
    m.bind(py).getattr(name)
}

/// Builds view `$class` of `dkm._views` from `field = value` pairs.
macro_rules! view {
    ($py:expr, $class:literal, { $($field:ident : $value:expr),* $(,)? }) => {{
        let py = $py;
        let kw = pyo3::types::PyDict::new(py);
        $(kw.set_item(stringify!($field), $value)?;)*
        $crate::convert::view_class(py, $class)?.call((), Some(&kw))
    }};
}
pub(crate) use view;
