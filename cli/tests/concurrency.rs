#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Concurrency of the `dkm` command on one file store: rounds of 8 processes started at once
//! (`maintain`, `roll-epoch`, `member add`, `approve`, `seal`) at several simulated times,
//! against two rings of one store: `acc`, with a two-level approval policy (approvals of
//! access requests logged beforehand, a `member add` that becomes a change request), and
//! `boot`, still in bootstrap (`member add` of new approvers is signed at once).
//!
//! Afterwards: both rings load, both audit chains verify, every write a command acknowledged
//! (exit 0) is there (members added, approvals counted, change requests listed, epochs rolled
//! and their audit records), everything sealed unseals. A process may fail only with
//! `Conflict` (its retries exhausted), or by one of the two known races the ignored tests
//! below pin down (a seal refused `Stale`, a load refused as a `Rollback`); such failures are
//! counted and reported, and a failed write is allowed to be there or not.
//!
//! Every process shares one store and one `DKM_HOME` (pins are replaced by rename). The
//! rounds run twice: on the file store, and on one etcd member (etcd-server from Debian,
//! installed by scripts/lib/deps.sh; the test fails when etcd cannot start).

#[path = "../../host/tests/etcd_server/mod.rs"]
mod etcd_server;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use serde_json::Value;
use tempfile::TempDir;

/// 2030-01-01T00:00:00Z.
const T0: u64 = 1_893_456_000;
const MINUTE: u64 = 60;
const HOUR: u64 = 3_600;
const DAY: u64 = 86_400;
/// The ring with an approval policy.
const ACC: &str = "acc";
/// The ring still in bootstrap.
const BOOT: &str = "boot";
const ROUNDS: u64 = 20;
/// Conflicts (retries exhausted) tolerated over the whole run before the test calls them
/// frequent.
const MAX_CONFLICTS: usize = 2;

