//! `dkm`: the command line of dkm. Every command is a thin conversion onto `dkm-host`;
//! errors print one line `dkm: error: <kind>: <message>` and exit non-zero.

/// `println!` that ends the process quietly when stdout is closed (`dkm ... | head`).
macro_rules! outln {
    () => {
        outln!("")
    };
    ($($t:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($t)*).is_err() {
            std::process::exit(1);
        }
    }};
}

mod demo;

mod print;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dkm_core::ring::Role;
use dkm_core::{ErrorKind, Identity, RequestId};
use dkm_host::files::{
    self, parse_duration, parse_public_identity, parse_time, read_pin_file, write_file,
};
use dkm_host::input::{self, Input};
use dkm_host::{Clock, Host, HostError, LevelSpec, PinBook, Result, SealOnly, SharedStore, ToJson};

#[derive(Parser, Debug)]
#[command(
    name = "dkm",
    version,
    about = "Distributed Key Manager: group-gated keys that roll over by themselves",
    long_about = "Distributed Key Manager: secrets sealed to a ring only its key holders (service accounts) can open; admins govern but cannot read; approved, audited, expiring elevated access for people."
)]
struct Cli {
    /// The store: a directory (the file store), file://PATH, or
    /// etcd://HOST:PORT[,HOST:PORT...]/PREFIX (etcds:// for TLS; see docs/etcd.md; the
    /// password of a URL's user= comes from DKM_ETCD_PASSWORD).
    #[arg(long, global = true, env = "DKM_STORE", default_value = "./dkm-store")]
    store: String,
    /// Override the clock (RFC 3339; for tests and demos: audit records are flagged).
    #[arg(long, global = true, env = "DKM_NOW")]
    now: Option<String>,
    /// Verify the ring through this pin file (hex) instead of the pin book.
    #[arg(long, global = true)]
    pin: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Identities: create one, show its public form.
    #[command(subcommand)]
    Identity(IdentityCmd),
    /// Rings: create, show, export the public part.
    #[command(subcommand)]
    Ring(RingCmd),
    /// Epochs, current key, states and times (never material).
    Keys {
        /// The ring.
        ring: String,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// Members: add or remove (admin).
    #[command(subcommand)]
    Member(MemberCmd),
    /// The approval policy (admin).
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Revoke an epoch (admin; needs the quorum once there is an approval policy).
    Revoke {
        /// The ring.
        ring: String,
        /// The epoch.
        #[arg(long)]
        epoch: u32,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// Shred every interval that ends before a time (admin; needs the quorum once there is
    /// an approval policy).
    Shred {
        /// The ring.
        ring: String,
        /// The cutoff (RFC 3339).
        #[arg(long)]
        before: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// Sign an approved governance change request with its approvals (admin).
    Apply {
        /// The ring.
        ring: String,
        /// The request id.
        request: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// Seal as a key holder (stdin to stdout by default).
    Seal(SealArgs),
    /// Unseal as a key holder, or as a requester with `--grant`.
    Unseal(UnsealArgs),
    /// Seal to a ring's public part (seal-only: no secret identity).
    SealTo(SealToArgs),
    /// Carry out governance changes, roll keys as needed, renew freshness (key holder).
    Maintain {
        /// The ring.
        ring: String,
        /// The key holder's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// `maintain`, and a new epoch in any case (key holder).
    RollEpoch {
        /// The ring.
        ring: String,
        /// The key holder's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// Elevated access: request, grant, revoke.
    #[command(subcommand)]
    Access(AccessCmd),
    /// Logged requests and where each stands.
    Requests {
        /// The ring.
        ring: String,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve (or deny) a request at a level (approver).
    Approve {
        /// The ring.
        ring: String,
        /// The request id.
        request: String,
        /// The approver's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// The approval level.
        #[arg(long)]
        level: String,
        /// Deny instead (one denial ends the request).
        #[arg(long)]
        deny: bool,
    },
    /// The audit chain: show, verify.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// The whole story in a fresh temporary store, narrated.
    Demo,
}

#[derive(Subcommand, Debug)]
enum IdentityCmd {
    /// A new identity, written to a file only its owner can read.
    New {
        /// A name for the file's comment line.
        name: String,
        /// Where to write the secret identity (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the public identity of a secret identity file.
    Show {
        /// The identity file.
        file: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum RingCmd {
    /// Create a ring whose only admin is `--admin`.
    Create {
        /// The ring's name.
        ring: String,
        /// The admin's identity file.
        #[arg(long)]
        admin: PathBuf,
        /// Rotation interval.
        #[arg(long, default_value = "1d")]
        interval: String,
        /// Longest grant of elevated access.
        #[arg(long, default_value = "8h")]
        max_grant: String,
        /// How far back a grant may reach.
        #[arg(long, default_value = "30d")]
        max_lookback: String,
    },
    /// Members, policy, epochs, pending changes and warnings.
    Show {
        /// The ring.
        ring: String,
        /// Output JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rename a ring (admin; no quorum needed): it moves to the new name in the store.
    Rename {
        /// The ring.
        ring: String,
        /// Its new name.
        new_name: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
    /// Write the ring with its audit chain and request log to one snapshot file.
    Export {
        /// The ring.
        ring: String,
        /// The snapshot file (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Import a ring snapshot into the store, under the name the ring is signed with
    /// (verified like any load: the pin book, or on first use the ring's oldest admin); or,
    /// with --from, copy a ring with its audit chain and request log from another store (a
    /// file store into etcd).
    Import {
        /// The snapshot file.
        #[arg(required_unless_present = "from", conflicts_with = "from")]
        file: Option<PathBuf>,
        /// The store to copy from (a directory, file://PATH or etcd://...).
        #[arg(long, requires = "ring")]
        from: Option<String>,
        /// The ring to copy (with --from).
        #[arg(long, requires = "from")]
        ring: Option<String>,
    },
    /// Write what a seal-only party needs (pin and ring).
    ExportPublic {
        /// The ring.
        ring: String,
        /// The output file.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum MemberCmd {
    /// Add a member (adding a key holder needs the quorum once there is an approval policy).
    Add {
        /// The ring.
        ring: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// admin, service or approver.
        #[arg(long)]
        role: String,
        /// The member's public identity.
        #[arg(long)]
        identity: String,
    },
    /// Remove a member (no quorum needed; a key holder's `maintain` carries it out).
    Remove {
        /// The ring.
        ring: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// The member's public identity.
        #[arg(long)]
        identity: String,
    },
}

#[derive(Subcommand, Debug)]
enum PolicyCmd {
    /// Set the approval levels, in order: `--level NAME:K:PUB,PUB,...` for each.
    Approvals {
        /// The ring.
        ring: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// A level: name, quorum, approvers' public identities.
        #[arg(long = "level", required = true)]
        levels: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum AccessCmd {
    /// Request elevated access (prints the request id on the last line).
    Request {
        /// The ring.
        ring: String,
        /// The requester's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// Why.
        #[arg(long)]
        reason: String,
        /// How long (at most the ring's max grant).
        #[arg(long)]
        duration: String,
        /// Secrets sealed from this time (default: now).
        #[arg(long, conflicts_with = "epoch")]
        since: Option<String>,
        /// Secrets of these closed epochs.
        #[arg(long)]
        epoch: Vec<u32>,
    },
    /// Issue the grant for an approved request (key holder; prints the grant id last).
    Grant {
        /// The ring.
        ring: String,
        /// The request id.
        request: String,
        /// The key holder's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
        /// Also write the grant to this file.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Revoke a grant (admin; no quorum needed).
    Revoke {
        /// The ring.
        ring: String,
        /// The grant id.
        grant: String,
        /// The admin's identity file.
        #[arg(long = "as")]
        as_: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCmd {
    /// The audit records.
    Show {
        /// The ring.
        ring: String,
        /// Output JSON lines (the stored form).
        #[arg(long)]
        json: bool,
    },
    /// Verify the chain (non-zero exit and the first bad record on tampering).
    Verify {
        /// The ring.
        ring: String,
        /// Output JSON (the report, also when the chain does not verify).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
struct IoArgs {
    /// Context bound to the secret (its UTF-8 bytes).
    #[arg(long, default_value = "")]
    context: String,
    /// Input file (default stdin).
    #[arg(long = "in")]
    input: Option<PathBuf>,
    /// Output file (default stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct SealArgs {
    /// The ring.
    ring: String,
    /// The key holder's identity file.
    #[arg(long = "as")]
    as_: PathBuf,
    /// Write the text armor (`dkm1:...`) instead of bytes.
    #[arg(long)]
    armor: bool,
    #[command(flatten)]
    io: IoArgs,
}

#[derive(Args, Debug)]
struct UnsealArgs {
    /// The ring.
    ring: String,
    /// The identity file (key holder, or the grant's requester).
    #[arg(long = "as")]
    as_: PathBuf,
    /// A grant id, or a grant file.
    #[arg(long)]
    grant: Option<String>,
    /// Refuse secrets sealed by a seal-only party (anyone holding the ring's public part):
    /// accept only what key holders sealed.
    #[arg(long)]
    key_holders_only: bool,
    #[command(flatten)]
    io: IoArgs,
}

#[derive(Args, Debug)]
struct SealToArgs {
    /// The ring's public part (from `ring export-public`).
    public: PathBuf,
    /// Write the text armor instead of bytes.
    #[arg(long)]
    armor: bool,
    #[command(flatten)]
    io: IoArgs,
}

fn err(kind: ErrorKind, message: impl Into<String>) -> HostError {
    HostError::new(kind, message)
}

fn clock(now: Option<&str>) -> Result<Clock> {
    match now {
        Some(t) => Ok(Clock::fixed(parse_time(t)?)),
        None => Ok(Clock::system()),
    }
}

/// The store a `--store` location names.
fn open_store(location: &str) -> Result<SharedStore> {
    let password = std::env::var("DKM_ETCD_PASSWORD").ok();
    dkm_host::store::open(location, password.as_deref())
}

fn host(cli: &Cli) -> Result<Host<SharedStore>> {
    host_on(cli, &cli.store)
}

fn host_on(cli: &Cli, location: &str) -> Result<Host<SharedStore>> {
    let h = Host::new(
        open_store(location)?,
        PinBook::new(files::dkm_home().join("pins")),
        clock(cli.now.as_deref())?,
    )?;
    match &cli.pin {
        Some(p) => Ok(h.with_pin(read_pin_file(p)?)),
        None => Ok(h),
    }
}

/// Reads a secret identity file, warning on stderr (like ssh) when others can read it.
fn read_identity(path: &Path) -> Result<Identity> {
    let f = files::read_identity(path)?;
    if let Some(w) = f.warning {
        eprintln!("dkm: warning: {w}");
    }
    Ok(f.identity)
}

/// An input of `kind` from `path`, or stdin.
fn read_input(path: Option<&Path>, kind: Input) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    match path {
        Some(p) => input::read_path(p, kind),
        None => input::read_stdin(kind),
    }
}

fn write_output(path: Option<&Path>, bytes: &[u8], secret: bool) -> Result<()> {
    match path {
        Some(p) => write_file(p, bytes, secret, false),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| err(ErrorKind::InvalidInput, format!("cannot write stdout: {e}")))
        }
    }
}

/// Writes a sealed secret: bytes, or its text armor and a newline.
fn write_sealed(path: Option<&Path>, sealed: Vec<u8>, armor: bool) -> Result<()> {
    let out = if armor {
        let mut s = dkm_core::armor(&sealed);
        s.push('\n');
        s.into_bytes()
    } else {
        sealed
    };
    write_output(path, &out, false)
}

fn request_id(text: &str) -> Result<RequestId> {
    Ok(RequestId::from_hex(text)?)
}

#[allow(clippy::too_many_lines)]
fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Identity(IdentityCmd::New { name, out }) => {
            let id = files::generate_identity()?;
            files::write_identity(out, name, &id)?;
            print::identity_written(name, out, &id);
        }
        Command::Identity(IdentityCmd::Show { file }) => {
            print::identity(&read_identity(file)?);
        }
        Command::Ring(RingCmd::Create {
            ring,
            admin,
            interval,
            max_grant,
            max_lookback,
        }) => {
            let admin = read_identity(admin)?;
            let policy = dkm_core::Policy {
                interval_secs: parse_duration(interval)?,
                max_grant_secs: parse_duration(max_grant)?,
                max_lookback_secs: parse_duration(max_lookback)?,
                ..dkm_core::Policy::default()
            };
            let id = host(&cli)?.create_ring(ring, &admin, policy)?;
            print::ring_created(ring, id);
        }
        Command::Ring(RingCmd::Show { ring, json }) => {
            let info = host(&cli)?.ring_info(ring)?;
            if *json {
                outln!("{}", info.to_json());
            } else {
                print::ring_info(&info);
            }
        }
        Command::Ring(RingCmd::Rename {
            ring,
            new_name,
            as_,
        }) => {
            let admin = read_identity(as_)?;
            let out = host(&cli)?.rename_ring(ring, new_name, &admin)?;
            print::change(&out, &format!("ring {ring} renamed to {new_name}"));
        }
        Command::Ring(RingCmd::Export { ring, out }) => {
            let bytes = host(&cli)?.export_snapshot(ring)?;
            write_file(out, &bytes, false, true)?;
            outln!(
                "ring {ring} with its audit chain and request log written to {}",
                out.display()
            );
        }
        Command::Ring(RingCmd::Import { file, from, ring }) => match (file, from, ring) {
            (Some(file), None, None) => {
                let bytes = input::read_path(file, Input::Snapshot)?;
                let name = host(&cli)?.import_snapshot(&bytes)?;
                outln!("ring {name} imported with its audit chain and request log");
            }
            (None, Some(from), Some(ring)) => {
                let snapshot = zeroize::Zeroizing::new(host_on(&cli, from)?.export_snapshot(ring)?);
                let name = host(&cli)?.import_snapshot(&snapshot)?;
                outln!(
                    "ring {name} copied from {from} with its audit chain and request log; \
                     point every host at the new store, then remove the ring from the old one"
                );
            }
            _ => {
                return Err(err(
                    ErrorKind::InvalidInput,
                    "ring import takes a snapshot file, or --from STORE --ring NAME",
                ));
            }
        },
        Command::Ring(RingCmd::ExportPublic { ring, out }) => {
            let bytes = host(&cli)?.export_public(ring)?;
            write_file(out, &bytes, false, false)?;
            outln!("public part of {ring} written to {}", out.display());
        }
        Command::Keys { ring, json } => {
            let keys = host(&cli)?.keys(ring)?;
            if *json {
                outln!("{}", keys.to_json());
            } else {
                print::keys(&keys);
            }
        }
        Command::Member(MemberCmd::Add {
            ring,
            as_,
            role,
            identity,
        }) => {
            let admin = read_identity(as_)?;
            let role = Role::parse(role)?;
            let who = parse_public_identity(identity)?;
            let out = host(&cli)?.add_member(ring, &admin, role, &who)?;
            print::change(&out, &format!("{} added as {}", who.id(), role.name()));
        }
        Command::Member(MemberCmd::Remove {
            ring,
            as_,
            identity,
        }) => {
            let admin = read_identity(as_)?;
            let who = parse_public_identity(identity)?;
            let out = host(&cli)?.remove_member(ring, &admin, &who)?;
            print::change(&out, &format!("{} removed", who.id()));
            if matches!(out, dkm_host::ChangeOutcome::Applied { .. }) {
                outln!(
                    "the removal is pending until a key holder runs `dkm maintain`: only then do keys roll"
                );
            }
        }
        Command::Policy(PolicyCmd::Approvals { ring, as_, levels }) => {
            let admin = read_identity(as_)?;
            let levels = levels
                .iter()
                .map(|l| LevelSpec::parse(l))
                .collect::<Result<Vec<_>>>()?;
            let out = host(&cli)?.set_approval_levels(ring, &admin, &levels)?;
            print::change(&out, "approval policy set");
        }
        Command::Revoke { ring, epoch, as_ } => {
            let admin = read_identity(as_)?;
            let out = host(&cli)?.revoke_epoch(ring, &admin, *epoch)?;
            print::change(&out, &format!("epoch {epoch} revoked"));
        }
        Command::Shred { ring, before, as_ } => {
            let admin = read_identity(as_)?;
            let cutoff = parse_time(before)?;
            let out = host(&cli)?.shred_before(ring, &admin, cutoff)?;
            print::change(
                &out,
                &format!("shredding before {}", files::format_time(cutoff)),
            );
        }
        Command::Apply { ring, request, as_ } => {
            let admin = read_identity(as_)?;
            let v = host(&cli)?.apply(ring, request_id(request)?, &admin)?;
            outln!("approved change signed: governance version {v}");
            outln!("pending: a key holder's `dkm maintain` carries it out");
        }
        Command::Seal(a) => {
            let holder = read_identity(&a.as_)?;
            let pt = read_input(a.io.input.as_deref(), Input::Plaintext)?;
            let sealed = host(&cli)?.seal(&a.ring, &holder, &pt, a.io.context.as_bytes())?;
            write_sealed(a.io.out.as_deref(), sealed, a.armor)?;
        }
        Command::Unseal(a) => {
            let who = read_identity(&a.as_)?;
            // Arguments first: a bad one refuses before the input is consumed.
            let grant = a.grant.as_deref().map(files::grant_id_arg).transpose()?;
            let seal_only = if a.key_holders_only {
                SealOnly::Refuse
            } else {
                SealOnly::Accept
            };
            let sealed = read_input(a.io.input.as_deref(), Input::Sealed)?;
            let h = host(&cli)?;
            let ctx = a.io.context.as_bytes();
            let opened = match grant {
                None => h.unseal(&a.ring, &who, &sealed, ctx, seal_only)?,
                Some(id) => h.unseal_with_grant(&a.ring, &who, id, &sealed, ctx, seal_only)?,
            };
            write_output(a.io.out.as_deref(), &opened.plaintext, true)?;
            if opened.origin == dkm_host::Origin::SealOnly {
                eprintln!(
                    "dkm: note: sealed by a seal-only party (anyone with the ring's public part): its origin is not authenticated"
                );
            }
        }
        Command::SealTo(a) => {
            let public = input::read_path(&a.public, Input::Public)?;
            let pt = read_input(a.io.input.as_deref(), Input::Plaintext)?;
            let pin = cli.pin.as_deref().map(read_pin_file).transpose()?;
            let h = host(&cli)?;
            let sealed = h.seal_to(&public, pin.as_ref(), &pt, a.io.context.as_bytes())?;
            write_sealed(a.io.out.as_deref(), sealed, a.armor)?;
        }
        Command::Maintain { ring, as_ } | Command::RollEpoch { ring, as_ } => {
            let holder = read_identity(as_)?;
            let h = host(&cli)?;
            let events = if matches!(cli.command, Command::RollEpoch { .. }) {
                h.roll_epoch(ring, &holder)?
            } else {
                h.maintain(ring, &holder)?
            };
            print::events(&events);
        }
        Command::Access(AccessCmd::Request {
            ring,
            as_,
            reason,
            duration,
            since,
            epoch,
        }) => {
            let who = read_identity(as_)?;
            let since = since.as_deref().map(parse_time).transpose()?;
            let scope = dkm_host::access_scope(since, epoch)?;
            let id =
                host(&cli)?.request_access(ring, &who, reason, parse_duration(duration)?, scope)?;
            outln!(
                "access request logged; approvers: dkm approve {ring} REQUEST_ID --as FILE --level NAME"
            );
            outln!("{id}");
        }
        Command::Access(AccessCmd::Grant {
            ring,
            request,
            as_,
            out,
        }) => {
            let holder = read_identity(as_)?;
            let request = request_id(request)?;
            // Make sure the grant file can be written before the grant uses the request up.
            if let Some(p) = out {
                files::check_writable(p)?;
            }
            let g = host(&cli)?.grant(ring, request, &holder)?;
            outln!(
                "grant issued to {} from {} to {}",
                g.requester,
                files::format_time(g.not_before),
                files::format_time(g.not_after)
            );
            if let Some(p) = out {
                write_file(p, &g.bytes, false, false)?;
                outln!("grant written to {}", p.display());
            }
            outln!("{}", g.id);
        }
        Command::Access(AccessCmd::Revoke { ring, grant, as_ }) => {
            let admin = read_identity(as_)?;
            let id = dkm_core::GrantId::from_hex(grant)?;
            let out = host(&cli)?.revoke_grant(ring, &admin, id)?;
            print::change(&out, &format!("grant {id} revoked"));
        }
        Command::Requests { ring, json } => {
            let list = host(&cli)?.requests(ring)?;
            if *json {
                let all: Vec<_> = list.iter().map(ToJson::to_json).collect();
                outln!("{}", serde_json::Value::Array(all));
            } else {
                print::requests(&list);
            }
        }
        Command::Approve {
            ring,
            request,
            as_,
            level,
            deny,
        } => {
            let who = read_identity(as_)?;
            let id = request_id(request)?;
            let h = host(&cli)?;
            if *deny {
                h.deny(ring, id, level, &who)?;
            } else {
                h.approve(ring, id, level, &who)?;
            }
            outln!(
                "{} at level {level} logged",
                if *deny { "denial" } else { "approval" }
            );
        }
        Command::Audit(AuditCmd::Show { ring, json }) => {
            for r in host(&cli)?.audit_records(ring)? {
                if *json {
                    outln!("{}", r.to_json());
                } else {
                    outln!("{}", dkm_host::views::audit_record_text(&r));
                }
            }
        }
        Command::Audit(AuditCmd::Verify { ring, json }) => {
            let report = host(&cli)?.audit_verify(ring)?;
            if *json {
                outln!("{}", ToJson::to_json(&report));
            }
            match (report.head, report.problem) {
                (Some(head), None) => {
                    if !*json {
                        outln!(
                            "audit chain of {ring} verifies: {} records, head {}",
                            report.records,
                            hex::encode(head.hash)
                        );
                    }
                }
                (_, Some(p)) => {
                    return Err(err(
                        ErrorKind::Tampered,
                        format!("audit record {}: {}", p.index, p.fault.name()),
                    ));
                }
                (None, None) => {
                    return Err(err(
                        ErrorKind::Internal,
                        "audit verification gave no answer",
                    ));
                }
            }
        }
        Command::Demo => demo::run()?,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind as K;
            if matches!(e.kind(), K::DisplayHelp | K::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!("dkm: error: InvalidInput: a command is missing (see dkm --help)");
                return ExitCode::from(2);
            }
            let text = e.to_string();
            let what: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("tip:"))
                .collect();
            let what = what.join(" ");
            let what = dkm_host::error::redact_secrets(&what);
            let what = what.trim_start_matches("error: ");
            eprintln!("dkm: error: InvalidInput: {what} (see dkm --help)");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "dkm: error: {}: {}",
                e.kind().name(),
                e.message().replace('\n', " ")
            );
            ExitCode::from(1)
        }
    }
}
