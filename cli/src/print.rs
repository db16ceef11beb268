//! The command's text output: how each host view reads on a terminal. (`--json` prints the
//! views' own JSON form instead.)

use std::path::Path;

use dkm_core::ring::{EpochState, KeyListing};
use dkm_core::{Event, Identity, RingId};
use dkm_host::files::format_time;
use dkm_host::views::event_text;
use dkm_host::{ChangeOutcome, RequestView, RingInfo};

pub fn identity_written(name: &str, out: &Path, id: &Identity) {
    outln!(
        "identity {name} written to {} (keep it secret)",
        out.display()
    );
    identity(id);
}

pub fn identity(id: &Identity) {
    outln!("id {}", id.id());
    outln!("{}", id.public().to_text());
}

pub fn ring_created(ring: &str, id: RingId) {
    outln!("ring {ring} created: id {id}");
    outln!(
        "it has no key holders yet: add service accounts with `dkm member add`, then a key holder runs `dkm maintain`"
    );
    outln!("{id}");
}

/// What a governance change did; a logged request's id comes last.
pub fn change(outcome: &ChangeOutcome, what: &str) {
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
            outln!("{request}");
        }
    }
}

pub fn ring_info(i: &RingInfo) {
    outln!("ring {} ({})", i.name, i.id);
    outln!(
        "governance version {} (carried out: {})",
        i.governance_version,
        i.applied_version
            .map_or("none yet".to_owned(), |v| v.to_string())
    );
    outln!("members:");
    for m in &i.members {
        outln!("  {:8} {}  {}", m.role.name(), m.id, m.public);
    }
    let p = &i.policy;
    outln!(
        "policy: interval {} s, max grant {} s, max lookback {} s, request lifetime {} s, approver cool-off {} s",
        p.interval_secs,
        p.max_grant_secs,
        p.max_lookback_secs,
        p.request_lifetime_secs,
        p.approver_cooloff_secs
    );
    for l in &p.levels {
        outln!(
            "  level {}: {} of {}",
            l.name,
            l.quorum,
            dkm_host::approver_list(l)
        );
    }
    outln!("epochs: {}", i.epochs.len());
    for (epoch, state) in &i.epochs {
        outln!("  epoch {epoch} {}", state.name());
    }
    for w in &i.warnings {
        outln!("warning: {w}");
    }
}

pub fn keys(k: &KeyListing) {
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
}

pub fn events(events: &[Event]) {
    if events.is_empty() {
        outln!("nothing to do: the ring is fresh and carries out its newest governance");
    }
    for e in events {
        outln!("{}", event_text(e));
    }
}

pub fn requests(list: &[RequestView]) {
    for v in list {
        outln!(
            "{} {} {} by {} ({}), expires {}: {}",
            v.id,
            v.state.name(),
            v.description(),
            v.author,
            v.reason.replace('\n', " "),
            format_time(v.expires),
            v.levels
                .iter()
                .map(|(name, n, q)| format!("{name} {n}/{q}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}
