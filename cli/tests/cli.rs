#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Integration tests of the `dkm` command: every command's happy path and `--help`, a full
//! story over two years of simulated time (`--now`), every refusal of elevated access the
//! command line can reach, audit tampering, and bad input files (truncated, empty, garbage,
//! wrong ring) that must give one error line and leave the store byte-for-byte unchanged.
//!
//! Every test runs in its own temporary directory with its own store and `DKM_HOME`.
mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use std::path::Path;

use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// --help, --version, demo, argument errors
// ---------------------------------------------------------------------------------------------

#[test]
fn help_for_every_command_exits_zero() {
    let e = Env::new();
    let commands: &[&[&str]] = &[
        &[],
        &["identity"],
        &["identity", "new"],
        &["identity", "show"],
        &["ring"],
        &["ring", "create"],
        &["ring", "show"],
        &["ring", "rename"],
        &["ring", "export-public"],
        &["keys"],
        &["member"],
        &["member", "add"],
        &["member", "remove"],
        &["policy"],
        &["policy", "approvals"],
        &["revoke"],
        &["shred"],
        &["apply"],
        &["seal"],
        &["unseal"],
        &["seal-to"],
        &["maintain"],
        &["roll-epoch"],
        &["access"],
        &["access", "request"],
        &["access", "grant"],
        &["access", "revoke"],
        &["requests"],
        &["approve"],
        &["audit"],
        &["audit", "show"],
        &["audit", "verify"],
        &["demo"],
    ];
    for c in commands {
        for flag in ["--help", "-h"] {
            let mut args = c.to_vec();
            args.push(flag);
            let out = e.ok(T0, &args);
            assert!(out.contains("Usage: dkm"), "dkm {args:?}: {out}");
        }
        let mut args = vec!["help"];
        args.extend_from_slice(c);
        assert!(e.ok(T0, &args).contains("Usage: dkm"), "dkm {args:?}");
    }
    let v = e.ok(T0, &w("--version"));
    assert!(v.starts_with("dkm "), "{v}");
    assert!(e.snapshot().is_empty(), "help wrote to the store");
}

#[test]
fn demo_runs_the_whole_story() {
    let e = Env::new();
    let out = e.ok(T0, &w("demo"));
    assert!(
        out.contains("Done: every step behaved as designed."),
        "{out}"
    );
    for step in 1..=10 {
        assert!(out.contains(&format!("[{step}]")), "step {step} missing");
    }
    // The demo cleans up its temporary store.
    let left: Vec<_> = std::fs::read_dir(e.root())
        .unwrap()
        .map(|d| d.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "the demo left {left:?}");
}

#[test]
fn argument_errors_are_one_line() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("main");
    let bad: &[&[&str]] = &[
        &["frobnicate"],
        &["seal"],
        &["ring", "create", "x"],
        &["keys", "main", "--bogus"],
        &["revoke", "main", "--epoch", "one", "--as", &fx.admin.file],
        &[
            "access",
            "request",
            "main",
            "--as",
            &fx.eng.file,
            "--reason",
            "x",
            "--duration",
            "1h",
            "--since",
            "2030-01-01T00:00:00Z",
            "--epoch",
            "1",
        ],
    ];
    for args in bad {
        let o = e.run(T0, args, b"");
        assert_eq!(o.status.code(), Some(2), "dkm {args:?}");
        let line = e.refused(T0, args, "InvalidInput");
        assert!(line.contains("see dkm --help"), "{line}");
    }
    // Values the command checks itself.
    let invalid: &[&[&str]] = &[
        &["--now", "yesterday", "ring", "show", "main"],
        &["ring", "show", "no-such-ring"],
        &["ring", "show", "../escape"],
        &["ring", "create", "bad/name", "--admin", &fx.admin.file],
        &[
            "ring",
            "create",
            "x",
            "--admin",
            &fx.admin.file,
            "--interval",
            "banana",
        ],
        &[
            "ring",
            "create",
            "x",
            "--admin",
            &fx.admin.file,
            "--interval",
            "0s",
        ],
        &[
            "member",
            "add",
            "main",
            "--as",
            &fx.admin.file,
            "--role",
            "king",
            "--identity",
            &fx.eng.public,
        ],
        &[
            "policy",
            "approvals",
            "main",
            "--as",
            &fx.admin.file,
            "--level",
            "ops",
        ],
        &[
            "policy",
            "approvals",
            "main",
            "--as",
            &fx.admin.file,
            "--level",
            "ops:x:PUB",
        ],
        &[
            "approve",
            "main",
            "abc",
            "--as",
            &fx.ops.file,
            "--level",
            "ops",
        ],
        &["apply", "main", "abc", "--as", &fx.admin.file],
        &["access", "revoke", "main", "nothex", "--as", &fx.admin.file],
        &["unseal", "main", "--as", &fx.eng.file, "--grant", "nothex"],
        &["shred", "main", "--before", "soon", "--as", &fx.admin.file],
        &[
            "access",
            "request",
            "main",
            "--as",
            &fx.eng.file,
            "--reason",
            "x",
            "--duration",
            "forever",
        ],
    ];
    for args in invalid {
        let line = e.refused_unchanged(T1, args, b"");
        assert!(
            line.starts_with("dkm: error: InvalidInput: "),
            "dkm {args:?}: {line}"
        );
    }
    // A damaged public identity.
    let line = e.refused_unchanged(
        T1,
        &w(&format!(
            "member add main --as {} --role service --identity dkmpub1notanidentity",
            fx.admin.file
        )),
        b"",
    );
    assert!(line.starts_with("dkm: error: Malformed: "), "{line}");
    // Creating an existing ring, or an identity over an existing file.
    e.refused_unchanged(
        T1,
        &w(&format!("ring create main --admin {}", fx.admin.file)),
        b"",
    );
    e.refused_unchanged(
        T1,
        &w(&format!("identity new again --out {}", fx.admin.file)),
        b"",
    );
    assert!(
        std::fs::read_to_string(&fx.admin.file)
            .unwrap()
            .contains("admin")
    );
}

// ---------------------------------------------------------------------------------------------
// The whole story
// ---------------------------------------------------------------------------------------------

struct Sealed {
    file: String,
    plain: String,
    context: String,
    at: u64,
}

