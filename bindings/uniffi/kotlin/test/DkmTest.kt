// The Kotlin test program of dkm's uniffi binding (package dev.dkm, JNA): identities, the
// whole story on a memory store, a ring made by the `dkm` command governed from Kotlin, the
// frozen v1 test vectors replayed through the public API, stores written in Kotlin, and an
// etcd store.
//
// No JUnit: `main` runs every test function, prints `ok NAME`, `skip NAME (why)` or
// `FAIL NAME: ...` with the stack trace, and exits 1 if any failed. Arguments select tests by
// name.
// Environment: DKM_BIN (the `dkm` command, default target/debug/dkm) and DKM_VECTORS
// (default testvectors/v1), both relative to the working directory when not absolute;
// DKM_TEST_ETCD (HOST:PORT of a running etcd: the etcd test runs on it, else it is skipped).
package dev.dkm.test

import dev.dkm.*
import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.attribute.PosixFilePermission
import java.time.Duration
import java.time.Instant
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReference
import kotlin.system.exitProcess
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlin.test.fail

// ---- the runner ----

val TESTS: List<Pair<String, () -> Unit>> = listOf(
    "json reader" to ::testJsonReader,
    "identities" to ::testIdentities,
    "identity bad texts" to ::testIdentityBadTexts,
    "error kinds" to ::testErrorKinds,
    "story on a memory store" to ::testStory,
    "unsealed hides its plaintext" to ::testUnsealed,
    "elevated access" to ::testElevatedAccess,
    "negative integers refused" to ::testNegativeIntegers,
    "store locations" to ::testStoreLocations,
    "ring made by the dkm command" to ::testCommandRing,
    "vectors: identities" to ::testVectorIdentities,
    "vectors: ring secrets" to ::testVectorRingSecrets,
    "vectors: ring views and pins" to ::testVectorRingViews,
    "vectors: ring public part" to ::testVectorRingPublic,
    "vectors: invalid rings" to ::testVectorInvalidRings,
    "vectors: access grant" to ::testVectorAccessGrant,
    "vectors: audit chain" to ::testVectorAuditChain,
    "foreign store: story" to ::testForeignStory,
    "foreign store: conflicts" to ::testForeignConflicts,
    "foreign store: failures" to ::testForeignFailures,
    "foreign store: re-entrant calls" to ::testForeignReentrant,
    "foreign store: commits that wrote nothing" to ::testForeignBrokenCommits,
    "foreign store: bad answers" to ::testForeignBadAnswers,
    "threads" to ::testThreads,
    "etcd" to ::testEtcd,
)

/** Thrown by a test that cannot run here: the runner prints `skip NAME (reason)`. */
class Skip(val reason: String) : Exception(reason)

fun main(args: Array<String>) {
    val selected = TESTS.filter { args.isEmpty() || it.first in args }
    if (selected.size < args.size) {
        System.err.println("unknown test name among ${args.toList()}; tests: ${TESTS.map { it.first }}")
        exitProcess(2)
    }
    var failed = 0
    var skipped = 0
    val started = System.nanoTime()
    for ((name, test) in selected) {
        val t = System.nanoTime()
        try {
            test()
            println("ok $name (${(System.nanoTime() - t) / 1_000_000} ms)")
        } catch (e: Skip) {
            skipped++
            println("skip $name (${e.reason})")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: $e")
            e.printStackTrace(System.out)
        }
    }
    val ms = (System.nanoTime() - started) / 1_000_000
    val passed = selected.size - failed - skipped
    println("${selected.size} tests, $passed passed, $skipped skipped, $failed failed ($ms ms)")
    System.out.flush()
    synchronized(TEMP_DIRS) { TEMP_DIRS.forEach { it.deleteRecursively() } }
    // Host refresher threads and any thread a failed test left behind must not keep the JVM.
    exitProcess(if (failed == 0) 0 else 1)
}

// ---- helpers ----

/** 2030-03-17T17:46:40Z: in the future, so nothing depends on the machine's clock. */
val T0: Instant = Instant.ofEpochSecond(1_900_000_000)
val HOUR: Duration = Duration.ofHours(1)
val DAY: Duration = Duration.ofDays(1)
/** After the approvers' 24 h cool-off (the default policy's). */
val T1: Instant = T0 + DAY + HOUR

val HEX32 = Regex("^[0-9a-f]{32}$")
val HEX64 = Regex("^[0-9a-f]{64}$")

val KINDS = listOf(
    "Malformed", "Unsupported", "TooLarge", "BadChecksum", "Tampered", "UnknownKey",
    "KeyRevoked", "KeyDestroyed", "OutOfRange", "InvalidInput", "NotAMember", "GrantExpired",
    "PolicyUnsatisfied", "Conflict", "StoreUnavailable", "Stale", "Rollback", "Internal",
)

fun b(s: String): ByteArray = s.toByteArray(Charsets.UTF_8)

