#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Crash safety of the `dkm` command on the file store.
//!
//! * Failpoints: every write command is run with `DKM_FAILPOINT` set to every failpoint of
//!   `dkm_host::store::FAILPOINTS`. A command whose write path holds the point must die by
//!   `abort()` (never exit 0); one whose path does not must succeed. Every failpoint must be
//!   hit by at least one command. After each crash, without the failpoint: the ring loads
//!   (`ring show`, `keys`), `audit verify` exits 0, every earlier sealed secret unseals, and
//!   the command retried succeeds (or, when the crash came after its write was durable, the
//!   write is there and the retry refuses only because it is already done). Right after
//!   each crash the store holds the old state or the new one (ring replaced or not, request
//!   line appended whole or not).
//! * A crash between a committed write (ring renamed, request line appended) and its audit
//!   append leaves no change without its audit records once the next process has run.
//! * Random SIGKILLs: `maintain`/`roll-epoch` and `member add` (a direct governance write on a
//!   bootstrap ring and a quorum request on a ring with a policy) are killed after random
//!   short delays, then the same checks.
//!
//! Every test has its own temporary store and `DKM_HOME`; time is simulated with `DKM_NOW`.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
/// The ring with an approval policy.
const RING: &str = "r";
/// A ring still in bootstrap (no approval policy: an admin alone changes it).
const BOOT: &str = "b";
/// How many spare key holders the ring carries for `member remove` cases.
const SPARES: usize = 8;

const SIGABRT: i32 = 6;

const RING_PATH: &[&str] = &[
    "ring-temp-written",
    "ring-renamed",
    "ring-committed",
    "audit-line-torn",
    "audit-appended",
];
const REQUEST_PATH: &[&str] = &[
    "request-line-torn",
    "request-appended",
    "audit-line-torn",
    "audit-appended",
];
const AUDIT_PATH: &[&str] = &["audit-line-torn", "audit-appended"];

