//! The Python binding of dkm: the native module `dkm._native`, re-exported by the `dkm`
//! package (`python/dkm/__init__.py`). It converts Python values to the host's and back and
//! calls one host verb per method; every rule of the ring lives in `dkm-core` and `dkm-host`.

mod convert;
mod errors;
mod fork;
mod host;
mod identity;
mod store;
mod testing;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    fork::init();
    errors::register(m)?;
    m.add_class::<identity::Identity>()?;
    m.add_class::<identity::PublicIdentity>()?;
    m.add_class::<identity::RingPublic>()?;
    m.add_class::<identity::MemoryPins>()?;
    m.add_class::<store::FileStore>()?;
    m.add_class::<store::MemoryStore>()?;
    m.add_class::<store::EtcdStore>()?;
    m.add_class::<host::Host>()?;
    m.add_class::<host::Unsealed>()?;
    m.add_submodule(&testing::module(m.py())?)?;
    Ok(())
}
