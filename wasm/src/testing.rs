//! Entry points for replaying the raw-key test vectors (`testvectors/v1/sealed.json`,
//! `seal_only.json`, `tree.json`), which hold epoch roots and tree nodes rather than rings.
//! Not part of the API: they take and hand out key material. The package exposes them as
//! `testing` (as Python's `dkm._testing`).

use dkm_core::sealed::{SealedSecret, Suite};
use dkm_core::{EpochKeys, Node, NodePos, NodeSet, RingId, Schedule, Secret32};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;

use crate::convert::{self, JsResult, integer, invalid, js};

fn core<T>(r: dkm_core::Result<T>) -> JsResult<T> {
    js(r.map_err(Into::into))
}

fn secret(v: &JsValue) -> JsResult<Secret32> {
    let b = convert::bytes(v, "a node secret")?;
    let mut a: [u8; 32] = b
        .as_slice()
        .try_into()
        .map_err(|_| invalid("a node secret is 32 bytes"))?;
    Ok(Secret32::from_array(&mut a))
}

fn small<T: TryFrom<u64>>(v: &JsValue, what: &str) -> JsResult<T> {
    T::try_from(integer(v, what)?).map_err(|_| invalid(format!("{what} is out of range")))
}

fn pos(level: &JsValue, index: &JsValue) -> JsResult<NodePos> {
    core(NodePos::new(
        small(level, "a level")?,
        small(index, "an index")?,
    ))
}

/// `[[level, index, secret], ...]` as a node set.
fn node_set(nodes: &JsValue) -> JsResult<NodeSet> {
    let list = nodes
        .dyn_ref::<Array>()
        .ok_or_else(|| convert::type_error("nodes must be an array of [level, index, secret]"))?;
    let nodes = list
        .iter()
        .map(|n| {
            let t: Array = n
                .dyn_into()
                .map_err(|_| convert::type_error("a node is [level, index, secret]"))?;
            Ok(Node::new(pos(&t.get(0), &t.get(1))?, secret(&t.get(2))?))
        })
        .collect::<JsResult<Vec<_>>>()?;
    core(NodeSet::new(nodes))
}

/// The secret of node (`level`, `index`) derived from the epoch root `root`.
#[wasm_bindgen(js_name = "testingTreeDerive")]
pub fn tree_derive(root: &JsValue, level: &JsValue, index: &JsValue) -> JsResult<Uint8Array> {
    let n = core(Node::root(secret(root)?).derive(pos(level, index)?))?;
    Ok(Uint8Array::from(&n.secret().expose()[..]))
}

/// The minimal cover of intervals `first`..=`last`: `[level, index]` pairs.
#[wasm_bindgen(js_name = "testingTreeCover")]
pub fn tree_cover(first: &JsValue, last: &JsValue) -> JsResult<Array> {
    let c = core(dkm_core::cover(
        small(first, "first")?,
        small(last, "last")?,
    ))?;
    Ok(c.iter()
        .map(|p| {
            let [level, hi, lo] = p.to_bytes();
            let index = u16::from_be_bytes([hi, lo]);
            JsValue::from(Array::of2(&JsValue::from(level), &JsValue::from(index)))
        })
        .collect())
}

/// The ranges `[first, last]` of intervals a node set derives.
#[wasm_bindgen(js_name = "testingTreeRanges")]
pub fn tree_ranges(nodes: &JsValue) -> JsResult<Array> {
    Ok(node_set(nodes)?
        .ranges()
        .iter()
        .map(|(a, b)| JsValue::from(Array::of2(&JsValue::from(*a), &JsValue::from(*b))))
        .collect())
}

/// The leaf of `interval` derived from a node set (`UnknownKey` when it cannot).
#[wasm_bindgen(js_name = "testingTreeLeaf")]
pub fn tree_leaf(nodes: &JsValue, interval: &JsValue) -> JsResult<Uint8Array> {
    let leaf = core(node_set(nodes)?.leaf(small(interval, "the interval")?))?;
    Ok(Uint8Array::from(&leaf.secret().expose()[..]))
}

fn epoch(
    ring_id: &JsValue,
    epoch: &JsValue,
    start: &JsValue,
    interval_secs: &JsValue,
    root: &JsValue,
) -> JsResult<EpochKeys> {
    let ring: [u8; 16] = convert::bytes(ring_id, "the ring id")?
        .as_slice()
        .try_into()
        .map_err(|_| invalid("a ring id is 16 bytes"))?;
    let schedule = core(Schedule::new(
        integer(start, "the schedule's start")?,
        integer(interval_secs, "the schedule's interval")?,
    ))?;
    Ok(EpochKeys::new(
        RingId(ring),
        small(epoch, "the epoch")?,
        schedule,
        NodeSet::from_root(secret(root)?),
    ))
}

/// The interval of time `now` (Unix seconds) in an epoch's schedule.
#[wasm_bindgen(js_name = "testingKeyIntervalAt")]
pub fn key_interval_at(
    ring_id: &JsValue,
    epoch_no: &JsValue,
    start: &JsValue,
    interval_secs: &JsValue,
    root: &JsValue,
    now: &JsValue,
) -> JsResult<u16> {
    let e = epoch(ring_id, epoch_no, start, interval_secs, root)?;
    Ok(core(e.key_id_at(integer(now, "now")?))?.interval)
}

/// Opens a sealed secret (either suite) with the keys of one epoch given by its root.
#[wasm_bindgen(js_name = "testingUnsealRaw")]
#[allow(clippy::too_many_arguments)]
pub fn unseal_raw(
    ring_id: &JsValue,
    epoch_no: &JsValue,
    start: &JsValue,
    interval_secs: &JsValue,
    root: &JsValue,
    sealed: &JsValue,
    context: &JsValue,
) -> JsResult<Uint8Array> {
    let mut e = epoch(ring_id, epoch_no, start, interval_secs, root)?;
    let bytes = convert::bytes(sealed, "the sealed secret")?;
    let ctx = convert::opt_data(context, "the context")?;
    let s = core(SealedSecret::parse(&bytes))?;
    let keys = core(e.keys_for(&s.key_id()))?;
    let pt = core(match s.suite() {
        Suite::Xaes256GcmCommit => keys.unseal(&s, &ctx),
        Suite::HpkeX25519Xaes256GcmCommit => keys.unseal_seal_only(&s, &ctx),
    })?;
    Ok(Uint8Array::from(&pt[..]))
}