#[test]
#[allow(clippy::too_many_lines)]
fn full_flow_over_two_years() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "mail";
    let (admin, svc1, svc2, ops, sec, eng) =
        (&fx.admin, &fx.svc1, &fx.svc2, &fx.ops, &fx.sec, &fx.eng);

    // Identities: 0600 files; the public identity alone on the last line, no whitespace, `,`
    // or `:`; `identity show` prints the same.
    for id in [admin, svc1, svc2, ops, sec, eng] {
        let mode = std::fs::metadata(&id.file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", id.file);
        assert!(id.public.starts_with("dkmpub1"), "{}", id.public);
        assert!(
            !id.public
                .contains(|c: char| c.is_whitespace() || c == ',' || c == ':'),
            "{}",
            id.public
        );
        assert_eq!(
            last_line(&e.ok(T0, &w(&format!("identity show {}", id.file)))),
            id.public
        );
    }

    // Create; before anything else the ring shows its warnings.
    let out = e.ok(T0, &w(&format!("ring create {r} --admin {}", admin.file)));
    let ring_id = last_line(&out).to_owned();
    assert!(is_hex(&ring_id, 32), "{out}");
    let show = e.ok(T0, &w(&format!("ring show {r}")));
    assert!(show.contains(&ring_id), "{show}");
    assert!(show.contains("warning: no approval policy yet"), "{show}");
    assert!(show.contains("warning: no key holders"), "{show}");
    let keys = json(&e.ok(T0, &w(&format!("keys {r} --json"))));
    assert_eq!(keys["current"], Value::Null);
    assert_eq!(keys["stale"], true);
    assert_eq!(keys["bootstrap"], true);
    assert_eq!(keys["ring"], ring_id.as_str());
    assert!(
        e.ok(T0, &w(&format!("keys {r}")))
            .contains("current key: none")
    );
    // The admin cannot maintain or seal: it is no key holder.
    e.refused(
        T0,
        &w(&format!("maintain {r} --as {}", admin.file)),
        "NotAMember",
    );

    // Bootstrap: the admin alone adds two service accounts and two approvers.
    for (who, role) in [
        (svc1, "service"),
        (svc2, "service"),
        (ops, "approver"),
        (sec, "approver"),
    ] {
        let out = e.ok(
            T0,
            &w(&format!(
                "member add {r} --as {} --role {role} --identity {}",
                admin.file, who.public
            )),
        );
        assert!(out.contains("signed") && out.contains("pending"), "{out}");
    }
    let show = e.ok(T0, &w(&format!("ring show {r}")));
    assert!(show.contains("governance changes are pending"), "{show}");
    assert!(!show.contains("no key holders"), "{show}");
    let out = e.ok(T0, &w(&format!("maintain {r} --as {}", svc1.file)));
    assert!(out.contains("epoch-created epoch 1"), "{out}");
    assert!(out.contains("key-holder-added"), "{out}");
    let out = e.ok(T0, &w(&format!("maintain {r} --as {}", svc2.file)));
    assert!(out.contains("nothing to do"), "{out}");
    let show = e.ok(T0, &w(&format!("ring show {r}")));
    assert!(show.contains("no approval policy yet"), "{show}");
    assert!(!show.contains("pending"), "{show}");

    // The two-level approval policy.
    let levels = fx.levels();
    let mut args = vec!["policy", "approvals", r, "--as", &admin.file];
    args.extend(levels.iter().map(String::as_str));
    let out = e.ok(T0, &args);
    assert!(out.contains("approval policy set"), "{out}");
    let show = e.ok(T0, &w(&format!("ring show {r}")));
    assert!(!show.contains("no approval policy yet"), "{show}");
    assert!(show.contains("level ops: 1 of"), "{show}");
    assert!(show.contains("level security: 1 of"), "{show}");
    e.ok(T0, &w(&format!("maintain {r} --as {}", svc2.file)));
    let show = json(&e.ok(T0, &w(&format!("ring show {r} --json"))));
    assert_eq!(show["id"], ring_id.as_str());
    assert_eq!(show["name"], r);
    assert_eq!(show["warnings"], Value::Array(vec![]), "{show}");
    assert_eq!(show["members"].as_array().unwrap().len(), 5);
    assert_eq!(show["policy"]["levels"][0]["name"], "ops");
    assert_eq!(show["policy"]["levels"][1]["name"], "security");
    assert_eq!(show["pending"], false);

    // Seal and unseal: stdin to stdout, raw bytes.
    let secret: &[u8] = b"raw \0 bytes \xff\n";
    let sealed = e.ok_bytes(T0, &w(&format!("seal {r} --as {}", svc1.file)), secret);
    assert!(!sealed.starts_with(b"dkm1:"));
    assert_eq!(
        e.ok_bytes(T0, &w(&format!("unseal {r} --as {}", svc2.file)), &sealed),
        secret
    );
    // --in / --out, --armor, --context.
    let plain = e.write("plain.txt", b"mail password of account 42");
    let armored = e.path("sealed.txt");
    let out = e.ok(
        T0,
        &[
            "seal",
            r,
            "--as",
            &svc1.file,
            "--in",
            &plain,
            "--out",
            &armored,
            "--armor",
            "--context",
            "account 42",
        ],
    );
    assert!(out.is_empty(), "{out}");
    let text = std::fs::read_to_string(&armored).unwrap();
    assert!(text.starts_with("dkm1:") && text.ends_with('\n'), "{text}");
    let opened = e.path("opened.txt");
    e.ok(
        T0,
        &[
            "unseal",
            r,
            "--as",
            &svc2.file,
            "--in",
            &armored,
            "--out",
            &opened,
            "--context",
            "account 42",
        ],
    );
    assert_eq!(
        std::fs::read(&opened).unwrap(),
        b"mail password of account 42"
    );
    let mode = std::fs::metadata(&opened).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a plaintext file must be private");
    // Armor through stdin; the wrong or a missing context is refused.
    assert_eq!(
        e.ok_in(
            T0,
            &["unseal", r, "--as", &svc1.file, "--context", "account 42"],
            text.as_bytes()
        ),
        "mail password of account 42"
    );
    e.refused_in(
        T0,
        &["unseal", r, "--as", &svc1.file, "--context", "account 43"],
        text.as_bytes(),
        "Tampered",
    );
    e.refused(
        T0,
        &w(&format!("unseal {r} --as {} --in {armored}", svc1.file)),
        "Tampered",
    );
    // Members who are no key holders can neither seal nor unseal.
    for who in [admin, ops, eng] {
        e.refused_in(
            T0,
            &w(&format!("seal {r} --as {}", who.file)),
            b"x",
            "NotAMember",
        );
        e.refused(
            T0,
            &w(&format!("unseal {r} --as {} --in {armored}", who.file)),
            "NotAMember",
        );
    }

    // Seal-only: export the public part, seal to it without a secret identity.
    let public = e.path("mail.public");
    let out = e.ok(T0, &w(&format!("ring export-public {r} --out {public}")));
    assert!(out.contains("public part"), "{out}");
    let st = e.ok_in(
        T0 + 60,
        &w(&format!("seal-to {public} --armor --context browser")),
        b"from the browser",
    );
    assert!(st.starts_with("dkm1:"), "{st}");
    assert_eq!(
        e.ok_in(
            T0 + 60,
            &w(&format!("unseal {r} --as {} --context browser", svc2.file)),
            st.as_bytes()
        ),
        "from the browser"
    );
    let st_raw = e.ok_bytes(T0 + 60, &w(&format!("seal-to {public}")), b"raw seal-to");
    assert_eq!(
        e.ok_bytes(
            T0 + 60,
            &w(&format!("unseal {r} --as {}", svc1.file)),
            &st_raw
        ),
        b"raw seal-to"
    );

    // keys --json: epochs, times, never material.
    let keys = json(&e.ok(T0, &w(&format!("keys {r} --json"))));
    assert_eq!(keys["current"]["epoch"], 1);
    assert_eq!(keys["current"]["interval"], 0);
    assert_eq!(keys["stale"], false);
    assert_eq!(keys["bootstrap"], false);
    assert_eq!(keys["pending"], false);
    assert_eq!(keys["write_time"], rfc3339(T0).as_str());
    assert_eq!(keys["fresh_until"], rfc3339(T0 + 2 * DAY).as_str());
    let epochs = keys["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 1);
    assert_eq!(epochs[0]["state"], "live");
    assert_eq!(epochs[0]["start"], rfc3339(T0).as_str());
    assert_eq!(epochs[0]["interval_secs"], DAY);
    let mut fields: Vec<_> = epochs[0].as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created",
            "end",
            "epoch",
            "interval_secs",
            "readable",
            "retired",
            "start",
            "state"
        ]
    );

    // Two years of time travel in 60-day steps: maintain (or roll the epoch every third
    // step), seal a secret of each period (and seal-only ones), check the key listing.
    let mut secrets = vec![Sealed {
        file: armored.clone(),
        plain: "mail password of account 42".into(),
        context: "account 42".into(),
        at: T0,
    }];
    let (mut epoch, mut epoch_start) = (1u64, T0);
    let mut t = T0;
    for k in 1..=12u64 {
        t = T0 + k * 60 * DAY;
        let keys = json(&e.ok(t, &w(&format!("keys {r} --json"))));
        assert_eq!(keys["stale"], true, "step {k}: {keys}");
        assert!(
            e.ok(t, &w(&format!("ring show {r}")))
                .contains("the ring is stale")
        );
        if k % 3 == 0 {
            let out = e.ok(t, &w(&format!("roll-epoch {r} --as {}", svc2.file)));
            epoch += 1;
            epoch_start = t;
            assert!(
                out.contains(&format!("epoch-created epoch {epoch}")),
                "step {k}: {out}"
            );
        } else {
            let out = e.ok(t, &w(&format!("maintain {r} --as {}", svc1.file)));
            assert!(out.contains("freshness-renewed"), "step {k}: {out}");
        }
        let keys = json(&e.ok(t, &w(&format!("keys {r} --json"))));
        assert_eq!(keys["stale"], false, "step {k}: {keys}");
        assert_eq!(keys["current"]["epoch"], epoch, "step {k}: {keys}");
        assert_eq!(
            keys["current"]["interval"],
            (t - epoch_start) / DAY,
            "step {k}: {keys}"
        );
        let epochs = keys["epochs"].as_array().unwrap();
        assert_eq!(epochs.len() as u64, epoch, "step {k}");
        assert_eq!(
            epochs.last().unwrap()["start"],
            rfc3339(epoch_start).as_str()
        );
        assert!(
            epochs[..epochs.len() - 1]
                .iter()
                .all(|x| x["retired"].is_string() && x["state"] == "live"),
            "step {k}: {keys}"
        );

        let plain = format!("secret of period {k}");
        let context = format!("period {k}");
        let file = e.path(&format!("period-{k}.sealed"));
        let holder = if k % 2 == 0 { svc1 } else { svc2 };
        let mut args = vec![
            "seal",
            r,
            "--as",
            &holder.file,
            "--context",
            &context,
            "--out",
            &file,
        ];
        if k % 2 == 1 {
            args.push("--armor");
        }
        e.ok_bytes(t + HOUR, &args, plain.as_bytes());
        secrets.push(Sealed {
            file,
            plain,
            context,
            at: t + HOUR,
        });
        if k % 4 == 0 {
            let public = e.path(&format!("public-{k}"));
            e.ok(t, &w(&format!("ring export-public {r} --out {public}")));
            let file = e.path(&format!("period-{k}.seal-to"));
            let plain = format!("seal-only secret of period {k}");
            e.ok_bytes(
                t + HOUR,
                &w(&format!("seal-to {public} --out {file}")),
                plain.as_bytes(),
            );
            secrets.push(Sealed {
                file,
                plain,
                context: String::new(),
                at: t + HOUR,
            });
        }
    }
    assert_eq!(epoch, 5);
    let t_end = t; // T0 + 720 days
    // Every secret of every period still opens, for both key holders.
    for s in &secrets {
        for h in [svc1, svc2] {
            let out = e.ok_bytes(
                t_end + 2 * HOUR,
                &[
                    "unseal",
                    r,
                    "--as",
                    &h.file,
                    "--in",
                    &s.file,
                    "--context",
                    &s.context,
                ],
                b"",
            );
            assert_eq!(out, s.plain.as_bytes(), "{}", s.file);
        }
    }

    // Remove svc2: no quorum needed, pending until a key holder's maintain.
    let t = t_end + 2 * HOUR;
    let out = e.ok(
        t,
        &w(&format!(
            "member remove {r} --as {} --identity {}",
            admin.file, svc2.public
        )),
    );
    assert!(out.contains("pending"), "{out}");
    assert!(!out.contains("quorum"), "{out}");
    assert!(
        e.ok(t, &w(&format!("ring show {r}")))
            .contains("governance changes are pending")
    );
    let out = e.ok(t, &w(&format!("maintain {r} --as {}", svc1.file)));
    epoch += 1;
    assert!(out.contains("key-holder-removed"), "{out}");
    assert!(
        out.contains(&format!("epoch-created epoch {epoch}")),
        "{out}"
    );
    let after = e.path("after-removal.sealed");
    e.ok_bytes(
        t,
        &w(&format!("seal {r} --as {} --out {after}", svc1.file)),
        b"sealed after svc2 left",
    );
    e.refused(
        t,
        &w(&format!("unseal {r} --as {} --in {after}", svc2.file)),
        "NotAMember",
    );
    e.refused(
        t,
        &w(&format!("maintain {r} --as {}", svc2.file)),
        "NotAMember",
    );
    e.refused_in(
        t,
        &w(&format!("seal {r} --as {}", svc2.file)),
        b"x",
        "NotAMember",
    );
    assert_eq!(
        e.ok_bytes(
            t,
            &w(&format!("unseal {r} --as {} --in {after}", svc1.file)),
            b""
        ),
        b"sealed after svc2 left"
    );
    let first = &secrets[0];
    assert_eq!(
        e.ok(
            t,
            &[
                "unseal",
                r,
                "--as",
                &svc1.file,
                "--in",
                &first.file,
                "--context",
                &first.context
            ]
        ),
        first.plain
    );

    // The admin adds a second service account: with a policy this needs the quorum, so it is
    // logged as a request (exit 0, id on the last line) and nothing changes yet.
    let svc3 = e.identity("svc3");
    let t = t_end + 3 * HOUR;
    let out = e.ok(
        t,
        &w(&format!(
            "member add {r} --as {} --role service --identity {}",
            admin.file, svc3.public
        )),
    );
    assert!(out.contains("logged as a request"), "{out}");
    let change = last_line(&out).to_owned();
    assert!(is_hex(&change, 64), "{out}");
    assert!(
        !e.ok(t, &w(&format!("ring show {r}")))
            .contains(&svc3.public)
    );
    let listed = e.request(t, r, &change);
    assert_eq!(listed["kind"], "governance change");
    assert_eq!(listed["state"], "pending");
    e.refused(
        t,
        &w(&format!("apply {r} {change} --as {}", admin.file)),
        "PolicyUnsatisfied",
    );
    e.refused_in(
        t,
        &w(&format!("seal {r} --as {}", svc3.file)),
        b"x",
        "NotAMember",
    );
    let out = e.ok(
        t,
        &w(&format!(
            "approve {r} {change} --as {} --level ops",
            ops.file
        )),
    );
    assert!(out.contains("approval at level ops logged"), "{out}");
    e.refused(
        t,
        &w(&format!("apply {r} {change} --as {}", admin.file)),
        "PolicyUnsatisfied",
    );
    e.ok(
        t,
        &w(&format!(
            "approve {r} {change} --as {} --level security",
            sec.file
        )),
    );
    assert_eq!(e.request_state(t, r, &change), "approved");
    let out = e.ok(t, &w(&format!("apply {r} {change} --as {}", admin.file)));
    assert!(out.contains("approved change signed"), "{out}");
    assert!(
        e.ok(t, &w(&format!("ring show {r}")))
            .contains(&svc3.public)
    );
    let out = e.ok(t, &w(&format!("maintain {r} --as {}", svc1.file)));
    assert!(out.contains("key-holder-added"), "{out}");
    // A signed change is closed: no more decisions, no second apply.
    let line = e.refused(
        t,
        &w(&format!(
            "approve {r} {change} --as {} --level ops --deny",
            ops.file
        )),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("already signed"), "{line}");
    e.refused_unchanged(
        t,
        &w(&format!("apply {r} {change} --as {}", admin.file)),
        b"",
    );
    assert_eq!(
        e.ok_bytes(
            t,
            &w(&format!("unseal {r} --as {} --in {after}", svc3.file)),
            b""
        ),
        b"sealed after svc2 left"
    );

    // An engineer asks for four hours of what was sealed in the last ten days.
    let tr = t_end + 4 * HOUR;
    let since = rfc3339(t_end - 10 * DAY);
    let out = e.ok(
        tr,
        &[
            "access",
            "request",
            r,
            "--as",
            &eng.file,
            "--reason",
            "ticket 7: mail stuck",
            "--duration",
            "4h",
            "--since",
            &since,
        ],
    );
    let req = last_line(&out).to_owned();
    assert!(is_hex(&req, 64), "{out}");
    let listed = e.request(tr, r, &req);
    assert_eq!(listed["state"], "pending");
    assert_eq!(listed["kind"], "access for 14400 s");
    assert_eq!(listed["reason"], "ticket 7: mail stuck");
    assert_eq!(listed["created"], rfc3339(tr).as_str());
    assert_eq!(listed["expires"], rfc3339(tr + 12 * HOUR).as_str());
    assert_eq!(listed["levels"][0]["level"], "ops");
    assert_eq!(listed["levels"][0]["approvals"], 0);
    assert_eq!(listed["levels"][1]["quorum"], 1);
    assert!(e.ok(tr, &w(&format!("requests {r}"))).contains(&req));
    e.ok(
        tr,
        &w(&format!("approve {r} {req} --as {} --level ops", ops.file)),
    );
    assert_eq!(e.request(tr, r, &req)["levels"][0]["approvals"], 1);
    e.ok(
        tr,
        &w(&format!(
            "approve {r} {req} --as {} --level security",
            sec.file
        )),
    );
    assert_eq!(e.request_state(tr, r, &req), "approved");
    let grant_file = e.path("eng.grant");
    let out = e.ok(
        tr,
        &w(&format!(
            "access grant {r} {req} --as {} --out {grant_file}",
            svc3.file
        )),
    );
    let grant = last_line(&out).to_owned();
    assert!(is_hex(&grant, 32), "{out}");
    assert!(out.contains(&rfc3339(tr + 4 * HOUR)), "{out}");
    assert!(Path::new(&grant_file).is_file());
    assert_eq!(e.request_state(tr, r, &req), "granted");

    // Within the window: by grant id and by grant file, both suites.
    let tu = tr + HOUR;
    for g in [grant.as_str(), grant_file.as_str()] {
        assert_eq!(
            e.ok_bytes(
                tu,
                &w(&format!(
                    "unseal {r} --as {} --grant {g} --in {after}",
                    eng.file
                )),
                b""
            ),
            b"sealed after svc2 left"
        );
    }
    let last = secrets.last().unwrap(); // the seal-only secret of period 12
    assert!(last.file.ends_with("seal-to") && last.at >= t_end - 10 * DAY);
    assert_eq!(
        e.ok(
            tu,
            &w(&format!(
                "unseal {r} --as {} --grant {grant} --in {}",
                eng.file, last.file
            ))
        ),
        last.plain
    );
    let p12 = &secrets[secrets.len() - 2];
    assert_eq!(
        e.ok(
            tu,
            &[
                "unseal",
                r,
                "--as",
                &eng.file,
                "--grant",
                &grant,
                "--in",
                &p12.file,
                "--context",
                &p12.context
            ]
        ),
        p12.plain
    );
    // Outside the scope (sealed 60 days earlier), outside the window, another identity.
    let p11 = &secrets[secrets.len() - 3];
    assert!(p11.at < t_end - 10 * DAY);
    e.refused(
        tu,
        &[
            "unseal",
            r,
            "--as",
            &eng.file,
            "--grant",
            &grant,
            "--in",
            &p11.file,
            "--context",
            &p11.context,
        ],
        "UnknownKey",
    );
    let before = e.refused(
        tr - HOUR,
        &w(&format!(
            "unseal {r} --as {} --grant {grant} --in {after}",
            eng.file
        )),
        "GrantExpired",
    );
    assert!(before.contains("not started"), "{before}");
    let expired = e.refused(
        tr + 5 * HOUR,
        &w(&format!(
            "unseal {r} --as {} --grant {grant_file} --in {after}",
            eng.file
        )),
        "GrantExpired",
    );
    assert!(expired.contains("expired"), "{expired}");
    e.refused(
        tu,
        &w(&format!(
            "unseal {r} --as {} --grant {grant} --in {after}",
            ops.file
        )),
        "NotAMember",
    );
    // Without the grant the engineer is nobody; with it the engineer still cannot seal.
    e.refused(
        tu,
        &w(&format!("unseal {r} --as {} --in {after}", eng.file)),
        "NotAMember",
    );
    e.refused_in(
        tu,
        &w(&format!("seal {r} --as {}", eng.file)),
        b"x",
        "NotAMember",
    );

    // A second grant, revoked by the admin (no quorum needed).
    let req2 = fx.approved_request(r, eng, tu, &[]);
    let grant2 = last_line(&e.ok(
        tu,
        &w(&format!("access grant {r} {req2} --as {}", svc1.file)),
    ))
    .to_owned();
    let after2 = e.path("after-grant2.sealed");
    e.ok_bytes(
        tu,
        &w(&format!("seal {r} --as {} --out {after2}", svc1.file)),
        b"second window",
    );
    assert_eq!(
        e.ok(
            tu,
            &w(&format!(
                "unseal {r} --as {} --grant {grant2} --in {after2}",
                eng.file
            ))
        ),
        "second window"
    );
    let out = e.ok(
        tu,
        &w(&format!("access revoke {r} {grant2} --as {}", admin.file)),
    );
    assert!(out.contains("revoked") && !out.contains("quorum"), "{out}");
    let revoked = e.refused(
        tu,
        &w(&format!(
            "unseal {r} --as {} --grant {grant2} --in {after2}",
            eng.file
        )),
        "GrantExpired",
    );
    assert!(revoked.contains("revoked"), "{revoked}");
    let out = e.ok(tu, &w(&format!("maintain {r} --as {}", svc1.file)));
    assert!(out.contains("grant-revoked"), "{out}");
    e.refused(
        tu,
        &w(&format!(
            "unseal {r} --as {} --grant {grant2} --in {after2}",
            eng.file
        )),
        "GrantExpired",
    );
    // Revoking is an admin's job.
    e.refused(
        tu,
        &w(&format!("access revoke {r} {grant} --as {}", eng.file)),
        "NotAMember",
    );

    // The audit chain: every line is JSON, consecutive, flagged as clock override, and holds
    // no plaintext and no context.
    let lines = e.ok(tu, &w(&format!("audit show {r} --json")));
    let records: Vec<Value> = lines.lines().map(json).collect();
    for (i, rec) in records.iter().enumerate() {
        assert_eq!(rec["seq"], i as u64 + 1, "{rec}");
        assert_eq!(rec["clock_override"], true, "{rec}");
        assert_eq!(rec["ring"], ring_id.as_str(), "{rec}");
    }
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions.iter().filter(|a| **a == "grant-unseal").count(), 5);
    assert!(actions.contains(&"grant-issued"), "{actions:?}");
    let stored = std::fs::read_to_string(e.audit_path(r)).unwrap();
    assert_eq!(stored, lines, "audit show --json is the stored form");
    for needle in [
        "sealed after svc2 left",
        "mail password",
        "account 42",
        "browser",
    ] {
        assert!(!stored.contains(needle), "the audit holds {needle:?}");
    }
    let text = e.ok(tu, &w(&format!("audit show {r}")));
    assert_eq!(text.lines().count(), records.len());
    assert!(text.contains("(clock override)"));
    assert!(text.lines().all(|l| l.starts_with('#')));
    let out = e.ok(tu, &w(&format!("audit verify {r}")));
    assert!(
        out.contains(&format!("verifies: {} records", records.len())),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// Revocation and shredding
// ---------------------------------------------------------------------------------------------

#[test]
fn revoke_and_shred() {
    let fx = Fx::new();
    let e = &fx.env;
    let (admin, svc1) = (&fx.admin, &fx.svc1);
    // Bootstrap ring: the admin alone revokes and shreds.
    let r = "boot";
    e.ok(T0, &w(&format!("ring create {r} --admin {}", admin.file)));
    e.ok(
        T0,
        &w(&format!(
            "member add {r} --as {} --role service --identity {}",
            admin.file, svc1.public
        )),
    );
    e.ok(T0, &w(&format!("maintain {r} --as {}", svc1.file)));
    let s0 = e.path("day0");
    e.ok_bytes(
        T0,
        &w(&format!("seal {r} --as {} --out {s0}", svc1.file)),
        b"day 0",
    );
    let s4 = e.path("day4");
    e.ok_bytes(
        T0 + 4 * DAY,
        &w(&format!("seal {r} --as {} --out {s4}", svc1.file)),
        b"day 4",
    );
    let t = T0 + 5 * DAY;
    let future = rfc3339(t + DAY);
    e.refused_unchanged(
        t,
        &w(&format!("shred {r} --before {future} --as {}", admin.file)),
        b"",
    );
    let out = e.ok(
        t,
        &[
            "shred",
            r,
            "--before",
            &rfc3339(T0 + 2 * DAY),
            "--as",
            &admin.file,
        ],
    );
    assert!(
        out.contains("shredding before") && out.contains("pending"),
        "{out}"
    );
    let out = e.ok(t, &w(&format!("maintain {r} --as {}", svc1.file)));
    assert!(out.contains("governance-applied"), "{out}");
    e.refused(
        t,
        &w(&format!("unseal {r} --as {} --in {s0}", svc1.file)),
        "KeyDestroyed",
    );
    assert_eq!(
        e.ok(t, &w(&format!("unseal {r} --as {} --in {s4}", svc1.file))),
        "day 4"
    );
    // Revoke the epoch: its secrets are refused at once, maintain rolls a new epoch.
    let out = e.ok(t, &w(&format!("revoke {r} --epoch 1 --as {}", admin.file)));
    assert!(
        out.contains("epoch 1 revoked") && out.contains("pending"),
        "{out}"
    );
    e.refused(
        t,
        &w(&format!("unseal {r} --as {} --in {s4}", svc1.file)),
        "KeyRevoked",
    );
    let out = e.ok(t, &w(&format!("maintain {r} --as {}", svc1.file)));
    assert!(out.contains("epoch-revoked epoch 1"), "{out}");
    assert!(out.contains("epoch-created epoch 2"), "{out}");
    let keys = json(&e.ok(t, &w(&format!("keys {r} --json"))));
    assert_eq!(keys["epochs"][0]["state"], "revoked");
    assert_eq!(keys["current"]["epoch"], 2);
    let s5 = e.ok_bytes(t, &w(&format!("seal {r} --as {}", svc1.file)), b"day 5");
    assert_eq!(
        e.ok_bytes(t, &w(&format!("unseal {r} --as {}", svc1.file)), &s5),
        b"day 5"
    );
    // Not an admin: refused.
    e.refused(
        t,
        &w(&format!("revoke {r} --epoch 2 --as {}", svc1.file)),
        "NotAMember",
    );
    e.refused(
        t,
        &["shred", r, "--before", &rfc3339(T0), "--as", &svc1.file],
        "NotAMember",
    );

    // With an approval policy both need the quorum: logged as requests, ids printed last.
    let p = "governed";
    fx.policy_ring(p);
    let out = e.ok(T1, &w(&format!("revoke {p} --epoch 1 --as {}", admin.file)));
    assert!(out.contains("logged as a request"), "{out}");
    let revoke_req = last_line(&out).to_owned();
    assert!(is_hex(&revoke_req, 64), "{out}");
    let out = e.ok(
        T1,
        &[
            "shred",
            p,
            "--before",
            &rfc3339(T0 + DAY),
            "--as",
            &admin.file,
        ],
    );
    let shred_req = last_line(&out).to_owned();
    assert!(is_hex(&shred_req, 64), "{out}");
    for id in [&revoke_req, &shred_req] {
        assert_eq!(e.request(T1, p, id)["kind"], "governance change");
        e.refused(
            T1,
            &w(&format!("apply {p} {id} --as {}", admin.file)),
            "PolicyUnsatisfied",
        );
    }
    // Approved, applied, carried out.
    e.ok(
        T1,
        &w(&format!(
            "approve {p} {revoke_req} --as {} --level ops",
            fx.ops.file
        )),
    );
    e.ok(
        T1,
        &w(&format!(
            "approve {p} {revoke_req} --as {} --level security",
            fx.sec.file
        )),
    );
    e.ok(
        T1,
        &w(&format!("apply {p} {revoke_req} --as {}", admin.file)),
    );
    let out = e.ok(T1, &w(&format!("maintain {p} --as {}", fx.svc1.file)));
    assert!(out.contains("epoch-revoked epoch 1"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Every refusal of elevated access the command line reaches
// ---------------------------------------------------------------------------------------------

#[test]
#[allow(clippy::too_many_lines)]
fn access_refusals() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    let (admin, svc1, svc2, ops, sec, eng) =
        (&fx.admin, &fx.svc1, &fx.svc2, &fx.ops, &fx.sec, &fx.eng);
    let t = T1;
    let sealed = e.path("t1.sealed");
    e.ok_bytes(
        t,
        &w(&format!("seal {r} --as {} --out {sealed}", svc1.file)),
        b"at t1",
    );
    let old = e.path("t0.sealed");
    e.ok_bytes(
        T0,
        &w(&format!("seal {r} --as {} --out {old}", svc1.file)),
        b"at t0",
    );

    // Requests the policy refuses at once.
    let request = |extra: &[&str]| {
        let mut a = vec!["access", "request", r, "--reason", "why", "--as"];
        a.extend_from_slice(extra);
        a.iter().map(|s| (*s).to_owned()).collect::<Vec<String>>()
    };
    for (args, why) in [
        (request(&[&svc1.file, "--duration", "1h"]), "key holder"),
        (request(&[&eng.file, "--duration", "9h"]), "max_grant"),
        (
            request(&[
                &eng.file,
                "--duration",
                "1h",
                "--since",
                &rfc3339(t - 31 * DAY),
            ]),
            "max_lookback",
        ),
        (
            request(&[&eng.file, "--duration", "1h", "--since", &rfc3339(t + DAY)]),
            "after",
        ),
        (
            request(&[&eng.file, "--duration", "1h", "--epoch", "1"]),
            "still current",
        ),
        (
            request(&[&eng.file, "--duration", "1h", "--epoch", "7"]),
            "does not exist",
        ),
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let line = e.refused_unchanged(t, &a, b"");
        assert!(line.starts_with("dkm: error: InvalidInput: "), "{line}");
        assert!(line.contains(why), "{line}");
    }
    e.refused_unchanged(
        t,
        &[
            "access",
            "request",
            r,
            "--as",
            &eng.file,
            "--reason",
            " ",
            "--duration",
            "1h",
        ],
        b"",
    );

    // R1: refusals while approving.
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason r1 --duration 2h",
            eng.file
        )),
    );
    let r1 = last_line(&out).to_owned();
    let approve = |who: &Id, level: &str| {
        vec![
            "approve".to_owned(),
            r.to_owned(),
            r1.clone(),
            "--as".to_owned(),
            who.file.clone(),
            "--level".to_owned(),
            level.to_owned(),
        ]
    };
    let run_refused = |v: Vec<String>, kind: &str| {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        let before = e.snapshot();
        let line = e.refused(t, &a, kind);
        assert!(before == e.snapshot(), "dkm {a:?} changed the store");
        line
    };
    // The requester (not an approver), a key holder, the admin: not listed.
    for who in [eng, svc1, admin] {
        run_refused(approve(who, "ops"), "NotAMember");
    }
    // An approver at a level that does not list it.
    run_refused(approve(ops, "security"), "NotAMember");
    run_refused(approve(sec, "ops"), "NotAMember");
    // No such level.
    run_refused(approve(ops, "nope"), "InvalidInput");
    // Level 2 before level 1 has its quorum: not chained.
    let line = run_refused(approve(sec, "security"), "PolicyUnsatisfied");
    assert!(line.contains("level before"), "{line}");
    e.ok(
        t,
        &w(&format!("approve {r} {r1} --as {} --level ops", ops.file)),
    );
    // The same approver twice.
    let line = run_refused(approve(ops, "ops"), "InvalidInput");
    assert!(line.contains("already decided"), "{line}");
    // Granting with a level missing.
    let line = e.refused(
        t,
        &w(&format!("access grant {r} {r1} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("missing level"), "{line}");
    assert_eq!(e.request_state(t, r, &r1), "pending");
    e.ok(
        t,
        &w(&format!(
            "approve {r} {r1} --as {} --level security",
            sec.file
        )),
    );
    assert_eq!(e.request_state(t, r, &r1), "approved");
    // Only a key holder grants.
    for who in [eng, admin, ops] {
        e.refused_unchanged(
            t,
            &w(&format!("access grant {r} {r1} --as {}", who.file)),
            b"",
        );
    }
    // A request dated in the future (the key holder's clock is an hour behind).
    let line = e.refused(
        t - HOUR,
        &w(&format!("access grant {r} {r1} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("future"), "{line}");
    let grant_file = e.path("r1.grant");
    let out = e.ok(
        t,
        &w(&format!(
            "access grant {r} {r1} --as {} --out {grant_file}",
            svc2.file
        )),
    );
    let g1 = last_line(&out).to_owned();
    // Replay: one request, one grant; a granted request takes no more decisions.
    let line = e.refused(
        t,
        &w(&format!("access grant {r} {r1} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("granted already"), "{line}");
    assert_eq!(e.request_state(t, r, &r1), "granted");
    // The default scope starts at the request: the earlier secret is outside the bounds.
    assert_eq!(
        e.ok(
            t,
            &w(&format!(
                "unseal {r} --as {} --grant {g1} --in {sealed}",
                eng.file
            ))
        ),
        "at t1"
    );
    e.refused(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g1} --in {old}",
            eng.file
        )),
        "UnknownKey",
    );

    // A failing audit sink: no audit, no plaintext.
    let audit = e.audit_path(r);
    let saved = std::fs::read(&audit).unwrap();
    std::fs::remove_file(&audit).unwrap();
    std::fs::create_dir(&audit).unwrap();
    let line = e.refused(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g1} --in {sealed}",
            eng.file
        )),
        "StoreUnavailable",
    );
    assert!(line.contains("audit"), "{line}");
    std::fs::remove_dir(&audit).unwrap();
    std::fs::write(&audit, &saved).unwrap();
    // A damaged audit head: no plaintext either, and nothing appended.
    let mut damaged = saved.clone();
    damaged.extend_from_slice(b"{\"seq\":999}\n");
    std::fs::write(&audit, &damaged).unwrap();
    e.refused_unchanged(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g1} --in {sealed}",
            eng.file
        )),
        b"",
    );
    std::fs::write(&audit, &saved).unwrap();
    assert_eq!(
        e.ok(
            t,
            &w(&format!(
                "unseal {r} --as {} --grant {grant_file} --in {sealed}",
                eng.file
            ))
        ),
        "at t1"
    );
    // A secret of another ring.
    let other = "other";
    fx.ring_with(other, admin, &[svc1]);
    let foreign = e.path("foreign.sealed");
    e.ok_bytes(
        t,
        &w(&format!("seal {other} --as {} --out {foreign}", svc1.file)),
        b"x",
    );
    let line = e.refused(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g1} --in {foreign}",
            eng.file
        )),
        "UnknownKey",
    );
    assert!(line.contains("another ring"), "{line}");
    // Approving a request of another ring in this one.
    let out = e.ok(
        t,
        &w(&format!(
            "access request {other} --as {} --reason o --duration 1h",
            eng.file
        )),
    );
    let foreign_req = last_line(&out).to_owned();
    e.refused_unchanged(
        t,
        &w(&format!(
            "approve {r} {foreign_req} --as {} --level ops",
            ops.file
        )),
        b"",
    );
    e.refused_unchanged(
        t,
        &w(&format!(
            "access grant {r} {foreign_req} --as {}",
            svc1.file
        )),
        b"",
    );
    let zeros = "0".repeat(64);
    e.refused(
        t,
        &w(&format!(
            "approve {r} {zeros} --as {} --level ops",
            ops.file
        )),
        "InvalidInput",
    );
    e.refused(
        t,
        &w(&format!("access grant {r} {zeros} --as {}", svc1.file)),
        "InvalidInput",
    );
    // Unknown grant id.
    let line = e.refused(
        t,
        &[
            "unseal",
            r,
            "--as",
            &eng.file,
            "--grant",
            &"0".repeat(32),
            "--in",
            &sealed,
        ],
        "GrantExpired",
    );
    assert!(line.contains("no such grant"), "{line}");

    // R2: self-approval (an approver requesting access approves its own request).
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason r2 --duration 1h",
            ops.file
        )),
    );
    let r2 = last_line(&out).to_owned();
    let line = e.refused(
        t,
        &w(&format!("approve {r} {r2} --as {} --level ops", ops.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("own request"), "{line}");

    // R3: one denial ends the request.
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason r3 --duration 1h",
            eng.file
        )),
    );
    let r3 = last_line(&out).to_owned();
    let out = e.ok(
        t,
        &w(&format!(
            "approve {r} {r3} --as {} --level security --deny",
            sec.file
        )),
    );
    assert!(out.contains("denial at level security logged"), "{out}");
    assert_eq!(e.request_state(t, r, &r3), "denied");
    let line = e.refused(
        t,
        &w(&format!("approve {r} {r3} --as {} --level ops", ops.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("denied"), "{line}");
    e.refused(
        t,
        &w(&format!("access grant {r} {r3} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );
    // A denial after both approvals also ends it.
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason r3b --duration 1h",
            eng.file
        )),
    );
    let r3b = last_line(&out).to_owned();
    e.ok(
        t,
        &w(&format!("approve {r} {r3b} --as {} --level ops", ops.file)),
    );
    e.ok(
        t,
        &w(&format!(
            "approve {r} {r3b} --as {} --level security --deny",
            sec.file
        )),
    );
    e.refused(
        t,
        &w(&format!("access grant {r} {r3b} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );

    // R4: expired after its 12 h lifetime: no more decisions, no grant.
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason r4 --duration 1h",
            eng.file
        )),
    );
    let r4 = last_line(&out).to_owned();
    e.ok(
        t,
        &w(&format!("approve {r} {r4} --as {} --level ops", ops.file)),
    );
    let late = t + 13 * HOUR;
    assert_eq!(e.request_state(late, r, &r4), "expired");
    let line = e.refused(
        late,
        &w(&format!(
            "approve {r} {r4} --as {} --level security",
            sec.file
        )),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("expired"), "{line}");
    // R5: approved in time, granted too late.
    let r5 = fx.approved_request(r, eng, t, &[]);
    let line = e.refused(
        late,
        &w(&format!("access grant {r} {r5} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("expired"), "{line}");

    // A revoked grant cannot be used, and its request not granted again.
    let r6 = fx.approved_request(r, eng, t, &[]);
    let g6 =
        last_line(&e.ok(t, &w(&format!("access grant {r} {r6} --as {}", svc1.file)))).to_owned();
    e.ok(
        t,
        &w(&format!("access revoke {r} {g6} --as {}", admin.file)),
    );
    let line = e.refused(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g6} --in {sealed}",
            eng.file
        )),
        "GrantExpired",
    );
    assert!(line.contains("revoked"), "{line}");
    e.refused(
        t,
        &w(&format!("access grant {r} {r6} --as {}", svc1.file)),
        "PolicyUnsatisfied",
    );

    // Governance change requests and access requests are not interchangeable.
    let out = e.ok(
        t,
        &w(&format!(
            "member add {r} --as {} --role service --identity {}",
            admin.file, eng.public
        )),
    );
    let change = last_line(&out).to_owned();
    assert!(is_hex(&change, 64), "{out}");
    let line = e.refused(
        t,
        &w(&format!("access grant {r} {change} --as {}", svc1.file)),
        "InvalidInput",
    );
    assert!(line.contains("governance change"), "{line}");
    e.refused(
        t,
        &w(&format!("apply {r} {r6} --as {}", admin.file)),
        "InvalidInput",
    );
    e.refused(
        t,
        &w(&format!("apply {r} {zeros} --as {}", admin.file)),
        "InvalidInput",
    );
    // A change request by a non-admin is refused; a denied change is never applied.
    e.refused(
        t,
        &w(&format!(
            "member add {r} --as {} --role service --identity {}",
            ops.file, eng.public
        )),
        "NotAMember",
    );
    e.ok(
        t,
        &w(&format!(
            "approve {r} {change} --as {} --level ops --deny",
            ops.file
        )),
    );
    let line = e.refused(
        t,
        &w(&format!("apply {r} {change} --as {}", admin.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("denial"), "{line}");
    e.refused_in(
        t,
        &w(&format!("seal {r} --as {}", eng.file)),
        b"x",
        "NotAMember",
    );

    let out = e.ok(t, &w(&format!("audit verify {r}")));
    assert!(out.contains("verifies"), "{out}");
}

#[test]
fn cool_off_short_quorum_and_duplicate_approvers() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "q";
    let ops2 = e.identity("ops2");
    e.ok(
        T0,
        &w(&format!("ring create {r} --admin {}", fx.admin.file)),
    );
    for (who, role) in [
        (&fx.svc1, "service"),
        (&fx.ops, "approver"),
        (&ops2, "approver"),
        (&fx.sec, "approver"),
    ] {
        e.ok(
            T0,
            &w(&format!(
                "member add {r} --as {} --role {role} --identity {}",
                fx.admin.file, who.public
            )),
        );
    }
    // ops needs two of ops, ops2; security one of sec or ops (ops may count only once).
    let l1 = format!("ops:2:{},{}", fx.ops.public, ops2.public);
    let l2 = format!("security:1:{},{}", fx.sec.public, fx.ops.public);
    e.ok(
        T0,
        &w(&format!(
            "policy approvals {r} --as {} --level {l1} --level {l2}",
            fx.admin.file
        )),
    );
    e.ok(T0, &w(&format!("maintain {r} --as {}", fx.svc1.file)));
    let show = json(&e.ok(T0, &w(&format!("ring show {r} --json"))));
    assert_eq!(show["policy"]["levels"][0]["quorum"], 2);
    assert_eq!(
        show["policy"]["levels"][0]["approvers"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // During the approvers' 24 h cool-off their approvals are logged but do not count.
    let t = T0 + HOUR;
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason early --duration 1h",
            fx.eng.file
        )),
    );
    let early = last_line(&out).to_owned();
    e.ok(
        t,
        &w(&format!(
            "approve {r} {early} --as {} --level ops",
            fx.ops.file
        )),
    );
    e.ok(
        t,
        &w(&format!(
            "approve {r} {early} --as {} --level ops",
            ops2.file
        )),
    );
    let line = e.refused(
        t,
        &w(&format!("access grant {r} {early} --as {}", fx.svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("cool-off"), "{line}");
    e.refused(
        t,
        &w(&format!(
            "approve {r} {early} --as {} --level security",
            fx.sec.file
        )),
        "PolicyUnsatisfied",
    );

    // After the cool-off: one of two is a short quorum.
    let t = T1;
    let out = e.ok(
        t,
        &w(&format!(
            "access request {r} --as {} --reason later --duration 1h",
            fx.eng.file
        )),
    );
    let req = last_line(&out).to_owned();
    e.ok(
        t,
        &w(&format!(
            "approve {r} {req} --as {} --level ops",
            fx.ops.file
        )),
    );
    let listed = e.request(t, r, &req);
    assert_eq!(listed["levels"][0]["approvals"], 1);
    assert_eq!(listed["levels"][0]["quorum"], 2);
    let line = e.refused(
        t,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
        "PolicyUnsatisfied",
    );
    assert!(line.contains("quorum is short"), "{line}");
    // A duplicate approver: ops already counted at level ops.
    let line = e.refused(
        t,
        &w(&format!(
            "approve {r} {req} --as {} --level security",
            fx.ops.file
        )),
        "InvalidInput",
    );
    assert!(line.contains("already decided"), "{line}");
    e.ok(
        t,
        &w(&format!("approve {r} {req} --as {} --level ops", ops2.file)),
    );
    e.ok(
        t,
        &w(&format!(
            "approve {r} {req} --as {} --level security",
            fx.sec.file
        )),
    );
    let out = e.ok(
        t,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
    );
    assert!(is_hex(last_line(&out), 32), "{out}");
}

#[test]
fn named_epoch_scope_and_reissue_on_roll() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    let s0 = e.path("s0");
    e.ok_bytes(
        T0,
        &w(&format!("seal {r} --as {} --out {s0}", fx.svc1.file)),
        b"epoch 1 secret",
    );
    let t = T1;
    e.ok(t, &w(&format!("roll-epoch {r} --as {}", fx.svc2.file)));
    let s1 = e.path("s1");
    e.ok_bytes(
        t,
        &w(&format!("seal {r} --as {} --out {s1}", fx.svc1.file)),
        b"epoch 2 secret",
    );
    // A grant for the closed epoch 1 only.
    let req = fx.approved_request(r, &fx.eng, t, &["--epoch", "1"]);
    assert_eq!(e.request(t, r, &req)["state"], "approved");
    let g = last_line(&e.ok(
        t,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
    ))
    .to_owned();
    assert_eq!(
        e.ok(
            t,
            &w(&format!(
                "unseal {r} --as {} --grant {g} --in {s0}",
                fx.eng.file
            ))
        ),
        "epoch 1 secret"
    );
    e.refused(
        t,
        &w(&format!(
            "unseal {r} --as {} --grant {g} --in {s1}",
            fx.eng.file
        )),
        "UnknownKey",
    );
    // A grant since now survives an epoch roll during its window (re-issued).
    let req = fx.approved_request(r, &fx.eng, t, &[]);
    let g = last_line(&e.ok(
        t,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
    ))
    .to_owned();
    let out = e.ok(
        t + HOUR,
        &w(&format!("roll-epoch {r} --as {}", fx.svc2.file)),
    );
    assert!(out.contains("grant-reissued"), "{out}");
    let s2 = e.path("s2");
    e.ok_bytes(
        t + HOUR,
        &w(&format!("seal {r} --as {} --out {s2}", fx.svc1.file)),
        b"epoch 3 secret",
    );
    assert_eq!(
        e.ok(
            t + 2 * HOUR,
            &w(&format!(
                "unseal {r} --as {} --grant {g} --in {s2}",
                fx.eng.file
            ))
        ),
        "epoch 3 secret"
    );
    // Once expired, maintain drops it.
    let out = e.ok(
        t + 5 * HOUR,
        &w(&format!("maintain {r} --as {}", fx.svc1.file)),
    );
    assert!(out.contains("grant-expired"), "{out}");
    e.refused(
        t + 5 * HOUR,
        &w(&format!(
            "unseal {r} --as {} --grant {g} --in {s2}",
            fx.eng.file
        )),
        "GrantExpired",
    );
}

// ---------------------------------------------------------------------------------------------
// Audit tampering
// ---------------------------------------------------------------------------------------------

#[test]
fn audit_verify_reports_the_first_bad_record() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    let req = fx.approved_request(r, &fx.eng, T1, &[]);
    e.ok(
        T1,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
    );
    let out = e.ok(T1, &w(&format!("audit verify {r}")));
    assert!(out.contains("verifies"), "{out}");
    let path = e.audit_path(r);
    let honest = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = honest.lines().collect();
    assert!(lines.len() > 12, "{} records", lines.len());

    let edit = |i: usize, field: &str| -> String {
        let v = json(lines[i]);
        let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
        out[i] = match &v[field] {
            Value::Number(n) => {
                let n = n.as_u64().unwrap();
                lines[i].replacen(
                    &format!("\"{field}\":{n}"),
                    &format!("\"{field}\":{}", n + 1),
                    1,
                )
            }
            Value::String(s) => lines[i].replacen(
                &format!("\"{field}\":\"{s}\""),
                &format!(
                    "\"{field}\":\"{}\"",
                    if s == "grant-issued" {
                        "grant-expired"
                    } else {
                        "grant-issued"
                    }
                ),
                1,
            ),
            other => panic!("{field} is {other}"),
        };
        assert_ne!(out[i], lines[i], "the edit changed nothing");
        out.join("\n") + "\n"
    };
    let without = |i: usize| -> String {
        let mut out: Vec<&str> = lines.clone();
        out.remove(i);
        out.join("\n") + "\n"
    };
    let swapped = |i: usize| -> String {
        let mut out: Vec<&str> = lines.clone();
        out.swap(i, i + 1);
        out.join("\n") + "\n"
    };
    let cases = [
        ("time edited", edit(5, "time"), 5),
        ("action edited", edit(9, "action"), 9),
        ("seq edited", edit(3, "seq"), 3),
        ("line deleted", without(4), 4),
        ("first line deleted", without(0), 0),
        ("lines swapped", swapped(6), 6),
    ];
    for (what, text, index) in cases {
        std::fs::write(&path, &text).unwrap();
        let before = e.snapshot();
        let line = e.refused(T1, &w(&format!("audit verify {r}")), "Tampered");
        assert!(
            line.contains(&format!("audit record {index}:")),
            "{what}: {line}"
        );
        assert!(before == e.snapshot(), "{what}: verify changed the store");
        std::fs::write(&path, &honest).unwrap();
    }
    // `audit show` refuses an edited record too (one line), and lists a reordered chain.
    std::fs::write(&path, edit(5, "time")).unwrap();
    let line = e.err_in(T1, &w(&format!("audit show {r}")), b"");
    assert!(line.contains("audit record 5"), "{line}");
    std::fs::write(&path, &honest).unwrap();
    // The honest chain verifies again.
    assert!(
        e.ok(T1, &w(&format!("audit verify {r}")))
            .contains("verifies")
    );
    // Cutting the whole chain is caught by the key state's anchor.
    std::fs::write(&path, "").unwrap();
    e.refused(T1, &w(&format!("audit verify {r}")), "Tampered");
    std::fs::write(&path, &honest).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Bad input files: one error line, the store unchanged
// ---------------------------------------------------------------------------------------------

/// Truncated (half, all but 8 bytes), empty and garbage forms of `good`, and `wrong_ring`
/// if given, written as files; `(label, path)`.
fn bad_variants(
    e: &Env,
    tag: &str,
    good: &[u8],
    wrong_ring: Option<&[u8]>,
) -> Vec<(String, String)> {
    let mut v = vec![
        ("truncated-half", good[..good.len() / 2].to_vec()),
        ("truncated-end", good[..good.len() - 8].to_vec()),
        ("truncated-start", good[8..].to_vec()),
        ("empty", Vec::new()),
        ("garbage", garbage(300, good.len() as u64)),
        ("text", b"hello, this is not it\n".to_vec()),
    ];
    if let Some(w) = wrong_ring {
        v.push(("wrong-ring", w.to_vec()));
    }
    v.into_iter()
        .map(|(label, bytes)| {
            let name = format!("bad-{tag}-{label}");
            (label.to_owned(), e.write(&name, &bytes))
        })
        .collect()
}

/// Two rings, `main` (admin, svc1, svc2) and `other` (its own admin and key holder), both
/// with the ops/security policy; an approved and granted request in each; secrets sealed.
struct BadFx {
    fx: Fx,
    other_admin: Id,
    other_svc: Id,
    main_id: String,
    other_id: String,
    pending_req: String,
    change_req: String,
    grant: String,
    grant_file: String,
    other_grant_file: String,
    sealed: String,
    other_sealed: String,
}

fn bad_fx() -> BadFx {
    let fx = Fx::new();
    let e = &fx.env;
    let other_admin = e.identity("other-admin");
    let other_svc = e.identity("other-svc");
    let main_id = fx.policy_ring("main");
    let other_id = fx.ring_with("other", &other_admin, &[&other_svc]);
    let t = T1;
    let sealed = e.path("main.sealed");
    e.ok_bytes(
        t,
        &w(&format!("seal main --as {} --out {sealed}", fx.svc1.file)),
        b"main secret",
    );
    let other_sealed = e.path("other.sealed");
    e.ok_bytes(
        t,
        &w(&format!(
            "seal other --as {} --out {other_sealed}",
            other_svc.file
        )),
        b"other secret",
    );
    let req = fx.approved_request("main", &fx.eng, t, &[]);
    let grant_file = e.path("main.grant");
    let grant = last_line(&e.ok(
        t,
        &w(&format!(
            "access grant main {req} --as {} --out {grant_file}",
            fx.svc1.file
        )),
    ))
    .to_owned();
    let oreq = fx.approved_request("other", &fx.eng, t, &[]);
    let other_grant_file = e.path("other.grant");
    e.ok(
        t,
        &w(&format!(
            "access grant other {oreq} --as {} --out {other_grant_file}",
            other_svc.file
        )),
    );
    let pending_req = last_line(&e.ok(
        t,
        &w(&format!(
            "access request main --as {} --reason pending --duration 1h",
            fx.eng.file
        )),
    ))
    .to_owned();
    let change_req = last_line(&e.ok(
        t,
        &w(&format!(
            "member add main --as {} --role admin --identity {}",
            fx.admin.file, other_admin.public
        )),
    ))
    .to_owned();
    assert!(is_hex(&change_req, 64));
    BadFx {
        fx,
        other_admin,
        other_svc,
        main_id,
        other_id,
        pending_req,
        change_req,
        grant,
        grant_file,
        other_grant_file,
        sealed,
        other_sealed,
    }
}

/// When the bad-input commands run: inside the grants' windows.
const TB: u64 = T1 + HOUR;

#[test]
fn bad_identity_files() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let good = std::fs::read(&fx.svc1.file).unwrap();
    let wrong = std::fs::read(&b.other_svc.file).unwrap();
    let mut variants = bad_variants(e, "identity", &good, None);
    // A one-character typo (checksum), and a public identity where a secret one belongs.
    let text = String::from_utf8(good.clone()).unwrap();
    let secret_line = text.lines().find(|l| l.starts_with("dkmsec1")).unwrap();
    let mut typo = secret_line.to_owned().into_bytes();
    let i = typo.len() - 5;
    typo[i] = if typo[i] == b'A' { b'B' } else { b'A' };
    variants.push((
        "typo".into(),
        e.write("bad-identity-typo", &[&typo[..], b"\n"].concat()),
    ));
    variants.push((
        "public".into(),
        e.write(
            "bad-identity-public",
            format!("{}\n", fx.svc1.public).as_bytes(),
        ),
    ));
    let wrong_ring = e.write("bad-identity-wrong-ring", &wrong);
    let missing = e.path("no-such-identity-file");

    let ops_level = format!("ops:1:{}", fx.ops.public);
    let commands = |f: &str, wrong_ring_too: bool| -> Vec<(Vec<String>, Vec<u8>)> {
        let mut c: Vec<Vec<&str>> = vec![
            vec![
                "member",
                "add",
                "main",
                "--as",
                f,
                "--role",
                "service",
                "--identity",
                &fx.eng.public,
            ],
            vec![
                "member",
                "remove",
                "main",
                "--as",
                f,
                "--identity",
                &fx.svc2.public,
            ],
            vec![
                "policy",
                "approvals",
                "main",
                "--as",
                f,
                "--level",
                &ops_level,
            ],
            vec!["revoke", "main", "--epoch", "1", "--as", f],
            vec![
                "shred",
                "main",
                "--before",
                "2030-01-01T00:00:00Z",
                "--as",
                f,
            ],
            vec!["apply", "main", &b.change_req, "--as", f],
            vec!["unseal", "main", "--as", f, "--in", &b.sealed],
            vec!["maintain", "main", "--as", f],
            vec!["roll-epoch", "main", "--as", f],
            vec!["access", "grant", "main", &b.pending_req, "--as", f],
            vec!["access", "revoke", "main", &b.grant, "--as", f],
            vec![
                "approve",
                "main",
                &b.pending_req,
                "--as",
                f,
                "--level",
                "ops",
            ],
            vec![
                "unseal", "main", "--as", f, "--grant", &b.grant, "--in", &b.sealed,
            ],
        ];
        if !wrong_ring_too {
            c.push(vec!["identity", "show", f]);
            c.push(vec!["ring", "create", "fresh", "--admin", f]);
            c.push(vec![
                "access",
                "request",
                "main",
                "--as",
                f,
                "--reason",
                "x",
                "--duration",
                "1h",
            ]);
        }
        let mut out: Vec<(Vec<String>, Vec<u8>)> = c
            .into_iter()
            .map(|a| (a.into_iter().map(str::to_owned).collect(), Vec::new()))
            .collect();
        out.push((
            ["seal", "main", "--as", f]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            b"plaintext".to_vec(),
        ));
        out
    };
    let mut runs = 0;
    for (label, f) in variants
        .iter()
        .map(|(l, p)| (l.as_str(), p.as_str()))
        .chain([
            ("wrong-ring", wrong_ring.as_str()),
            ("missing", missing.as_str()),
        ])
    {
        for (args, stdin) in commands(f, label == "wrong-ring") {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let line = e.refused_unchanged(TB, &a, &stdin);
            if label == "wrong-ring" {
                assert!(
                    line.starts_with("dkm: error: NotAMember: "),
                    "{label} dkm {a:?}: {line}"
                );
            }
            runs += 1;
        }
    }
    assert!(runs > 100, "{runs}");
    assert!(!e.store().join("fresh").exists());
}

#[test]
fn bad_sealed_inputs() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let good = std::fs::read(&b.sealed).unwrap();
    let wrong = std::fs::read(&b.other_sealed).unwrap();
    let mut variants = bad_variants(e, "sealed", &good, Some(&wrong));
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    variants.push(("flipped".into(), e.write("bad-sealed-flipped", &flipped)));
    let mut flipped_mid = good.clone();
    let mid = flipped_mid.len() / 2;
    flipped_mid[mid] ^= 0x40;
    variants.push((
        "flipped-mid".into(),
        e.write("bad-sealed-flipped-mid", &flipped_mid),
    ));
    // Armored forms: cut, and with a damaged character.
    let armored = e.ok_in(
        TB,
        &w(&format!("seal main --as {} --armor", fx.svc1.file)),
        b"armored",
    );
    variants.push((
        "armor-truncated".into(),
        e.write(
            "bad-sealed-armor-cut",
            &armored.as_bytes()[..armored.len() / 2],
        ),
    ));
    variants.push((
        "armor-prefix-only".into(),
        e.write("bad-sealed-armor-prefix", b"dkm1:"),
    ));
    let mut bad_armor = armored.trim_end().as_bytes().to_vec();
    let i = bad_armor.len() - 3;
    bad_armor[i] = b'!';
    variants.push((
        "armor-bad-char".into(),
        e.write("bad-sealed-armor-char", &bad_armor),
    ));

    for (label, f) in &variants {
        for args in [
            vec!["unseal", "main", "--as", &fx.svc1.file, "--in", f],
            vec![
                "unseal",
                "main",
                "--as",
                &fx.eng.file,
                "--grant",
                &b.grant,
                "--in",
                f,
            ],
            vec![
                "unseal",
                "main",
                "--as",
                &fx.eng.file,
                "--grant",
                &b.grant_file,
                "--in",
                f,
            ],
        ] {
            let line = e.refused_unchanged(TB, &args, b"");
            if label == "wrong-ring" {
                assert!(line.contains("UnknownKey"), "{line}");
            }
        }
        // The same through stdin.
        let bytes = std::fs::read(f).unwrap();
        e.refused_unchanged(
            TB,
            &w(&format!("unseal main --as {}", fx.svc2.file)),
            &bytes,
        );
    }
    // The good ones still open (and the grant's unseal is what appends audit records).
    assert_eq!(
        e.ok(
            TB,
            &w(&format!(
                "unseal main --as {} --in {}",
                fx.svc1.file, b.sealed
            ))
        ),
        "main secret"
    );
    let before = std::fs::read_to_string(e.audit_path("main"))
        .unwrap()
        .lines()
        .count();
    e.ok(
        TB,
        &w(&format!(
            "unseal main --as {} --grant {} --in {}",
            fx.eng.file, b.grant, b.sealed
        )),
    );
    let after = std::fs::read_to_string(e.audit_path("main"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(after, before + 1);
}

#[test]
fn bad_grant_files() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let good = std::fs::read(&b.grant_file).unwrap();
    let wrong = std::fs::read(&b.other_grant_file).unwrap();
    let variants = bad_variants(e, "grant", &good, Some(&wrong));
    for (label, f) in &variants {
        let line = e.refused_unchanged(
            TB,
            &w(&format!(
                "unseal main --as {} --grant {f} --in {}",
                fx.eng.file, b.sealed
            )),
            b"",
        );
        if label == "wrong-ring" {
            assert!(line.contains("GrantExpired"), "{line}");
        }
    }
    // The right grant file, the wrong requester.
    e.refused_unchanged(
        TB,
        &w(&format!(
            "unseal main --as {} --grant {} --in {}",
            fx.ops.file, b.grant_file, b.sealed
        )),
        b"",
    );
    // The other ring's own grant works there, not here.
    assert_eq!(
        e.ok(
            TB,
            &w(&format!(
                "unseal other --as {} --grant {} --in {}",
                fx.eng.file, b.other_grant_file, b.other_sealed
            ))
        ),
        "other secret"
    );
    assert_eq!(
        e.ok(
            TB,
            &w(&format!(
                "unseal main --as {} --grant {} --in {}",
                fx.eng.file, b.grant_file, b.sealed
            ))
        ),
        "main secret"
    );
}

#[test]
fn bad_public_files() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let public = e.path("main.public");
    e.ok(TB, &w(&format!("ring export-public main --out {public}")));
    let other_public = e.path("other.public");
    e.ok(
        TB,
        &w(&format!("ring export-public other --out {other_public}")),
    );
    let good = std::fs::read(&public).unwrap();
    let other = std::fs::read(&other_public).unwrap();
    // Wrong ring: main's pin in front of other's ring.
    let pin_len =
        |f: &[u8]| usize::try_from(u32::from_be_bytes(f[5..9].try_into().unwrap())).unwrap();
    let spliced = [&good[..9 + pin_len(&good)], &other[9 + pin_len(&other)..]].concat();
    let mut variants = bad_variants(e, "public", &good, Some(&spliced));
    let mut version = good.clone();
    version[4] = 9;
    variants.push(("version".into(), e.write("bad-public-version", &version)));
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    variants.push(("flipped".into(), e.write("bad-public-flipped", &flipped)));
    for (label, f) in &variants {
        let out = e.path(&format!("seal-to-{label}.out"));
        e.refused_unchanged(TB, &w(&format!("seal-to {f} --out {out}")), b"x");
        e.refused_unchanged(TB, &w(&format!("seal-to {f} --armor")), b"x");
        assert!(!Path::new(&out).exists(), "{label}: output written");
    }
    // A missing public file.
    e.refused_unchanged(TB, &["seal-to", &e.path("nope.public")], b"x");
    // The good one works and its secret opens.
    let sealed = e.ok_bytes(TB, &w(&format!("seal-to {public} --context c")), b"ok");
    assert_eq!(
        e.ok_bytes(
            TB,
            &w(&format!("unseal main --as {} --context c", fx.svc2.file)),
            &sealed
        ),
        b"ok"
    );
}

