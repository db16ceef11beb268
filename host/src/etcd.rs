//! The etcd store: rings, request logs and audit chains of a fleet in etcd, a
//! consensus-replicated key-value store (the `etcd` feature).
//!
//! Layout under the prefix `P` (SPEC §15): the ring's bytes at `P/rings/NAME/ring`; each
//! stream's line count at `P/rings/NAME/heads/audit` and `.../heads/requests` (decimal); its
//! lines at `P/rings/NAME/audit/I` and `.../requests/I`, one key per write holding that
//! write's lines joined by `\n`, `I` being the index of its first line (20 digits). Every
//! write is one etcd transaction that compares the ring's `mod_revision` and the stream heads
//! it was computed from, then puts everything or nothing (a lost race is `Conflict`, which
//! the host retries). Every read is linearizable (etcd's default, through the leader).
//!
//! A watch on `P/rings/` keeps the ring and request-log revisions of the rings this process
//! uses. Every [`EtcdOptions::probe_interval`] the store reads the cluster's revision
//! (linearizably) and asks the watch for a progress notification: once the watch has
//! delivered every change up to that revision, it is *current as of* the moment the read was
//! sent. While the last such moment is within [`EtcdOptions::watch_bound`], the ring's stamp
//! (what the host's ring cache compares) comes from the watch and costs no round trip;
//! otherwise (disconnected, lagging, a member cut off) it is read from etcd before each
//! operation. So a change committed at time `t` is seen by every operation that starts after
//! `t + watch_bound`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dkm_core::ErrorKind;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType, GetOptions, KvClient,
    SortOrder, SortTarget, Txn, TxnOp, TxnOpResponse, WatchOptions,
};
use zeroize::Zeroizing;

use crate::error::{HostError, Result};
use crate::foreign::{Commit, ForeignAdapter, ForeignStore, Stream};

/// The largest message the store sends or accepts (a ring is at most 16 MiB; its streams are
/// read whole). etcd's own limit is `--max-request-bytes` (1.5 MiB by default).
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// How to reach etcd and how long to wait.
#[derive(Clone)]
pub struct EtcdOptions {
    /// `host:port`, `http://host:port` or `https://host:port` of each member (`host:port`
    /// is `https://` when a CA or client certificate is given, else `http://`).
    pub endpoints: Vec<String>,
    /// The key prefix the rings live under (`/dkm`): non-empty, without a trailing `/`.
    pub prefix: String,
    /// How long connecting and each request may take before `StoreUnavailable` (5 s).
    pub timeout: Duration,
    /// TLS: the CA certificate (PEM) that signed the members' certificates.
    pub ca_pem: Option<Vec<u8>>,
    /// TLS client authentication: certificate and key (PEM).
    pub client_cert_pem: Option<(Vec<u8>, Zeroizing<Vec<u8>>)>,
    /// etcd user and password (etcd's auth).
    pub user: Option<(String, Zeroizing<String>)>,
    /// Whether the watch may stand in for the per-operation change check (default true).
    pub watch: bool,
    /// How old the watch's last confirmation may be for it to stand in (1 s).
    pub watch_bound: Duration,
    /// How often the watch is confirmed (250 ms).
    pub probe_interval: Duration,
}

impl std::fmt::Debug for EtcdOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdOptions")
            .field("endpoints", &self.endpoints)
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("tls", &self.ca_pem.is_some())
            .field("client_cert", &self.client_cert_pem.is_some())
            .field("user", &self.user.as_ref().map(|(u, _)| u))
            .field("watch", &self.watch)
            .field("watch_bound", &self.watch_bound)
            .finish_non_exhaustive()
    }
}

fn invalid(message: impl Into<String>) -> HostError {
    HostError::new(ErrorKind::InvalidInput, message)
}

fn unavailable(message: impl Into<String>) -> HostError {
    HostError::new(ErrorKind::StoreUnavailable, message)
}

impl EtcdOptions {
    /// Members `endpoints`, rings under `prefix`, the defaults otherwise.
    pub fn new(endpoints: Vec<String>, prefix: &str) -> EtcdOptions {
        EtcdOptions {
            endpoints,
            prefix: prefix.to_owned(),
            timeout: Duration::from_secs(5),
            ca_pem: None,
            client_cert_pem: None,
            user: None,
            watch: true,
            watch_bound: Duration::from_secs(1),
            probe_interval: Duration::from_millis(250),
        }
    }

