#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Regression tests of the hardening findings of the attack run on the `dkm` command: bounded
//! reads of every input, no secret identity echoed, no audited write onto a cut audit chain
//! (and `Tampered` when it is cut), a ring's signed name matching the name it is loaded under
//! (and renames that move the ring), exact request-log and audit lines, one size limit per
//! kind of input, and identity files' permissions and trailing content. Each asserts the
//! exact error kind and that the store is unchanged.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Output, Stdio};

use common::*;

/// Runs `dkm` with stdin from `stdin_path` (or nothing) under a 4 GiB address-space cap and a
/// 120 s deadline, so an unbounded read fails the test instead of exhausting the machine.
fn run_capped(e: &Env, now: u64, args: &[&str], stdin_path: Option<&str>) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("dkm");
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("ulimit -v 4194304; exec timeout 120 \"$0\" \"$@\"")
        .arg(bin)
        .args(args)
        .current_dir(e.root())
        .env("DKM_STORE", e.store())
        .env("DKM_HOME", e.home())
        .env("DKM_NOW", rfc3339(now))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    match stdin_path {
        Some(p) => c.stdin(std::fs::File::open(p).unwrap()),
        None => c.stdin(Stdio::null()),
    };
    c.output().unwrap()
}

/// Starts `dkm` with piped output and no input, with `DKM_HOME` at `home` under the test's
/// directory.
fn spawn(e: &Env, now: u64, args: &[&str], home: &str) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("dkm"))
        .args(args)
        .current_dir(e.root())
        .env("DKM_STORE", e.store())
        .env("DKM_HOME", e.root().join(home))
        .env("DKM_NOW", rfc3339(now))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// `run_capped` must fail with exactly one error line of `kind`, nothing on stdout, and the
/// store unchanged.
fn capped_refused(e: &Env, now: u64, args: &[&str], stdin_path: Option<&str>, kind: &str) {
    let before = e.snapshot();
    let o = run_capped(e, now, args, stdin_path);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && o.status.code() == Some(1),
        "dkm {args:?} (stdin {stdin_path:?}): {:?} {stderr}",
        o.status
    );
    assert!(
        stderr.starts_with(&format!("dkm: error: {kind}: ")) && stderr.lines().count() == 1,
        "dkm {args:?} (stdin {stdin_path:?}): expected one {kind} line, got {stderr:?}"
    );
    assert!(o.stdout.is_empty(), "dkm {args:?}: printed {:?}", o.stdout);
    assert!(before == e.snapshot(), "dkm {args:?} changed the store");
}

/// A ring "main" with key holder svc1 and a secret sealed in it.
fn simple_ring(fx: &Fx, name: &str) -> Vec<u8> {
    let e = &fx.env;
    e.ok(
        T0,
        &w(&format!("ring create {name} --admin {}", fx.admin.file)),
    );
    e.ok(
        T0,
        &w(&format!(
            "member add {name} --as {} --role service --identity {}",
            fx.admin.file, fx.svc1.public
        )),
    );
    e.ok(T0, &w(&format!("maintain {name} --as {}", fx.svc1.file)));
    e.ok_bytes(
        T0,
        &w(&format!("seal {name} --as {} --context c", fx.svc1.file)),
        b"kept",
    )
}

// 1. Unbounded reads of non-regular inputs.
#[test]
fn endless_inputs_are_refused_with_a_bound() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "main");
    let export = e.path("main.pub");
    e.ok(T0, &w(&format!("ring export-public main --out {export}")));
    let svc = fx.svc1.file.as_str();
    // A parser that can tell at once stops at once: version byte 0 is not a sealed secret.
    capped_refused(
        e,
        T0,
        &["unseal", "main", "--as", svc, "--in", "/dev/zero"],
        None,
        "Unsupported",
    );
    capped_refused(
        e,
        T0,
        &["unseal", "main", "--as", svc],
        Some("/dev/zero"),
        "Unsupported",
    );
    capped_refused(e, T0, &["seal-to", "/dev/zero"], None, "Malformed");
    // Small inputs stop at their limit.
    capped_refused(e, T0, &["identity", "show", "/dev/zero"], None, "TooLarge");
    capped_refused(
        e,
        T0,
        &["--pin", "/dev/zero", "ring", "show", "main"],
        None,
        "TooLarge",
    );
    capped_refused(
        e,
        T0,
        &["--pin", "/dev/zero", "seal-to", &export],
        Some("/dev/null"),
        "TooLarge",
    );
    capped_refused(
        e,
        T0,
        &["unseal", "main", "--as", svc, "--grant", "/dev/zero"],
        Some("/dev/null"),
        "TooLarge",
    );
    // A plaintext may be 1 GiB: an endless one stops just past it.
    capped_refused(
        e,
        T0,
        &["seal", "main", "--as", svc, "--in", "/dev/zero"],
        None,
        "TooLarge",
    );
    capped_refused(e, T0, &["seal-to", &export], Some("/dev/zero"), "TooLarge");
}