fn at(t: u64) -> String {
    dkm_host::files::format_time(t)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

// ---------------------------------------------------------------------------------------------
// Running the command
// ---------------------------------------------------------------------------------------------

/// One finished run of `dkm`.
struct Run {
    args: Vec<String>,
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> bool {
        self.status.success()
    }

    fn last_line(&self) -> String {
        self.stdout.lines().last().unwrap_or("").trim().to_owned()
    }

    /// The error kind of the one-line error (`dkm: error: KIND: message`).
    fn kind(&self) -> Option<String> {
        let rest = self.stderr.lines().last()?.strip_prefix("dkm: error: ")?;
        Some(rest.split(':').next()?.to_owned())
    }

    fn aborted(&self) -> bool {
        self.status.code().is_none() && self.status.signal() == Some(SIGABRT)
    }

    fn describe(&self) -> String {
        format!(
            "dkm {}\n  status: {:?}\n  stdout: {}\n  stderr: {}",
            self.args.join(" "),
            self.status,
            self.stdout.trim(),
            self.stderr.trim()
        )
    }
}

/// What the store holds of a ring.
#[derive(Debug, PartialEq, Eq)]
struct Stored {
    ring: Vec<u8>,
    /// Complete audit lines.
    audit: usize,
    /// Complete request-log lines.
    requests: usize,
}

/// The store after a crash at `fp` holds the old state or the new one: the ring and the
/// request log are replaced or appended whole, or not at all.
fn check_old_or_new(cmd: Cmd, fp: &str, before: &Stored, after: &Stored) {
    let ring_written = matches!(fp, "ring-renamed" | "ring-committed")
        || (cmd.path() == RING_PATH && fp.starts_with("audit-"));
    assert_eq!(
        before.ring != after.ring,
        ring_written,
        "{cmd:?} crashed at {fp}: the ring was {}replaced",
        if ring_written { "not " } else { "" }
    );
    let request_written = cmd.path() == REQUEST_PATH && fp != "request-line-torn";
    assert_eq!(
        after.requests,
        before.requests + usize::from(request_written),
        "{cmd:?} crashed at {fp}: request-log lines {} -> {}",
        before.requests,
        after.requests
    );
    match fp {
        "audit-appended" => assert!(after.audit > before.audit, "{cmd:?} at {fp}"),
        "audit-line-torn" => assert!(after.audit >= before.audit, "{cmd:?} at {fp}"),
        _ => assert_eq!(after.audit, before.audit, "{cmd:?} at {fp}"),
    }
}

struct Secret {
    file: PathBuf,
    plaintext: String,
    context: String,
}

/// A temporary directory with a store, a `DKM_HOME` and identity files.
struct Fx {
    dir: TempDir,
    /// Public identity text by name.
    publics: BTreeMap<String, String>,
    secrets: Vec<Secret>,
}

impl Fx {
    fn new() -> Fx {
        Fx {
            dir: tempfile::tempdir().unwrap(),
            publics: BTreeMap::new(),
            secrets: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn id_file(&self, name: &str) -> String {
        self.path(&format!("{name}.id")).display().to_string()
    }

    fn public(&self, name: &str) -> String {
        self.publics[name].clone()
    }

    fn command(&self, now: u64, args: &[String], failpoint: Option<&str>) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dkm"));
        c.args(args)
            .env("DKM_STORE", self.path("store"))
            .env("DKM_HOME", self.path("home"))
            .env("DKM_NOW", at(now))
            .env_remove("DKM_FAILPOINT")
            .env_remove("DKM_PIN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(fp) = failpoint {
            c.env("DKM_FAILPOINT", fp);
        }
        c
    }

    fn run_with(&self, now: u64, args: &[String], failpoint: Option<&str>) -> Run {
        let out = self.command(now, args, failpoint).output().unwrap();
        Run {
            args: args.to_vec(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, now: u64, args: &[String]) -> Run {
        self.run_with(now, args, None)
    }

    /// Runs and requires exit 0.
    fn ok(&self, now: u64, args: &[String]) -> Run {
        let r = self.run(now, args);
        assert!(r.ok(), "expected success:\n{}", r.describe());
        r
    }

    fn identity(&mut self, name: &str) {
        let r = self.ok(
            T0,
            &sv(&["identity", "new", name, "--out", &self.id_file(name)]),
        );
        self.publics.insert(name.to_owned(), r.last_line());
    }

    fn seal(&mut self, now: u64, holder: &str, plaintext: &str, context: &str) {
        let n = self.secrets.len();
        let input = self.path(&format!("plain{n}"));
        std::fs::write(&input, plaintext).unwrap();
        let file = self.path(&format!("sealed{n}"));
        self.ok(
            now,
            &sv(&[
                "seal",
                RING,
                "--as",
                &self.id_file(holder),
                "--context",
                context,
                "--in",
                &input.display().to_string(),
                "--out",
                &file.display().to_string(),
            ]),
        );
        self.secrets.push(Secret {
            file,
            plaintext: plaintext.to_owned(),
            context: context.to_owned(),
        });
    }

    fn unseal_args(&self, who: &str, s: &Secret, grant: Option<&str>) -> Vec<String> {
        let mut a = sv(&[
            "unseal",
            RING,
            "--as",
            &self.id_file(who),
            "--context",
            &s.context,
            "--in",
            &s.file.display().to_string(),
        ]);
        if let Some(g) = grant {
            a.extend(sv(&["--grant", g]));
        }
        a
    }

    fn unseals(&self, now: u64, s: &Secret) {
        let r = self.ok(now, &self.unseal_args("s1", s, None));
        assert_eq!(r.stdout, s.plaintext, "{}", r.describe());
    }

    /// The ring loads, the audit chain verifies, and the secrets `which` selects unseal.
    fn check(&self, ring: &str, now: u64, which: &[usize]) {
        self.ok(now, &sv(&["ring", "show", ring]));
        self.ok(now, &sv(&["keys", ring, "--json"]));
        let v = self.ok(now, &sv(&["audit", "verify", ring]));
        assert!(v.stdout.contains("verifies"), "{}", v.describe());
        for &i in which {
            self.unseals(now, &self.secrets[i]);
        }
    }

    /// The ring's bytes and the complete lines of its audit chain and request log, as stored.
    fn stored(&self, ring: &str) -> Stored {
        let dir = self.path("store").join(ring);
        let complete = |f: &str| {
            std::fs::read(dir.join(f))
                .map(|b| b.iter().filter(|c| **c == b'\n').count())
                .unwrap_or(0)
        };
        Stored {
            ring: std::fs::read(dir.join("ring")).unwrap(),
            audit: complete("audit.jsonl"),
            requests: complete("requests.jsonl"),
        }
    }

    /// The bytes of the store's files (ring, audit, request log) of both rings.
    fn snapshot(&self) -> Vec<Option<Vec<u8>>> {
        let mut v = Vec::new();
        for ring in [RING, BOOT] {
            for f in ["ring", "audit.jsonl", "requests.jsonl"] {
                v.push(std::fs::read(self.path("store").join(ring).join(f)).ok());
            }
        }
        v
    }

    fn ring_json(&self, ring: &str, now: u64) -> Value {
        json(&self.ok(now, &sv(&["ring", "show", ring, "--json"])).stdout)
    }

    fn members(&self, ring: &str, now: u64) -> BTreeSet<String> {
        self.ring_json(ring, now)["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["public"].as_str().unwrap().to_owned())
            .collect()
    }

    fn epochs(&self, now: u64) -> usize {
        json(&self.ok(now, &sv(&["keys", RING, "--json"])).stdout)["epochs"]
            .as_array()
            .unwrap()
            .len()
    }

    fn requests(&self, now: u64) -> Vec<Value> {
        json(&self.ok(now, &sv(&["requests", RING, "--json"])).stdout)
            .as_array()
            .unwrap()
            .clone()
    }

    fn request(&self, now: u64, id: &str) -> Option<Value> {
        self.requests(now)
            .into_iter()
            .find(|r| r["id"].as_str() == Some(id))
    }

    fn audit_actions(&self, ring: &str, now: u64) -> Vec<String> {
        self.ok(now, &sv(&["audit", "show", ring, "--json"]))
            .stdout
            .lines()
            .map(|l| json(l)["action"].as_str().unwrap().to_owned())
            .collect()
    }

    fn access_request(&self, now: u64) -> String {
        let r = self.ok(
            now,
            &sv(&[
                "access",
                "request",
                RING,
                "--as",
                &self.id_file("eng"),
                "--reason",
                "crash test",
                "--duration",
                "2h",
                "--since",
                &at(now - HOUR),
            ]),
        );
        r.last_line()
    }

    fn approve_args(&self, id: &str, who: &str, level: &str) -> Vec<String> {
        sv(&[
            "approve",
            RING,
            id,
            "--as",
            &self.id_file(who),
            "--level",
            level,
        ])
    }

    fn grant_args(&self, id: &str) -> Vec<String> {
        sv(&["access", "grant", RING, id, "--as", &self.id_file("s1")])
    }

    /// An approved access request of `eng`.
    fn approved_request(&self, now: u64) -> String {
        let id = self.access_request(now);
        self.ok(now, &self.approve_args(&id, "ops", "ops"));
        self.ok(now, &self.approve_args(&id, "sec", "sec"));
        id
    }
}

fn sv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// A ring `r` with an admin, two service accounts, spare service accounts, two approvers and a
/// two-level policy set during bootstrap, maintained, with three secrets sealed; and a ring
/// `b` still in bootstrap (admin, the two service accounts), maintained.
fn setup() -> Fx {
    let mut fx = Fx::new();
    for n in ["admin", "s1", "s2", "ops", "sec", "eng"] {
        fx.identity(n);
    }
    for i in 0..SPARES {
        fx.identity(&format!("spare{i}"));
    }
    let admin = fx.id_file("admin");
    for ring in [RING, BOOT] {
        fx.ok(T0, &sv(&["ring", "create", ring, "--admin", &admin]));
        for s in ["s1", "s2"] {
            let p = fx.public(s);
            fx.ok(
                T0,
                &sv(&[
                    "member",
                    "add",
                    ring,
                    "--as",
                    &admin,
                    "--role",
                    "service",
                    "--identity",
                    &p,
                ]),
            );
        }
    }
    for i in 0..SPARES {
        let p = fx.public(&format!("spare{i}"));
        fx.ok(
            T0,
            &sv(&[
                "member",
                "add",
                RING,
                "--as",
                &admin,
                "--role",
                "service",
                "--identity",
                &p,
            ]),
        );
    }
    for a in ["ops", "sec"] {
        let p = fx.public(a);
        fx.ok(
            T0,
            &sv(&[
                "member",
                "add",
                RING,
                "--as",
                &admin,
                "--role",
                "approver",
                "--identity",
                &p,
            ]),
        );
    }
    let ops = format!("ops:1:{}", fx.public("ops"));
    let sec = format!("sec:1:{}", fx.public("sec"));
    fx.ok(
        T0,
        &sv(&[
            "policy",
            "approvals",
            RING,
            "--as",
            &admin,
            "--level",
            &ops,
            "--level",
            &sec,
        ]),
    );
    for ring in [RING, BOOT] {
        fx.ok(T0, &sv(&["maintain", ring, "--as", &fx.id_file("s1")]));
    }
    fx.seal(T0, "s1", "first secret", "account 1");
    fx.seal(T0 + HOUR, "s2", "second secret", "");
    fx.seal(
        T0 + DAY + HOUR,
        "s1",
        "third secret, next interval",
        "account 3",
    );
    fx.check(RING, T0 + DAY + HOUR, &[0, 1, 2]);
    fx.check(BOOT, T0 + DAY + HOUR, &[]);
    fx
}

// ---------------------------------------------------------------------------------------------
// Failpoints
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    /// `maintain` after time travel (it renews freshness: a ring write).
    Maintain,
    RollEpoch,
    /// `member add` of a new approver: the ring has a policy, so a quorum request.
    MemberAdd,
    /// `member remove` of a spare key holder: a governance write, no quorum.
    MemberRemove,
    AccessRequest,
    Approve,
    Grant,
    /// `unseal --grant`: its audit record is appended first.
    UnsealGrant,
}

impl Cmd {
    const ALL: [Cmd; 8] = [
        Cmd::Maintain,
        Cmd::RollEpoch,
        Cmd::MemberAdd,
        Cmd::MemberRemove,
        Cmd::AccessRequest,
        Cmd::Approve,
        Cmd::Grant,
        Cmd::UnsealGrant,
    ];

    /// The failpoints on the command's write path.
    fn path(self) -> &'static [&'static str] {
        match self {
            Cmd::Maintain | Cmd::RollEpoch | Cmd::MemberRemove | Cmd::Grant => RING_PATH,
            Cmd::MemberAdd | Cmd::AccessRequest | Cmd::Approve => REQUEST_PATH,
            Cmd::UnsealGrant => AUDIT_PATH,
        }
    }
}

/// What a case prepared: the command line and what it is about.
struct Prepared {
    args: Vec<String>,
    /// Request id (approve, grant), spare's public identity (remove), or the secret's index
    /// (unseal --grant).
    subject: String,
}

fn prepare(fx: &mut Fx, cmd: Cmd, now: u64, case: usize) -> Prepared {
    let admin = fx.id_file("admin");
    match cmd {
        Cmd::Maintain => Prepared {
            args: sv(&["maintain", RING, "--as", &fx.id_file("s1")]),
            subject: String::new(),
        },
        Cmd::RollEpoch => Prepared {
            args: sv(&["roll-epoch", RING, "--as", &fx.id_file("s2")]),
            subject: String::new(),
        },
        Cmd::MemberAdd => {
            let name = format!("new{case}");
            fx.identity(&name);
            let p = fx.public(&name);
            Prepared {
                args: sv(&[
                    "member",
                    "add",
                    RING,
                    "--as",
                    &admin,
                    "--role",
                    "approver",
                    "--identity",
                    &p,
                ]),
                subject: p,
            }
        }
        Cmd::MemberRemove => {
            // The next spare still in the ring.
            let members = fx.members(RING, now);
            let spare = (0..SPARES)
                .map(|i| fx.public(&format!("spare{i}")))
                .find(|p| members.contains(p))
                .expect("out of spare key holders");
            Prepared {
                args: sv(&[
                    "member",
                    "remove",
                    RING,
                    "--as",
                    &admin,
                    "--identity",
                    &spare,
                ]),
                subject: spare,
            }
        }
        Cmd::AccessRequest => Prepared {
            args: sv(&[
                "access",
                "request",
                RING,
                "--as",
                &fx.id_file("eng"),
                "--reason",
                "crash test",
                "--duration",
                "1h",
            ]),
            subject: String::new(),
        },
        Cmd::Approve => {
            let id = fx.access_request(now);
            Prepared {
                args: fx.approve_args(&id, "ops", "ops"),
                subject: id,
            }
        }
        Cmd::Grant => {
            let id = fx.approved_request(now);
            Prepared {
                args: fx.grant_args(&id),
                subject: id,
            }
        }
        Cmd::UnsealGrant => {
            fx.seal(now, "s2", &format!("secret for grant case {case}"), "g");
            let index = fx.secrets.len() - 1;
            let id = fx.approved_request(now);
            let grant = fx.ok(now, &fx.grant_args(&id)).last_line();
            Prepared {
                args: fx.unseal_args("eng", &fx.secrets[index], Some(&grant)),
                subject: index.to_string(),
            }
        }
    }
}

/// The retried command succeeds, or (after a crash past the durable point) refuses only
/// because its write is already there.
fn check_retry(fx: &Fx, cmd: Cmd, p: &Prepared, now: u64, epochs_before: usize) {
    let r = fx.run(now, &p.args);
    match cmd {
        Cmd::Maintain | Cmd::AccessRequest => assert!(r.ok(), "retry:\n{}", r.describe()),
        Cmd::RollEpoch => {
            assert!(r.ok(), "retry:\n{}", r.describe());
            let e = fx.epochs(now);
            assert!(
                e == epochs_before + 1 || e == epochs_before + 2,
                "epochs {epochs_before} -> {e} after a crashed roll and a retry"
            );
        }
        Cmd::MemberAdd => {
            assert!(r.ok(), "retry:\n{}", r.describe());
            let id = r.last_line();
            let req = fx
                .request(now, &id)
                .expect("the logged change request is listed");
            assert!(
                req["kind"]
                    .as_str()
                    .is_some_and(|k| k.starts_with("governance change")),
                "{req}"
            );
        }
        Cmd::MemberRemove => {
            assert!(
                r.ok() || r.kind().as_deref() == Some("NotAMember"),
                "retry:\n{}",
                r.describe()
            );
            assert!(
                !fx.members(RING, now).contains(&p.subject),
                "the spare is still a member after the retried removal"
            );
        }
        Cmd::Approve => {
            assert!(
                r.ok() || r.kind().as_deref() == Some("InvalidInput"),
                "retry:\n{}",
                r.describe()
            );
            let req = fx.request(now, &p.subject).unwrap();
            assert_eq!(
                req["levels"][0]["approvals"], 1,
                "one approval at ops: {req}"
            );
        }
        Cmd::Grant => {
            assert!(
                r.ok() || r.kind().as_deref() == Some("PolicyUnsatisfied"),
                "retry:\n{}",
                r.describe()
            );
            let req = fx.request(now, &p.subject).unwrap();
            assert_eq!(req["state"], "granted", "{req}");
        }
        Cmd::UnsealGrant => {
            assert!(r.ok(), "retry:\n{}", r.describe());
            let s = &fx.secrets[p.subject.parse::<usize>().unwrap()];
            assert_eq!(r.stdout, s.plaintext);
        }
    }
}

/// Every write command with every failpoint; each failpoint hit by at least one command.
#[test]
fn every_failpoint_of_every_write_leaves_a_loadable_verifiable_ring() {
    let started = Instant::now();
    let mut fx = setup();
    let failpoints = dkm_host::store::FAILPOINTS;
    for cmd in Cmd::ALL {
        for fp in cmd.path() {
            assert!(
                failpoints.contains(fp),
                "{cmd:?} names unknown failpoint {fp}"
            );
        }
    }
    let mut hit: BTreeMap<&str, Vec<Cmd>> = BTreeMap::new();
    let mut case = 0usize;
    for fp in failpoints {
        for cmd in Cmd::ALL {
            case += 1;
            // Two days apart: `maintain` always has freshness to renew.
            let now = T0 + 2 * DAY + 2 * DAY * u64::try_from(case).unwrap();
            let p = prepare(&mut fx, cmd, now, case);
            let epochs_before = fx.epochs(now);
            let before = fx.stored(RING);
            let r = fx.run_with(now, &p.args, Some(fp));
            if !cmd.path().contains(fp) {
                assert!(
                    r.ok(),
                    "{cmd:?} does not reach {fp} and must succeed:\n{}",
                    r.describe()
                );
                continue;
            }
            assert!(
                r.aborted(),
                "{cmd:?} with DKM_FAILPOINT={fp} must die by abort:\n{}",
                r.describe()
            );
            hit.entry(fp).or_default().push(cmd);
            check_old_or_new(cmd, fp, &before, &fx.stored(RING));
            // Without the failpoint: the ring loads, the chain verifies, secrets unseal.
            fx.check(RING, now, &(0..fx.secrets.len()).collect::<Vec<_>>());
            check_retry(&fx, cmd, &p, now, epochs_before);
            let v = fx.ok(now, &sv(&["audit", "verify", RING]));
            assert!(v.stdout.contains("verifies"), "{}", v.describe());
            // Now and then a secret sealed after a crash (in the epoch and interval it left),
            // unsealed after every later one.
            if hit.values().map(Vec::len).sum::<usize>() % 3 == 0 {
                fx.seal(now, "s1", &format!("sealed after case {case} ({fp})"), "");
            }
        }
    }
    for fp in failpoints {
        assert!(
            hit.get(fp).is_some_and(|c| !c.is_empty()),
            "failpoint {fp} was hit by no command"
        );
    }
    // Every secret sealed over the whole run still unseals, at the end.
    let end = T0 + 2 * DAY * u64::try_from(case + 2).unwrap();
    fx.check(RING, end, &(0..fx.secrets.len()).collect::<Vec<_>>());
    eprintln!(
        "{case} cases, {} crashes, {} secrets, {:?}",
        hit.values().map(Vec::len).sum::<usize>(),
        fx.secrets.len(),
        started.elapsed()
    );
}

/// A crash after the ring was renamed into place, or a request line appended, but before the
/// audit records were appended must not leave a state change without its audit records ("a
/// crash at any instant leaves the old or the new state, never a torn one"; every epoch roll
/// and every approval is an audit record). The write journal (`pending`) is finished by the
/// next process that takes the ring's lock or reads its audit chain.
#[test]
fn a_crash_between_ring_and_audit_leaves_no_unaudited_change() {
    let fx = setup();
    let mut failures = Vec::new();
    for (i, fp) in ["ring-renamed", "ring-committed", "audit-line-torn"]
        .into_iter()
        .enumerate()
    {
        let now = T0 + 2 * DAY + DAY * u64::try_from(i).unwrap();
        let r = fx.run_with(
            now,
            &sv(&["roll-epoch", RING, "--as", &fx.id_file("s1")]),
            Some(fp),
        );
        assert!(r.aborted(), "{}", r.describe());
        // Whatever the ring holds after the crash (and a later write), the audit chain must
        // hold an epoch-created record for each of its epochs.
        let epochs = fx.epochs(now);
        let created = fx
            .audit_actions(RING, now)
            .iter()
            .filter(|a| *a == "epoch-created")
            .count();
        if created != epochs {
            failures.push(format!(
                "after a crash at {fp}: {epochs} epochs, {created} epoch-created records"
            ));
        }
    }
    // The request log: an approval logged must have its audit record.
    for (i, fp) in ["request-appended", "audit-line-torn"]
        .into_iter()
        .enumerate()
    {
        let now = T0 + 10 * DAY + DAY * u64::try_from(i).unwrap();
        let id = fx.access_request(now);
        let r = fx.run_with(now, &fx.approve_args(&id, "ops", "ops"), Some(fp));
        assert!(r.aborted(), "{}", r.describe());
        let approvals = fx
            .requests(now)
            .iter()
            .map(|r| r["levels"][0]["approvals"].as_u64().unwrap())
            .sum::<u64>();
        let audited = fx
            .audit_actions(RING, now)
            .iter()
            .filter(|a| *a == "approved")
            .count();
        if usize::try_from(approvals).unwrap() != audited {
            failures.push(format!(
                "after a crash at {fp}: {approvals} approvals logged, {audited} 'approved' audit records"
            ));
        }
    }
    fx.check(RING, T0 + 12 * DAY, &[0, 1, 2]);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Random SIGKILLs
// ---------------------------------------------------------------------------------------------

/// xorshift64*, seeded from the clock (or `DKM_CRASH_SEED`), printed for reproduction.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("DKM_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                let t = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap();
                t.as_nanos() as u64 ^ u64::from(std::process::id())
            });
        eprintln!("random SIGKILL test: DKM_CRASH_SEED={seed}");
        Rng(seed | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

struct Victim {
    what: String,
    child: Child,
    kill_at: Duration,
}

fn reap(v: Victim) -> (String, ExitStatus, String, String) {
    let out = v.child.wait_with_output().unwrap();
    (
        v.what,
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `maintain`/`roll-epoch` and `member add` killed with SIGKILL after random short delays.
#[test]
fn random_sigkills_during_maintain_and_member_add() {
    let started = Instant::now();
    let mut fx = setup();
    let mut rng = Rng::new();
    let admin = fx.id_file("admin");
    let mut killed = 0;
    let mut finished = 0;
    // Rounds where a process was killed and some write had landed.
    let mut killed_after_a_write = 0;
    // Approvers added to the bootstrap ring whose `member add` exited 0.
    let mut acknowledged_adds = Vec::new();
    // Change requests of the policy ring whose `member add` exited 0.
    let mut acknowledged_requests = Vec::new();
    // Kill within 0-30 ms, or within the time these runs take here if that is longer (so
    // kills also land during and after the writes): measured on three concurrent runs.
    let window = {
        let t = Instant::now();
        let now = T0 + DAY + 2 * HOUR;
        let mut children: Vec<Child> = [
            sv(&["roll-epoch", RING, "--as", &fx.id_file("s1")]),
            sv(&["roll-epoch", BOOT, "--as", &fx.id_file("s2")]),
            sv(&["maintain", RING, "--as", &fx.id_file("s2")]),
        ]
        .iter()
        .map(|a| fx.command(now, a, None).spawn().unwrap())
        .collect();
        for c in &mut children {
            assert!(c.wait().unwrap().success());
        }
        u64::try_from(t.elapsed().as_millis())
            .unwrap()
            .clamp(30, 500)
    };
    eprintln!("random SIGKILL test: kill window 0-{window} ms");
    for it in 0..20u64 {
        let now = T0 + 2 * DAY + DAY * it;
        let boot_name = format!("boot{it}");
        let req_name = format!("req{it}");
        fx.identity(&boot_name);
        fx.identity(&req_name);
        let holder = if it % 2 == 0 { "s1" } else { "s2" };
        let write = if it % 3 == 0 {
            "roll-epoch"
        } else {
            "maintain"
        };
        let ring_for_write = if it % 4 == 1 { BOOT } else { RING };
        let jobs = [
            (
                format!("{write} {ring_for_write}"),
                sv(&[write, ring_for_write, "--as", &fx.id_file(holder)]),
            ),
            (
                format!("member add {BOOT} {boot_name}"),
                sv(&[
                    "member",
                    "add",
                    BOOT,
                    "--as",
                    &admin,
                    "--role",
                    "approver",
                    "--identity",
                    &fx.public(&boot_name),
                ]),
            ),
            (
                format!("member add {RING} {req_name}"),
                sv(&[
                    "member",
                    "add",
                    RING,
                    "--as",
                    &admin,
                    "--role",
                    "approver",
                    "--identity",
                    &fx.public(&req_name),
                ]),
            ),
        ];
        let before = fx.snapshot();
        let t = Instant::now();
        let mut victims: Vec<Victim> = jobs
            .into_iter()
            .map(|(what, args)| Victim {
                what,
                child: fx.command(now, &args, None).spawn().unwrap(),
                kill_at: Duration::from_millis(rng.below(window + 1)),
            })
            .collect();
        victims.sort_by_key(|v| v.kill_at);
        for v in &mut victims {
            if let Some(d) = v.kill_at.checked_sub(t.elapsed()) {
                std::thread::sleep(d);
            }
            let _ = v.child.kill();
        }
        let mut killed_now = 0;
        for v in victims {
            let (what, status, stdout, stderr) = reap(v);
            if status.signal() == Some(9) {
                killed_now += 1;
                continue;
            }
            finished += 1;
            if !status.success() && stderr.starts_with("dkm: error: Rollback:") {
                // Known bug: see concurrency.rs `a_reader_racing_a_writer_never_sees_a_rollback`.
                eprintln!("{what}: refused as a rollback (known pin race): {stderr}");
                continue;
            }
            assert!(
                status.success(),
                "{what} ended neither by exit 0 nor by SIGKILL: {status:?}\n{stderr}"
            );
            if what.starts_with(&format!("member add {BOOT}")) {
                acknowledged_adds.push(fx.public(&boot_name));
            } else if what.starts_with(&format!("member add {RING}")) {
                acknowledged_requests.push(stdout.lines().last().unwrap().trim().to_owned());
            }
        }
        killed += killed_now;
        // How many of the store's files the killed and finished processes changed.
        let after = fx.snapshot();
        let changed = before.iter().zip(&after).filter(|(a, b)| a != b).count();
        if killed_now > 0 && changed > 0 {
            killed_after_a_write += 1;
        }
        // After the kills: both rings load and verify, every secret unseals.
        fx.check(RING, now, &[0, 1, 2]);
        fx.check(BOOT, now, &[]);
        // Retried, `member add` on the bootstrap ring succeeds or finds the member there.
        let r = fx.run(
            now,
            &sv(&[
                "member",
                "add",
                BOOT,
                "--as",
                &admin,
                "--role",
                "approver",
                "--identity",
                &fx.public(&boot_name),
            ]),
        );
        assert!(
            r.ok() || r.kind().as_deref() == Some("InvalidInput"),
            "{}",
            r.describe()
        );
        assert!(fx.members(BOOT, now).contains(&fx.public(&boot_name)));
        // The key holders' write, retried, succeeds.
        fx.ok(
            now,
            &sv(&[write, ring_for_write, "--as", &fx.id_file(holder)]),
        );
        fx.ok(now, &sv(&["maintain", BOOT, "--as", &fx.id_file("s1")]));
        fx.seal(now, holder, &format!("after kill round {it}"), "k");
    }
    let end = T0 + 30 * DAY;
    fx.check(RING, end, &(0..fx.secrets.len()).collect::<Vec<_>>());
    fx.check(BOOT, end, &[]);
    let members = fx.members(BOOT, end);
    for p in &acknowledged_adds {
        assert!(members.contains(p), "an acknowledged member add is missing");
    }
    let ids: BTreeSet<String> = fx
        .requests(end)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    for id in &acknowledged_requests {
        assert!(
            ids.contains(id),
            "an acknowledged change request is missing"
        );
    }
    eprintln!(
        "random SIGKILLs: {killed} killed, {finished} finished first, {killed_after_a_write} rounds with a kill and a landed write, {:?}",
        started.elapsed()
    );
}