    /// Options from `etcd://HOST:PORT[,HOST:PORT...]/PREFIX[?timeout=5s&watch=off]` (`etcds://`
    /// for TLS, with `ca=FILE`, `cert=FILE&key=FILE` read here; `user=NAME` with `password`
    /// given apart, never in the URL).
    pub fn from_url(url: &str, password: Option<&str>) -> Result<EtcdOptions> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("etcd://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("etcds://") {
            (true, r)
        } else {
            return Err(invalid(format!(
                "not an etcd URL (etcd:// or etcds://): {url:?}"
            )));
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (hosts, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("an etcd URL names a key prefix: etcd://HOST:PORT/PREFIX"))?;
        let scheme = if tls { "https" } else { "http" };
        let endpoints = hosts
            .split(',')
            .map(|h| {
                if h.contains('@') {
                    // USER:PASSWORD@HOST: never echoed (the message may be logged).
                    Err(invalid(
                        "an etcd URL carries no user or password: give user=NAME in the query and the password apart",
                    ))
                } else if h.is_empty() || h.contains(['/', ' ']) {
                    Err(invalid(format!("invalid etcd member {h:?} (HOST:PORT)")))
                } else {
                    Ok(format!("{scheme}://{h}"))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let mut o = EtcdOptions::new(endpoints, &format!("/{path}"));
        let mut cert = None;
        let mut key = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("invalid etcd URL option {pair:?}")))?;
            match k {
                "timeout" => {
                    o.timeout = humantime::parse_duration(v)
                        .map_err(|e| invalid(format!("invalid etcd timeout {v:?}: {e}")))?;
                }
                "watch" => {
                    o.watch = match v {
                        "on" => true,
                        "off" => false,
                        _ => return Err(invalid("watch=on or watch=off")),
                    }
                }
                "ca" => o.ca_pem = Some(read(v)?),
                "cert" => cert = Some(read(v)?),
                "key" => key = Some(Zeroizing::new(read(v)?)),
                "user" => o.user = Some((v.to_owned(), Zeroizing::new(String::new()))),
                "password" => {
                    return Err(invalid(
                        "an etcd password is never part of the URL (it would show in process \
                         lists and logs): pass it apart (DKM_ETCD_PASSWORD for the dkm command)",
                    ));
                }
                _ => return Err(invalid(format!("unknown etcd URL option {k:?}"))),
            }
        }
        match (cert, key) {
            (Some(c), Some(k)) => o.client_cert_pem = Some((c, k)),
            (None, None) => {}
            _ => return Err(invalid("cert= and key= go together")),
        }
        if !tls && (o.ca_pem.is_some() || o.client_cert_pem.is_some()) {
            return Err(invalid("ca=, cert= and key= need etcds:// (TLS)"));
        }
        if let Some((_, p)) = &mut o.user {
            *p = Zeroizing::new(password.unwrap_or("").to_owned());
        } else if password.is_some() {
            return Err(invalid("an etcd password without user= in the URL"));
        }
        o.check()?;
        Ok(o)
    }

    fn check(&self) -> Result<()> {
        if self.endpoints.is_empty() {
            return Err(invalid("etcd needs at least one member"));
        }
        let p = &self.prefix;
        if p.is_empty() || p == "/" || p.ends_with('/') || p.contains('\0') || p.len() > 256 {
            return Err(invalid(format!(
                "invalid etcd prefix {p:?}: 1 to 256 bytes, no trailing '/'"
            )));
        }
        if self.timeout.is_zero() || self.watch_bound.is_zero() || self.probe_interval.is_zero() {
            return Err(invalid("etcd timeouts and intervals must be positive"));
        }
        if self.probe_interval >= self.watch_bound {
            return Err(invalid(
                "the watch's probe interval must be shorter than its bound",
            ));
        }
        Ok(())
    }
}

fn read(path: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| invalid(format!("cannot read {path}: {e}")))
}

/// What the watch knows.
#[derive(Default)]
struct WatchState {
    /// Bumped each time the watch (re)starts: entries of an older watch are void.
    generation: u64,
    /// The revision the running watch covers changes after (`None`: no watch running).
    started: Option<i64>,
    /// The highest revision the watch has delivered everything up to.
    delivered: i64,
    /// When the last confirmed probe was sent.
    current_as_of: Option<Instant>,
    /// Per ring: (ring revision, request-log head revision, read at).
    rings: HashMap<String, (i64, i64, i64)>,
    /// Set by [`EtcdStore::sever_watch`]: the watch stays down.
    severed: bool,
}

/// A ring's keys.
struct Keys {
    base: String,
}

impl Keys {
    fn new(prefix: &str, name: &str) -> Keys {
        Keys {
            base: format!("{prefix}/rings/{name}/"),
        }
    }
    fn ring(&self) -> String {
        format!("{}ring", self.base)
    }
    fn head(&self, s: Stream) -> String {
        format!("{}heads/{}", self.base, s.name())
    }
    fn lines(&self, s: Stream) -> String {
        format!("{}{}/", self.base, s.name())
    }
    fn batch(&self, s: Stream, first: u64) -> String {
        format!("{}{}/{first:020}", self.base, s.name())
    }
}