// 7. One limit per kind of input, the same for files and stdin.
#[test]
fn a_large_secret_opens_from_a_file_as_from_stdin() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "main");
    let big: Vec<u8> = (0..20_000_000u32).map(|i| (i % 251) as u8).collect();
    for armor in [false, true] {
        let mut args = vec!["seal", "main", "--as", &fx.svc1.file];
        if armor {
            args.push("--armor");
        }
        let sealed = e.ok_bytes(T0, &args, &big);
        let file = e.write(&format!("big-{armor}.sealed"), &sealed);
        let from_file = e.ok_bytes(
            T0,
            &["unseal", "main", "--as", &fx.svc1.file, "--in", &file],
            b"",
        );
        assert!(from_file == big, "armor {armor}: from a file");
        let from_stdin = e.ok_bytes(T0, &["unseal", "main", "--as", &fx.svc1.file], &sealed);
        assert!(from_stdin == big, "armor {armor}: from stdin");
    }
}

// 2. A secret identity is never echoed.
#[test]
fn a_secret_identity_is_never_echoed() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "main");
    let text = std::fs::read_to_string(&fx.svc2.file).unwrap();
    let secret = text.lines().last().unwrap().trim().to_owned();
    assert!(secret.starts_with("dkmsec1"));
    let body = &secret["dkmsec1".len()..];
    let level = format!("ops:1:{secret}");
    let typo = format!("{}x", &secret[..20]);
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "member",
            "add",
            "main",
            "--as",
            &fx.admin.file,
            "--role",
            "approver",
            "--identity",
            &secret,
        ],
        vec![
            "member",
            "remove",
            "main",
            "--as",
            &fx.admin.file,
            "--identity",
            &secret,
        ],
        vec![
            "member",
            "add",
            "main",
            "--as",
            &secret,
            "--role",
            "approver",
            "--identity",
            &fx.ops.public,
        ],
        vec!["seal", "main", "--as", &secret],
        vec!["identity", "show", &secret],
        vec![
            "policy",
            "approvals",
            "main",
            "--as",
            &fx.admin.file,
            "--level",
            &level,
        ],
        vec!["ring", "show", &secret],
        vec!["keys", &typo],
        vec!["revoke", "main", "--epoch", &secret, "--as", &fx.admin.file],
        vec!["unseal", "main", "--as", &fx.svc1.file, "--grant", &secret],
        vec!["access", "revoke", "main", &secret, "--as", &fx.admin.file],
        vec!["--pin", &secret, "ring", "show", "main"],
        vec!["seal-to", &secret],
        vec!["ring", "create", &secret, "--admin", &fx.admin.file],
    ];
    for args in cases {
        let line = e.refused_unchanged(T0, &args, b"x");
        assert!(
            !line.contains(body) && !line.contains(&body[..16]) && !line.contains("dkmsec1"),
            "dkm {args:?} echoed the secret: {line}"
        );
        assert!(
            line.starts_with("dkm: error: InvalidInput: "),
            "dkm {args:?}: {line}"
        );
    }
    // Where a public identity or an identity file was expected, the error says what happened.
    for args in [
        vec![
            "member",
            "add",
            "main",
            "--as",
            &fx.admin.file,
            "--role",
            "approver",
            "--identity",
            &secret,
        ],
        vec!["seal", "main", "--as", &secret],
    ] {
        let line = e.refused_unchanged(T0, &args, b"x");
        assert!(line.contains("a secret identity was given where"), "{line}");
    }
}

/// A ring with a policy, an approved access request for eng and the grant issued; returns the
/// grant id and a secret sealed before.
fn granted(fx: &Fx) -> (String, Vec<u8>) {
    let e = &fx.env;
    fx.policy_ring("main");
    let sealed = e.ok_bytes(
        T1,
        &w(&format!("seal main --as {} --context c", fx.svc1.file)),
        b"in scope",
    );
    let req = fx.approved_request("main", &fx.eng, T1, &["--since", &rfc3339(T0)]);
    let out = e.ok(
        T1,
        &w(&format!("access grant main {req} --as {}", fx.svc1.file)),
    );
    (last_line(&out).to_owned(), sealed)
}

