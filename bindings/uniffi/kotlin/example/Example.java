// dkm from Java, through the uniffi binding (package dev.dkm, generated Kotlin on JNA):
// a ring in memory with its own policy and an approval level, a key holder, a secret sealed
// and opened under its context, and the same secret refused under another context. Exits 1
// on anything unexpected.
//
// Build and run (scripts/test-uniffi.sh does this):
//   javac -cp dkm.jar:kotlin-stdlib.jar:jna.jar -d out Example.java
//   java -Djna.library.path=DIR_OF_libdkm_uniffi.so -cp out:dkm.jar:kotlin-stdlib.jar:jna.jar Example
//
// From Java: the generated constructors are on `Companion` (`Identity.Companion.generate()`),
// the library's functions on `DkmKt` (`DkmKt.defaultPolicy()`), Kotlin's default arguments
// must all be passed (null where optional), integers are Java's signed long and int (a
// negative count or duration is refused as DkmException.InvalidInput), and every object is
// AutoCloseable (close() frees the Rust side at once; an identity's secret and an opened
// plaintext are wiped).

import dev.dkm.ChangeOutcome;
import dev.dkm.DkmException;
import dev.dkm.DkmKt;
import dev.dkm.Host;
import dev.dkm.Identity;
import dev.dkm.LevelSpec;
import dev.dkm.Origin;
import dev.dkm.Pins;
import dev.dkm.Policy;
import dev.dkm.Role;
import dev.dkm.Store;
import dev.dkm.Unsealed;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

public final class Example {
    public static void main(String[] args) {
        int status;
        try {
            status = run();
        } catch (DkmException e) {
            System.err.println("unexpected dkm error: " + e.getClass().getSimpleName() + ": " + e.getMessage());
            status = 1;
        }
        System.exit(status);
    }

    static int run() throws DkmException {
        String ring = "payments";
        byte[] secret = utf8("card 4242 4242 4242 4242");
        byte[] context = utf8("customer:7");

        try (Store store = Store.Companion.memory();
             Pins pins = Pins.Companion.memory();
             Host host = new Host(store, pins, null); // null: the system clock
             Identity admin = Identity.Companion.generate();
             Identity service = Identity.Companion.generate();
             Identity approver = Identity.Companion.generate()) {

            // The admin creates the ring with its own policy (the defaults, with grants of
            // elevated access limited to 4 hours), adds a key holder and an approver, and
            // puts the approver in an approval level; the key holder's maintain makes the
            // ring's keys and carries out the pending changes.
            Policy policy = DkmKt.defaultPolicy();
            policy.setMaxGrantSecs(4 * 3600L);
            String ringId = host.createRing(ring, policy, admin);
            System.out.println("ring " + ring + " created (id " + ringId + "), admin " + admin.id());
            ChangeOutcome added = host.addMember(ring, Role.SERVICE, service.publicIdentity(), admin);
            if (!(added instanceof ChangeOutcome.Applied)) {
                System.err.println("unexpected: adding a member was not applied: " + added);
                return 1;
            }
            System.out.println("key holder " + service.id() + " added: governance version "
                    + ((ChangeOutcome.Applied) added).getVersion());
            host.addMember(ring, Role.APPROVER, approver.publicIdentity(), admin);
            ChangeOutcome levels = host.setApprovalLevels(
                    ring, List.of(new LevelSpec("ops", 1, List.of(approver.publicIdentity()))), admin);
            System.out.println("approval level \"ops\" set: " + levels);
            host.maintain(ring, service);
            System.out.println("maintain ran: the ring has keys");

            // Seal under a context; the same context opens it. An opened secret's toString
            // shows its size and origin, never the plaintext.
            byte[] sealed = host.seal(ring, secret, context, service);
            System.out.println("sealed " + secret.length + " bytes into " + sealed.length);
            try (Unsealed opened = host.unseal(ring, sealed, context, service, true)) {
                if (!Arrays.equals(opened.plaintext(), secret) || opened.origin() != Origin.KEY_HOLDER) {
                    System.err.println("unexpected: the secret did not open to what was sealed");
                    return 1;
                }
                System.out.println("unsealed " + opened + ": \""
                        + new String(opened.plaintext(), StandardCharsets.UTF_8) + "\"");
            }

            // Another context: refused as Tampered.
            try {
                host.unseal(ring, sealed, utf8("customer:8"), service, true).close();
                System.err.println("unexpected: the secret opened under the wrong context");
                return 1;
            } catch (DkmException.Tampered e) {
                System.out.println("wrong context refused: Tampered: " + e.getMessage());
            }

            // The text armor, for a config file or an environment variable.
            String armored = host.sealArmored(ring, secret, context, service);
            try (Unsealed fromText = host.unseal(ring, utf8(armored), context, service, true)) {
                if (!Arrays.equals(fromText.plaintext(), secret)) {
                    System.err.println("unexpected: the armored secret did not open");
                    return 1;
                }
            }
            System.out.println("armored: " + armored.substring(0, 24) + "... opens too");

            // Java's long is signed: a negative epoch is refused, not read as a huge one.
            try {
                host.revokeEpoch(ring, -1L, admin);
                System.err.println("unexpected: epoch -1 was accepted");
                return 1;
            } catch (DkmException.InvalidInput e) {
                System.out.println("epoch -1 refused: InvalidInput: " + e.getMessage());
            }
        }
        System.out.println("done");
        return 0;
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
