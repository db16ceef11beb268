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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use dkm_core::access::{RequestKind, RequestState, Scope, Verdict};
use dkm_core::ring::{ApprovalLevel, EpochState, Role};
use dkm_core::{ErrorKind, Identity, PublicIdentity};
use dkm_host::files::{
    format_time, identity_file_text, parse_duration, parse_public_identity, parse_time,
    read_pin_file, write_file,
};
use dkm_host::input::{self, Input};
use dkm_host::{ChangeOutcome, Clock, FileStore, Host, HostError, PinBook, Result};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "dkm",
    version,
    about = "Distributed Key Manager: group-gated keys that roll over by themselves",
    long_about = "Distributed Key Manager: secrets sealed to a ring only its key holders (service accounts) can open; admins govern but cannot read; approved, audited, expiring elevated access for people."
)]
struct Cli {
    /// The store directory.
    #[arg(long, global = true, env = "DKM_STORE", default_value = "./dkm-store")]
    store: PathBuf,
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

fn dkm_home() -> PathBuf {
    if let Some(h) = std::env::var_os("DKM_HOME") {
        return PathBuf::from(h);
    }
    let base = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    base.join(".config").join("dkm")
}

fn clock(now: Option<&str>) -> Result<Clock> {
    match now {
        Some(t) => Ok(Clock::fixed(parse_time(t)?)),
        None => Clock::system(),
    }
}

fn host(cli: &Cli) -> Result<Host<FileStore>> {
    let h = Host::new(
        FileStore::new(&cli.store),
        PinBook::new(dkm_home().join("pins")),
        clock(cli.now.as_deref())?,
    )?;
    match &cli.pin {
        Some(p) => Ok(h.with_pin(read_pin_file(p)?)),
        None => Ok(h),
    }
}

/// Reads a secret identity file, warning on stderr (like ssh) when others can read it.
fn read_identity(path: &Path) -> Result<Identity> {
    let f = dkm_host::files::read_identity(path)?;
    if let Some(w) = f.warning {
        eprintln!("dkm: warning: {w}");
    }
    Ok(f.identity)
}

fn public(text: &str) -> Result<PublicIdentity> {
    parse_public_identity(text)
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

/// Writes a sealed secret, as bytes or as its text armor and a newline.
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

fn say_change(outcome: &ChangeOutcome, what: &str) {
    match outcome {
        ChangeOutcome::Applied { version, pending } => {
            outln!("{what}: governance version {version} signed");
            if *pending {
                outln!("pending: a key holder's `dkm maintain` carries it out");
            }
        }
        ChangeOutcome::Requested { request } => {
            outln!("{what} needs the approval policy's quorum: logged as a request");
            outln!(
                "approvers: dkm approve RING REQUEST_ID --as FILE --level NAME; then: dkm apply RING REQUEST_ID --as ADMIN_FILE"
            );
            outln!("{}", hex::encode(request));
        }
    }
}

fn state_name(s: &RequestState) -> &'static str {
    match s {
        RequestState::Pending => "pending",
        RequestState::Approved => "approved",
        RequestState::Denied => "denied",
        RequestState::Expired => "expired",
        RequestState::Granted => "granted",
    }
}

#[allow(clippy::too_many_lines)]
fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Identity(IdentityCmd::New { name, out }) => {
            let mut rng = dkm_core::rng::SystemRng::new()?;
            let id = Identity::generate(&mut rng);
            write_file(out, identity_file_text(name, &id)?.as_bytes(), true, true)?;
            outln!(
                "identity {name} written to {} (keep it secret)",
                out.display()
            );
            outln!("id {}", id.id());
            outln!("{}", id.public().to_text());
        }
        Command::Identity(IdentityCmd::Show { file }) => {
            let id = read_identity(file)?;
            outln!("id {}", id.id());
            outln!("{}", id.public().to_text());
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
            outln!("ring {ring} created: id {id}");
            outln!(
                "it has no key holders yet: add service accounts with `dkm member add`, then a key holder runs `dkm maintain`"
            );
            outln!("{id}");
        }
        Command::Ring(RingCmd::Show { ring, json }) => ring_show(&cli, ring, *json)?,
        Command::Ring(RingCmd::Rename {
            ring,
            new_name,
            as_,
        }) => {
            let admin = read_identity(as_)?;
            let out = host(&cli)?.rename_ring(ring, new_name, &admin)?;
            say_change(&out, &format!("ring {ring} renamed to {new_name}"));
        }
        Command::Ring(RingCmd::ExportPublic { ring, out }) => {
            let bytes = host(&cli)?.export_public(ring)?;
            write_file(out, &bytes, false, false)?;
            outln!("public part of {ring} written to {}", out.display());
        }
        Command::Keys { ring, json } => keys(&cli, ring, *json)?,
        Command::Member(MemberCmd::Add {
            ring,
            as_,
            role,
            identity,
        }) => {
            let admin = read_identity(as_)?;
            let role = match role.as_str() {
                "admin" => Role::Admin,
                "service" => Role::Service,
                "approver" => Role::Approver,
                other => {
                    return Err(err(
                        ErrorKind::InvalidInput,
                        format!("unknown role {other:?}: use admin, service or approver"),
                    ));
                }
            };
            let who = public(identity)?;
            let out = host(&cli)?.govern(ring, &admin, "add a member", |d| {
                Ok(d.add_member(role, who.clone())?)
            })?;
            say_change(&out, &format!("{} added as {}", who.id(), role.name()));
        }
        Command::Member(MemberCmd::Remove {
            ring,
            as_,
            identity,
        }) => {
            let admin = read_identity(as_)?;
            let who = public(identity)?;
            let out = host(&cli)?.govern(ring, &admin, "remove a member", |d| {
                d.remove_member(&who)?;
                Ok(())
            })?;
            say_change(&out, &format!("{} removed", who.id()));
            if matches!(out, ChangeOutcome::Applied { .. }) {
                outln!(
                    "the removal is pending until a key holder runs `dkm maintain`: only then do keys roll"
                );
            }
        }
        Command::Policy(PolicyCmd::Approvals { ring, as_, levels }) => {
            let admin = read_identity(as_)?;
            let mut parsed = Vec::new();
            for l in levels {
                let mut parts = l.splitn(3, ':');
                let (Some(name), Some(k), Some(pubs)) = (parts.next(), parts.next(), parts.next())
                else {
                    return Err(err(
                        ErrorKind::InvalidInput,
                        format!("{l:?} is not NAME:K:PUB,PUB,..."),
                    ));
                };
                let quorum: u8 = k.parse().map_err(|_| {
                    err(
                        ErrorKind::InvalidInput,
                        format!("{k:?} is not a quorum (1 to 32)"),
                    )
                })?;
                let mut approvers = Vec::new();
                for p in pubs.split(',') {
                    approvers.push(public(p)?.id());
                }
                approvers.sort();
                parsed.push(ApprovalLevel {
                    name: name.to_owned(),
                    quorum,
                    approvers,
                });
            }
            let out = host(&cli)?.govern(ring, &admin, "set the approval policy", |d| {
                d.policy.levels = parsed.clone();
                Ok(())
            })?;
            say_change(&out, "approval policy set");
        }
        Command::Revoke { ring, epoch, as_ } => {
            let admin = read_identity(as_)?;
            let out = host(&cli)?.govern(ring, &admin, "revoke an epoch", |d| {
                if let Err(i) = d.revoked_epochs.binary_search(epoch) {
                    d.revoked_epochs.insert(i, *epoch);
                }
                Ok(())
            })?;
            say_change(&out, &format!("epoch {epoch} revoked"));
        }
        Command::Shred { ring, before, as_ } => {
            let admin = read_identity(as_)?;
            let cutoff = parse_time(before)?;
            let out = host(&cli)?.govern(ring, &admin, "shred", |d| {
                d.shred_before = d.shred_before.max(cutoff);
                Ok(())
            })?;
            say_change(&out, &format!("shredding before {}", format_time(cutoff)));
        }
        Command::Apply { ring, request, as_ } => {
            let admin = read_identity(as_)?;
            let v = host(&cli)?.apply(ring, &dkm_host::parse_request_id(request)?, &admin)?;
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
            let grant = a
                .grant
                .as_deref()
                .map(dkm_host::files::grant_id_arg)
                .transpose()?;
            let sealed = read_input(a.io.input.as_deref(), Input::Sealed)?;
            let trimmed = input::trim_armor(&sealed);
            let seal_only = dkm_core::decode_any(trimmed)
                .ok()
                .and_then(|b| dkm_core::SealedSecret::parse(&b).map(|p| p.suite()).ok())
                == Some(dkm_core::Suite::HpkeX25519Xaes256GcmCommit);
            let h = host(&cli)?;
            let pt = match grant {
                None => h.unseal(&a.ring, &who, trimmed, a.io.context.as_bytes())?,
                Some(id) => {
                    h.unseal_with_grant(&a.ring, &who, id, trimmed, a.io.context.as_bytes())?
                }
            };
            write_output(a.io.out.as_deref(), &pt, true)?;
            if seal_only {
                eprintln!(
                    "dkm: note: sealed by a seal-only party (anyone with the ring's public part): its origin is not authenticated"
                );
            }
        }
        Command::SealTo(a) => {
            let public = input::read_path(&a.public, Input::Public)?;
            let pt = read_input(a.io.input.as_deref(), Input::Plaintext)?;
            let now = clock(cli.now.as_deref())?.now;
            let pin = cli.pin.as_deref().map(read_pin_file).transpose()?;
            let sealed =
                dkm_host::seal_to(&public, pin.as_ref(), now, &pt, a.io.context.as_bytes())?;
            write_sealed(a.io.out.as_deref(), sealed, a.armor)?;
        }
        Command::Maintain { ring, as_ } | Command::RollEpoch { ring, as_ } => {
            let holder = read_identity(as_)?;
            let roll = matches!(cli.command, Command::RollEpoch { .. });
            let events = host(&cli)?.maintain(ring, &holder, roll)?;
            if events.is_empty() {
                outln!("nothing to do: the ring is fresh and carries out its newest governance");
            }
            for e in &events {
                outln!("{}", event_text(e));
            }
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
            let scope = match (since, epoch.is_empty()) {
                (Some(t), _) => Some(Scope::Since(parse_time(t)?)),
                (None, false) => {
                    let mut e = epoch.clone();
                    e.sort_unstable();
                    e.dedup();
                    Some(Scope::Epochs(e))
                }
                (None, true) => None,
            };
            let id =
                host(&cli)?.request_access(ring, &who, reason, parse_duration(duration)?, scope)?;
            outln!(
                "access request logged; approvers: dkm approve {ring} REQUEST_ID --as FILE --level NAME"
            );
            outln!("{}", hex::encode(id));
        }
        Command::Access(AccessCmd::Grant {
            ring,
            request,
            as_,
            out,
        }) => {
            let holder = read_identity(as_)?;
            let request = dkm_host::parse_request_id(request)?;
            // Make sure the grant file can be written before the grant uses the request up.
            if let Some(p) = out {
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(p)
                    .map_err(|e| {
                        err(
                            ErrorKind::InvalidInput,
                            format!("cannot write {}: {e}", p.display()),
                        )
                    })?;
            }
            let g = host(&cli)?.grant(ring, &request, &holder)?;
            let gr = g.grant();
            outln!(
                "grant issued to {} from {} to {}",
                gr.requester.id(),
                format_time(gr.not_before),
                format_time(gr.not_after)
            );
            if let Some(p) = out {
                write_file(p, g.as_bytes(), false, false)?;
                outln!("grant written to {}", p.display());
            }
            outln!("{}", gr.id);
        }
        Command::Access(AccessCmd::Revoke { ring, grant, as_ }) => {
            let admin = read_identity(as_)?;
            let id = dkm_host::parse_grant_id(grant)?;
            let out = host(&cli)?.govern(ring, &admin, "revoke a grant", |d| {
                if let Err(i) = d.revoked_grants.binary_search(&id.0) {
                    d.revoked_grants.insert(i, id.0);
                }
                Ok(())
            })?;
            say_change(&out, &format!("grant {id} revoked"));
        }
        Command::Requests { ring, json } => requests(&cli, ring, *json)?,
        Command::Approve {
            ring,
            request,
            as_,
            level,
            deny,
        } => {
            let who = read_identity(as_)?;
            let verdict = if *deny {
                Verdict::Deny
            } else {
                Verdict::Approve
            };
            let id = dkm_host::parse_request_id(request)?;
            let h = host(&cli)?;
            h.decide(ring, &id, level, verdict, &who)?;
            outln!(
                "{} at level {level} logged",
                if *deny { "denial" } else { "approval" }
            );
        }
        Command::Audit(AuditCmd::Show { ring, json }) => {
            let h = host(&cli)?;
            for r in h.audit_records(ring)? {
                if *json {
                    outln!("{}", r.to_json());
                } else {
                    outln!(
                        "#{} {} {}{} by {}",
                        r.seq,
                        format_time(r.time),
                        r.action.name(),
                        if r.flags & dkm_core::audit::FLAG_CLOCK_OVERRIDE != 0 {
                            " (clock override)"
                        } else {
                            ""
                        },
                        r.actor().id()
                    );
                }
            }
        }
        Command::Audit(AuditCmd::Verify { ring }) => {
            let report = host(&cli)?.audit_verify(ring)?;
            match (report.head, report.problem) {
                (Some(head), None) => {
                    outln!(
                        "audit chain of {ring} verifies: {} records, head {}",
                        report.records,
                        hex::encode(head.hash)
                    );
                }
                (_, Some((index, reason))) => {
                    return Err(err(
                        ErrorKind::Tampered,
                        format!("audit record {index}: {reason}"),
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

fn event_text(e: &dkm_core::Event) -> String {
    let (action, d) = dkm_core::audit::event_record(e);
    let mut s = action.name().to_owned();
    if let Some(v) = d.version {
        s.push_str(&format!(" version {v}"));
    }
    if let Some(v) = d.subject {
        s.push_str(&format!(" {v}"));
    }
    if let Some(v) = d.epoch {
        s.push_str(&format!(" epoch {v}"));
    }
    if let Some(v) = d.grant {
        s.push_str(&format!(" grant {v}"));
    }
    if let Some(v) = d.value {
        use dkm_core::audit::Action;
        match action {
            Action::FreshnessRenewed | Action::WriteTimeReset | Action::GrantIssued => {
                s.push_str(&format!(" ({})", format_time(v)));
            }
            _ => s.push_str(&format!(" ({v})")),
        }
    }
    s
}

fn ring_show(cli: &Cli, name: &str, json: bool) -> Result<()> {
    let h = host(cli)?;
    let l = h.load(name)?;
    let ring = &l.ring;
    let g = ring.governance();
    let now = h.clock().now;
    let mut warnings = Vec::new();
    if ring.is_bootstrap() {
        warnings.push("no approval policy yet: an admin alone can change anything (set one with `dkm policy approvals`)".to_owned());
    }
    if g.with_role(Role::Service).next().is_none() {
        warnings.push("no key holders: add a service account".to_owned());
    }
    if ring.is_pending() {
        warnings.push(
            "governance changes are pending: a key holder must run `dkm maintain`".to_owned(),
        );
    }
    if ring.is_stale(now) {
        warnings.push(
            "the ring is stale (or has no keys yet): a key holder must run `dkm maintain`"
                .to_owned(),
        );
    }
    let members: Vec<_> = g
        .members
        .iter()
        .map(|m| json!({"role": m.role.name(), "id": m.identity.id().to_string(), "public": m.identity.to_text()}))
        .collect();
    let levels: Vec<_> = g
        .policy
        .levels
        .iter()
        .map(|l| json!({"name": l.name, "quorum": l.quorum, "approvers": l.approvers.iter().map(ToString::to_string).collect::<Vec<_>>()}))
        .collect();
    let listing = ring.keys(now);
    if json {
        let v = json!({
            "name": g.name,
            "id": ring.id().to_string(),
            "governance_version": g.version,
            "applied_version": ring.key_state().map(|k| k.key_state().governance.version),
            "members": members,
            "policy": {
                "interval_secs": g.policy.interval_secs,
                "max_grant_secs": g.policy.max_grant_secs,
                "max_lookback_secs": g.policy.max_lookback_secs,
                "request_lifetime_secs": g.policy.request_lifetime_secs,
                "approver_cooloff_secs": g.policy.approver_cooloff_secs,
                "levels": levels,
            },
            "epochs": listing.epochs.len(),
            "pending": ring.is_pending(),
            "warnings": warnings,
        });
        outln!("{v}");
        return Ok(());
    }
    outln!("ring {} ({})", g.name, ring.id());
    outln!(
        "governance version {} (carried out: {})",
        g.version,
        ring.key_state().map_or("none yet".to_owned(), |k| k
            .key_state()
            .governance
            .version
            .to_string())
    );
    outln!("members:");
    for m in &g.members {
        outln!(
            "  {:8} {}  {}",
            m.role.name(),
            m.identity.id(),
            m.identity.to_text()
        );
    }
    outln!(
        "policy: interval {} s, max grant {} s, max lookback {} s, request lifetime {} s, approver cool-off {} s",
        g.policy.interval_secs,
        g.policy.max_grant_secs,
        g.policy.max_lookback_secs,
        g.policy.request_lifetime_secs,
        g.policy.approver_cooloff_secs
    );
    for l in &g.policy.levels {
        outln!(
            "  level {}: {} of {}",
            l.name,
            l.quorum,
            l.approvers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    outln!("epochs: {}", listing.epochs.len());
    for e in &listing.epochs {
        outln!("  epoch {} {}", e.epoch, e.state.name());
    }
    for w in &warnings {
        outln!("warning: {w}");
    }
    Ok(())
}

fn keys(cli: &Cli, name: &str, json: bool) -> Result<()> {
    let h = host(cli)?;
    let l = h.load(name)?;
    let k = l.ring.keys(h.clock().now);
    if json {
        let epochs: Vec<_> = k
            .epochs
            .iter()
            .map(|e| {
                json!({
                    "epoch": e.epoch,
                    "state": e.state.name(),
                    "start": format_time(e.start),
                    "end": format_time(e.end),
                    "interval_secs": e.interval_secs,
                    "created": format_time(e.created),
                    "retired": e.retired.map(format_time),
                    "readable": e.readable.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
                })
            })
            .collect();
        let v = json!({
            "ring": k.ring.to_string(),
            "current": k.current.map(|c| json!({"epoch": c.epoch, "interval": c.interval})),
            "write_time": k.write_time.map(format_time),
            "fresh_until": k.fresh_until.map(format_time),
            "stale": k.stale,
            "pending": k.pending,
            "bootstrap": k.bootstrap,
            "kek_generation": k.kek_generation,
            "epochs": epochs,
        });
        outln!("{v}");
        return Ok(());
    }
    match k.current {
        Some(c) => outln!("current key: epoch {} interval {}", c.epoch, c.interval),
        None => outln!("current key: none (a key holder must run `dkm maintain`)"),
    }
    if let Some(f) = k.fresh_until {
        outln!(
            "fresh until {}{}",
            format_time(f),
            if k.stale { " (stale)" } else { "" }
        );
    }
    for e in &k.epochs {
        let state = match e.state {
            EpochState::Live if e.retired.is_none() => "current",
            s => s.name(),
        };
        outln!(
            "epoch {} {state}: from {} every {} s, created {}, readable intervals {}",
            e.epoch,
            format_time(e.start),
            e.interval_secs,
            format_time(e.created),
            e.readable
                .iter()
                .map(|(a, b)| format!("{a}-{b}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn requests(cli: &Cli, name: &str, json: bool) -> Result<()> {
    let h = host(cli)?;
    let list = h.requests(name)?;
    let mut out = Vec::new();
    for v in &list {
        let (r, s) = (&v.request, &v.status);
        let req = r.request();
        let kind = match &req.kind {
            RequestKind::Access {
                duration_secs,
                scope,
            } => format!(
                "access for {duration_secs} s to {}",
                match scope {
                    Scope::Since(t) => format!("secrets sealed since {}", format_time(*t)),
                    Scope::Epochs(e) => format!("epochs {e:?}"),
                }
            ),
            RequestKind::Governance { .. } => format!(
                "governance change: {}",
                v.change.as_deref().unwrap_or("(content not logged)")
            ),
        };
        let levels: Vec<_> = s
            .tally
            .levels
            .iter()
            .map(|l| json!({"level": l.name, "approvals": l.counted.len(), "quorum": l.quorum}))
            .collect();
        if json {
            let short = match &req.kind {
                RequestKind::Access { duration_secs, .. } => {
                    format!("access for {duration_secs} s")
                }
                RequestKind::Governance { .. } => "governance change".to_owned(),
            };
            let scope = match &req.kind {
                RequestKind::Access {
                    scope: Scope::Since(t),
                    ..
                } => json!({"since": format_time(*t)}),
                RequestKind::Access {
                    scope: Scope::Epochs(e),
                    ..
                } => json!({"epochs": e}),
                RequestKind::Governance { .. } => serde_json::Value::Null,
            };
            out.push(json!({
                "id": hex::encode(r.hash()),
                "kind": short,
                "description": kind,
                "change": v.change,
                "scope": scope,
                "author": r.author().id().to_string(),
                "reason": req.reason,
                "created": format_time(req.created),
                "expires": format_time(s.expires),
                "state": state_name(&s.state),
                "levels": levels,
            }));
        } else {
            outln!(
                "{} {} {} by {} ({}), expires {}: {}",
                hex::encode(r.hash()),
                state_name(&s.state),
                kind,
                r.author().id(),
                req.reason.replace('\n', " "),
                format_time(s.expires),
                s.tally
                    .levels
                    .iter()
                    .map(|l| format!("{} {}/{}", l.name, l.counted.len(), l.quorum))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if json {
        outln!("{}", serde_json::Value::Array(out));
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