struct Inner {
    runtime: Option<tokio::runtime::Runtime>,
    kv: KvClient,
    options: EtcdOptions,
    cluster_id: u64,
    pid: u32,
    watch: Arc<Mutex<WatchState>>,
    /// Requests sent for operations (not the watch's own).
    trips: std::sync::atomic::AtomicU64,
    /// Rings in use here that the watch saw change.
    feed: crate::store::ChangeFeed,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Never blocks (also when dropped inside another runtime): the watch task ends with it.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

fn lock(m: &Mutex<WatchState>) -> MutexGuard<'_, WatchState> {
    // The state is replaced field by field under the lock, never left half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn etcd_error(what: &str, e: &etcd_client::Error) -> HostError {
    let text = e.to_string();
    let hint = if text.contains("too large") || text.contains("larger than max") {
        " (raise etcd's --max-request-bytes: see docs/etcd.md)"
    } else {
        ""
    };
    unavailable(format!("etcd {what}: {text}{hint}"))
}

/// The ForeignStore primitives over etcd (the adapter computes everything else).
pub struct EtcdKv {
    inner: Inner,
}

impl EtcdKv {
    fn prefix(&self) -> &str {
        &self.inner.options.prefix
    }

    /// Runs the request `make` builds on the store's runtime, bounded by the timeout. A
    /// request that never left (a member refusing connections: it is down), or a read that
    /// failed in transport (a member dying under it), is sent again, to whichever member the
    /// client picks next, until the timeout. A write that may have arrived is never sent
    /// twice: its failure is the caller's `StoreUnavailable`.
    fn run<T, F, Fut>(&self, what: &str, read: bool, make: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(KvClient) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, etcd_client::Error>> + Send,
    {
        if std::process::id() != self.inner.pid {
            return Err(unavailable(
                "this etcd store was opened in the parent process: open a new one after fork",
            ));
        }
        let rt = self
            .inner
            .runtime
            .as_ref()
            .ok_or_else(|| unavailable("the etcd store is closed"))?;
        let timeout = self.inner.options.timeout;
        self.inner
            .trips
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let kv = self.inner.kv.clone();
        let fut = async move {
            tokio::time::timeout(timeout, async move {
                loop {
                    match make(kv.clone()).await {
                        Err(e) if never_sent(&e) || (read && transport(&e)) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => return other,
                    }
                }
            })
            .await
        };
        let out = if tokio::runtime::Handle::try_current().is_ok() {
            // Called from inside another runtime: block_on would panic there.
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            rt.spawn(async move {
                let _ = tx.send(fut.await);
            });
            rx.recv_timeout(timeout.saturating_add(Duration::from_secs(1)))
                .map_err(|_| unavailable(format!("etcd {what}: no answer")))?
        } else {
            rt.block_on(fut)
        };
        match out {
            Err(_) => Err(unavailable(format!(
                "etcd {what}: no answer within {} ms",
                timeout.as_millis()
            ))),
            Ok(Err(e)) => Err(etcd_error(what, &e)),
            Ok(Ok(v)) => Ok(v),
        }
    }

    fn txn(&self, what: &str, txn: Txn) -> Result<etcd_client::TxnResponse> {
        let read = txn_is_read(what);
        self.run(what, read, move |mut kv| {
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
    }

    fn get(
        &self,
        what: &str,
        key: String,
        opts: Option<GetOptions>,
    ) -> Result<etcd_client::GetResponse> {
        self.run(what, true, move |mut kv| {
            let (key, opts) = (key.clone(), opts.clone());
            async move { kv.get(key, opts).await }
        })
    }

    /// The lines of `stream` of ring `name` and their count, read at one revision.
    fn stream(&self, name: &str, s: Stream) -> Result<(Vec<String>, u64, i64)> {
        let k = Keys::new(self.prefix(), name);
        let r = self.txn(
            "read",
            Txn::new().and_then([
                TxnOp::get(k.head(s), None),
                TxnOp::get(k.lines(s), Some(GetOptions::new().with_prefix())),
            ]),
        )?;
        let ops = r.op_responses();
        let (Some(TxnOpResponse::Get(head)), Some(TxnOpResponse::Get(batches))) =
            (ops.first(), ops.get(1))
        else {
            return Err(unavailable("etcd answered a read with the wrong shape"));
        };
        let count = parse_count(head.kvs().first().map(etcd_client::KeyValue::value))?;
        let mut lines = Vec::new();
        for kv in batches.kvs() {
            let text = std::str::from_utf8(kv.value())
                .map_err(|_| unavailable("an etcd stream batch is not UTF-8"))?;
            lines.extend(text.split('\n').map(str::to_owned));
        }
        if lines.len() as u64 != count {
            return Err(unavailable(format!(
                "ring {name:?}'s {} stream holds {} lines but its head says {count}",
                s.name(),
                lines.len()
            )));
        }
        Ok((
            lines,
            count,
            head.kvs()
                .first()
                .map_or(0, etcd_client::KeyValue::mod_revision),
        ))
    }

    /// The stamp read from etcd: the ring's and the request log's last change revisions.
    fn read_stamp(&self, name: &str) -> Result<(i64, i64, i64)> {
        let k = Keys::new(self.prefix(), name);
        let r = self.txn(
            "stamp",
            Txn::new().and_then([
                TxnOp::get(k.ring(), Some(GetOptions::new().with_keys_only())),
                TxnOp::get(
                    k.head(Stream::Requests),
                    Some(GetOptions::new().with_keys_only()),
                ),
            ]),
        )?;
        let at = r.header().map_or(0, etcd_client::ResponseHeader::revision);
        let rev = |i: usize| match r.op_responses().get(i) {
            Some(TxnOpResponse::Get(g)) => Ok(g
                .kvs()
                .first()
                .map_or(0, etcd_client::KeyValue::mod_revision)),
            _ => Err(unavailable("etcd answered a read with the wrong shape")),
        };
        Ok((rev(0)?, rev(1)?, at))
    }
}

/// Whether a request failed before it reached any member (so sending it again cannot apply
/// it twice): the connection was refused or could not be made.
fn never_sent(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            // gRPC status 14: UNAVAILABLE.
            s.code() as i32 == 14 && s.message().contains("connect error")
        }
        _ => false,
    }
}

/// Whether a request failed in transport (the connection broke; no answer from etcd itself).
fn transport(e: &etcd_client::Error) -> bool {
    match e {
        etcd_client::Error::GRpcStatus(s) => {
            // gRPC status 14 (UNAVAILABLE) or 2 (UNKNOWN) carrying a transport error.
            let code = s.code() as i32;
            code == 14 || (code == 2 && s.message().contains("transport error"))
        }
        etcd_client::Error::TransportError(_) => true,
        _ => false,
    }
}

/// Transactions named "read" or "stamp" only read.
fn txn_is_read(what: &str) -> bool {
    matches!(what, "read" | "stamp")
}

fn parse_count(v: Option<&[u8]>) -> Result<u64> {
    match v {
        None => Ok(0),
        Some(b) => std::str::from_utf8(b)
            .ok()
            .filter(|t| !t.is_empty() && t.len() <= 20 && t.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| unavailable("an etcd stream head is not a line count")),
    }
}

fn stamp_bytes(ring: i64, requests: i64) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&ring.to_be_bytes());
    v.extend_from_slice(&requests.to_be_bytes());
    v
}