fun hex(s: String): ByteArray {
    require(s.length % 2 == 0) { "odd hex length" }
    return ByteArray(s.length / 2) { s.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
}

/** Temporary directories made by the tests: removed when the program ends. */
val TEMP_DIRS: MutableList<File> = java.util.Collections.synchronizedList(ArrayList())

fun tempDir(prefix: String): Path = Files.createTempDirectory(prefix).also { TEMP_DIRS.add(it.toFile()) }

fun fixedHost(store: Store, pins: Pins, at: Instant): Host = Host(store, pins, Clock.fixed(at))

/** The kind of a dkm error: its class's name (`DkmException.Tampered` is "Tampered"). */
fun kind(e: DkmException): String = e.javaClass.simpleName

/** Runs `block`, which must throw the DkmException of kind `expected`; returns it. */
fun assertKind(expected: String, what: String, block: () -> Unit): DkmException {
    assertTrue(expected in KINDS, "$what: $expected is not an error kind")
    try {
        block()
    } catch (e: DkmException) {
        assertEquals(expected, kind(e), "$what: wrong kind (${e.message})")
        return e
    }
    fail("$what: expected DkmException.$expected, nothing was thrown")
}

/** `data` with the low bit of byte `index` flipped. */
fun flipped(data: ByteArray, index: Int): ByteArray =
    data.copyOf().also { it[index] = (it[index].toInt() xor 1).toByte() }

/** `text` with the character at `index` replaced by another of the same alphabet. */
fun changeChar(text: String, index: Int): String =
    text.substring(0, index) + (if (text[index] == 'a') 'b' else 'a') + text.substring(index + 1)

// ---- a minimal JSON reader (no JSON library on the classpath) ----

/** Parses JSON: objects are maps, arrays lists, integers Long, other numbers Double. */
object Json {
    fun parse(text: String): Any? {
        val p = Parser(text)
        val v = p.value()
        p.ws()
        if (p.i != text.length) throw IllegalArgumentException("trailing text at ${p.i}: $text")
        return v
    }

    private class Parser(val s: String) {
        var i = 0

        fun ws() {
            while (i < s.length && s[i] in " \t\r\n") i++
        }

        fun expect(c: Char) {
            ws()
            if (i >= s.length || s[i] != c) throw IllegalArgumentException("expected '$c' at $i: $s")
            i++
        }

        fun value(): Any? {
            ws()
            if (i >= s.length) throw IllegalArgumentException("unexpected end: $s")
            return when (s[i]) {
                '{' -> obj()
                '[' -> arr()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun obj(): Map<String, Any?> {
            val m = LinkedHashMap<String, Any?>()
            expect('{')
            ws()
            if (s[i] == '}') return m.also { i++ }
            do {
                ws()
                val k = string()
                expect(':')
                m[k] = value()
                ws()
            } while (s[i++] == ',')
            if (s[i - 1] != '}') throw IllegalArgumentException("bad object at ${i - 1}: $s")
            return m
        }

        fun arr(): List<Any?> {
            val l = ArrayList<Any?>()
            expect('[')
            ws()
            if (s[i] == ']') return l.also { i++ }
            do {
                l.add(value())
                ws()
            } while (s[i++] == ',')
            if (s[i - 1] != ']') throw IllegalArgumentException("bad array at ${i - 1}: $s")
            return l
        }

        fun literal(word: String, v: Any?): Any? {
            if (!s.startsWith(word, i)) throw IllegalArgumentException("bad literal at $i: $s")
            i += word.length
            return v
        }

        fun number(): Any {
            val start = i
            while (i < s.length && (s[i].isDigit() || s[i] in "+-.eE")) i++
            val t = s.substring(start, i)
            if (t.isEmpty()) throw IllegalArgumentException("bad value at $start: $s")
            return t.toLongOrNull() ?: t.toDouble()
        }

        fun string(): String {
            if (s[i] != '"') throw IllegalArgumentException("expected a string at $i: $s")
            i++
            val sb = StringBuilder()
            while (true) {
                val c = s[i++]
                when (c) {
                    '"' -> return sb.toString()
                    '\\' -> when (val e = s[i++]) {
                        'n' -> sb.append('\n'); 't' -> sb.append('\t'); 'r' -> sb.append('\r')
                        'b' -> sb.append('\b'); 'f' -> sb.append('\u000c')
                        'u' -> { sb.append(s.substring(i, i + 4).toInt(16).toChar()); i += 4 }
                        else -> sb.append(e)
                    }
                    else -> sb.append(c)
                }
            }
        }
    }
}

/** Field `key` of a JSON object (it must be there, possibly null). */
operator fun Any?.get(key: String): Any? {
    @Suppress("UNCHECKED_CAST")
    val m = this as? Map<String, Any?> ?: fail("not a JSON object (looking for \"$key\"): $this")
    assertTrue(m.containsKey(key), "no \"$key\" in $m")
    return m.getValue(key)
}

/** Element `index` of a JSON array. */
operator fun Any?.get(index: Int): Any? = list()[index]

fun Any?.list(): List<Any?> = this as? List<*> ?: fail("not a JSON array: $this")
fun Any?.long(): Long = this as? Long ?: fail("not a JSON integer: $this")
fun Any?.str(): String = this as? String ?: fail("not a JSON string: $this")
fun Any?.bool(): Boolean = this as? Boolean ?: fail("not a JSON boolean: $this")
fun Any?.time(): Instant = Instant.parse(str())

fun loadVector(name: String): Any? {
    val dir = System.getenv("DKM_VECTORS") ?: "testvectors/v1"
    val f = File(dir, name)
    assertTrue(f.isFile, "test vector $f not found (set DKM_VECTORS)")
    return Json.parse(f.readText())
}

fun testJsonReader() {
    val v = Json.parse(""" {"a": [1, -2, 3.5, true, false, null, "x\"y\\z\u00e9\n"], "b": {}, "c": [], "d": {"e": [[]]}} """)
    assertEquals(listOf(1L, -2L, 3.5, true, false, null, "x\"y\\z\u00e9\n"), v["a"])
    assertEquals(mapOf<String, Any?>(), v["b"])
    assertEquals(listOf<Any?>(), v["c"])
    assertEquals(listOf<Any?>(listOf<Any?>()), v["d"]["e"])
    assertFailsWith<AssertionError> { v["missing"] }
    for (bad in listOf("", "{", "[1,]", "{\"a\" 1}", "[1] 2", "nul", "[1 2]")) {
        assertFailsWith<Exception>("parsing <$bad>") { Json.parse(bad) }
    }
}

// ---- 1. identities ----

fun testIdentities() {
    val me = Identity.generate()
    val other = Identity.generate()
    assertTrue(HEX32.matches(me.id()), me.id())
    assertNotEquals(me.id(), other.id())

    // The secret text round trip.
    val text = me.toText("my service")
    assertTrue("my service" in text && "dkmsec1" in text, text.lines().first())
    assertEquals(me.id(), Identity.fromText(text).id())
    assertNotEquals(text, other.toText("my service"))

    // The public identity: text, equality, hash, toString.
    val pub = me.publicIdentity()
    assertEquals(me.id(), pub.id())
    val ptext = pub.toText()
    assertTrue(ptext.startsWith("dkmpub1"), ptext)
    assertEquals(ptext, pub.toString())
    val back = PublicIdentity.fromText("  $ptext\n")
    assertEquals(pub, back)
    assertEquals(pub.hashCode(), back.hashCode())
    assertEquals(me.id(), back.id())
    assertNotEquals(pub, other.publicIdentity())
    assertEquals(2, setOf(pub, back, other.publicIdentity()).size)

    // A file: 0600, loaded back, never replaced.
    val dir = tempDir("dkm-identity")
    val path = dir.resolve("me.id")
    me.save(path.toString(), "me")
    assertEquals(
        setOf(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE),
        Files.getPosixFilePermissions(path),
    )
    assertTrue(path.toFile().readText().lines().any { it.startsWith("dkmsec1") })
    assertEquals(me.id(), Identity.load(path.toString()).id())
    assertFailsWith<DkmException.InvalidInput> { other.save(path.toString(), "other") }
    assertEquals(me.id(), Identity.load(path.toString()).id())
    assertFailsWith<DkmException.InvalidInput> { Identity.load(dir.resolve("missing.id").toString()) }
    // Group-writable: refused.
    Files.setPosixFilePermissions(
        path,
        setOf(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_WRITE),
    )
    assertFailsWith<DkmException.InvalidInput> { Identity.load(path.toString()) }
}

fun testIdentityBadTexts() {
    val me = Identity.generate()
    val ptext = me.publicIdentity().toText()
    val secret = me.toText("me").lines().single { it.startsWith("dkmsec1") }

    assertFailsWith<DkmException.Malformed> { Identity.fromText("hello") }
    assertFailsWith<DkmException.Malformed> { Identity.fromText("") }
    assertFailsWith<DkmException.Malformed> { PublicIdentity.fromText("dkmpub1") }
    assertFailsWith<DkmException.Malformed> { PublicIdentity.fromText("") }
    assertFailsWith<DkmException.BadChecksum> { PublicIdentity.fromText(changeChar(ptext, ptext.length - 3)) }
    assertFailsWith<DkmException.BadChecksum> { Identity.fromText(changeChar(secret, 20)) }
    // A public identity where a secret one goes, and the reverse (the secret never echoed).
    assertFailsWith<DkmException.InvalidInput> { Identity.fromText(ptext) }
    val e = assertFailsWith<DkmException.InvalidInput> { PublicIdentity.fromText(secret) }
    assertFalse(secret in e.message!! || secret.substring(7, 23) in e.message!!, e.message)
    for (bad in listOf("", "x".repeat(65), "a\nb")) {
        assertFailsWith<DkmException.InvalidInput>("name ${bad.take(8)}") { me.toText(bad) }
    }
}

fun testErrorKinds() {
    // Each kind has its class, DkmException.KIND, and its stable code in order.
    KINDS.forEachIndexed { i, name ->
        assertEquals(i + 1, errorCode(name), name)
        val cls = Class.forName("dev.dkm.DkmException\$$name")
        assertTrue(DkmException::class.java.isAssignableFrom(cls), name)
    }
    assertEquals(5, errorCode("Tampered"))
    assertNull(errorCode("NoSuchKind"))
    assertNull(errorCode("tampered"))
    // The flat error's message is the Rust message, never empty.
    val e = assertFailsWith<DkmException.Malformed> { PublicIdentity.fromText("dkmpub1") }
    assertTrue(!e.message.isNullOrBlank())
    // The library's version and default policy.
    assertTrue(Regex("^\\d+\\.\\d+\\.\\d+").containsMatchIn(version()), version())
    val p = defaultPolicy()
    assertEquals(86_400L, p.intervalSecs)
    assertEquals(28_800L, p.maxGrantSecs)
    assertEquals(2, p.freshnessIntervals)
    assertEquals(86_400L, p.approverCooloffSecs)
}

// ---- 2. the story on a memory store ----

fun testStory() {
    val store = Store.memory()
    val pins = Pins.memory()
    val host = fixedHost(store, pins, T0)
    assertEquals(T0, host.now())
    val admin = Identity.generate()
    val svc = Identity.generate()
    val ops = Identity.generate()
    val eng = Identity.generate()
    val r = "payments"

    val ringId = host.createRing(r, by = admin)
    assertTrue(HEX32.matches(ringId), ringId)
    assertEquals(listOf(r), store.names())
    assertEquals(listOf(r), host.store().names())
    assertEquals(1, pins.pins().size)
    assertFailsWith<DkmException.InvalidInput> { host.createRing(r, null, admin) }
    assertFailsWith<DkmException.InvalidInput> { host.createRing("../x", null, admin) }

    assertEquals(ChangeOutcome.Applied(2L, true), host.addMember(r, Role.SERVICE, svc.publicIdentity(), admin))
    assertEquals(ChangeOutcome.Applied(3L, true), host.addMember(r, Role.APPROVER, ops.publicIdentity(), admin))
    assertFailsWith<DkmException.NotAMember> { host.addMember(r, Role.ADMIN, eng.publicIdentity(), svc) }
    val events = Json.parse(host.maintain(r, svc)).list()
    assertTrue(events.any { it["action"] == "epoch-created" && it["epoch"] == 1L }, "$events")
    assertTrue(events.any { it["action"] == "governance-applied" && it["version"] == 3L }, "$events")

    // Seal and unseal with a context; a wrong context or a flipped byte is Tampered.
    val ctx = b("acct:7")
    val sealed = host.seal(r, b("card 4242"), ctx, svc)
    val u = host.unseal(r, sealed, ctx, svc)
    assertContentEquals(b("card 4242"), u.plaintext())
    assertEquals(Origin.KEY_HOLDER, u.origin())
    assertFailsWith<DkmException.Tampered> { host.unseal(r, sealed, b("acct:8"), svc) }
    assertFailsWith<DkmException.Tampered> { host.unseal(r, flipped(sealed, sealed.size - 1), ctx, svc) }
    assertFailsWith<DkmException.Malformed> { host.unseal(r, sealed.copyOf(10), ctx, svc) }
    // An empty context and an empty plaintext are fine.
    assertContentEquals(ByteArray(0), host.unseal(r, host.seal(r, ByteArray(0), ByteArray(0), svc), ByteArray(0), svc).plaintext())

    // Armored: text, unsealed from its UTF-8 bytes.
    val armored = host.sealArmored(r, b("armored"), b("ctx"), svc)
    assertTrue(armored.startsWith("dkm1:"), armored)
    assertContentEquals(b("armored"), host.unseal(r, armored.toByteArray(Charsets.UTF_8), b("ctx"), svc).plaintext())
    assertFailsWith<DkmException.Tampered> { host.unseal(r, b(armored), b("other"), svc) }

    // Seal-only: the public part, through RingPublic and through the host.
    val part = host.exportPublic(r)
    val rp = RingPublic(part, null)
    assertEquals(r, rp.name())
    assertEquals(ringId, rp.ringId())
    val pin = pins.pins().single()
    assertEquals(ringId, RingPublic(part, pin).ringId())
    val fromBrowser = rp.seal(b("from a browser"), b("form"), T0)
    val opened = host.unseal(r, fromBrowser, b("form"), svc, true)
    assertContentEquals(b("from a browser"), opened.plaintext())
    assertEquals(Origin.SEAL_ONLY, opened.origin())
    assertFailsWith<DkmException.InvalidInput> { host.unseal(r, fromBrowser, b("form"), svc, false) }
    assertFailsWith<DkmException.Tampered> { host.unseal(r, fromBrowser, b("forms"), svc) }
    val armoredPartner = rp.sealArmored(b("armored partner"), b("p"), T0)
    assertEquals(Origin.SEAL_ONLY, host.unseal(r, b(armoredPartner), b("p"), svc).origin())
    val viaHost = host.sealTo(part, b("partner"), b("p"), null)
    val o2 = host.unseal(r, viaHost, b("p"), svc)
    assertContentEquals(b("partner"), o2.plaintext())
    assertEquals(Origin.SEAL_ONLY, o2.origin())
    assertContentEquals(b("partner"), host.unseal(r, host.sealTo(part, b("partner"), b("p"), pin), b("p"), svc).plaintext())
    // A key holder's secret passes with acceptSealOnly = false.
    assertEquals(Origin.KEY_HOLDER, host.unseal(r, sealed, ctx, svc, false).origin())
    // Long after the last maintain, the published keys do not cover the time.
    assertFailsWith<DkmException.Stale> { rp.seal(b("x"), b(""), T0 + Duration.ofDays(30)) }

    // Non-members and members without keys.
    assertFailsWith<DkmException.NotAMember> { host.seal(r, b("x"), ByteArray(0), eng) }
    assertFailsWith<DkmException.NotAMember> { host.seal(r, b("x"), ByteArray(0), admin) }
    assertFailsWith<DkmException.NotAMember> { host.unseal(r, sealed, ctx, ops) }
    assertFailsWith<DkmException.NotAMember> { host.maintain(r, eng) }
    assertFailsWith<DkmException.InvalidInput> { host.seal("no-such-ring", b("x"), ByteArray(0), svc) }

    // The views.
    val info = Json.parse(host.ringInfo(r))
    assertEquals(r, info["name"])
    assertEquals(ringId, info["id"])
    assertEquals(3L, info["governance_version"])
    assertEquals(3L, info["applied_version"])
    assertEquals(false, info["pending"])
    val roles = info["members"].list().associate { it["id"].str() to it["role"].str() }
    assertEquals(mapOf(admin.id() to "admin", svc.id() to "service", ops.id() to "approver"), roles)
    for (m in info["members"].list()) assertEquals(m["id"], PublicIdentity.fromText(m["public"].str()).id())
    assertEquals(86_400L, info["policy"]["interval_secs"])
    assertEquals(listOf<Any?>(), info["policy"]["levels"])
    val keys = Json.parse(host.keys(r))
    assertEquals(ringId, keys["ring"])
    assertEquals(1L, keys["current"]["epoch"])
    assertEquals(T0, keys["write_time"].time())
    assertEquals(T0 + DAY + DAY, keys["fresh_until"].time())
    assertEquals(false, keys["stale"])
    assertEquals(1L, keys["kek_generation"])
    val e1 = keys["epochs"].list().single()
    assertEquals(1L, e1["epoch"])
    assertEquals("live", e1["state"])
    assertEquals(86_400L, e1["interval_secs"])
    assertEquals(listOf<Any?>(listOf(0L, 65_535L)), e1["readable"])

    // A second host on the same store and pins, a day and an hour later: it rolls the epoch,
    // old secrets still open (on either host), new ones are in epoch 2.
    val later = fixedHost(store, pins, T1)
    assertEquals(T1, later.now())
    val rolled = Json.parse(later.rollEpoch(r, svc)).list()
    assertTrue(rolled.any { it["action"] == "epoch-created" && it["epoch"] == 2L }, "$rolled")
    assertContentEquals(b("card 4242"), later.unseal(r, sealed, ctx, svc).plaintext())
    assertContentEquals(b("from a browser"), later.unseal(r, fromBrowser, b("form"), svc).plaintext())
    assertContentEquals(b("armored"), later.unseal(r, b(armored), b("ctx"), svc).plaintext())
    val epoch2 = later.seal(r, b("epoch two"), ctx, svc)
    assertContentEquals(b("epoch two"), later.unseal(r, epoch2, ctx, svc).plaintext())
    val keys2 = Json.parse(later.keys(r))
    assertEquals(2L, keys2["current"]["epoch"])
    assertEquals(listOf(1L, 2L), keys2["epochs"].list().map { it["epoch"] })
    assertEquals(T1, keys2["write_time"].time())
    val info2 = Json.parse(host.ringInfo(r))
    assertEquals(2L, info2["epochs"])
    // Revoke epoch 1: its secrets are KeyRevoked, epoch 2's open.
    assertIs<ChangeOutcome.Applied>(later.revokeEpoch(r, 1L, admin))
    later.maintain(r, svc)
    assertFailsWith<DkmException.KeyRevoked> { later.unseal(r, sealed, ctx, svc) }
    assertContentEquals(b("epoch two"), later.unseal(r, epoch2, ctx, svc).plaintext())
}

/** Ring [r] on [store] with memory pins and its key holder, maintained at T0. */
open class World(val store: Store, val r: String) {
    val pins = Pins.memory()
    val host = fixedHost(store, pins, T0)
    val admin = Identity.generate()
    val svc = Identity.generate()

    init {
        host.createRing(r, null, admin)
        host.addMember(r, Role.SERVICE, svc.publicIdentity(), admin)
        host.maintain(r, svc)
    }
}

/** A ring "r" on a memory store. */
class MemoryWorld : World(Store.memory(), "r")

fun testUnsealed() {
    val w = MemoryWorld()
    val secret = "hunter2, do not print me"
    val sealed = w.host.seal(w.r, b(secret), b("c"), w.svc)
    val u = w.host.unseal(w.r, sealed, b("c"), w.svc)
    assertContentEquals(b(secret), u.plaintext())
    // Its string form (what a log line or a debugger shows) is the size and the origin only.
    assertEquals("Unsealed(${b(secret).size} bytes, KeyHolder)", u.toString())
    for (shown in listOf(u.toString(), "$u", listOf(u).toString(), mapOf("u" to u).toString())) {
        assertFalse("hunter2" in shown || "print" in shown, shown)
        assertFalse(b(secret).joinToString("") { "%02x".format(it) }.substring(0, 8) in shown, shown)
    }
    val part = RingPublic(w.host.exportPublic(w.r), null)
    val fromPartner = w.host.unseal(w.r, part.seal(b("partner's secret"), b("p"), T0), b("p"), w.svc)
    assertEquals("Unsealed(16 bytes, SealOnly)", fromPartner.toString())
    assertFalse("secret" in fromPartner.toString())
    val empty = w.host.unseal(w.r, w.host.seal(w.r, ByteArray(0), ByteArray(0), w.svc), ByteArray(0), w.svc)
    assertEquals("Unsealed(0 bytes, KeyHolder)", empty.toString())
    // Each plaintext() is a fresh copy: wiping it leaves the object's.
    u.plaintext().fill(0)
    assertContentEquals(b(secret), u.plaintext())
    // Closing it wipes its copy in Rust at once; it cannot be read after.
    u.close()
    assertFailsWith<IllegalStateException> { u.plaintext() }
    assertFailsWith<IllegalStateException> { u.origin() }
    w.host.unseal(w.r, sealed, b("c"), w.svc).use { assertEquals(Origin.KEY_HOLDER, it.origin()) }
}

fun testElevatedAccess() {
    val store = Store.memory()
    val pins = Pins.memory()
    val host = fixedHost(store, pins, T0)
    val admin = Identity.generate()
    val svc = Identity.generate()
    val ops = Identity.generate()
    val sec = Identity.generate()
    val eng = Identity.generate()
    val r = "main"
    host.createRing(r, null, admin)
    host.addMember(r, Role.SERVICE, svc.publicIdentity(), admin)
    host.addMember(r, Role.APPROVER, ops.publicIdentity(), admin)
    host.addMember(r, Role.APPROVER, sec.publicIdentity(), admin)
    host.maintain(r, svc)
    val ctx = b("ticket:9")
    val kept = host.seal(r, b("the database password"), ctx, svc)

    // Approval levels, set while the ring has none (no quorum yet).
    val levels = listOf(
        LevelSpec("ops", 1, listOf(ops.publicIdentity())),
        LevelSpec("security", 1, listOf(sec.publicIdentity())),
    )
    val out = host.setApprovalLevels(r, levels, admin)
    assertTrue(out is ChangeOutcome.Applied && out.pending, "$out")
    host.maintain(r, svc)
    val policy = Json.parse(host.ringInfo(r))["policy"]
    assertEquals(listOf("ops", "security"), policy["levels"].list().map { it["name"] })
    assertEquals(listOf<Any?>(sec.id()), policy["levels"][1]["approvers"])
    // Now a change of levels needs the quorum: it is logged as a request.
    val change = host.setApprovalLevels(r, levels.subList(0, 1), admin)
    assertIs<ChangeOutcome.Requested>(change)
    assertTrue(HEX64.matches(change.request), change.request)

    // After the approvers' cool-off: request, approve at both levels, grant, use.
    val host2 = fixedHost(store, pins, T1)
    host2.maintain(r, svc)
    val auditBefore = Json.parse(host2.auditRecords(r)).list().size
    val req = host2.requestAccess(r, "incident 42", 3_600L, eng, T0, listOf())
    assertTrue(HEX64.matches(req), req)
    assertFailsWith<DkmException.PolicyUnsatisfied> { host2.grant(r, req, svc) }
    host2.approve(r, req, "ops", ops)
    assertFailsWith<DkmException.PolicyUnsatisfied> { host2.grant(r, req, svc) }
    assertFailsWith<DkmException.NotAMember> { host2.approve(r, req, "security", eng) }
    host2.approve(r, req, "security", sec)
    val view = Json.parse(host2.requests(r)).list().single { it["id"] == req }
    assertEquals("approved", view["state"])
    assertEquals(eng.id(), view["author"])
    assertEquals("incident 42", view["reason"])
    assertEquals(3_600L, view["duration_secs"])
    assertEquals(listOf(1L, 1L), view["levels"].list().map { it["approvals"] })
    assertFailsWith<DkmException.NotAMember> { host2.grant(r, req, eng) }
    val g = host2.grant(r, req, svc)
    assertTrue(HEX32.matches(g.id), g.id)
    assertEquals(req, g.request)
    assertEquals(eng.id(), g.requester)
    assertEquals(T1, g.notBefore)
    assertEquals(T1 + HOUR, g.notAfter)
    assertTrue(g.bytes.isNotEmpty())

    // The requester is no member: only the grant opens.
    assertFailsWith<DkmException.NotAMember> { host2.unseal(r, kept, ctx, eng) }
    val opened = host2.unsealWithGrant(r, g.id, kept, ctx, eng, true)
    assertContentEquals(b("the database password"), opened.plaintext())
    assertEquals(Origin.KEY_HOLDER, opened.origin())
    assertFailsWith<DkmException.Tampered> { host2.unsealWithGrant(r, g.id, kept, b("ticket:10"), eng, true) }
    assertFailsWith<DkmException.InvalidInput> { host2.unsealWithGrant(r, "zz", kept, ctx, eng, true) }
    assertFailsWith<DkmException.GrantExpired> { host2.unsealWithGrant(r, "0".repeat(32), kept, ctx, eng, true) }

    // The audit chain grew, names the grant's use, and verifies.
    val records = Json.parse(host2.auditRecords(r)).list()
    assertTrue(records.size > auditBefore, "${records.size} <= $auditBefore")
    assertEquals((1L..records.size.toLong()).toList(), records.map { it["seq"] })
    assertTrue(records.all { HEX64.matches(it["hash"].str()) })
    val used = records.last()
    assertEquals(g.id, used["grant"])
    assertEquals(true, used["clock_override"])
    assertEquals(eng.id(), used["actor"])
    val report = Json.parse(host2.auditVerify(r))
    assertEquals(true, report["verified"])
    assertNull(report["problem"])
    assertEquals(records.size.toLong(), report["records"])
    assertEquals(records.last()["seq"], report["head"]["seq"])
    assertEquals(records.last()["hash"], report["head"]["hash"])

    // After the window: GrantExpired, on a host whose clock is past it.
    val after = fixedHost(store, pins, T1 + HOUR + Duration.ofSeconds(1))
    assertFailsWith<DkmException.GrantExpired> { after.unsealWithGrant(r, g.id, kept, ctx, eng, true) }
    // Inside the window again, but revoked: GrantExpired too.
    assertIs<ChangeOutcome.Applied>(host2.revokeGrant(r, g.id, admin))
    assertFailsWith<DkmException.GrantExpired> { host2.unsealWithGrant(r, g.id, kept, ctx, eng, true) }

    // A change of levels under the quorum: requested, approved at every level, then signed by
    // an admin; apply returns the new governance version.
    val change2 = host2.setApprovalLevels(r, levels.subList(0, 1), admin)
    assertIs<ChangeOutcome.Requested>(change2)
    host2.approve(r, change2.request, "ops", ops)
    host2.approve(r, change2.request, "security", sec)
    val version = host2.apply(r, change2.request, admin)
    assertEquals(version, Json.parse(host2.ringInfo(r))["governance_version"])
    host2.maintain(r, svc)
    assertEquals(listOf("ops"), Json.parse(host2.ringInfo(r))["policy"]["levels"].list().map { it["name"] })
}

/**
 * The surface's integers are signed (Java has no unsigned types); the core's counts and
 * durations are not: a negative one from the caller is InvalidInput, and refused before
 * anything is written.
 */
fun testNegativeIntegers() {
    val store = Store.memory()
    val pins = Pins.memory()
    val host = fixedHost(store, pins, T0)
    val admin = Identity.generate()
    val svc = Identity.generate()
    val ops = Identity.generate()
    val eng = Identity.generate()
    val r = "signed"

    // A policy with a negative field: no ring.
    val ok = defaultPolicy()
    val bad = listOf(
        "interval_secs" to ok.copy(intervalSecs = -1),
        "max_grant_secs" to ok.copy(maxGrantSecs = -3_600),
        "max_lookback_secs" to ok.copy(maxLookbackSecs = Long.MIN_VALUE),
        "request_lifetime_secs" to ok.copy(requestLifetimeSecs = -1),
        "freshness_intervals" to ok.copy(freshnessIntervals = -1),
        "approver_cooloff_secs" to ok.copy(approverCooloffSecs = -86_400),
    )
    for ((field, p) in bad) {
        val e = assertFailsWith<DkmException.InvalidInput>(field) { host.createRing(r, p, admin) }
        assertTrue(field in e.message!!, e.message)
    }
    assertEquals(listOf(), store.names())
    assertEquals(listOf(), pins.pins())
    // A custom policy in range: the ring has it.
    host.createRing(r, ok.copy(intervalSecs = 3_600, maxGrantSecs = 1_800), admin)
    val policy = Json.parse(host.ringInfo(r))["policy"]
    assertEquals(3_600L, policy["interval_secs"])
    assertEquals(1_800L, policy["max_grant_secs"])
    assertEquals(ok.maxLookbackSecs, policy["max_lookback_secs"])
    host.addMember(r, Role.SERVICE, svc.publicIdentity(), admin)
    host.addMember(r, Role.APPROVER, ops.publicIdentity(), admin)
    host.maintain(r, svc)
    val version = Json.parse(host.ringInfo(r))["governance_version"]

    // A quorum below 1 or past 255 (the core's byte).
    for (q in listOf(-1, Int.MIN_VALUE, 0, 256, Int.MAX_VALUE)) {
        assertFailsWith<DkmException.InvalidInput>("quorum $q") {
            host.setApprovalLevels(r, listOf(LevelSpec("ops", q, listOf(ops.publicIdentity()))), admin)
        }
    }
    // An epoch below 0 or past the core's u32.
    for (epoch in listOf(-1L, Long.MIN_VALUE, 1L shl 32)) {
        assertFailsWith<DkmException.InvalidInput>("epoch $epoch") { host.revokeEpoch(r, epoch, admin) }
    }
    // An access request for a negative duration, or negative epochs.
    for (d in listOf(-1L, Long.MIN_VALUE)) {
        assertFailsWith<DkmException.InvalidInput>("duration $d") { host.requestAccess(r, "x", d, eng, null, listOf()) }
    }
    for (epochs in listOf(listOf(-1L), listOf(1L, -2L), listOf(1L shl 32))) {
        assertFailsWith<DkmException.InvalidInput>("epochs $epochs") { host.requestAccess(r, "x", 600, eng, null, epochs) }
    }
    // Nothing was written.
    assertEquals(version, Json.parse(host.ringInfo(r))["governance_version"])
    assertEquals(listOf<Any?>(), Json.parse(host.requests(r)).list())
    assertEquals("live", Json.parse(host.keys(r))["epochs"][0]["state"])
    // In range, the same calls work.
    assertIs<ChangeOutcome.Applied>(host.setApprovalLevels(r, listOf(LevelSpec("ops", 1, listOf(ops.publicIdentity()))), admin))
    host.rollEpoch(r, svc) // epoch 1 is no longer current: a scope may name it
    val req = host.requestAccess(r, "x", 600, eng, null, listOf(1L))
    assertEquals(listOf<Any?>(req), Json.parse(host.requests(r)).list().map { it["id"] })
}

/** `Store.open`: the locations of `dkm --store`. */
fun testStoreLocations() {
    val dir = tempDir("dkm-open")
    val admin = Identity.generate()
    val a = Store.open(dir.toString())
    fixedHost(a, Pins.memory(), T0).createRing("r", null, admin)
    // The same directory as file://, and with a password (only etcd uses one).
    for (other in listOf(Store.open("file://$dir"), Store.open(dir.toString(), "unused"))) {
        assertEquals(listOf("r"), other.names())
        assertEquals(a.location(), other.location())
    }
    assertTrue(dir.toFile().list()!!.isNotEmpty(), "nothing written in $dir")
    // Not a location: InvalidInput, never a directory named after it.
    for (bad in listOf("", "file://", "foo://x", "s3:bucket/x")) {
        assertFailsWith<DkmException.InvalidInput>("<$bad>") { Store.open(bad) }
    }
    // An etcd URL without a prefix, or a password for a URL without user=: InvalidInput.
    assertFailsWith<DkmException.InvalidInput> { Store.open("etcd://127.0.0.1:1") }
    val e = assertFailsWith<DkmException.InvalidInput> { Store.open("etcd://127.0.0.1:1/dkm", "hunter2") }
    assertFalse("hunter2" in e.message!!, e.message)
    // etcd with no member to answer: StoreUnavailable within the URL's timeout.
    val t = System.nanoTime()
    assertFailsWith<DkmException.StoreUnavailable> { Store.open("etcd://127.0.0.1:1/dkm?timeout=1s") }
    assertTrue(System.nanoTime() - t < 15_000_000_000L, "etcd open took ${(System.nanoTime() - t) / 1_000_000} ms")
}

// ---- 3. a ring made by the `dkm` command, on a file store ----

class Cli(val dir: File) {
    val bin: File = File(System.getenv("DKM_BIN") ?: "target/debug/dkm").absoluteFile
    val store = File(dir, "store")
    val home = File(dir, "home")

    init {
        assertTrue(bin.canExecute(), "the dkm command is not built at $bin (cargo build -p dkm-cli)")
    }

    class Result(val code: Int, val stdout: ByteArray, val stderr: String)

    fun run(vararg args: String, stdin: ByteArray = ByteArray(0), check: Boolean = true): Result {
        val pb = ProcessBuilder(listOf(bin.path) + args).directory(dir)
        val env = pb.environment()
        env["DKM_STORE"] = store.path
        env["DKM_HOME"] = home.path
        env.remove("DKM_NOW")
        val p = pb.start()
        val err = StringBuilder()
        val errReader = Thread { err.append(p.errorStream.readBytes().toString(Charsets.UTF_8)) }.also { it.start() }
        p.outputStream.use { it.write(stdin) }
        val out = p.inputStream.readBytes()
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "dkm ${args.joinToString(" ")} timed out")
        errReader.join()
        val res = Result(p.exitValue(), out, err.toString())
        if (check && res.code != 0) fail("dkm ${args.joinToString(" ")} failed (${res.code}): ${res.stderr}")
        return res
    }

    fun identity(name: String): String {
        val path = File(dir, "$name.id").path
        run("identity", "new", name, "--out", path)
        return path
    }

    /** A Kotlin host on the command's store and pin book (system clock, like the command). */
    fun host(): Host = Host(Store.file(store.path), Pins.directory(File(home, "pins").path), null)
}

fun testCommandRing() {
    val cli = Cli(tempDir("dkm-cli").toFile())
    val adminPath = cli.identity("admin")
    val svcPath = cli.identity("svc")
    cli.run("ring", "create", "mail", "--admin", adminPath)

    val host = cli.host()
    val admin = Identity.load(adminPath)
    val svc = Identity.load(svcPath)
    val svc2 = Identity.generate()
    assertIs<ChangeOutcome.Applied>(host.addMember("mail", Role.SERVICE, svc.publicIdentity(), admin))
    assertIs<ChangeOutcome.Applied>(host.addMember("mail", Role.SERVICE, svc2.publicIdentity(), admin))
    host.maintain("mail", svc)
    assertEquals(listOf("mail"), host.store().names())

    // The command lists the members Kotlin added.
    val shown = Json.parse(cli.run("ring", "show", "mail", "--json").stdout.toString(Charsets.UTF_8))
    val ids = shown["members"].list().associate { it["id"].str() to it["role"].str() }
    assertEquals(mapOf(admin.id() to "admin", svc.id() to "service", svc2.id() to "service"), ids)
    assertEquals(false, shown["pending"])

    // Kotlin seals, the command opens (binary and armored).
    File(cli.dir, "from-kotlin.bin").writeBytes(host.seal("mail", b("sealed in Kotlin"), b("acct:7"), svc))
    val out = cli.run("unseal", "mail", "--as", svcPath, "--context", "acct:7", "--in", "from-kotlin.bin")
    assertContentEquals(b("sealed in Kotlin"), out.stdout)
    File(cli.dir, "from-kotlin.txt").writeText(host.sealArmored("mail", b("armored"), b("acct:8"), svc2))
    val out2 = cli.run("unseal", "mail", "--as", svcPath, "--context", "acct:8", "--in", "from-kotlin.txt")
    assertContentEquals(b("armored"), out2.stdout)
    val wrong = cli.run("unseal", "mail", "--as", svcPath, "--context", "acct:1", "--in", "from-kotlin.bin", check = false)
    assertTrue(wrong.code != 0 && "Tampered" in wrong.stderr, wrong.stderr)

    // The command seals, Kotlin opens; a wrong context is Tampered.
    val sealed = cli.run("seal", "mail", "--as", svcPath, "--context", "acct:9", stdin = b("sealed by the command")).stdout
    assertContentEquals(b("sealed by the command"), host.unseal("mail", sealed, b("acct:9"), svc).plaintext())
    assertContentEquals(b("sealed by the command"), host.unseal("mail", sealed, b("acct:9"), svc2).plaintext())
    assertFailsWith<DkmException.Tampered> { host.unseal("mail", sealed, b("acct:10"), svc) }
    val armored = cli.run("seal", "mail", "--as", svcPath, "--armor", stdin = b("armored by the command")).stdout
    assertTrue(armored.toString(Charsets.UTF_8).startsWith("dkm1:"))
    assertEquals(Origin.KEY_HOLDER, host.unseal("mail", armored, ByteArray(0), svc, false).origin())

    // Seal-only: the command's public part loads in Kotlin; Kotlin's seal opens in the command.
    cli.run("ring", "export-public", "mail", "--out", "mail.pub")
    val part = RingPublic(File(cli.dir, "mail.pub").readBytes(), null)
    assertEquals("mail", part.name())
    File(cli.dir, "seal-only.bin").writeBytes(part.seal(b("from a browser"), b("acct:11"), null))
    val out3 = cli.run("unseal", "mail", "--as", svcPath, "--context", "acct:11", "--in", "seal-only.bin")
    assertContentEquals(b("from a browser"), out3.stdout)

    // Both read the same audit chain, and it verifies in each.
    val report = Json.parse(host.auditVerify("mail"))
    assertEquals(true, report["verified"])
    val verified = cli.run("audit", "verify", "mail")
    assertEquals(0, verified.code)
    assertTrue("verifies" in verified.stdout.toString(Charsets.UTF_8), verified.stdout.toString(Charsets.UTF_8))
    // The pin book is the command's: a pin file for the ring.
    assertTrue(File(cli.home, "pins").listFiles()!!.any { it.name.endsWith(".pin") })
}

// ---- 4. the test vectors ----

const val RING_NAME = "vectors" // core/src/testvectors.rs creates the ring vector under this name
const val ACCESS_RING_NAME = "access vectors"

/** A ring's public part as SPEC §14 lays it out: "DKMP" 0x01 u32-be pin length, pin, blob. */
fun publicPart(pin: ByteArray, blob: ByteArray): ByteArray {
    val n = pin.size
    val len = byteArrayOf((n ushr 24).toByte(), (n ushr 16).toByte(), (n ushr 8).toByte(), n.toByte())
    return b("DKMP") + byteArrayOf(1) + len + pin + blob
}

fun at(secs: Any?): Instant = Instant.ofEpochSecond(secs.long())

fun ringHost(v: Any?, now: Any?, pins: Pins = Pins.memory()): Host =
    Host(Store.foreign(MapStore.preloaded(RING_NAME, hex(v["blob"].str()))), pins, Clock.fixed(at(now)))

fun testVectorIdentities() {
    val v = loadVector("identities.json")
    val ids = v["identities"].list()
    assertTrue(ids.isNotEmpty())
    for (i in ids) {
        val ident = Identity.fromText(i["secret_text"].str())
        assertEquals(i["public_text"], ident.publicIdentity().toText())
        assertEquals(i["id"], ident.id())
        assertEquals(i["id"], PublicIdentity.fromText(i["public_text"].str()).id())
    }
    val bad = v["invalid_public_text"].list()
    assertTrue(bad.isNotEmpty())
    for (x in bad) {
        assertKind(x["error"].str(), "public text ${x["text"]}") { PublicIdentity.fromText(x["text"].str()) }
    }
}

fun testVectorRingSecrets() {
    val v = loadVector("ring.json")
    val holder = Identity.fromText(v["key_holder_secret"].str())
    assertEquals(v["key_holder_public"], holder.publicIdentity().toText())
    val sealed = v["sealed"].list()
    assertTrue(sealed.isNotEmpty())
    for (s in sealed) {
        val u = ringHost(v, s["now"]).unseal(RING_NAME, hex(s["sealed"].str()), hex(s["context"].str()), holder)
        assertContentEquals(hex(s["plaintext"].str()), u.plaintext())
        assertEquals(Origin.KEY_HOLDER, u.origin())
    }
    val sealOnly = v["seal_only"]["sealed"].list()
    assertTrue(sealOnly.isNotEmpty())
    for (s in sealOnly) {
        val host = ringHost(v, s["now"])
        val data = hex(s["sealed"].str())
        val ctx = hex(s["context"].str())
        val u = host.unseal(RING_NAME, data, ctx, holder, true)
        assertContentEquals(hex(s["plaintext"].str()), u.plaintext())
        assertEquals(Origin.SEAL_ONLY, u.origin())
        assertFailsWith<DkmException.InvalidInput> { host.unseal(RING_NAME, data, ctx, holder, false) }
    }
}

fun testVectorRingViews() {
    val v = loadVector("ring.json")
    val pins = Pins.memory()
    val host = ringHost(v, v["sealed"][0]["now"], pins)
    val info = Json.parse(host.ringInfo(RING_NAME))
    assertEquals(v["ring_id"], info["id"])
    assertEquals(RING_NAME, info["name"])
    assertEquals(v["key_state"]["governance_version"], info["governance_version"])
    val admin = PublicIdentity.fromText(v["admin_public"].str())
    assertTrue(info["members"].list().any { it["role"] == "admin" && PublicIdentity.fromText(it["public"].str()) == admin }, "$info")
    val holder = PublicIdentity.fromText(v["key_holder_public"].str())
    assertTrue(info["members"].list().any { it["role"] == "service" && it["id"] == holder.id() }, "$info")

    val keys = Json.parse(host.keys(RING_NAME))
    val ks = v["key_state"]
    assertEquals(v["ring_id"], keys["ring"])
    assertEquals(ks["kek_generation"], keys["kek_generation"])
    assertEquals(at(ks["write_time"]), keys["write_time"].time())
    assertEquals(at(ks["fresh_until"]), keys["fresh_until"].time())
    val got = keys["epochs"].list().map { listOf(it["epoch"], it["state"], it["start"].time(), it["interval_secs"], it["readable"]) }
    val want = ks["epochs"].list().map { listOf(it["epoch"], it["state"], at(it["start"]), it["interval_secs"], it["readable"]) }
    assertEquals(want, got)
    // The pin the host saved after verifying the ring on first use.
    assertEquals(listOf(v["pin_after_load"].str()), pins.pins())
}

fun testVectorRingPublic() {
    val v = loadVector("ring.json")
    val blob = hex(v["blob"].str())
    val holder = Identity.fromText(v["key_holder_secret"].str())
    val now = at(v["seal_only"]["sealed"][0]["now"])
    for (pin in listOf(v["pin_first_use"].str(), v["pin_after_load"].str())) {
        val part = RingPublic(publicPart(hex(pin), blob), null)
        assertEquals(v["ring_id"], part.ringId())
        assertEquals(RING_NAME, part.name())
        val sealed = part.seal(b("from a partner"), b("ctx"), now)
        // The same part loads with the pin given separately (hex).
        assertEquals(v["ring_id"], RingPublic(publicPart(hex(pin), blob), pin).ringId())
        val u = ringHost(v, v["seal_only"]["sealed"][0]["now"]).unseal(RING_NAME, sealed, b("ctx"), holder)
        assertContentEquals(b("from a partner"), u.plaintext())
        assertEquals(Origin.SEAL_ONLY, u.origin())
        // Published keys for the vector's time only: far later it is Stale.
        assertFailsWith<DkmException.Stale> { part.seal(b("x"), b(""), now + Duration.ofDays(400)) }
    }
    // A pin for another ring, given separately: refused.
    assertFailsWith<DkmException> { RingPublic(publicPart(hex(v["pin_first_use"].str()), blob), "00") }
    assertFailsWith<DkmException.Malformed> { RingPublic(b("junk"), null) }
}

fun testVectorInvalidRings() {
    val v = loadVector("ring.json")
    val invalid = v["invalid"].list()
    assertTrue(invalid.size >= 5)
    for (bad in invalid) {
        val part = publicPart(hex(bad["pin"].str()), hex(bad["blob"].str()))
        val e = assertKind(bad["error"].str(), bad["name"].str()) { RingPublic(part, null) }
        assertEquals(errorCode(bad["error"].str()), errorCode(kind(e)))
    }
}

fun accessHost(v: Any?, now: Any?, audit: List<String>? = null): Host {
    val lines = audit ?: v["audit"]["records"].list().map { it["json"].str() }
    val store = MapStore.preloaded(ACCESS_RING_NAME, hex(v["blob"].str()), lines)
    return Host(Store.foreign(store), Pins.memory(), Clock.fixed(at(now)))
}

fun testVectorAccessGrant() {
    val v = loadVector("access.json")
    val name = RingPublic(publicPart(hex(v["pin_first_use"].str()), hex(v["blob"].str())), null).name()
    assertEquals(ACCESS_RING_NAME, name)
    val requester = Identity.fromText(v["requester_secret"].str())
    assertEquals(v["requester_public"], requester.publicIdentity().toText())
    val grant = v["grant"]["id"].str()
    val u = v["unseal"]
    val inside = u["inside"]
    val host = accessHost(v, u["now"])
    val opened = host.unsealWithGrant(
        ACCESS_RING_NAME, grant, hex(inside["sealed"].str()), hex(inside["context"].str()), requester, true,
    )
    assertContentEquals(hex(inside["plaintext"].str()), opened.plaintext())
    // The use was audited: the chain grew by one record naming the grant, and verifies.
    val records = Json.parse(host.auditRecords(ACCESS_RING_NAME)).list()
    assertEquals(v["audit"]["records"].list().size + 1, records.size)
    assertEquals(grant, records.last()["grant"])
    assertEquals(true, records.last()["clock_override"])
    assertEquals(true, Json.parse(host.auditVerify(ACCESS_RING_NAME))["verified"])

    val before = u["before_scope"]
    assertKind(before["error"].str(), "before the grant's scope") {
        host.unsealWithGrant(ACCESS_RING_NAME, grant, hex(before["sealed"].str()), hex(before["context"].str()), requester, true)
    }
    val after = u["after_window"]
    assertKind(after["error"].str(), "after the grant's window") {
        accessHost(v, after["now"]).unsealWithGrant(
            ACCESS_RING_NAME, grant, hex(inside["sealed"].str()), hex(inside["context"].str()), requester, true,
        )
    }
}

fun testVectorAuditChain() {
    val v = loadVector("access.json")
    val vrecords = v["audit"]["records"].list()
    val lines = vrecords.map { it["json"].str() }
    val now = v["unseal"]["now"]
    val report = Json.parse(accessHost(v, now).auditVerify(ACCESS_RING_NAME))
    assertEquals(true, report["verified"])
    assertEquals(lines.size.toLong(), report["records"])
    assertEquals(v["audit"]["head"]["seq"], report["head"]["seq"])
    assertEquals(v["audit"]["head"]["hash"], report["head"]["hash"])
    assertEquals(
        vrecords.map { it["hash"] },
        Json.parse(accessHost(v, now).auditRecords(ACCESS_RING_NAME)).list().map { it["hash"] },
    )
    val faults = v["audit"]["invalid"].list().associate { it["name"].str() to listOf(it["index"], it["fault"]) }
    // The cases expressible with stored lines as they are (deleted, swapped, cut); edited
    // records are refused when a line is parsed, before the chain is checked.
    val cases = listOf(
        "record 3 deleted" to lines.subList(0, 3) + lines.subList(4, lines.size),
        "records 4 and 5 swapped" to lines.subList(0, 4) + listOf(lines[5], lines[4]) + lines.subList(6, lines.size),
        "chain cut before the anchored record" to lines.subList(0, 20),
    )
    for ((name, chain) in cases) {
        val want = faults[name] ?: fail("no vector named $name")
        val r = Json.parse(accessHost(v, now, chain).auditVerify(ACCESS_RING_NAME))
        assertEquals(false, r["verified"], name)
        assertEquals(want, listOf(r["problem"]["index"], r["problem"]["fault"]), name)
        assertEquals(chain.size.toLong(), r["records"], name)
    }
}

// ---- 5. stores written in Kotlin ----

/**
 * A store over maps: a ring's bytes with a version-counter token, and its two line streams.
 * `commit` checks every expectation before it writes anything, throws
 * `ForeignException.Conflict` when one does not hold, and returns true once it has written.
 * `hook` runs first in every method (outside the store's lock), with the method's name and
 * the ring's name: tests make a method fail or call back into a host there. Broken stores
 * for tests: `commitAnswer` (commit writes nothing and returns it) and `lineCountAnswer`
 * (what lineCount returns).
 */
class MapStore(private val loc: String = "kotlin-maps") : ForeignStore {
    private val lock = Any()
    val rings = HashMap<String, StoredRing>()
    val streams = HashMap<Pair<String, Stream>, MutableList<String>>()
    private var version = 0
    val calls = AtomicInteger()
    val commits = AtomicInteger()
    val conflicts = AtomicInteger()
    val threads: MutableSet<String> = java.util.Collections.synchronizedSet(HashSet())
    @Volatile var hook: ((method: String, name: String) -> Unit)? = null
    @Volatile var commitAnswer: Boolean? = null
    @Volatile var lineCountAnswer: Long? = null

    companion object {
        fun preloaded(name: String, blob: ByteArray, audit: List<String> = listOf()): MapStore =
            MapStore("vectors:$name").also {
                it.rings[name] = StoredRing(blob, "v0")
                it.streams[name to Stream.AUDIT] = audit.toMutableList()
            }
    }

    private fun enter(method: String, name: String) {
        calls.incrementAndGet()
        threads.add(Thread.currentThread().name)
        hook?.invoke(method, name)
    }

    private fun stream(name: String, s: Stream): List<String> = streams[name to s] ?: listOf()

    override fun ring(name: String): StoredRing? {
        enter("ring", name)
        synchronized(lock) { return rings[name]?.let { StoredRing(it.bytes.copyOf(), it.token) } }
    }

    override fun lineCount(name: String, stream: Stream): Long {
        enter("lineCount", name)
        lineCountAnswer?.let { return it }
        synchronized(lock) { return stream(name, stream).size.toLong() }
    }

    override fun lastLine(name: String, stream: Stream): String? {
        enter("lastLine", name)
        synchronized(lock) { return stream(name, stream).lastOrNull() }
    }

    override fun linesFrom(name: String, stream: Stream, from: Long): List<String> {
        enter("linesFrom", name)
        synchronized(lock) {
            val s = stream(name, stream)
            if (from < 0) throw ForeignException.Unavailable("a negative stream index: $from")
            return if (from >= s.size) listOf() else s.subList(from.toInt(), s.size).toList()
        }
    }

    override fun commit(name: String, commit: Commit): Boolean {
        enter("commit", name)
        commitAnswer?.let { return it }
        synchronized(lock) {
            val current = rings[name]
            commit.ring?.let { w ->
                val expected = w.expectedToken
                if (expected == null && current != null) conflict("ring $name exists already")
                if (expected != null && current?.token != expected) conflict("ring $name changed")
            }
            for (a in commit.appends) {
                if (stream(name, a.stream).size.toLong() != a.expectedCount) conflict("${a.stream} of $name changed")
            }
            commit.moveTo?.let { if (it in rings) conflict("ring $it exists already") }
            // Every expectation holds: apply everything.
            commits.incrementAndGet()
            commit.ring?.let { rings[name] = StoredRing(it.bytes.copyOf(), "v${++version}") }
            for (a in commit.appends) streams.getOrPut(name to a.stream) { mutableListOf() }.addAll(a.lines)
            commit.moveTo?.let { to ->
                rings.remove(name)?.let { rings[to] = it }
                for (s in Stream.values()) streams.remove(name to s)?.let { streams[to to s] = it }
            }
        }
        return true
    }

    private fun conflict(reason: String): Nothing {
        conflicts.incrementAndGet()
        throw ForeignException.Conflict(reason)
    }

    override fun names(): List<String> {
        enter("names", "")
        synchronized(lock) { return rings.keys.sorted() }
    }

    override fun location(): String {
        enter("location", "")
        return loc
    }

    fun lines(name: String, s: Stream): List<String> = synchronized(lock) { stream(name, s).toList() }
}

/** A ring "main" on a MapStore ([maps]). */
class ForeignWorld private constructor(val maps: MapStore) : World(Store.foreign(maps), "main") {
    constructor() : this(MapStore())
}

fun testForeignStory() {
    val w = ForeignWorld()
    val (maps, store, host) = Triple(w.maps, w.store, w.host)
    assertTrue("kotlin-maps" in store.location(), store.location())
    assertEquals(listOf("main"), store.names())
    assertEquals(setOf("main"), maps.rings.keys)
    assertTrue(maps.commits.get() >= 3, "${maps.commits.get()} commits")
    // The audit chain is the store's audit stream, one JSON record a line.
    val records = Json.parse(host.auditRecords("main")).list()
    val lines = maps.lines("main", Stream.AUDIT)
    assertEquals(records.size, lines.size)
    assertEquals(records.map { it["hash"] }, lines.map { Json.parse(it)["hash"] })

    val sealed = host.seal("main", b("over a Kotlin store"), b("c"), w.svc)
    assertContentEquals(b("over a Kotlin store"), host.unseal("main", sealed, b("c"), w.svc).plaintext())
    val armored = host.sealArmored("main", b("armored"), b("c"), w.svc)
    host.rollEpoch("main", w.svc)
    assertEquals(2, Json.parse(host.keys("main"))["epochs"].list().size)
    assertContentEquals(b("armored"), host.unseal("main", b(armored), b("c"), w.svc).plaintext())

    // A second host, its own pins, a day later: reads what the first wrote, and writes.
    val other = fixedHost(store, Pins.memory(), T0 + DAY)
    assertContentEquals(b("over a Kotlin store"), other.unseal("main", sealed, b("c"), w.svc).plaintext())
    other.maintain("main", w.svc)
    assertContentEquals(b("over a Kotlin store"), host.unseal("main", sealed, b("c"), w.svc).plaintext())

    // A request goes to the request stream.
    host.requestAccess("main", "look", 3_600L, w.admin, null, listOf())
    assertEquals(1, Json.parse(host.requests("main")).list().size)
    assertTrue(maps.lines("main", Stream.REQUESTS).isNotEmpty())

    // Rename: the ring and both streams move.
    val auditCount = maps.lines("main", Stream.AUDIT).size
    assertIs<ChangeOutcome.Applied>(host.renameRing("main", "moved", w.admin))
    assertEquals(setOf("moved"), maps.rings.keys)
    assertEquals(listOf("moved"), store.names())
    assertTrue(maps.lines("moved", Stream.AUDIT).size > auditCount)
    assertTrue(maps.lines("main", Stream.AUDIT).isEmpty())
    assertContentEquals(b("over a Kotlin store"), host.unseal("moved", sealed, b("c"), w.svc).plaintext())
    assertEquals(true, Json.parse(host.auditVerify("moved"))["verified"])

    // A snapshot moves the ring from the Kotlin store to a memory store and back.
    val snap = host.exportSnapshot("moved")
    val mem = fixedHost(Store.memory(), Pins.memory(), T0)
    assertEquals("moved", mem.importSnapshot(snap))
    assertContentEquals(b("over a Kotlin store"), mem.unseal("moved", sealed, b("c"), w.svc).plaintext())
    assertFailsWith<DkmException.InvalidInput> { host.importSnapshot(snap) } // the name is taken
    assertFailsWith<DkmException.Malformed> { mem.importSnapshot(snap.copyOf(snap.size - 1)) }
}

fun testForeignConflicts() {
    val w = ForeignWorld()
    val maps = w.maps
    // The store itself refuses a stale token and a stale count.
    val stale = Commit(RingWrite("v0", b("x")), listOf(), null)
    assertFailsWith<ForeignException.Conflict> { maps.commit("main", stale) }
    val create = Commit(RingWrite(null, b("x")), listOf(), null)
    assertFailsWith<ForeignException.Conflict> { maps.commit("main", create) }
    val count = Commit(null, listOf(Append(Stream.AUDIT, 0L, listOf("{}"))), null)
    assertFailsWith<ForeignException.Conflict> { maps.commit("main", count) }
    assertEquals(3, maps.conflicts.get())

    // One lost race: the host reloads and retries, and the verb succeeds.
    val injected = AtomicInteger(1)
    maps.hook = { m, _ -> if (m == "commit" && injected.getAndDecrement() > 0) throw ForeignException.Conflict("someone else wrote first") }
    val events = Json.parse(w.host.rollEpoch("main", w.svc)).list()
    assertTrue(events.any { it["action"] == "epoch-created" })
    assertTrue(injected.get() < 0, "the injected conflict was never met")
    // Always losing: Conflict, after the host's retries; nothing was written.
    val before = maps.commits.get()
    val epochs = Json.parse(w.host.keys("main"))["epochs"].list().size
    maps.hook = { m, _ -> if (m == "commit") throw ForeignException.Conflict("always someone else") }
    val e = assertFailsWith<DkmException.Conflict> { w.host.rollEpoch("main", w.svc) }
    assertTrue("always someone else" in e.message!!, e.message)
    maps.hook = null
    assertEquals(before, maps.commits.get())
    assertEquals(epochs, Json.parse(w.host.keys("main"))["epochs"].list().size)

    // Two hosts writing in turn: each one's view is stale after the other's write, and both
    // succeed (the store's tokens and counts catch the stale ones).
    val h2 = fixedHost(w.store, w.pins, T0)
    for (i in 0 until 3) {
        w.host.rollEpoch("main", w.svc)
        h2.rollEpoch("main", w.svc)
    }
    assertEquals(epochs + 6, Json.parse(h2.keys("main"))["epochs"].list().size)
    assertEquals(true, Json.parse(w.host.auditVerify("main"))["verified"])
}

class StoreDown(message: String) : RuntimeException(message)

fun testForeignFailures() {
    val w = ForeignWorld()
    val maps = w.maps
    // Unavailable from a read: StoreUnavailable, the store's reason included.
    maps.hook = { m, _ -> if (m == "ring") throw ForeignException.Unavailable("the database is down") }
    val e1 = assertFailsWith<DkmException.StoreUnavailable> { w.host.ringInfo("main") }
    assertTrue("the database is down" in e1.message!!, e1.message)
    assertFailsWith<DkmException.StoreUnavailable> { w.host.seal("main", b("x"), b(""), w.svc) }
    // From a commit.
    maps.hook = { m, _ -> if (m == "commit") throw ForeignException.Unavailable("disk full") }
    val e2 = assertFailsWith<DkmException.StoreUnavailable> { w.host.rollEpoch("main", w.svc) }
    assertTrue("disk full" in e2.message!!, e2.message)
    // An unexpected exception (a bug of the store): StoreUnavailable, not a crash.
    maps.hook = { m, _ -> if (m == "ring") throw StoreDown("a bug in the store") }
    val e3 = assertFailsWith<DkmException.StoreUnavailable> { w.host.ringInfo("main") }
    assertTrue("StoreDown" in e3.message!! || "a bug in the store" in e3.message!!, e3.message)
    maps.hook = { m, _ -> if (m == "lineCount" || m == "lastLine" || m == "linesFrom") throw IllegalStateException("stream bug") }
    assertFailsWith<DkmException.StoreUnavailable> { w.host.rollEpoch("main", w.svc) }
    maps.hook = { m, _ -> if (m == "commit") throw NullPointerException("npe in commit") }
    assertFailsWith<DkmException.StoreUnavailable> { w.host.rollEpoch("main", w.svc) }
    maps.hook = { m, _ -> if (m == "names") throw StoreDown("names bug") }
    assertFailsWith<DkmException.StoreUnavailable> { w.store.names() }
    // A conflict from a method other than commit: the store is broken, StoreUnavailable.
    maps.hook = { m, _ -> if (m == "ring") throw ForeignException.Conflict("not a commit") }
    assertFailsWith<DkmException.StoreUnavailable> { w.host.ringInfo("main") }
    // The store recovers: everything works again.
    maps.hook = null
    assertEquals("main", Json.parse(w.host.ringInfo("main"))["name"])
    assertEquals(listOf("main"), w.store.names())
    val s = w.host.seal("main", b("after the outage"), b(""), w.svc)
    assertContentEquals(b("after the outage"), w.host.unseal("main", s, b(""), w.svc).plaintext())
    assertEquals(true, Json.parse(w.host.auditVerify("main"))["verified"])
}

/** Runs `block` on a thread; fails if it does not end within `seconds` (a deadlock). */
fun withTimeout(what: String, seconds: Long, block: () -> Unit) {
    val error = AtomicReference<Throwable?>(null)
    val t = Thread({
        try {
            block()
        } catch (e: Throwable) {
            error.set(e)
        }
    }, "dkm-test: $what")
    t.isDaemon = true
    t.start()
    t.join(seconds * 1000)
    if (t.isAlive) fail("$what did not finish within $seconds s: a deadlock (a host lock held while the store runs?)")
    error.get()?.let { throw it }
}

fun testForeignReentrant() {
    val w = ForeignWorld()
    w.host.createRing("other", null, w.admin)
    val maps = w.maps
    // A fresh host on the same store: every verb loads the ring through the store.
    val h = fixedHost(w.store, w.pins, T0)
    val seen = java.util.Collections.synchronizedList(ArrayList<String>())
    val inside = ThreadLocal.withInitial { false }
    maps.hook = { method, name ->
        if (name == "main" && !inside.get()) {
            inside.set(true)
            try {
                // Back into the same host, from inside its store call: another ring, the
                // clock, and (from a commit) the very ring being written.
                seen.add("$method: now ${h.now()}")
                seen.add("$method: other is " + Json.parse(h.ringInfo("other"))["name"])
                if (method == "commit") seen.add("commit: main has " + Json.parse(h.keys("main"))["epochs"].list().size + " epochs")
            } finally {
                inside.set(false)
            }
        }
    }
    val sealed = AtomicReference<ByteArray>()
    withTimeout("re-entrant ring()", 10) {
        assertEquals("main", Json.parse(h.ringInfo("main"))["name"])
        sealed.set(h.seal("main", b("re-entered"), b(""), w.svc))
    }
    withTimeout("re-entrant commit()", 10) { h.rollEpoch("main", w.svc) }
    maps.hook = null
    assertTrue(seen.any { it.startsWith("ring: now ") && it.endsWith(T0.toString()) }, "$seen")
    assertTrue(seen.any { it == "ring: other is other" }, "$seen")
    assertTrue(seen.any { it == "commit: other is other" }, "$seen")
    assertTrue(seen.any { it.startsWith("commit: main has ") }, "$seen")
    assertContentEquals(b("re-entered"), h.unseal("main", sealed.get(), b(""), w.svc).plaintext())
}

/**
 * A commit that wrote nothing must never be taken as written: the host would move its pins
 * (and its view) ahead of the store, and every later read would be a Rollback. Three ways:
 * commit dies with a `java.lang.Error` (the generated code catches only `Exception`: JNA
 * reports it to its callback exception handler and the call returns the default, false);
 * commit returns false; commit returns true but did not write (the ring keeps its token).
 */
fun testForeignBrokenCommits() {
    val w = ForeignWorld()
    val maps = w.maps
    val newcomer = Identity.generate()
    val pinsBefore = w.pins.pins()
    val versionBefore = Json.parse(w.host.ringInfo("main"))["governance_version"].long()
    val commitsBefore = maps.commits.get()
    fun addNewcomer() = w.host.addMember("main", Role.SERVICE, newcomer.publicIdentity(), w.admin)

    // 1. An AssertionError (a java.lang.Error) from commit, before it wrote anything.
    val died = java.util.Collections.synchronizedList(ArrayList<Throwable>())
    val jnaHandler = com.sun.jna.Native.getCallbackExceptionHandler()
    com.sun.jna.Native.setCallbackExceptionHandler { _, e -> died.add(e) }
    try {
        maps.hook = { m, _ -> if (m == "commit") throw AssertionError("the store's own check failed") }
        val e = assertFailsWith<DkmException.StoreUnavailable> { addNewcomer() }
        assertTrue("true" in e.message!!, e.message)
    } finally {
        maps.hook = null
        com.sun.jna.Native.setCallbackExceptionHandler(jnaHandler)
    }
    assertEquals(listOf("the store's own check failed"), died.map { (it as? AssertionError)?.message })

    // 2. commit returns false.
    maps.commitAnswer = false
    assertFailsWith<DkmException.StoreUnavailable> { addNewcomer() }
    assertFailsWith<DkmException.StoreUnavailable> { w.host.rollEpoch("main", w.svc) }

    // 3. commit returns true without writing: the ring still has its old token.
    maps.commitAnswer = true
    val e3 = assertFailsWith<DkmException.StoreUnavailable> { addNewcomer() }
    assertTrue("old token" in e3.message!!, e3.message)
    assertFailsWith<DkmException.StoreUnavailable> { w.host.rollEpoch("main", w.svc) }
    // A create or a rename that "succeeded" without the ring where it should be.
    assertFailsWith<DkmException.StoreUnavailable> { w.host.createRing("second", null, w.admin) }
    assertFailsWith<DkmException.StoreUnavailable> { w.host.renameRing("main", "renamed", w.admin) }
    maps.commitAnswer = null

    // Nothing moved: the store, the pins, the host's view.
    assertEquals(commitsBefore, maps.commits.get())
    assertEquals(setOf("main"), maps.rings.keys)
    assertEquals(pinsBefore, w.pins.pins())
    val info = Json.parse(w.host.ringInfo("main"))
    assertEquals(versionBefore, info["governance_version"])
    assertFalse(info["members"].list().any { it["id"] == newcomer.id() }, "$info")
    assertEquals(1, Json.parse(w.host.keys("main"))["epochs"].list().size)
    // A fresh host with the same pins reads the store (no Rollback); the healthy store writes.
    assertEquals(versionBefore, Json.parse(fixedHost(w.store, w.pins, T0).ringInfo("main"))["governance_version"])
    assertEquals(ChangeOutcome.Applied(versionBefore + 1, true), addNewcomer())
    w.host.maintain("main", w.svc) // the existing key holder hands the newcomer the keys
    val s = w.host.seal("main", b("after the broken commits"), b(""), newcomer)
    assertContentEquals(b("after the broken commits"), w.host.unseal("main", s, b(""), w.svc).plaintext())
    assertEquals(true, Json.parse(w.host.auditVerify("main"))["verified"])
    assertEquals(versionBefore + 1, Json.parse(fixedHost(w.store, w.pins, T0).ringInfo("main"))["governance_version"])
}

fun testForeignBadAnswers() {
    val w = ForeignWorld()
    val maps = w.maps
    // A negative line count: StoreUnavailable (never read as a huge unsigned count).
    for (n in listOf(-1L, Long.MIN_VALUE)) {
        maps.lineCountAnswer = n
        val e = assertFailsWith<DkmException.StoreUnavailable>("line count $n") { w.host.rollEpoch("main", w.svc) }
        assertTrue("negative" in e.message!!, e.message)
    }
    maps.lineCountAnswer = null
    assertEquals(1, Json.parse(w.host.keys("main"))["epochs"].list().size)
    w.host.rollEpoch("main", w.svc)
    assertEquals(2, Json.parse(w.host.keys("main"))["epochs"].list().size)

    // location() is read once, when the store is made: a failure there is StoreUnavailable.
    val m = MapStore("kotlin-maps:second")
    m.hook = { method, _ -> if (method == "location") throw ForeignException.Unavailable("no configuration") }
    val e1 = assertFailsWith<DkmException.StoreUnavailable> { Store.foreign(m) }
    assertTrue("no configuration" in e1.message!!, e1.message)
    m.hook = { method, _ -> if (method == "location") throw ForeignException.Conflict("not a commit") }
    assertFailsWith<DkmException.StoreUnavailable> { Store.foreign(m) }
    m.hook = { method, _ -> if (method == "location") throw StoreDown("a bug in location") }
    assertFailsWith<DkmException.StoreUnavailable> { Store.foreign(m) }
    m.hook = null
    val before = m.calls.get()
    val store = Store.foreign(m)
    assertEquals(before + 1, m.calls.get())
    repeat(3) { assertTrue("kotlin-maps:second" in store.location(), store.location()) }
    assertEquals(before + 1, m.calls.get())
}

fun testThreads() {
    for (onForeign in listOf(true, false)) {
        val maps = MapStore()
        val store = if (onForeign) Store.foreign(maps) else Store.memory()
        val host = fixedHost(store, Pins.memory(), T0)
        val admin = Identity.generate()
        val svc = Identity.generate()
        host.createRing("t", null, admin)
        host.addMember("t", Role.SERVICE, svc.publicIdentity(), admin)
        host.maintain("t", svc)
        val threads = 4
        val rounds = 15
        val pool = Executors.newFixedThreadPool(threads)
        val start = CountDownLatch(1)
        try {
            val futures = (0 until threads).map { n ->
                pool.submit<Int> {
                    start.await()
                    var ok = 0
                    for (i in 0 until rounds) {
                        val pt = b("thread $n round $i ").plus(ByteArray(i * 97) { (it + n).toByte() })
                        val ctx = b("t$n:$i")
                        val s = if (i % 2 == 0) host.seal("t", pt, ctx, svc) else b(host.sealArmored("t", pt, ctx, svc))
                        val u = host.unseal("t", s, ctx, svc)
                        assertContentEquals(pt, u.plaintext())
                        ok++
                    }
                    ok
                }
            }
            start.countDown()
            val done = futures.map { it.get(120, TimeUnit.SECONDS) }
            assertEquals(List(threads) { rounds }, done)
        } finally {
            pool.shutdownNow()
        }
        if (onForeign) {
            // The store was called from the worker threads (the host runs in the caller's).
            assertTrue(maps.threads.count { it.startsWith("pool-") } >= 2, "${maps.threads}")
        }
        assertEquals(true, Json.parse(host.auditVerify("t"))["verified"])
    }
}

// ---- 6. an etcd store ----

/**
 * `Store.open("etcd://...")` on the etcd at DKM_TEST_ETCD (HOST:PORT), under a fresh prefix:
 * two hosts, each on its own connection and pin book, share a ring. Skipped without it.
 */
fun testEtcd() {
    val endpoint = System.getenv("DKM_TEST_ETCD")?.takeIf { it.isNotBlank() } ?: throw Skip("DKM_TEST_ETCD unset")
    val prefix = "kt-" + java.util.UUID.randomUUID().toString().replace("-", "").take(16)
    val url = "etcd://$endpoint/$prefix?timeout=10s"
    val admin = Identity.generate()
    val svc = Identity.generate()
    Store.open(url).use { s1 ->
        assertEquals(listOf(), s1.names())
        Host(s1, Pins.memory(), null).use { h1 ->
            val id = h1.createRing("kt", null, admin)
            assertTrue(HEX32.matches(id), id)
            assertIs<ChangeOutcome.Applied>(h1.addMember("kt", Role.SERVICE, svc.publicIdentity(), admin))
            val events = Json.parse(h1.maintain("kt", svc)).list()
            assertTrue(events.any { it["action"] == "epoch-created" }, "$events")
            val sealed = h1.seal("kt", b("in etcd"), b("acct:1"), svc)
            h1.unseal("kt", sealed, b("acct:1"), svc).use {
                assertContentEquals(b("in etcd"), it.plaintext())
                assertEquals(Origin.KEY_HOLDER, it.origin())
            }
            // A second host on a second connection, its own pins: the same ring.
            Store.open(url).use { s2 ->
                assertEquals(listOf("kt"), s2.names())
                assertEquals(s1.location(), s2.location())
                Host(s2, Pins.memory(), null).use { h2 ->
                    assertContentEquals(b("in etcd"), h2.unseal("kt", sealed, b("acct:1"), svc).plaintext())
                    assertFailsWith<DkmException.Tampered> { h2.unseal("kt", sealed, b("acct:2"), svc) }
                    val back = h2.sealArmored("kt", b("from the second host"), b("acct:3"), svc)
                    assertContentEquals(b("from the second host"), h1.unseal("kt", b(back), b("acct:3"), svc).plaintext())
                    // A write on one host reaches the other.
                    h2.rollEpoch("kt", svc)
                    val deadline = System.nanoTime() + 10_000_000_000L
                    while (Json.parse(h1.keys("kt"))["epochs"].list().size < 2) {
                        if (System.nanoTime() > deadline) fail("h1 never saw h2's new epoch")
                        Thread.sleep(100)
                    }
                    val epoch2 = h1.seal("kt", b("epoch two"), b(""), svc)
                    assertContentEquals(b("epoch two"), h2.unseal("kt", epoch2, b(""), svc).plaintext())
                    assertEquals(true, Json.parse(h2.auditVerify("kt"))["verified"])
                }
            }
            assertEquals(true, Json.parse(h1.auditVerify("kt"))["verified"])
        }
    }
}