#[test]
fn bad_pin_files() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let pins = e.home().join("pins");
    let good = std::fs::read(pins.join(format!("{}.pin", b.main_id))).unwrap();
    let wrong = std::fs::read(pins.join(format!("{}.pin", b.other_id))).unwrap();
    let good_pin = e.write("main.pin", &good);
    let mut variants = bad_variants(e, "pin", &good, Some(&wrong));
    // Well-formed hex of a damaged pin.
    let text = String::from_utf8(good.clone()).unwrap();
    let mut bytes = hex::decode(text.trim()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    variants.push((
        "flipped".into(),
        e.write(
            "bad-pin-flipped",
            format!("{}\n", hex::encode(&bytes)).as_bytes(),
        ),
    ));
    variants.push(("odd-hex".into(), e.write("bad-pin-odd", b"abc\n")));
    let export = e.path("pinned.public");
    for (label, f) in &variants {
        let commands: Vec<(Vec<&str>, &[u8])> = vec![
            (vec!["ring", "show", "main"], b""),
            (vec!["keys", "main", "--json"], b""),
            (vec!["requests", "main"], b""),
            (vec!["audit", "verify", "main"], b""),
            (vec!["audit", "show", "main"], b""),
            (vec!["ring", "export-public", "main", "--out", &export], b""),
            (vec!["seal", "main", "--as", &fx.svc1.file], b"x"),
            (
                vec!["unseal", "main", "--as", &fx.svc1.file, "--in", &b.sealed],
                b"",
            ),
            (vec!["maintain", "main", "--as", &fx.svc1.file], b""),
            (vec!["roll-epoch", "main", "--as", &fx.svc1.file], b""),
            (
                vec![
                    "access",
                    "request",
                    "main",
                    "--as",
                    &fx.eng.file,
                    "--reason",
                    "x",
                    "--duration",
                    "1h",
                ],
                b"",
            ),
            (
                vec![
                    "approve",
                    "main",
                    &b.pending_req,
                    "--as",
                    &fx.ops.file,
                    "--level",
                    "ops",
                ],
                b"",
            ),
            (
                vec![
                    "member",
                    "add",
                    "main",
                    "--as",
                    &fx.admin.file,
                    "--role",
                    "approver",
                    "--identity",
                    &b.other_admin.public,
                ],
                b"",
            ),
            (
                vec![
                    "unseal",
                    "main",
                    "--as",
                    &fx.eng.file,
                    "--grant",
                    &b.grant,
                    "--in",
                    &b.sealed,
                ],
                b"",
            ),
        ];
        for (args, stdin) in commands {
            let mut a = vec!["--pin", f.as_str()];
            a.extend_from_slice(&args);
            let line = e.refused_unchanged(TB, &a, stdin);
            if label == "wrong-ring" {
                assert!(line.contains("Tampered"), "{line}");
            }
        }
        assert!(!Path::new(&export).exists(), "{label}: export written");
    }
    // A missing pin file.
    e.refused_unchanged(
        TB,
        &["--pin", &e.path("nope.pin"), "ring", "show", "main"],
        b"",
    );
    // The good pin works.
    assert!(
        e.ok(TB, &w(&format!("--pin {good_pin} ring show main")))
            .contains(&b.main_id)
    );
    assert_eq!(
        e.ok(
            TB,
            &w(&format!(
                "--pin {good_pin} unseal main --as {} --in {}",
                fx.svc1.file, b.sealed
            ))
        ),
        "main secret"
    );
}