impl ForeignStore for EtcdKv {
    fn ring(&self, name: &str) -> Result<Option<(Vec<u8>, String)>> {
        let r = self.get("read", Keys::new(self.prefix(), name).ring(), None)?;
        Ok(r.kvs()
            .first()
            .map(|kv| (kv.value().to_vec(), kv.mod_revision().to_string())))
    }

    fn line_count(&self, name: &str, stream: Stream) -> Result<u64> {
        let r = self.get("read", Keys::new(self.prefix(), name).head(stream), None)?;
        parse_count(r.kvs().first().map(etcd_client::KeyValue::value))
    }

    fn last_line(&self, name: &str, stream: Stream) -> Result<Option<String>> {
        let k = Keys::new(self.prefix(), name);
        let opts = GetOptions::new()
            .with_prefix()
            .with_sort(SortTarget::Key, SortOrder::Descend)
            .with_limit(1);
        let r = self.get("read", k.lines(stream), Some(opts))?;
        match r.kvs().first() {
            None => Ok(None),
            Some(kv) => {
                let text = std::str::from_utf8(kv.value())
                    .map_err(|_| unavailable("an etcd stream batch is not UTF-8"))?;
                Ok(text.rsplit('\n').next().map(str::to_owned))
            }
        }
    }

    fn lines_from(&self, name: &str, stream: Stream, from: u64) -> Result<Vec<String>> {
        let (lines, _, _) = self.stream(name, stream)?;
        Ok(lines
            .into_iter()
            .skip(usize::try_from(from).unwrap_or(usize::MAX))
            .collect())
    }