fn at(t: u64) -> String {
    dkm_host::files::format_time(t)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn sv(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn describe(args: &[String], now: u64, out: &Output) -> String {
    format!(
        "dkm {} (at {})\n  status: {:?}\n  stdout: {}\n  stderr: {}",
        args.join(" "),
        at(now),
        out.status,
        text(&out.stdout).trim(),
        text(&out.stderr).trim()
    )
}

/// The error kind of the one-line error (`dkm: error: KIND: message`).
fn kind(out: &Output) -> Option<String> {
    let stderr = text(&out.stderr);
    let rest = stderr.lines().last()?.strip_prefix("dkm: error: ")?;
    Some(rest.split(':').next()?.to_owned())
}

struct Secret {
    ring: &'static str,
    file: PathBuf,
    plaintext: String,
    context: String,
}

struct Fx {
    dir: TempDir,
    publics: BTreeMap<String, String>,
    /// `--store`: None for the file store in the temporary directory.
    store: Option<String>,
}

impl Fx {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn id_file(&self, name: &str) -> String {
        self.path(&format!("{name}.id")).display().to_string()
    }

    fn public(&self, name: &str) -> String {
        self.publics[name].clone()
    }

    fn command(&self, now: u64, args: &[String]) -> Command {
        self.command_in(now, args, "home")
    }

    /// A command with its own `DKM_HOME` (`home`, in the temporary directory).
    fn command_in(&self, now: u64, args: &[String], home: &str) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dkm"));
        c.args(args)
            .env(
                "DKM_STORE",
                self.store
                    .clone()
                    .unwrap_or_else(|| self.path("store").display().to_string()),
            )
            .env("DKM_HOME", self.path(home))
            .env("DKM_NOW", at(now))
            .env_remove("DKM_FAILPOINT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn ok(&self, now: u64, args: &[String]) -> String {
        let out = self.command(now, args).output().unwrap();
        assert!(
            out.status.success(),
            "expected success:\n{}",
            describe(args, now, &out)
        );
        text(&out.stdout)
    }

    fn identity(&mut self, name: &str) {
        let out = self.ok(
            T0,
            &sv(&["identity", "new", name, "--out", &self.id_file(name)]),
        );
        let public = out.lines().last().unwrap().trim().to_owned();
        self.publics.insert(name.to_owned(), public);
    }

    fn add(&self, ring: &str, role: &str, who: &str) -> Vec<String> {
        sv(&[
            "member",
            "add",
            ring,
            "--as",
            &self.id_file("admin"),
            "--role",
            role,
            "--identity",
            &self.public(who),
        ])
    }

    /// The command line of a seal, and the secret it produces when it exits 0.
    fn seal_job(
        &self,
        ring: &'static str,
        holder: &str,
        tag: &str,
        context: &str,
    ) -> (Vec<String>, Secret) {
        let plaintext = format!("secret {tag} sealed by {holder} on {ring}");
        let input = self.path(&format!("plain-{tag}"));
        std::fs::write(&input, &plaintext).unwrap();
        let file = self.path(&format!("sealed-{tag}"));
        let args = sv(&[
            "seal",
            ring,
            "--as",
            &self.id_file(holder),
            "--context",
            context,
            "--in",
            &input.display().to_string(),
            "--out",
            &file.display().to_string(),
        ]);
        (
            args,
            Secret {
                ring,
                file,
                plaintext,
                context: context.to_owned(),
            },
        )
    }

    fn unseals(&self, now: u64, s: &Secret, who: &str) {
        let args = sv(&[
            "unseal",
            s.ring,
            "--as",
            &self.id_file(who),
            "--context",
            &s.context,
            "--in",
            &s.file.display().to_string(),
        ]);
        let out = self.ok(now, &args);
        assert_eq!(out, s.plaintext, "dkm {}", args.join(" "));
    }

    fn ring_json(&self, ring: &str, now: u64) -> Value {
        json(&self.ok(now, &sv(&["ring", "show", ring, "--json"])))
    }

    fn keys_json(&self, ring: &str, now: u64) -> Value {
        json(&self.ok(now, &sv(&["keys", ring, "--json"])))
    }

    fn requests(&self, now: u64) -> Vec<Value> {
        json(&self.ok(now, &sv(&["requests", ACC, "--json"])))
            .as_array()
            .unwrap()
            .clone()
    }

    fn audit_actions(&self, ring: &str, now: u64) -> Vec<String> {
        self.ok(now, &sv(&["audit", "show", ring, "--json"]))
            .lines()
            .map(|l| json(l)["action"].as_str().unwrap().to_owned())
            .collect()
    }
}

/// What a job's exit 0 acknowledges.
enum Ack {
    /// A key holder's `maintain` (may write nothing).
    Maintain,
    /// A new epoch of the ring.
    Roll(&'static str),
    /// A member of `boot` (public identity).
    Member(String),
    /// A change request logged on `acc` (its id is the last line of output).
    ChangeRequest,
    /// An approval of the request at level index 0 or 1.
    Approval(String, usize),
    /// A secret.
    Sealed(Secret),
}

struct Job {
    args: Vec<String>,
    now: u64,
    ack: Ack,
}

struct Started {
    job: Job,
    child: Child,
}

/// The state of one access request of the round.
struct Counted {
    /// Approvals logged before the round, by level.
    before: [usize; 2],
    /// Approvals acknowledged during the round, by level.
    acked: [usize; 2],
    /// Approvals that failed (`Conflict`, or a known race), by level.
    failed: [usize; 2],
}

#[test]
fn eight_processes_at_once_lose_no_acknowledged_write() {
    eight_processes_at_once(None, DAY);
}

/// The same rounds with every process on one etcd member (each process its own client, its
/// own watch), four simulated days apart: about three months.
#[test]
fn eight_processes_at_once_on_etcd_lose_no_acknowledged_write() {
    let etcd = etcd_server::Etcd::single();
    eight_processes_at_once(Some(etcd.url("concurrency")), 4 * DAY);
}

#[allow(clippy::too_many_lines)]
fn eight_processes_at_once(store: Option<String>, step: u64) {
    let started = Instant::now();
    let mut fx = Fx {
        dir: tempfile::tempdir().unwrap(),
        publics: BTreeMap::new(),
        store,
    };
    let ops = ["o1", "o2", "o3"];
    let sec = ["c1", "c2", "c3"];
    for n in ["admin", "s1", "s2", "eng"].iter().chain(&ops).chain(&sec) {
        fx.identity(n);
    }
    let admin = fx.id_file("admin");
    for ring in [ACC, BOOT] {
        fx.ok(T0, &sv(&["ring", "create", ring, "--admin", &admin]));
        for s in ["s1", "s2"] {
            fx.ok(T0, &fx.add(ring, "service", s));
        }
    }
    for a in ops.iter().chain(&sec) {
        fx.ok(T0, &fx.add(ACC, "approver", a));
    }
    let level = |name: &str, who: &[&str]| {
        format!(
            "{name}:1:{}",
            who.iter()
                .map(|w| fx.public(w))
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let (ops_level, sec_level) = (level("ops", &ops), level("sec", &sec));
    fx.ok(
        T0,
        &sv(&[
            "policy",
            "approvals",
            ACC,
            "--as",
            &admin,
            "--level",
            &ops_level,
            "--level",
            &sec_level,
        ]),
    );
    let mut secrets = Vec::new();
    for ring in [ACC, BOOT] {
        fx.ok(T0, &sv(&["maintain", ring, "--as", &fx.id_file("s1")]));
        let (args, s) = fx.seal_job(ring, "s2", &format!("setup-{ring}"), "setup");
        fx.ok(T0 + MINUTE, &args);
        secrets.push(s);
    }

    let mut boot_members = Vec::new();
    let mut change_requests = Vec::new();
    let mut rolls: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failed_rolls: BTreeMap<&str, usize> = BTreeMap::new();
    let mut counted: BTreeMap<String, Counted> = BTreeMap::new();
    let mut conflicts = Vec::new();
    let mut stale_seals = Vec::new();
    let mut rollbacks = Vec::new();
    let mut last = T0;
    for round in 0..ROUNDS {
        // Approvers count a day after the key-state write that bound them.
        let t = T0 + 2 * DAY + round * step + round * 5 * HOUR;
        // An access request with its first-level approval, logged beforehand.
        let req = fx
            .ok(
                t,
                &sv(&[
                    "access",
                    "request",
                    ACC,
                    "--as",
                    &fx.id_file("eng"),
                    "--reason",
                    &format!("round {round}"),
                    "--duration",
                    "2h",
                ]),
            )
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned();
        fx.ok(
            t + MINUTE,
            &sv(&[
                "approve",
                ACC,
                &req,
                "--as",
                &fx.id_file("o1"),
                "--level",
                "ops",
            ]),
        );
        counted.insert(
            req.clone(),
            Counted {
                before: [1, 0],
                acked: [0, 0],
                failed: [0, 0],
            },
        );
        for i in 0..3 {
            fx.identity(&format!("new-{round}-{i}"));
        }
        let approve = |who: &str, level: &str| {
            sv(&[
                "approve",
                ACC,
                &req,
                "--as",
                &fx.id_file(who),
                "--level",
                level,
            ])
        };
        let holder = |ring: &str, cmd: &str, who: &str| sv(&[cmd, ring, "--as", &fx.id_file(who)]);
        let (heavy, light) = if round % 2 == 0 {
            (ACC, BOOT)
        } else {
            (BOOT, ACC)
        };
        let seal = |ring: &'static str, who: &str, tag: &str, context: &str, now: u64| {
            let (args, secret) = fx.seal_job(ring, who, &format!("{round}-{tag}"), context);
            Job {
                args,
                now,
                ack: Ack::Sealed(secret),
            }
        };
        let new = |i: usize| format!("new-{round}-{i}");
        let mut jobs = vec![
            Job {
                args: holder(heavy, "maintain", "s1"),
                now: t + HOUR,
                ack: Ack::Maintain,
            },
            Job {
                args: holder(heavy, "roll-epoch", "s2"),
                now: t + 2 * HOUR,
                ack: Ack::Roll(heavy),
            },
            Job {
                args: approve(ops[1 + usize::try_from(round % 2).unwrap()], "ops"),
                now: t + 10 * MINUTE,
                ack: Ack::Approval(req.clone(), 0),
            },
            Job {
                args: approve(sec[usize::try_from(round % 3).unwrap()], "sec"),
                now: t + 20 * MINUTE,
                ack: Ack::Approval(req.clone(), 1),
            },
            Job {
                args: fx.add(BOOT, "approver", &new(0)),
                now: t + 5 * MINUTE,
                ack: Ack::Member(fx.public(&new(0))),
            },
        ];
        if heavy == ACC {
            jobs.extend([
                seal(ACC, "s1", "a", "ctx a", t + 30 * MINUTE),
                seal(ACC, "s2", "b", "", t + 3 * HOUR),
                Job {
                    args: fx.add(ACC, "approver", &new(1)),
                    now: t + 40 * MINUTE,
                    ack: Ack::ChangeRequest,
                },
            ]);
        } else {
            jobs.extend([
                seal(BOOT, "s1", "a", "ctx a", t + 30 * MINUTE),
                Job {
                    args: fx.add(BOOT, "approver", &new(1)),
                    now: t + 40 * MINUTE,
                    ack: Ack::Member(fx.public(&new(1))),
                },
                seal(light, "s2", "c", "ctx c", t + 50 * MINUTE),
            ]);
        }
        assert_eq!(jobs.len(), 8);
        last = last.max(jobs.iter().map(|j| j.now).max().unwrap());

        // Spawn all eight, then wait for each.
        let running: Vec<Started> = jobs
            .into_iter()
            .map(|job| Started {
                child: fx.command(job.now, &job.args).spawn().unwrap(),
                job,
            })
            .collect();
        for s in running {
            let out = s.child.wait_with_output().unwrap();
            let job = s.job;
            if !out.status.success() {
                let k = kind(&out);
                let said = describe(&job.args, job.now, &out);
                match k.as_deref() {
                    Some("Conflict") => conflicts.push(said),
                    // Known bug (see `a_seal_racing_a_governance_change_does_not_fail_stale`):
                    // the seal ran maintain, and a concurrent `member add` made the ring
                    // pending again before it reloaded. Nothing was written.
                    Some("Stale") if matches!(job.ack, Ack::Sealed(_)) => stale_seals.push(said),
                    // Known bug (see `a_reader_racing_a_writer_never_sees_a_rollback`): the ring
                    // was read, then a newer pin another process saved in between.
                    Some("Rollback") => rollbacks.push(said),
                    _ => panic!(
                        "a concurrent process failed other than by Conflict (retries exhausted):\n{said}"
                    ),
                }
                match &job.ack {
                    Ack::Approval(r, l) => counted.get_mut(r).unwrap().failed[*l] += 1,
                    Ack::Roll(ring) => *failed_rolls.entry(ring).or_default() += 1,
                    _ => {}
                }
                continue;
            }
            match job.ack {
                Ack::Maintain => {}
                Ack::Roll(ring) => *rolls.entry(ring).or_default() += 1,
                Ack::Member(p) => boot_members.push(p),
                Ack::ChangeRequest => {
                    change_requests.push(text(&out.stdout).lines().last().unwrap().to_owned());
                }
                Ack::Approval(r, l) => counted.get_mut(&r).unwrap().acked[l] += 1,
                Ack::Sealed(s) => secrets.push(s),
            }
        }
        // Between rounds: both rings load and verify.
        for ring in [ACC, BOOT] {
            let v = fx.ok(last, &sv(&["audit", "verify", ring]));
            assert!(v.contains("verifies"), "{v}");
        }
    }

    // Afterwards, at a time after every write.
    let end = last + HOUR;
    for ring in [ACC, BOOT] {
        fx.ok(end, &sv(&["ring", "show", ring]));
        let v = fx.ok(end, &sv(&["audit", "verify", ring]));
        assert!(v.contains("verifies"), "{v}");
    }
    // Members added to the bootstrap ring.
    let members: BTreeSet<String> = fx.ring_json(BOOT, end)["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["public"].as_str().unwrap().to_owned())
        .collect();
    for p in &boot_members {
        assert!(
            members.contains(p),
            "an acknowledged member add is missing: {p}"
        );
    }
    // Approvals and change requests of the policy ring.
    let requests = fx.requests(end);
    let by_id: BTreeMap<String, &Value> = requests
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r))
        .collect();
    let mut logged_approvals = 0;
    for (id, c) in &counted {
        let r = by_id.get(id).unwrap_or_else(|| panic!("request {id} lost"));
        for level in 0..2 {
            let n = usize::try_from(r["levels"][level]["approvals"].as_u64().unwrap()).unwrap();
            let (lo, hi) = (
                c.before[level] + c.acked[level],
                c.before[level] + c.acked[level] + c.failed[level],
            );
            assert!(
                (lo..=hi).contains(&n),
                "request {id} level {level}: {n} approvals counted, {lo} acknowledged: {r}"
            );
            logged_approvals += n;
        }
    }
    for id in &change_requests {
        let r = by_id
            .get(id)
            .unwrap_or_else(|| panic!("an acknowledged change request is missing: {id}"));
        assert!(
            r["kind"]
                .as_str()
                .is_some_and(|k| k.starts_with("governance change")),
            "{r}"
        );
    }
    // Every approval logged has its audit record.
    let acc_actions = fx.audit_actions(ACC, end);
    assert_eq!(
        acc_actions.iter().filter(|a| *a == "approved").count(),
        logged_approvals,
        "approvals logged vs 'approved' audit records"
    );
    // Epochs: one per acknowledged roll (nothing else here creates one), each audited once.
    for ring in [ACC, BOOT] {
        let epochs = fx.keys_json(ring, end)["epochs"].as_array().unwrap().len();
        let acked = 1 + rolls.get(ring).copied().unwrap_or(0);
        let failed = failed_rolls.get(ring).copied().unwrap_or(0);
        assert!(
            (acked..=acked + failed).contains(&epochs),
            "{ring}: {epochs} epochs, {acked} acknowledged (first one included)"
        );
        let actions = fx.audit_actions(ring, end);
        assert_eq!(
            actions.iter().filter(|a| *a == "epoch-created").count(),
            epochs,
            "{ring}: epochs vs 'epoch-created' audit records"
        );
    }
    // Everything sealed unseals, by either key holder.
    for (i, s) in secrets.iter().enumerate() {
        fx.unseals(end, s, if i % 2 == 0 { "s1" } else { "s2" });
    }
    eprintln!(
        "{ROUNDS} rounds of 8 processes: {} secrets, {} members added, {} change requests, {} approvals logged, rolls {rolls:?}, {} Conflict failures, {} seals refused Stale, {} Rollback refusals, {:?}",
        secrets.len(),
        boot_members.len(),
        change_requests.len(),
        logged_approvals,
        conflicts.len(),
        stale_seals.len(),
        rollbacks.len(),
        started.elapsed()
    );
    assert!(
        rollbacks.is_empty(),
        "refused as a rollback after a concurrent pin save:\n{}",
        rollbacks.join("\n")
    );
    assert!(
        stale_seals.is_empty(),
        "seals refused Stale after a concurrent governance change:\n{}",
        stale_seals.join("\n")
    );
    for c in &conflicts {
        eprintln!("Conflict (retries exhausted):\n{c}");
    }
    assert!(
        conflicts.len() <= MAX_CONFLICTS,
        "{} processes gave up with Conflict: retries are exhausted too often",
        conflicts.len()
    );
}

/// A seal that runs `maintain` first must not fail because another process signed a
/// governance change between that maintain and its reload: it is a lost race like any other,
/// to be retried.
#[test]

fn a_seal_racing_a_governance_change_does_not_fail_stale() {
    let mut fx = Fx {
        dir: tempfile::tempdir().unwrap(),
        publics: BTreeMap::new(),
        store: None,
    };
    for n in ["admin", "s1", "s2"] {
        fx.identity(n);
    }
    let admin = fx.id_file("admin");
    fx.ok(T0, &sv(&["ring", "create", BOOT, "--admin", &admin]));
    for s in ["s1", "s2"] {
        fx.ok(T0, &fx.add(BOOT, "service", s));
    }
    fx.ok(T0, &sv(&["maintain", BOOT, "--as", &fx.id_file("s1")]));
    let mut failures = Vec::new();
    let mut runs = 0;
    for round in 0..10u64 {
        let t = T0 + HOUR + round * MINUTE;
        let mut jobs = Vec::new();
        for i in 0..4 {
            let name = format!("a-{round}-{i}");
            fx.identity(&name);
            jobs.push(fx.add(BOOT, "approver", &name));
            let (args, _) = fx.seal_job(
                BOOT,
                if i % 2 == 0 { "s1" } else { "s2" },
                &format!("{round}-{i}"),
                "",
            );
            jobs.push(args);
        }
        let children: Vec<(Vec<String>, Child)> = jobs
            .into_iter()
            .map(|a| {
                let c = fx.command(t, &a).spawn().unwrap();
                (a, c)
            })
            .collect();
        for (args, c) in children {
            let out = c.wait_with_output().unwrap();
            runs += 1;
            if !out.status.success() {
                failures.push(describe(&args, t, &out));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Reading a ring while another process writes it (sharing one `DKM_HOME`) must never be
/// refused as a rollback. The interleaving, made deterministic with a FIFO at the pin book's
/// path: the reader reads the ring (version v), then pauses before its pin book read; a writer
/// commits v+1 and saves its pin; the reader reads the pin book (now v+1's pin) and refuses
/// the honest ring it read as a rollback. (Without the FIFO the race shows up in about 1 of
/// 100-500 reads of a ring that two processes keep rolling.)
#[test]

fn a_reader_racing_a_writer_never_sees_a_rollback() {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    /// `O_NONBLOCK` on Linux.
    const O_NONBLOCK: i32 = 0o4000;

    let mut fx = Fx {
        dir: tempfile::tempdir().unwrap(),
        publics: BTreeMap::new(),
        store: None,
    };
    for n in ["admin", "s1"] {
        fx.identity(n);
    }
    let admin = fx.id_file("admin");
    let id = fx.ok(T0, &sv(&["ring", "create", BOOT, "--admin", &admin]));
    let id = id.lines().last().unwrap().trim().to_owned();
    fx.ok(T0, &fx.add(BOOT, "service", "s1"));
    fx.ok(T0, &sv(&["maintain", BOOT, "--as", &fx.id_file("s1")]));
    fx.ok(T0, &sv(&["keys", BOOT]));

    // The pin book's file becomes a FIFO the reader will block on.
    let pin_path = fx.path("home").join("pins").join(format!("{id}.pin"));
    let saved = std::fs::read(&pin_path).unwrap();
    std::fs::remove_file(&pin_path).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(&pin_path)
            .status()
            .unwrap()
            .success()
    );
    let fifo = fx.path("fifo");
    std::fs::hard_link(&pin_path, &fifo).unwrap();

    // The reader: it reads the ring (version v), then opens the pin book's file.
    let mut reader = fx.command(T0 + HOUR, &sv(&["keys", BOOT])).spawn().unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    let opened = loop {
        // Opens only once the reader has opened the FIFO: it has read the ring.
        match std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(O_NONBLOCK)
            .open(&fifo)
        {
            Ok(f) => break Some(f),
            Err(_) if reader.try_wait().unwrap().is_some() => break None,
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "the reader never opened the pin book: {e}"
                );
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    };
    let Some(mut fifo_w) = opened else {
        // The pin book does not wait on a FIFO (it refuses what is not a regular file): race
        // real processes instead.
        let out = reader.wait_with_output().unwrap();
        eprintln!(
            "the pin book does not block on a FIFO ({}): racing processes instead",
            text(&out.stderr).trim()
        );
        std::fs::remove_file(&pin_path).unwrap();
        std::fs::write(&pin_path, &saved).unwrap();
        return race_readers_and_writers(&fx);
    };
    // The writer commits version v+1 and saves its pin. (It keeps its pins in a home of its
    // own, so it never touches the FIFO; what it saves is what it would have saved in the
    // shared one.)
    let writer = fx
        .command_in(
            T0 + HOUR,
            &sv(&["roll-epoch", BOOT, "--as", &fx.id_file("s1")]),
            "writer-home",
        )
        .output()
        .unwrap();
    assert!(writer.status.success(), "{}", text(&writer.stderr));
    let new_pin = std::fs::read(
        fx.path("writer-home")
            .join("pins")
            .join(format!("{id}.pin")),
    )
    .unwrap();
    assert_ne!(new_pin, saved, "the writer's pin is the newer one");
    // The reader's pin book read, after the writer's commit, sees the writer's pin.
    fifo_w.write_all(&new_pin).unwrap();
    drop(fifo_w);
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    while reader.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = reader.kill();
            panic!("the reader did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = reader.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "a reader of an honest ring was refused:\n{}",
        describe(&sv(&["keys", BOOT]), T0 + HOUR, &out)
    );
}

/// Two processes keep rolling the ring while six keep reading it: no run may fail.
fn race_readers_and_writers(fx: &Fx) {
    let failures: Vec<String> = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (who, runs) in [
            ("s1", 30),
            ("s1", 30),
            ("", 80),
            ("", 80),
            ("", 80),
            ("", 80),
        ] {
            handles.push(scope.spawn(move || {
                let args = if who.is_empty() {
                    sv(&["keys", BOOT])
                } else {
                    sv(&["roll-epoch", BOOT, "--as", &fx.id_file(who)])
                };
                let mut f = Vec::new();
                for _ in 0..runs {
                    let out = fx.command(T0 + HOUR, &args).output().unwrap();
                    if !out.status.success() {
                        f.push(describe(&args, T0 + HOUR, &out));
                    }
                }
                f
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of 380 runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