// 3. and 4. No audited write onto a cut audit chain; a cut is reported as Tampered.
#[test]
fn no_audited_write_onto_a_cut_or_replaced_audit_chain() {
    let fx = Fx::new();
    let e = &fx.env;
    let (grant, sealed) = granted(&fx);
    let sealed_file = e.write("s.bin", &sealed);
    let unseal_grant = |now| {
        e.refused_unchanged(
            now,
            &[
                "unseal",
                "main",
                "--as",
                &fx.eng.file,
                "--grant",
                &grant,
                "--context",
                "c",
                "--in",
                &sealed_file,
            ],
            b"",
        )
    };
    // The grant works while the chain is whole.
    let ok = e.ok_bytes(
        T1,
        &[
            "unseal",
            "main",
            "--as",
            &fx.eng.file,
            "--grant",
            &grant,
            "--context",
            "c",
            "--in",
            &sealed_file,
        ],
        b"",
    );
    assert_eq!(ok, b"in scope");
    let audit = e.audit_path("main");
    let whole = std::fs::read(&audit).unwrap();

    // Another ring's chain in its place, then no chain at all.
    fx.ring_with("other", &fx.admin, &[&fx.svc2]);
    let other = std::fs::read(e.audit_path("other")).unwrap();
    for (label, replacement) in [("other ring's chain", Some(other)), ("removed", None)] {
        match &replacement {
            Some(b) => std::fs::write(&audit, b).unwrap(),
            None => std::fs::remove_file(&audit).unwrap(),
        }
        let now = T1 + HOUR;
        let checks: Vec<(String, Vec<String>)> = vec![
            ("grant unseal".into(), vec![]),
            (
                "access request".into(),
                w(&format!(
                    "access request main --as {} --reason again --duration 1h",
                    fx.eng.file
                ))
                .into_iter()
                .map(str::to_owned)
                .collect(),
            ),
            (
                "member remove".into(),
                w(&format!(
                    "member remove main --as {} --identity {}",
                    fx.admin.file, fx.svc2.public
                ))
                .into_iter()
                .map(str::to_owned)
                .collect(),
            ),
            (
                "maintain".into(),
                w(&format!("maintain main --as {}", fx.svc1.file))
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            ),
            (
                "roll-epoch".into(),
                w(&format!("roll-epoch main --as {}", fx.svc1.file))
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            ),
        ];
        for (what, args) in checks {
            let line = if args.is_empty() {
                unseal_grant(now)
            } else {
                let a: Vec<&str> = args.iter().map(String::as_str).collect();
                e.refused_unchanged(now, &a, b"")
            };
            assert!(
                line.starts_with("dkm: error: Tampered: the audit chain does not continue"),
                "{label}: {what}: {line}"
            );
        }
        // A seal that needs maintenance first is refused the same way (days later).
        let line = e.refused_unchanged(
            T1 + 10 * DAY,
            &w(&format!("seal main --as {}", fx.svc1.file)),
            b"x",
        );
        assert!(
            line.starts_with("dkm: error: Tampered: "),
            "{label}: {line}"
        );
        // Approving a pending request is an audited write too.
        std::fs::write(&audit, &whole).unwrap();
        let req = last_line(&e.ok(
            now,
            &w(&format!(
                "access request main --as {} --reason more --duration 1h",
                fx.eng.file
            )),
        ))
        .to_owned();
        let whole_now = std::fs::read(&audit).unwrap();
        match &replacement {
            Some(b) => std::fs::write(&audit, b).unwrap(),
            None => std::fs::remove_file(&audit).unwrap(),
        }
        let line = e.refused_unchanged(
            now,
            &w(&format!(
                "approve main {req} --as {} --level ops",
                fx.ops.file
            )),
            b"",
        );
        assert!(
            line.starts_with("dkm: error: Tampered: "),
            "{label}: {line}"
        );
        std::fs::write(&audit, &whole_now).unwrap();
    }
    // Whole again: everything works.
    e.ok(
        T1 + HOUR,
        &w(&format!("maintain main --as {}", fx.svc1.file)),
    );
    e.ok(T1 + HOUR, &w("audit verify main"));
}