    fn commit(&self, name: &str, commit: &Commit) -> Result<()> {
        let k = Keys::new(self.prefix(), name);
        let mut when = Vec::new();
        let mut ops = Vec::new();
        let head_compare = |key: String, count: u64| {
            if count == 0 {
                Compare::create_revision(key, CompareOp::Equal, 0)
            } else {
                Compare::value(key, CompareOp::Equal, count.to_string())
            }
        };
        if let Some(w) = &commit.ring {
            when.push(match &w.expected_token {
                None => Compare::create_revision(k.ring(), CompareOp::Equal, 0),
                Some(t) => {
                    let rev: i64 = t
                        .parse()
                        .map_err(|_| unavailable("an etcd ring token is not a revision"))?;
                    Compare::mod_revision(k.ring(), CompareOp::Equal, rev)
                }
            });
        }
        match &commit.move_to {
            None => {
                if let Some(w) = &commit.ring {
                    ops.push(TxnOp::put(k.ring(), w.bytes.clone(), None));
                }
                for (s, count, lines) in &commit.appends {
                    when.push(head_compare(k.head(*s), *count));
                    if !lines.is_empty() {
                        ops.push(TxnOp::put(k.batch(*s, *count), lines.join("\n"), None));
                        let n = count.saturating_add(lines.len() as u64);
                        ops.push(TxnOp::put(k.head(*s), n.to_string(), None));
                    }
                }
            }
            Some(to) => {
                // A rename: the ring and both streams move under the new name, compacted to
                // one batch per stream, in the same transaction as the write.
                let t = Keys::new(self.prefix(), to);
                // Nothing lives under the new name (a rename always moves every key).
                for key in [t.ring(), t.head(Stream::Audit), t.head(Stream::Requests)] {
                    when.push(Compare::create_revision(key, CompareOp::Equal, 0));
                }
                let bytes = match &commit.ring {
                    Some(w) => w.bytes.clone(),
                    None => self
                        .ring(name)?
                        .map(|(b, _)| b)
                        .ok_or_else(|| HostError::new(ErrorKind::Conflict, "the ring moved"))?,
                };
                ops.push(TxnOp::delete(
                    k.base.clone(),
                    Some(DeleteOptions::new().with_prefix()),
                ));
                ops.push(TxnOp::put(t.ring(), bytes, None));
                for s in [Stream::Audit, Stream::Requests] {
                    let (mut lines, count, _) = self.stream(name, s)?;
                    // The lines moved are the ones read: the head must still be theirs, and
                    // the caller's expectation the same count.
                    let expected = commit
                        .appends
                        .iter()
                        .find(|(st, _, _)| *st == s)
                        .map_or(count, |(_, c, _)| *c);
                    if expected != count {
                        return Err(HostError::new(
                            ErrorKind::Conflict,
                            "the ring's streams moved: reload and retry",
                        ));
                    }
                    when.push(head_compare(k.head(s), count));
                    if let Some((_, _, more)) = commit.appends.iter().find(|(st, _, _)| *st == s) {
                        lines.extend(more.iter().cloned());
                    }
                    if !lines.is_empty() {
                        ops.push(TxnOp::put(t.head(s), lines.len().to_string(), None));
                        ops.push(TxnOp::put(t.batch(s, 0), lines.join("\n"), None));
                    }
                }
            }
        }
        let r = self.txn("write", Txn::new().when(when).and_then(ops))?;
        if r.succeeded() {
            Ok(())
        } else {
            Err(HostError::new(
                ErrorKind::Conflict,
                "another writer changed the ring or its streams: reload and retry",
            ))
        }
    }

    fn names(&self) -> Result<Vec<String>> {
        let base = format!("{}/rings/", self.prefix());
        let r = self.get(
            "list",
            base.clone(),
            Some(GetOptions::new().with_prefix().with_keys_only()),
        )?;
        Ok(r.kvs()
            .iter()
            .filter_map(|kv| {
                let key = std::str::from_utf8(kv.key()).ok()?;
                let name = key.strip_prefix(&base)?.strip_suffix("/ring")?;
                (!name.contains('/')).then(|| name.to_owned())
            })
            .collect())
    }

    fn location(&self) -> String {
        format!("{:016x}{}", self.inner.cluster_id, self.prefix())
    }

    fn qualified_location(&self) -> String {
        format!("etcd:{}", self.location())
    }

    fn change_feed(&self) -> Option<crate::store::ChangeFeed> {
        self.inner.options.watch.then(|| self.inner.feed.clone())
    }