#[test]
fn damaged_store_files_are_one_line_errors() {
    let b = bad_fx();
    let fx = &b.fx;
    let e = &fx.env;
    let dir = e.store().join("main");
    for (file, bytes) in [
        ("ring", b"".to_vec()),
        ("ring", b"DKMS".to_vec()),
        ("ring", garbage(500, 7)),
        ("requests.jsonl", b"{\"not\":\"a frame\"}\n".to_vec()),
        ("requests.jsonl", b"".to_vec()),
    ] {
        let path = dir.join(file);
        let saved = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes).unwrap();
        for args in [
            vec!["ring", "show", "main"],
            vec!["maintain", "main", "--as", &fx.svc1.file],
            vec![
                "approve",
                "main",
                &b.pending_req,
                "--as",
                &fx.ops.file,
                "--level",
                "ops",
            ],
        ] {
            if file == "ring" || args[0] != "ring" {
                e.refused_unchanged(TB, &args, b"");
            }
        }
        std::fs::write(&path, &saved).unwrap();
    }
    assert!(e.ok(TB, &w("audit verify main")).contains("verifies"));
}

// ---------------------------------------------------------------------------------------------
// Bugs found (ignored until fixed)
// ---------------------------------------------------------------------------------------------

#[test]

fn a_substituted_ring_of_the_same_name_is_refused() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    e.ok(
        T0,
        &w(&format!("ring create {r} --admin {}", fx.admin.file)),
    );
    e.ok(
        T0,
        &w(&format!(
            "member add {r} --as {} --role service --identity {}",
            fx.admin.file, fx.svc1.public
        )),
    );
    e.ok(T0, &w(&format!("maintain {r} --as {}", fx.svc1.file)));
    e.ok_bytes(
        T0,
        &w(&format!("seal {r} --as {}", fx.svc1.file)),
        b"pinned",
    );
    // An attacker with write access to the store builds its own ring "main" elsewhere, with
    // the victim's service account and one of its own as key holders, and swaps it in.
    let evil = e.identity("evil");
    let evil_svc = e.identity("evil-svc");
    let evil_store = e.root().join("evil-store");
    let evil_home = e.root().join("evil-home");
    let as_evil = |args: &[&str]| {
        let o = e
            .cmd(T0, args)
            .env("DKM_STORE", &evil_store)
            .env("DKM_HOME", &evil_home)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    as_evil(&["ring", "create", r, "--admin", &evil.file]);
    for who in [&fx.svc1, &evil_svc] {
        as_evil(&[
            "member",
            "add",
            r,
            "--as",
            &evil.file,
            "--role",
            "service",
            "--identity",
            &who.public,
        ]);
    }
    as_evil(&["maintain", r, "--as", &evil_svc.file]);
    for f in ["ring", "audit.jsonl"] {
        std::fs::copy(evil_store.join(r).join(f), e.store().join(r).join(f)).unwrap();
    }
    // The victim's host pinned the genuine ring: it must refuse the substitute.
    let o = e.run(
        T0 + HOUR,
        &w(&format!("seal {r} --as {}", fx.svc1.file)),
        b"victim secret",
    );
    if o.status.success() {
        let leaked = e
            .cmd(T0 + HOUR, &w(&format!("unseal {r} --as {}", evil_svc.file)))
            .env("DKM_STORE", &evil_store)
            .env("DKM_HOME", &evil_home)
            .write_stdin(o.stdout)
            .output()
            .unwrap();
        panic!(
            "the victim sealed into the substituted ring; the attacker reads {:?}",
            String::from_utf8_lossy(&leaked.stdout)
        );
    }
    let line = String::from_utf8_lossy(&o.stderr);
    assert!(line.starts_with("dkm: error: Tampered: "), "{line}");
}

