#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! What the `dkm` command's integration tests share: a temporary store and `DKM_HOME`
//! ([`Env`]) with helpers that run the command and check its one-line errors, and a ring with
//! admins, key holders and approvers ([`Fx`]).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// 2030-01-01T00:00:00Z.
pub const T0: u64 = 1_893_456_000;
pub const HOUR: u64 = 3_600;
pub const DAY: u64 = 86_400;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Unix seconds as RFC 3339 (UTC), without a date library.
pub fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / DAY).unwrap();
    let rem = secs % DAY;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / HOUR,
        rem % HOUR / 60,
        rem % 60
    )
}

pub fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or("").trim()
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A command line as words (the temporary directory's paths hold no whitespace).
pub fn w(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

pub fn json(s: &str) -> Value {
    serde_json::from_str(s.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// Deterministic garbage.
pub fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

#[derive(Clone, Debug)]
pub struct Id {
    pub file: String,
    pub public: String,
}

/// A temporary directory holding a store (`store/`), a `DKM_HOME` (`home/`) and files.
pub struct Env {
    pub dir: TempDir,
}

impl Env {
    pub fn new() -> Env {
        let dir = TempDir::new().unwrap();
        assert!(!dir.path().to_str().unwrap().contains(char::is_whitespace));
        Env { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn store(&self) -> PathBuf {
        self.root().join("store")
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// A path under the temporary directory, as a string argument.
    pub fn path(&self, name: &str) -> String {
        self.root().join(name).to_str().unwrap().to_owned()
    }

    /// Writes a file only its owner can read (identity files among them must be private).
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.path(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    }

    pub fn cmd(&self, now: u64, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("dkm").unwrap();
        c.current_dir(self.root())
            .env("DKM_STORE", self.store())
            .env("DKM_HOME", self.home())
            .env("DKM_NOW", rfc3339(now))
            .env("TMPDIR", self.root())
            .env_remove("RUST_BACKTRACE")
            .args(args);
        c
    }

    pub fn run(&self, now: u64, args: &[&str], stdin: &[u8]) -> Output {
        let mut c = self.cmd(now, args);
        c.write_stdin(stdin.to_vec());
        c.output().unwrap()
    }

    /// Runs a command that must succeed; its stdout.
    pub fn ok_bytes(&self, now: u64, args: &[&str], stdin: &[u8]) -> Vec<u8> {
        let o = self.run(now, args, stdin);
        assert!(
            o.status.success(),
            "dkm {args:?} at {} failed: {}",
            rfc3339(now),
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    }

    pub fn ok(&self, now: u64, args: &[&str]) -> String {
        String::from_utf8(self.ok_bytes(now, args, b"")).unwrap()
    }

    pub fn ok_in(&self, now: u64, args: &[&str], stdin: &[u8]) -> String {
        String::from_utf8(self.ok_bytes(now, args, stdin)).unwrap()
    }

    /// Runs a command that must fail with exactly one stderr line `dkm: error: ...` and
    /// nothing on stdout; the line.
    pub fn err_in(&self, now: u64, args: &[&str], stdin: &[u8]) -> String {
        let o = self.run(now, args, stdin);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(
            !o.status.success(),
            "dkm {args:?} at {} succeeded (stdout {:?}, stderr {stderr:?})",
            rfc3339(now),
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(
            stderr.ends_with('\n') && stderr.matches('\n').count() == 1,
            "dkm {args:?}: stderr is not exactly one line: {stderr:?}"
        );
        assert!(
            stderr.starts_with("dkm: error: "),
            "dkm {args:?}: stderr does not start with `dkm: error: `: {stderr:?}"
        );
        assert!(
            o.stdout.is_empty(),
            "dkm {args:?}: a refused command printed {:?}",
            String::from_utf8_lossy(&o.stdout)
        );
        stderr.trim_end().to_owned()
    }

    /// Like [`Env::err_in`], and the error kind must be `kind`.
    pub fn refused_in(&self, now: u64, args: &[&str], stdin: &[u8], kind: &str) -> String {
        let line = self.err_in(now, args, stdin);
        assert!(
            line.starts_with(&format!("dkm: error: {kind}: ")),
            "dkm {args:?} at {}: expected {kind}, got {line:?}",
            rfc3339(now)
        );
        line
    }

    pub fn refused(&self, now: u64, args: &[&str], kind: &str) -> String {
        self.refused_in(now, args, b"", kind)
    }

    /// Refused (any kind), with the store byte-for-byte unchanged.
    pub fn refused_unchanged(&self, now: u64, args: &[&str], stdin: &[u8]) -> String {
        let before = self.snapshot();
        let line = self.err_in(now, args, stdin);
        let after = self.snapshot();
        assert!(
            before == after,
            "dkm {args:?} ({line}) changed the store: {:?}",
            diff(&before, &after)
        );
        line
    }

    /// Every file and directory under the store, with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
        fn walk(dir: &Path, base: &Path, out: &mut BTreeMap<PathBuf, Option<Vec<u8>>>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(base).unwrap().to_path_buf();
                if p.is_dir() {
                    out.insert(rel, None);
                    walk(&p, base, out);
                } else {
                    out.insert(rel, Some(std::fs::read(&p).unwrap()));
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.store(), &self.store(), &mut out);
        out
    }

    pub fn identity(&self, name: &str) -> Id {
        let file = self.path(&format!("{name}.id"));
        let out = self.ok(T0, &w(&format!("identity new {name} --out {file}")));
        Id {
            file,
            public: last_line(&out).to_owned(),
        }
    }

    pub fn audit_path(&self, ring: &str) -> PathBuf {
        self.store().join(ring).join("audit.jsonl")
    }

    /// The `requests --json` entry with id `id`.
    pub fn request(&self, now: u64, ring: &str, id: &str) -> Value {
        let all = json(&self.ok(now, &w(&format!("requests {ring} --json"))));
        all.as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("request {id} not listed: {all}"))
    }

    pub fn request_state(&self, now: u64, ring: &str, id: &str) -> String {
        self.request(now, ring, id)["state"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

pub fn diff(
    a: &BTreeMap<PathBuf, Option<Vec<u8>>>,
    b: &BTreeMap<PathBuf, Option<Vec<u8>>>,
) -> Vec<PathBuf> {
    a.keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

/// An admin, two service accounts, two approvers and an engineer.
pub struct Fx {
    pub env: Env,
    pub admin: Id,
    pub svc1: Id,
    pub svc2: Id,
    pub ops: Id,
    pub sec: Id,
    pub eng: Id,
}

/// When the approvers of a ring set up at `T0` have cooled off (24 h) and an hour more.
pub const T1: u64 = T0 + DAY + HOUR;

impl Fx {
    pub fn new() -> Fx {
        let env = Env::new();
        let admin = env.identity("admin");
        let svc1 = env.identity("svc1");
        let svc2 = env.identity("svc2");
        let ops = env.identity("ops");
        let sec = env.identity("sec");
        let eng = env.identity("eng");
        Fx {
            env,
            admin,
            svc1,
            svc2,
            ops,
            sec,
            eng,
        }
    }

    pub fn levels(&self) -> [String; 4] {
        [
            "--level".to_owned(),
            format!("ops:1:{}", self.ops.public),
            "--level".to_owned(),
            format!("security:1:{}", self.sec.public),
        ]
    }

    /// At `T0`: ring `ring` with `admin`, key holders `holders`, approvers ops and sec, the
    /// policy `ops:1:OPS` then `security:1:SEC`, maintained. Returns the ring id.
    pub fn ring_with(&self, ring: &str, admin: &Id, holders: &[&Id]) -> String {
        let e = &self.env;
        let out = e.ok(
            T0,
            &w(&format!("ring create {ring} --admin {}", admin.file)),
        );
        let id = last_line(&out).to_owned();
        for h in holders {
            e.ok(
                T0,
                &w(&format!(
                    "member add {ring} --as {} --role service --identity {}",
                    admin.file, h.public
                )),
            );
        }
        for a in [&self.ops, &self.sec] {
            e.ok(
                T0,
                &w(&format!(
                    "member add {ring} --as {} --role approver --identity {}",
                    admin.file, a.public
                )),
            );
        }
        let levels = self.levels();
        let mut args = vec!["policy", "approvals", ring, "--as", &admin.file];
        args.extend(levels.iter().map(String::as_str));
        e.ok(T0, &args);
        e.ok(T0, &["maintain", ring, "--as", &holders[0].file]);
        id
    }

    pub fn policy_ring(&self, ring: &str) -> String {
        self.ring_with(ring, &self.admin, &[&self.svc1, &self.svc2])
    }

    /// An access request by `who` at `now`, approved at both levels; its id.
    pub fn approved_request(&self, ring: &str, who: &Id, now: u64, extra: &[&str]) -> String {
        let e = &self.env;
        let mut args = vec![
            "access",
            "request",
            ring,
            "--as",
            &who.file,
            "--reason",
            "debugging",
            "--duration",
            "4h",
        ];
        args.extend_from_slice(extra);
        let req = last_line(&e.ok(now, &args)).to_owned();
        assert!(is_hex(&req, 64), "{req}");
        e.ok(
            now,
            &w(&format!(
                "approve {ring} {req} --as {} --level ops",
                self.ops.file
            )),
        );
        e.ok(
            now,
            &w(&format!(
                "approve {ring} {req} --as {} --level security",
                self.sec.file
            )),
        );
        req
    }
}