    fn stamp(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let bound = self.inner.options.watch_bound;
        let generation = {
            let w = lock(&self.inner.watch);
            let current =
                self.inner.options.watch && w.current_as_of.is_some_and(|t| t.elapsed() <= bound);
            if let Some((ring, requests, _)) = w.rings.get(name).filter(|_| current) {
                return Ok(Some(stamp_bytes(*ring, *requests)));
            }
            w.generation
        };
        let (ring, requests, at) = self.read_stamp(name)?;
        let mut w = lock(&self.inner.watch);
        // Kept for the watch to update only if the watch covers every change after the read
        // and has delivered nothing past it yet (so no event for this ring was missed).
        if w.generation == generation && w.started.is_some_and(|s| s <= at) && w.delivered <= at {
            w.rings.insert(name.to_owned(), (ring, requests, at));
        }
        Ok(Some(stamp_bytes(ring, requests)))
    }
}

/// Whether the watch stands in for the per-operation check, and what it has seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchStatus {
    /// The watch is current (confirmed within the bound).
    pub current: bool,
    /// The revision it has delivered every change up to.
    pub delivered: i64,
    /// Rings whose revisions it keeps.
    pub rings: usize,
}

/// Rings in etcd (see the module doc): a [`crate::Store`] for every host of a fleet: the host's
/// foreign-store adapter over etcd's primitives ([`EtcdKv`]).
pub type EtcdStore = ForeignAdapter<EtcdKv>;

impl ForeignAdapter<EtcdKv> {
    /// Connects (within the timeout: else `StoreUnavailable`), learns the cluster id and
    /// starts the watch.
    pub fn connect(options: EtcdOptions) -> Result<EtcdStore> {
        options.check()?;
        let tls = options.ca_pem.is_some() || options.client_cert_pem.is_some();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("dkm-etcd")
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("cannot start the etcd client's runtime: {e}")))?;
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(options.timeout)
            .with_timeout(options.timeout)
            .with_keep_alive(Duration::from_secs(10), options.timeout)
            .with_require_leader(true);
        if let Some((u, p)) = &options.user {
            // etcd's tokens expire (5 minutes by default): a long-lived store logs in again.
            connect = connect
                .with_user(u.clone(), p.as_str())
                .with_auto_token_refresh(true);
        }
        if tls {
            let mut tls = etcd_client::TlsOptions::new();
            if let Some(ca) = &options.ca_pem {
                tls = tls.ca_certificate(etcd_client::Certificate::from_pem(ca));
            }
            if let Some((c, k)) = &options.client_cert_pem {
                tls = tls.identity(etcd_client::Identity::from_pem(c, k.as_slice()));
            }
            connect = connect.with_tls(tls);
        }
        let endpoints: Vec<String> = options
            .endpoints
            .iter()
            .map(|e| {
                if e.starts_with("http://") || e.starts_with("https://") {
                    e.clone()
                } else if tls {
                    format!("https://{e}")
                } else {
                    format!("http://{e}")
                }
            })
            .collect();
        let timeout = options.timeout;
        let probe_key = format!("{}/rings/", options.prefix);
        let connected = runtime.block_on(async move {
            tokio::time::timeout(timeout, async move {
                let client = Client::connect(endpoints, Some(connect)).await?;
                let mut kv = client
                    .kv_client()
                    .max_decoding_message_size(MAX_MESSAGE)
                    .max_encoding_message_size(MAX_MESSAGE);
                let r = kv
                    .get(probe_key, Some(GetOptions::new().with_count_only()))
                    .await?;
                let id = r
                    .header()
                    .map_or(0, etcd_client::ResponseHeader::cluster_id);
                Ok::<_, etcd_client::Error>((client, kv, id))
            })
            .await
        });
        let (client, kv, cluster_id) = match connected {
            Err(_) => {
                return Err(unavailable(format!(
                    "etcd at {:?}: no answer within {} ms",
                    options.endpoints,
                    timeout.as_millis()
                )));
            }
            Ok(Err(e)) => return Err(etcd_error("connect", &e)),
            Ok(Ok(c)) => c,
        };
        let watch = Arc::new(Mutex::new(WatchState::default()));
        let feed = crate::store::ChangeFeed::default();
        if options.watch {
            runtime.spawn(watch_loop(
                client,
                kv.clone(),
                options.clone(),
                Arc::clone(&watch),
                feed.clone(),
            ));
        }
        Ok(ForeignAdapter::new(EtcdKv {
            inner: Inner {
                runtime: Some(runtime),
                kv,
                options,
                cluster_id,
                pid: std::process::id(),
                watch,
                trips: std::sync::atomic::AtomicU64::new(0),
                feed,
            },
        }))
    }

    /// Connects to the store an `etcd://` URL names (see [`EtcdOptions::from_url`]).
    pub fn open_url(url: &str, password: Option<&str>) -> Result<EtcdStore> {
        EtcdStore::connect(EtcdOptions::from_url(url, password)?)
    }

    /// The etcd cluster's id.
    pub fn cluster_id(&self) -> u64 {
        self.foreign().inner.cluster_id
    }

    /// What the watch knows now.
    pub fn watch_status(&self) -> WatchStatus {
        let inner = &self.foreign().inner;
        let w = lock(&inner.watch);
        WatchStatus {
            current: inner.options.watch
                && w.current_as_of
                    .is_some_and(|t| t.elapsed() <= inner.options.watch_bound),
            delivered: w.delivered,
            rings: w.rings.len(),
        }
    }

    /// Cuts the watch and keeps it down (a disconnection, for tests and drills): every
    /// operation then checks the ring's revision in etcd first.
    pub fn sever_watch(&self) {
        let mut w = lock(&self.foreign().inner.watch);
        w.severed = true;
        w.current_as_of = None;
        w.started = None;
        w.rings.clear();
        w.generation = w.generation.wrapping_add(1);
    }

    /// Requests this store has sent to etcd for operations (the watch's own not counted).
    pub fn round_trips(&self) -> u64 {
        self.foreign()
            .inner
            .trips
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The primitives underneath (the ring's bytes and streams as stored).
    pub fn kv(&self) -> &EtcdKv {
        self.foreign()
    }
}

impl std::fmt::Debug for EtcdKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "EtcdKv({})", self.qualified_location())
    }
}