#[test]

fn an_identity_name_with_a_newline_is_refused() {
    let e = Env::new();
    let file = e.path("nl.id");
    e.refused(
        T0,
        &["identity", "new", "ops\nteam", "--out", &file],
        "InvalidInput",
    );
    assert!(
        !std::path::Path::new(&file).exists(),
        "a refused identity wrote a file"
    );
}

#[test]

fn unseal_out_makes_an_existing_file_private() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    let sealed = e.ok_bytes(
        T0,
        &w(&format!("seal {r} --as {}", fx.svc1.file)),
        b"top secret",
    );
    let out = e.write("existing.txt", b"");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
    e.ok_bytes(
        T0,
        &w(&format!("unseal {r} --as {} --out {out}", fx.svc1.file)),
        &sealed,
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"top secret");
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "plaintext written into a {mode:o} file");
}

#[test]

fn a_failed_access_grant_out_does_not_use_up_the_request() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    let req = fx.approved_request(r, &fx.eng, T1, &[]);
    let bad_out = e.path("no/such/dir/grant");
    let o = e.run(
        T1,
        &w(&format!(
            "access grant {r} {req} --as {} --out {bad_out}",
            fx.svc1.file
        )),
        b"",
    );
    assert!(!o.status.success());
    // Either the failure left the request grantable, or the grant id was printed.
    let printed = String::from_utf8_lossy(&o.stdout).into_owned();
    let grant_id_printed = printed.lines().any(|l| is_hex(l.trim(), 32));
    let o2 = e.run(
        T1,
        &w(&format!("access grant {r} {req} --as {}", fx.svc1.file)),
        b"",
    );
    assert!(
        grant_id_printed || o2.status.success(),
        "the grant was issued but its id never shown, and the request is used up: {}",
        String::from_utf8_lossy(&o2.stderr)
    );
}