// 5. The ring's signed name must be the name it is loaded under.
#[test]
fn a_ring_copied_under_another_name_is_refused() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "mail");
    simple_ring(&fx, "payroll");
    let payroll_ring = std::fs::read(e.store().join("payroll").join("ring")).unwrap();
    let fresh_home = e.root().join("fresh-home");
    // Copied over the real payroll ring, and as a new name nobody used.
    std::fs::create_dir(e.store().join("copy")).unwrap();
    for dir in ["payroll", "copy"] {
        std::fs::copy(
            e.store().join("mail").join("ring"),
            e.store().join(dir).join("ring"),
        )
        .unwrap();
        for home in [e.home(), fresh_home.clone()] {
            for args in [
                w(&format!("ring show {dir}")),
                w(&format!("seal {dir} --as {}", fx.svc1.file)),
                w(&format!("keys {dir}")),
            ] {
                let before = e.snapshot();
                let o = e
                    .cmd(T0, &args)
                    .env("DKM_HOME", &home)
                    .write_stdin(b"x".to_vec())
                    .output()
                    .unwrap();
                let line = String::from_utf8_lossy(&o.stderr);
                assert!(
                    line.starts_with("dkm: error: Tampered: the ring stored under the name"),
                    "{args:?} {home:?}: {line}"
                );
                assert!(o.stdout.is_empty() && before == e.snapshot());
            }
        }
    }
    // The first-use host kept no record that now refuses the genuine payroll ring.
    std::fs::write(e.store().join("payroll").join("ring"), &payroll_ring).unwrap();
    for home in [e.home(), fresh_home] {
        let o = e
            .cmd(T0, &w("ring show payroll"))
            .env("DKM_HOME", &home)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(String::from_utf8_lossy(&o.stdout).starts_with("ring payroll "));
    }
}

// 5. A rename moves the ring, its audit chain and its request log in the same write.
#[test]
fn a_renamed_ring_is_found_under_its_new_name() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("mail");
    let sealed = e.ok_bytes(
        T1,
        &w(&format!("seal mail --as {} --context c", fx.svc1.file)),
        b"before the rename",
    );
    let req = fx.approved_request("mail", &fx.eng, T1, &[]);
    // Refusals first: a taken name, a bad name, not an admin.
    simple_ring(&fx, "taken");
    for (args, kind) in [
        (
            format!("ring rename mail taken --as {}", fx.admin.file),
            "InvalidInput",
        ),
        (
            format!("ring rename mail .hidden --as {}", fx.admin.file),
            "InvalidInput",
        ),
        (
            format!("ring rename mail mail --as {}", fx.admin.file),
            "InvalidInput",
        ),
        (
            format!("ring rename mail post --as {}", fx.ops.file),
            "NotAMember",
        ),
    ] {
        let line = e.refused_unchanged(T1, &w(&args), b"");
        assert!(
            line.starts_with(&format!("dkm: error: {kind}: ")),
            "{args}: {line}"
        );
    }
    e.ok(
        T1,
        &w(&format!("ring rename mail post --as {}", fx.admin.file)),
    );
    assert!(!e.store().join("mail").exists());
    e.refused(T1, &w("ring show mail"), "InvalidInput");
    assert!(e.ok(T1, &w("ring show post")).starts_with("ring post "));
    e.ok(T1, &w("audit verify post"));
    let s = e.write("s.bin", &sealed);
    let opened = e.ok_bytes(
        T1,
        &w(&format!(
            "unseal post --as {} --context c --in {s}",
            fx.svc1.file
        )),
        b"",
    );
    assert_eq!(opened, b"before the rename");
    assert_eq!(e.request_state(T1, "post", &req), "approved");
    e.ok(T1, &w(&format!("maintain post --as {}", fx.svc1.file)));
    let audit = e.ok(T1, &w("audit show post"));
    assert!(audit.contains("governance-applied"), "{audit}");
}