/// The watch: (re)started after each failure, confirmed by probes (see the module doc).
async fn watch_loop(
    mut client: Client,
    mut kv: KvClient,
    options: EtcdOptions,
    state: Arc<Mutex<WatchState>>,
    feed: crate::store::ChangeFeed,
) {
    let prefix = format!("{}/rings/", options.prefix);
    loop {
        if lock(&state).severed {
            return;
        }
        let _ = watch_once(&mut client, &mut kv, &prefix, &options, &state, &feed).await;
        {
            let mut w = lock(&state);
            w.current_as_of = None;
            w.started = None;
            w.rings.clear();
            w.generation = w.generation.wrapping_add(1);
        }
        tokio::time::sleep(options.probe_interval).await;
    }
}

async fn watch_once(
    client: &mut Client,
    kv: &mut KvClient,
    prefix: &str,
    options: &EtcdOptions,
    state: &Arc<Mutex<WatchState>>,
    feed: &crate::store::ChangeFeed,
) -> std::result::Result<(), etcd_client::Error> {
    let mut watch_client = client.watch_client().max_decoding_message_size(MAX_MESSAGE);
    let stream = tokio::time::timeout(
        options.timeout,
        watch_client.watch(
            prefix.to_owned(),
            Some(WatchOptions::new().with_prefix().with_progress_notify()),
        ),
    )
    .await
    .map_err(|_| etcd_client::Error::WatchError("watch: no answer".into()))??;
    let (mut sender, mut responses) = stream.split();
    let mut tick = tokio::time::interval(options.probe_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The probe in flight: when it was sent and the revision it read.
    let mut probe: Option<(Instant, i64)> = None;
    // A probe the watch has confirmed, applied at the next tick: etcd before 3.4.25 and
    // 3.5.8 may send a progress notification ahead of events already queued for the stream
    // (etcd issue 15220); one interval later those have been sent.
    let mut confirmed: Option<Instant> = None;
    loop {
        tokio::select! {
            msg = responses.message() => {
                let Some(r) = msg? else { return Ok(()) };
                if r.canceled() || r.compact_revision() > 0 {
                    return Ok(());
                }
                let header_rev = r.header().map_or(0, etcd_client::ResponseHeader::revision);
                let mut w = lock(state);
                if w.severed {
                    return Ok(());
                }
                if r.created() {
                    w.generation = w.generation.wrapping_add(1);
                    w.rings.clear();
                    w.started = Some(header_rev);
                    w.delivered = header_rev;
                    continue;
                }
                if r.events().is_empty() {
                    // A progress notification: everything up to its revision is delivered.
                    w.delivered = w.delivered.max(header_rev);
                } else {
                    for e in r.events() {
                        let Some(kv) = e.kv() else { continue };
                        let rev = kv.mod_revision();
                        w.delivered = w.delivered.max(rev);
                        let Ok(key) = std::str::from_utf8(kv.key()) else { continue };
                        let Some(rest) = key.strip_prefix(prefix) else { continue };
                        let Some((name, what)) = rest.split_once('/') else { continue };
                        let deleted = e.event_type() == EventType::Delete;
                        // A deleted key (a rename) gets the negative revision: never a stamp a
                        // read gives.
                        let changed = if deleted { -rev } else { rev };
                        if let Some(entry) = w.rings.get_mut(name).filter(|e| rev > e.2) {
                            match what {
                                "ring" => entry.0 = changed,
                                "heads/requests" => entry.1 = changed,
                                _ => continue,
                            }
                            feed.notify(name);
                        }
                    }
                }
                if let Some((sent, at)) = probe.filter(|(_, at)| w.delivered >= *at) {
                    let _ = at;
                    confirmed = Some(sent);
                    probe = None;
                }
            }
            _ = tick.tick() => {
                {
                    let mut w = lock(state);
                    if w.severed {
                        return Ok(());
                    }
                    if let Some(sent) = confirmed.take() {
                        w.current_as_of = Some(w.current_as_of.map_or(sent, |c| c.max(sent)));
                    }
                }
                if probe.is_none() {
                    let sent = Instant::now();
                    let r = tokio::time::timeout(
                        options.timeout,
                        kv.get(prefix.to_owned(), Some(GetOptions::new().with_count_only())),
                    )
                    .await
                    .map_err(|_| etcd_client::Error::WatchError("probe: no answer".into()))??;
                    let at = r.header().map_or(i64::MAX, etcd_client::ResponseHeader::revision);
                    probe = Some((sent, at));
                    sender.request_progress().await?;
                } else {
                    // The last probe was not confirmed within an interval: ask again.
                    sender.request_progress().await?;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn urls_name_members_prefix_and_options() {
        let o =
            EtcdOptions::from_url("etcd://a:1,b:2/dkm/prod?timeout=2s&watch=off", None).unwrap();
        assert_eq!(o.endpoints, vec!["http://a:1", "http://b:2"]);
        assert_eq!(o.prefix, "/dkm/prod");
        assert_eq!(o.timeout, Duration::from_secs(2));
        assert!(!o.watch && o.user.is_none() && o.ca_pem.is_none());
        let o = EtcdOptions::from_url("etcds://a:1/p?user=svc", Some("pw")).unwrap();
        assert_eq!(o.endpoints, vec!["https://a:1"]);
        let (u, p) = o.user.unwrap();
        assert_eq!((u.as_str(), p.as_str()), ("svc", "pw"));
        // The password never shows in Debug.
        let o = EtcdOptions::from_url("etcds://a:1/p?user=svc", Some("hunter2")).unwrap();
        assert!(!format!("{o:?}").contains("hunter2"));
    }

    #[test]
    fn bad_urls_are_invalid_input() {
        for (url, password) in [
            ("http://a:1/p", None),
            ("etcd://a:1", None),
            ("etcd://a:1/", None),
            ("etcd://a:1/p/", None),
            ("etcd:///p", None),
            ("etcd://a:1,/p", None),
            ("etcd://u@a:1/p", None),
            ("etcd://a:1/p?password=x", None),
            ("etcd://a:1/p?colour=blue", None),
            ("etcd://a:1/p?timeout=soon", None),
            ("etcd://a:1/p?timeout=0s", None),
            ("etcd://a:1/p?watch=maybe", None),
            ("etcd://a:1/p?ca=/nonexistent", None),
            ("etcd://a:1/p", Some("pw")),
            ("etcd://a:1/p?flag", None),
        ] {
            let e = EtcdOptions::from_url(url, password).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
        }
        // A password written into the URL is refused and never echoed.
        for url in [
            "etcd://svc:hunter2@a:1/p",
            "etcd://a:1,svc:hunter2@b:2/p",
            "etcd://a:1/p?user=svc&password=hunter2",
        ] {
            let e = EtcdOptions::from_url(url, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(!e.message().contains("hunter2"), "{e}");
        }
        // TLS files only with etcds://.
        let dir = std::env::temp_dir().join(format!("dkm-etcd-url-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, b"-----BEGIN CERTIFICATE-----\n").unwrap();
        let plain = format!("etcd://a:1/p?ca={}", ca.display());
        assert_eq!(
            EtcdOptions::from_url(&plain, None).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let tls = format!("etcds://a:1/p?ca={}&cert={}", ca.display(), ca.display());
        assert!(
            EtcdOptions::from_url(&tls, None).is_err(),
            "cert without key"
        );
        let tls = format!("etcds://a:1/p?ca={}", ca.display());
        assert!(EtcdOptions::from_url(&tls, None).unwrap().ca_pem.is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn counts_and_stamps_parse_strictly() {
        assert_eq!(parse_count(None).unwrap(), 0);
        assert_eq!(parse_count(Some(b"42")).unwrap(), 42);
        for bad in [&b""[..], b"-1", b"4 2", b"x", b"99999999999999999999999"] {
            assert_eq!(
                parse_count(Some(bad)).unwrap_err().kind(),
                ErrorKind::StoreUnavailable
            );
        }
        assert_ne!(stamp_bytes(1, 2), stamp_bytes(2, 1));
        assert_ne!(stamp_bytes(5, 0), stamp_bytes(-5, 0));
    }
}