#[test]

fn a_missing_argument_is_named() {
    let e = Env::new();
    let line = e.refused(T0, &w("seal"), "InvalidInput");
    assert!(
        line.contains("<RING>") || line.contains("--as"),
        "the error does not say what is missing: {line}"
    );
}

#[test]

fn a_closed_stdout_is_not_a_panic() {
    let fx = Fx::new();
    let e = &fx.env;
    let r = "main";
    fx.policy_ring(r);
    // Hold the ring's lock so that `maintain` prints only after its reader is gone.
    let lock = std::fs::File::open(e.store().join(r).join("lock")).unwrap();
    lock.lock().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dkm"))
        .args(["maintain", r, "--as", &fx.svc1.file])
        .env("DKM_STORE", e.store())
        .env("DKM_HOME", e.home())
        .env("DKM_NOW", rfc3339(T0 + 30 * DAY))
        .env_remove("RUST_BACKTRACE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    lock.unlock().unwrap();
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.lines().count() <= 1, "{stderr}");
}

#[test]

fn rfc3339_times_with_an_offset_are_accepted() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("main");
    // 2030-01-01T02:00:00+02:00 is T0.
    let out = e.ok(T1, &w("--now 2030-01-01T02:00:00+02:00 keys main --json"));
    assert_eq!(json(&out)["write_time"], rfc3339(T0).as_str());
    e.ok(
        T1,
        &w(&format!(
            "access request main --as {} --reason offset --duration 1h --since 2030-01-02T01:00:00+01:00",
            fx.eng.file
        )),
    );
}
