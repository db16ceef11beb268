//! Every label and binding string dkm feeds to a hash, MAC, KDF or signature.
//!
//! Frozen: changing one changes every key, commitment or signature derived with it, so a
//! change here is a new format version. `docs/SPEC.md` lists the same strings.

/// GGM tree: the left child of a node is `HMAC-SHA-256(node, TREE_LEFT)`.
pub const TREE_LEFT: &[u8] = b"dkm1/tree/0";
/// GGM tree: the right child of a node is `HMAC-SHA-256(node, TREE_RIGHT)`.
pub const TREE_RIGHT: &[u8] = b"dkm1/tree/1";

/// Leaf → sealing key: `HMAC-SHA-256(leaf, LEAF_SEAL ‖ 0x00 ‖ key id)`.
pub const LEAF_SEAL: &[u8] = b"dkm1/leaf/seal";
/// Leaf → commit key: `HMAC-SHA-256(leaf, LEAF_COMMIT ‖ 0x00 ‖ key id)`.
pub const LEAF_COMMIT: &[u8] = b"dkm1/leaf/commit";
/// Leaf → seal-only key pair input: `ikm = HMAC-SHA-256(leaf, LEAF_SEAL_ONLY ‖ 0x00 ‖ key id)`,
/// then RFC 9180 `DeriveKeyPair(ikm)` of DHKEM(X25519, HKDF-SHA256).
pub const LEAF_SEAL_ONLY: &[u8] = b"dkm1/leaf/seal-only";
/// Leaf → MAC key (for ring-level MACs; no v1 format uses it yet): `HMAC-SHA-256(leaf, LEAF_MAC ‖ 0x00 ‖ key id)`.
pub const LEAF_MAC: &[u8] = b"dkm1/leaf/mac";

/// Commitment: `HMAC-SHA-256(commit key, COMMIT ‖ header ‖ SHA-256(context))`.
pub const COMMIT: &[u8] = b"dkm1/commit";

/// HPKE `info` prefix of the seal-only suite: `SEAL_INFO ‖ ring id ‖ epoch ‖ interval`.
pub const SEAL_INFO: &[u8] = b"dkm1/seal";
/// HPKE exporter context for the seal-only suite's sealing key.
pub const EXPORT_SEAL_KEY: &[u8] = b"dkm1/seal-only/seal-key";
/// HPKE exporter context for the seal-only suite's commit key.
pub const EXPORT_COMMIT_KEY: &[u8] = b"dkm1/seal-only/commit-key";

/// Identity id: `SHA-256(IDENTITY_ID ‖ x25519 public ‖ ed25519 public)[..16]`.
pub const IDENTITY_ID: &[u8] = b"dkm1/id\0";
/// Public identity checksum: `SHA-256(PUBLIC_CHECKSUM ‖ payload)[..4]`.
pub const PUBLIC_CHECKSUM: &[u8] = b"dkm1/public-checksum\0";
/// Secret identity checksum: `SHA-256(SECRET_CHECKSUM ‖ payload)[..4]`.
pub const SECRET_CHECKSUM: &[u8] = b"dkm1/secret-checksum\0";

/// Hash of a signed governance record: `SHA-256(GOVERNANCE_HASH ‖ record)`.
pub const GOVERNANCE_HASH: &[u8] = b"dkm1/governance-hash\0";
/// Hash of the content of a governance record (what a change request proposes):
/// `SHA-256(GOVERNANCE_CONTENT ‖ content)`.
pub const GOVERNANCE_CONTENT: &[u8] = b"dkm1/governance-content\0";
/// Hash of a signed key-state record: `SHA-256(KEY_STATE_HASH ‖ record)`.
pub const KEY_STATE_HASH: &[u8] = b"dkm1/key-state-hash\0";
/// HPKE `info` prefix of a KEK wrap: `KEK_INFO ‖ ring id ‖ KEK generation ‖ recipient id`.
pub const KEK_INFO: &[u8] = b"dkm1/kek";
/// KEK check value: `HMAC-SHA-256(KEK, KEK_CHECK ‖ ring id ‖ KEK generation)`.
pub const KEK_CHECK: &[u8] = b"dkm1/kek-check\0";
/// Key that seals epoch nodes: `HMAC-SHA-256(KEK, ROOT_KEY ‖ ring id ‖ KEK generation)`.
pub const ROOT_KEY: &[u8] = b"dkm1/kek/root-key\0";
/// AAD prefix of an epoch's sealed nodes:
/// `ROOT_AAD ‖ ring id ‖ epoch ‖ KEK generation ‖ node count ‖ node positions`.
pub const ROOT_AAD: &[u8] = b"dkm1/root\0";
/// Hash of a signed request: `SHA-256(REQUEST_HASH ‖ record)`.
pub const REQUEST_HASH: &[u8] = b"dkm1/request-hash\0";
/// Hash of a signed approval or denial: `SHA-256(DECISION_HASH ‖ record)`.
pub const DECISION_HASH: &[u8] = b"dkm1/approval-hash\0";
/// Hash of a request-log frame: `SHA-256(REQUEST_LOG_HASH ‖ frame)`.
pub const REQUEST_LOG_HASH: &[u8] = b"dkm1/request-log\0";
/// Grant id: `SHA-256(GRANT_ID ‖ request hash)[..16]`.
pub const GRANT_ID: &[u8] = b"dkm1/grant-id\0";
/// HPKE `info` prefix of a grant's wrapped nodes: `GRANT_INFO ‖ ring id ‖ grant id ‖ request
/// hash`.
pub const GRANT_INFO: &[u8] = b"dkm1/grant";
/// Hash of a signed grant: `SHA-256(GRANT_HASH ‖ record)`.
pub const GRANT_HASH: &[u8] = b"dkm1/grant-hash\0";
/// Hash of an audit record: `SHA-256(AUDIT_HASH ‖ record)`.
pub const AUDIT_HASH: &[u8] = b"dkm1/audit-hash\0";
/// Name of a sealed secret in the audit chain: `SHA-256(SECRET_NAME ‖ sealed bytes)`.
pub const SECRET_NAME: &[u8] = b"dkm1/secret-name\0";

/// Text armor of a sealed secret.
pub const ARMOR_PREFIX: &str = "dkm1:";
/// Printable public identity.
pub const PUBLIC_PREFIX: &str = "dkmpub1";
/// Printable secret identity.
pub const SECRET_PREFIX: &str = "dkmsec1";
