//! Private entry points for replaying the raw-key test vectors (`testvectors/v1/sealed.json`,
//! `seal_only.json`, `tree.json`), which hold epoch roots and tree nodes rather than rings.
//! Not part of the API: they hand out key material. Reached as `dkm._testing`.

use dkm_core::sealed::{SealedSecret, Suite};
use dkm_core::{EpochKeys, Node, NodePos, NodeSet, RingId, Schedule, Secret32};
use dkm_host::HostError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::to_py;

fn err(py: Python<'_>, e: dkm_core::Error) -> PyErr {
    to_py(py, HostError::from(e))
}

fn secret(py: Python<'_>, bytes: &[u8]) -> PyResult<Secret32> {
    let mut a: [u8; 32] = bytes
        .try_into()
        .map_err(|_| crate::errors::invalid(py, "a node secret is 32 bytes"))?;
    Ok(Secret32::from_array(&mut a))
}

fn pos(py: Python<'_>, level: u8, index: u16) -> PyResult<NodePos> {
    NodePos::new(level, index).map_err(|e| err(py, e))
}

fn node_set(py: Python<'_>, nodes: Vec<(u8, u16, Vec<u8>)>) -> PyResult<NodeSet> {
    let nodes = nodes
        .into_iter()
        .map(|(l, i, s)| Ok(Node::new(pos(py, l, i)?, secret(py, &s)?)))
        .collect::<PyResult<Vec<_>>>()?;
    NodeSet::new(nodes).map_err(|e| err(py, e))
}

/// The secret of node (`level`, `index`) derived from the epoch root `root`.
#[pyfunction]
pub fn tree_derive<'py>(
    py: Python<'py>,
    root: &[u8],
    level: u8,
    index: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let n = Node::root(secret(py, root)?)
        .derive(pos(py, level, index)?)
        .map_err(|e| err(py, e))?;
    Ok(PyBytes::new(py, n.secret().expose()))
}

/// The minimal cover of intervals `first`..=`last`: (level, index) pairs.
#[pyfunction]
pub fn tree_cover(py: Python<'_>, first: u16, last: u16) -> PyResult<Vec<(u8, u16)>> {
    let c = dkm_core::cover(first, last).map_err(|e| err(py, e))?;
    Ok(c.iter()
        .map(|p| {
            let b = p.to_bytes();
            (b[0], u16::from_be_bytes([b[1], b[2]]))
        })
        .collect())
}

/// The ranges of intervals a node set (of (level, index, secret)) derives.
#[pyfunction]
pub fn tree_ranges(py: Python<'_>, nodes: Vec<(u8, u16, Vec<u8>)>) -> PyResult<Vec<(u16, u16)>> {
    Ok(node_set(py, nodes)?.ranges())
}

/// The leaf of `interval` derived from a node set (`UnknownKey` when it cannot).
#[pyfunction]
pub fn tree_leaf<'py>(
    py: Python<'py>,
    nodes: Vec<(u8, u16, Vec<u8>)>,
    interval: u16,
) -> PyResult<Bound<'py, PyBytes>> {
    let leaf = node_set(py, nodes)?
        .leaf(interval)
        .map_err(|e| err(py, e))?;
    Ok(PyBytes::new(py, leaf.secret().expose()))
}

fn epoch(
    py: Python<'_>,
    ring_id: &[u8],
    epoch: u32,
    (start, interval_secs): (u64, u64),
    root: &[u8],
) -> PyResult<EpochKeys> {
    let ring: [u8; 16] = ring_id
        .try_into()
        .map_err(|_| crate::errors::invalid(py, "a ring id is 16 bytes"))?;
    let schedule = Schedule::new(start, interval_secs).map_err(|e| err(py, e))?;
    Ok(EpochKeys::new(
        RingId(ring),
        epoch,
        schedule,
        NodeSet::from_root(secret(py, root)?),
    ))
}

/// The interval of time `now` in an epoch's schedule.
#[pyfunction]
pub fn key_interval_at(
    py: Python<'_>,
    ring_id: &[u8],
    epoch_no: u32,
    schedule: (u64, u64),
    root: &[u8],
    now: u64,
) -> PyResult<u16> {
    let e = epoch(py, ring_id, epoch_no, schedule, root)?;
    Ok(e.key_id_at(now).map_err(|e| err(py, e))?.interval)
}

/// Opens a sealed secret (either suite) with the keys of one epoch given by its root.
#[pyfunction]
pub fn unseal_raw<'py>(
    py: Python<'py>,
    ring_id: &[u8],
    epoch_no: u32,
    schedule: (u64, u64),
    root: &[u8],
    sealed: &[u8],
    context: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let mut e = epoch(py, ring_id, epoch_no, schedule, root)?;
    let s = SealedSecret::parse(sealed).map_err(|x| err(py, x))?;
    let keys = e.keys_for(&s.key_id()).map_err(|x| err(py, x))?;
    let pt = match s.suite() {
        Suite::Xaes256GcmCommit => keys.unseal(&s, context),
        Suite::HpkeX25519Xaes256GcmCommit => keys.unseal_seal_only(&s, context),
    }
    .map_err(|x| err(py, x))?;
    Ok(PyBytes::new(py, &pt))
}

/// The `dkm._testing` module.
pub fn module(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    let m = PyModule::new(py, "_testing")?;
    m.add(
        "__doc__",
        "Private: raw-key entry points for the test vectors. Not part of dkm's API; they hand out key material.",
    )?;
    m.add_function(wrap_pyfunction!(tree_derive, &m)?)?;
    m.add_function(wrap_pyfunction!(tree_cover, &m)?)?;
    m.add_function(wrap_pyfunction!(tree_ranges, &m)?)?;
    m.add_function(wrap_pyfunction!(tree_leaf, &m)?)?;
    m.add_function(wrap_pyfunction!(key_interval_at, &m)?)?;
    m.add_function(wrap_pyfunction!(unseal_raw, &m)?)?;
    Ok(m)
}