// 5. A rename that crashes at any point is finished by the next command on the old name.
#[test]
fn a_rename_interrupted_anywhere_is_finished() {
    let mut failpoints: Vec<&str> = dkm_host::store::FAILPOINTS
        .iter()
        .copied()
        .filter(|f| !f.starts_with("request-"))
        .collect();
    failpoints.push(dkm_host::store::MOVE_FAILPOINT);
    for fp in failpoints {
        let fx = Fx::new();
        let e = &fx.env;
        let sealed = simple_ring(&fx, "mail");
        let o = e
            .cmd(
                T0,
                &w(&format!("ring rename mail post --as {}", fx.admin.file)),
            )
            .env("DKM_FAILPOINT", fp)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{fp}: the rename did not stop");
        // Any command on the old name finishes (or drops) the write; then exactly one name
        // holds the ring, and it verifies.
        let _ = e.run(T0, &w("ring show mail"), b"");
        let (live, gone) = if e.store().join("post").join("ring").exists() {
            ("post", "mail")
        } else {
            ("mail", "post")
        };
        assert!(
            !e.store().join(gone).join("ring").exists(),
            "{fp}: both names hold a ring"
        );
        assert!(
            e.ok(T0, &w(&format!("ring show {live}")))
                .starts_with(&format!("ring {live} ")),
            "{fp}"
        );
        e.ok(T0, &w(&format!("audit verify {live}")));
        let s = e.write("s.bin", &sealed);
        let opened = e.ok_bytes(
            T0,
            &w(&format!(
                "unseal {live} --as {} --context c --in {s}",
                fx.svc1.file
            )),
            b"",
        );
        assert_eq!(opened, b"kept", "{fp}");
        // Failpoints after the commit point leave the rename done.
        if [
            "ring-renamed",
            "ring-committed",
            "audit-line-torn",
            "audit-appended",
            "ring-moved",
        ]
        .contains(&fp)
        {
            assert_eq!(live, "post", "{fp}: a committed rename was lost");
        }
    }
}

// 6. The readable fields of requests.jsonl and audit.jsonl line ends are checked.
#[test]
fn edited_request_lines_and_crlf_audit_lines_are_refused() {
    let fx = Fx::new();
    let e = &fx.env;
    fx.policy_ring("main");
    let req = fx.approved_request("main", &fx.eng, T1, &[]);
    let path = e.store().join("main").join("requests.jsonl");
    let good = std::fs::read_to_string(&path).unwrap();
    assert!(
        good.starts_with("{\"seq\":1,\"kind\":\"request\""),
        "{good}"
    );
    let edits = [
        good.replacen("{\"seq\":1,", "{\"seq\":7,", 1),
        good.replacen("\"kind\":\"request\"", "\"kind\":\"decision\"", 1),
        good.replace('\n', "\r\n"),
        good.replacen("\"hash\":\"", "\"hash\":\"00", 1),
    ];
    for edited in edits {
        std::fs::write(&path, &edited).unwrap();
        e.refused(T1, &w("requests main"), "Tampered");
        e.refused_unchanged(
            T1,
            &w(&format!("access grant main {req} --as {}", fx.svc1.file)),
            b"",
        );
    }
    std::fs::write(&path, &good).unwrap();
    assert_eq!(e.request_state(T1, "main", &req), "approved");

    let audit = e.audit_path("main");
    let whole = std::fs::read_to_string(&audit).unwrap();
    std::fs::write(&audit, whole.replace('\n', "\r\n")).unwrap();
    let line = e.refused(T1, &w("audit verify main"), "Tampered");
    assert!(line.contains("audit record 0"), "{line}");
    e.refused_unchanged(T1, &w(&format!("maintain main --as {}", fx.svc1.file)), b"");
    // Only the last line with a CR: the records from the anchor on are what writes check.
    let mut lines: Vec<&str> = whole.lines().collect();
    let last = format!("{}\r", lines.pop().unwrap());
    lines.push(&last);
    std::fs::write(&audit, format!("{}\n", lines.join("\n"))).unwrap();
    e.refused(T1, &w("audit verify main"), "Tampered");
    e.refused_unchanged(
        T1,
        &w(&format!(
            "access request main --as {} --reason x --duration 1h",
            fx.eng.file
        )),
        b"",
    );
    std::fs::write(&audit, &whole).unwrap();
    e.ok(T1, &w("audit verify main"));
}

