"""Private: raw-key entry points for replaying dkm's test vectors (epoch roots and tree
nodes rather than rings). Not part of dkm's API; they hand out key material."""

from ._native import _testing as _t

tree_derive = _t.tree_derive
tree_cover = _t.tree_cover
tree_ranges = _t.tree_ranges
tree_leaf = _t.tree_leaf
key_interval_at = _t.key_interval_at
unseal_raw = _t.unseal_raw
