//! Ring flows end to end: create, first maintain, seal/unseal across holders, seal-only,
//! removal, pins.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)] // test code

use chacha20::ChaCha20Rng;
use dkm_core::rand_core::SeedableRng;
use dkm_core::ring::{Anchor, Member};
use dkm_core::{ErrorKind, Identity, KeyHolder, NoApprovals, Pin, Policy, Ring, RingPublic, Role};

const START: u64 = 1_767_225_600;
const DAY: u64 = 86_400;
const NO: (Anchor, Anchor) = (Anchor::EMPTY, Anchor::EMPTY);

#[test]
fn smoke() {
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let admin = Identity::generate(&mut rng);
    let s1 = Identity::generate(&mut rng);
    let s2 = Identity::generate(&mut rng);
    let members = [
        Member {
            role: Role::Service,
            identity: s1.public().clone(),
        },
        Member {
            role: Role::Service,
            identity: s2.public().clone(),
        },
    ];
    let (ring, _) = Ring::create("mail", Policy::default(), &admin, &members, &mut rng).unwrap();
    let pin = Pin::new(ring.id(), vec![admin.public().clone()]);
    let blob = ring.to_bytes();
    let ring = Ring::load(&blob, &pin).unwrap();
    assert!(ring.is_pending());
    assert!(KeyHolder::open(ring.clone(), &admin).is_err());
    let mut h1 = KeyHolder::open(ring, &s1).unwrap();
    let m = h1.maintain(&s1, START, &mut rng, &NoApprovals, NO).unwrap();
    assert!(m.written, "{m:?}");
    println!("{:?}", m.events);
    let blob = h1.ring().to_bytes();
    let ring = Ring::load(&blob, &pin).unwrap();
    let pin2 = ring.pin();
    assert!(!ring.is_pending());
    let sealed = h1.seal(START + 10, b"secret", b"ctx", &mut rng).unwrap();
    let mut h2 = KeyHolder::open(ring.clone(), &s2).unwrap();
    assert_eq!(&h2.unseal(&sealed, b"ctx").unwrap()[..], b"secret");
    let public = RingPublic::load(&blob, &pin2).unwrap();
    let so = public.seal(START + 100, b"pw", b"acct", &mut rng).unwrap();
    assert_eq!(&h2.unseal_seal_only(&so, b"acct").unwrap()[..], b"pw");
    assert_eq!(
        h2.unseal(&so, b"acct").unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // no write needed shortly after
    let m = h2
        .maintain(&s2, START + 20, &mut rng, &NoApprovals, NO)
        .unwrap();
    assert!(!m.written, "{m:?}");
    // days later: keys roll by derivation, freshness renewal writes
    let later = START + DAY + 5;
    let sealed2 = h2.seal(later, b"two", b"", &mut rng).unwrap();
    assert_ne!(sealed2[2..24], sealed[2..24]);
    let m = h2.maintain(&s2, later, &mut rng, &NoApprovals, NO).unwrap();
    assert!(m.written);
    // remove s2
    let mut ring = h2.into_ring();
    let mut d = ring.draft();
    d.remove_member(s2.public()).unwrap();
    ring.apply_governance(d, &admin, &NoApprovals, later)
        .unwrap();
    assert!(ring.is_pending());
    let ring = Ring::load(&ring.to_bytes(), &pin2).unwrap();
    let mut h1 = KeyHolder::open(ring.clone(), &s1).unwrap();
    assert_eq!(
        h1.seal(later, b"x", b"", &mut rng).unwrap_err().kind(),
        ErrorKind::Stale
    );
    let m = h1
        .maintain(&s1, later + 1, &mut rng, &NoApprovals, NO)
        .unwrap();
    println!("{:?}", m.events);
    let sealed3 = h1.seal(later + 2, b"three", b"", &mut rng).unwrap();
    let ring = Ring::load(&h1.ring().to_bytes(), &pin2).unwrap();
    assert_eq!(
        KeyHolder::open(ring.clone(), &s2).unwrap_err().kind(),
        ErrorKind::NotAMember
    );
    let mut h1b = KeyHolder::open(ring.clone(), &s1).unwrap();
    for (s, p) in [
        (&sealed, &b"secret"[..]),
        (&sealed2, b"two"),
        (&sealed3, b"three"),
    ] {
        let ctx: &[u8] = if p == b"secret" { b"ctx" } else { b"" };
        assert_eq!(&h1b.unseal(s, ctx).unwrap()[..], p);
    }
    // rollback refused
    let new_pin = ring.pin();
    assert_eq!(
        Ring::load(&blob, &new_pin).unwrap_err().kind(),
        ErrorKind::Rollback
    );
    println!("{:#?}", ring.keys(later + 3));
    println!("blob {} bytes", ring.to_bytes().len());
}
