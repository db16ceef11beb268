"""Elevated access for a person who must debug: request, two levels of approval, a grant
that lasts one hour and expires by itself, an audited unseal, and the audit chain verified.

Runs on a memory store with a clock the script moves forward (approvers count 24 hours after
they are bound to the ring's keys).

Run: python elevated_access.py
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dkm


class Clock:
    """A clock the script moves."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def main() -> None:
    clock = Clock()
    host = dkm.Host(dkm.MemoryStore(), pins=dkm.MemoryPins(), clock=clock)
    admin, service, oncall = (dkm.Identity.generate() for _ in range(3))
    leads = [dkm.Identity.generate() for _ in range(2)]
    security = dkm.Identity.generate()

    host.create_ring("mail", as_=admin)
    host.add_member("mail", "service", service.public, as_=admin)
    for a in [*leads, security]:
        host.add_member("mail", "approver", a.public, as_=admin)
    host.set_approval_levels(
        "mail",
        [
            dkm.ApprovalLevel("team-lead", 1, tuple(a.public for a in leads)),
            dkm.ApprovalLevel("security", 1, (security.public,)),
        ],
        as_=admin,
    )
    host.maintain("mail", as_=service)  # binds the approvers to the keys
    sealed = host.seal("mail", b"imap password", b"account:42", as_=service)

    clock.now += timedelta(days=1, minutes=1)  # approvers count after their cool-off
    request = host.request_access(
        "mail", "INC-1234: sync loop", timedelta(hours=1), as_=oncall,
        since=clock.now - timedelta(days=2),
    )
    host.approve("mail", request, "team-lead", as_=leads[0])
    host.approve("mail", request, "security", as_=security)
    grant = host.grant("mail", request, as_=service)
    print(f"grant {grant.id} until {grant.not_after:%H:%M}Z")

    opened = host.unseal_with_grant("mail", grant.id, sealed, b"account:42", as_=oncall)
    print(f"on-call opened {opened!r}")

    clock.now += timedelta(hours=2)  # the grant expires by itself
    try:
        host.unseal_with_grant("mail", grant.id, sealed, b"account:42", as_=oncall)
    except dkm.GrantExpired as e:
        print(f"two hours later: {e.kind}")

    report = host.audit_verify("mail")
    assert report.verified
    uses = [r for r in host.audit_records("mail") if r.grant == grant.id]
    print(f"audit chain of {report.records} records verifies; the grant appears in {len(uses)}")


if __name__ == "__main__":
    main()