// Identity files: permissions as ssh checks them, and nothing after the one secret.
#[test]
fn identity_file_permissions_and_trailing_content() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "main");
    let file = &fx.svc1.file;
    let chmod =
        |mode| std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
    // Readable by others: works, with one warning line that says how to fix it.
    for mode in [0o640, 0o604, 0o644] {
        chmod(mode);
        let o = e.run(T0, &w(&format!("identity show {file}")), b"");
        assert!(o.status.success());
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(
            stderr.starts_with("dkm: warning: ")
                && stderr.contains("readable by group or others")
                && stderr.contains("chmod 600")
                && stderr.lines().count() == 1,
            "{mode:o}: {stderr}"
        );
    }
    // Writable by others: refused.
    for mode in [0o620, 0o602, 0o666, 0o660] {
        chmod(mode);
        let line = e.refused_unchanged(T0, &w(&format!("seal main --as {file}")), b"x");
        assert!(
            line.starts_with("dkm: error: InvalidInput: ")
                && line.contains("writable by group or others"),
            "{mode:o}: {line}"
        );
    }
    chmod(0o600);
    let o = e.run(T0, &w(&format!("identity show {file}")), b"");
    assert!(o.status.success() && o.stderr.is_empty());

    let text = std::fs::read_to_string(file).unwrap();
    let other = std::fs::read_to_string(&fx.svc2.file).unwrap();
    let other_secret = other.lines().last().unwrap();
    for (label, bad) in [
        ("trailing text", format!("{text}trailing\n")),
        ("a second secret", format!("{text}{other_secret}\n")),
        ("two on one line", text.replace('\n', " x\n")),
    ] {
        let p = e.write("bad.id", bad.as_bytes());
        let line = e.refused_unchanged(T0, &w(&format!("seal main --as {p}")), b"x");
        assert!(
            line.starts_with("dkm: error: Malformed: "),
            "{label}: {line}"
        );
        let mine = text.lines().last().unwrap();
        for secret in [mine, other_secret] {
            assert!(!line.contains(&secret[7..20]), "{label}: {line}");
        }
    }
    // Comments and blank lines around the one secret are fine.
    let p = e.write("ok.id", format!("# mine\n\n{text}\n# end\n").as_bytes());
    e.ok(T0, &w(&format!("identity show {p}")));
}

// Review findings on renames: a create of the new name racing the rename never leaves the
// ring stuck, a reader racing it never sees a false Tampered, and the old name is free again.
#[test]
fn a_rename_racing_a_create_and_a_reader_never_sticks_or_cries_wolf() {
    for round in 0..6 {
        let fx = Fx::new();
        let e = &fx.env;
        let sealed = simple_ring(&fx, "mail");
        let rename = spawn(
            e,
            T0,
            &w(&format!("ring rename mail post --as {}", fx.admin.file)),
            "home",
        );
        let create = spawn(
            e,
            T0,
            &w(&format!("ring create post --admin {}", fx.eng.file)),
            "home-eng",
        );
        let reader = spawn(
            e,
            T0,
            &w(&format!("maintain mail --as {}", fx.svc1.file)),
            "home-reader",
        );
        let outs: Vec<Output> = [rename, create, reader]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        for o in &outs {
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(!stderr.contains("Tampered"), "round {round}: {stderr}");
        }
        let (renamed, created) = (outs[0].status.success(), outs[1].status.success());
        assert!(
            !(renamed && created),
            "round {round}: both claimed \"post\""
        );
        let holder = if renamed { "post" } else { "mail" };
        // The ring is usable under exactly the name it is signed with.
        let s = e.write("s.bin", &sealed);
        let opened = e.ok_bytes(
            T0,
            &w(&format!(
                "unseal {holder} --as {} --context c --in {s}",
                fx.svc1.file
            )),
            b"",
        );
        assert_eq!(opened, b"kept", "round {round}");
        e.ok(T0, &w(&format!("audit verify {holder}")));
        if renamed {
            // The old name is free again, also for this host's pin book.
            e.ok(
                T0,
                &w(&format!("ring create mail --admin {}", fx.admin.file)),
            );
        }
    }
}

#[test]
fn secret_looking_names_and_values_are_refused_or_withheld() {
    let fx = Fx::new();
    let e = &fx.env;
    simple_ring(&fx, "mail");
    let text = std::fs::read_to_string(&fx.svc2.file).unwrap();
    let secret = text.lines().last().unwrap().trim().to_owned();
    let body = &secret["dkmsec1".len()..];
    let no_digit = format!("dkmsec{body}");
    let dashed = format!("dkmsec-{}", &body[..57]);
    for args in [
        vec!["--now", no_digit.as_str(), "keys", "mail"],
        vec!["ring", "show", dashed.as_str()],
        vec![
            "ring",
            "rename",
            "mail",
            &secret[..60],
            "--as",
            &fx.admin.file,
        ],
        vec!["identity", "new", &secret[..40], "--out", "x.id"],
    ] {
        let line = e.refused_unchanged(T0, &args, b"");
        assert!(
            !line.contains(&body[..12]) && line.starts_with("dkm: error: InvalidInput: "),
            "{args:?}: {line}"
        );
    }
    // The core's own message naming the prefix is not mangled.
    let bad = e.write("bad.id", b"# x\nnot-a-secret\n");
    let line = e.refused_unchanged(T0, &w(&format!("identity show {bad}")), b"");
    assert!(line.contains("\"dkmsec1\""), "{line}");
}
