/*
 * test_api.c: every function of dkm.h, and every status code the C API can produce, each
 * provoked and asserted exactly.
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -pedantic -I c-header/include test_api.c \
 *            target/debug/libdkm.a -lpthread -ldl -lm -o test_api
 * Run:   ./test_api          (exit 0: all passed; else the first failure on stderr)
 *
 * Times are deterministic: hosts read the thread clock (dkm_thread_set_time) or a fixed clock;
 * pins live in memory or in a fresh mkdtemp directory (DKM_HOME is pointed there too before the
 * one host made with the default options).
 *
 * Status codes and where they are provoked:
 *   DKM_MALFORMED            identity text "hello", public text "dkmpub1", a truncated sealed
 *                            secret, an empty one, a truncated snapshot, a truncated public part
 *   DKM_UNSUPPORTED          a sealed secret whose version byte is 2 (or any bit of its
 *                            version or suite byte changed)
 *   DKM_TOO_LARGE            nine approval levels (a policy has at most 8)
 *   DKM_BAD_CHECKSUM         a public identity text with one character changed; a secret one
 *   DKM_TAMPERED             a changed byte of a sealed secret, a wrong context, a public part
 *                            through another ring's pin
 *   DKM_UNKNOWN_KEY          another ring's secret
 *   DKM_KEY_REVOKED          an old secret after roll_epoch + revoke_epoch(1)
 *   DKM_KEY_DESTROYED        a secret of an interval shred_before removed
 *   DKM_OUT_OF_RANGE         a key holder whose clock is a whole epoch behind the admin's
 *                            shredding cutoff (interval 1 s: an epoch is 65536 s)
 *   DKM_INVALID_INPUT        NULL pointers (every family), NULL with a length, non-UTF-8 text,
 *                            bad role / seal_only / armored codes, a name taken, an unknown
 *                            ring or request, a seal-only secret under DKM_REFUSE_SEAL_ONLY, a
 *                            secret identity given as a public one, ...
 *   DKM_NOT_A_MEMBER         an admin unsealing, a key holder changing governance, ...
 *   DKM_GRANT_EXPIRED        a grant used after its window, and a revoked grant
 *   DKM_POLICY_UNSATISFIED   grant / apply before approvals
 *   DKM_CONFLICT             a callback store whose commit always says DKM_CONFLICT
 *   DKM_STORE_UNAVAILABLE    a callback store whose `ring` callback fails
 *   DKM_STALE                sealing to the ring's public part before any key holder's
 *                            maintain, and long after the last one (dkm_host_seal itself
 *                            runs maintain first when the ring needs it: a key holder's seal
 *                            of a ring never maintained succeeds, checked in test_revoke_shred)
 *   DKM_ROLLBACK             a callback store serving an older ring after a newer one was
 *                            pinned (and an older snapshot imported after a newer one)
 * Not reachable from C:
 *   DKM_INTERNAL (18)        only a bug in dkm returns it (an invariant broken, or a Rust panic
 *                            caught at the boundary); no valid or invalid input is meant to.
 *   (Every other code, 1-17, is provoked above.)
 */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "mapstore.h"

#define HOUR 3600ULL
#define DAY 86400ULL
#define T0 1900000000ULL
/* After the approvers' 24 h cool-off (the default policy's approver_cooloff_secs). */
#define T1 (T0 + DAY + HOUR)

static char tmp_root[256];

/* A path under the test's temp directory (static storage, rotated: up to 8 at once). */
static const char *tpath(const char *rel) {
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp_root, rel);
    return p;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *dir) {
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A host over `store` reading the thread clock, with pins in `pin_dir` (NULL: in memory). */
static dkm_host *new_host(const dkm_store *store, const char *pin_dir) {
    dkm_host_options *o = NULL;
    dkm_host *h = NULL;
    CHECK_OK(dkm_host_options_new(&o));
    if (pin_dir != NULL) {
        CHECK_OK(dkm_host_options_set_pin_dir(o, pin_dir));
    } else {
        CHECK_OK(dkm_host_options_set_memory_pins(o));
    }
    CHECK_OK(dkm_host_options_set_thread_clock(o));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    CHECK(h != NULL, "a host");
    return h;
}

/* The people of the tests. */
typedef struct person {
    dkm_identity *id;
    dkm_public_identity *pub;
    dkm_buffer text; /* public identity text */
    dkm_buffer hex;  /* id */
} person;

static person admin, svc, svc2, ops, sec, eng;

static void person_new(person *p) {
    CHECK_OK(dkm_identity_generate(&p->id));
    CHECK_OK(dkm_identity_public(p->id, &p->pub));
    CHECK_OK(dkm_public_identity_to_text(p->pub, &p->text));
    CHECK_OK(dkm_identity_id(p->id, &p->hex));
}

static void person_free(person *p) {
    dkm_buffer_free(&p->text);
    dkm_buffer_free(&p->hex);
    dkm_public_identity_free(p->pub);
    dkm_identity_free(p->id);
}

static const uint8_t *u8(const char *s) {
    return (const uint8_t *)s;
}

/* Seals `pt` under `ring` as `holder` with context `ctx` (C strings). */
static void seal_text(dkm_host *h, const char *ring, const person *holder, const char *pt,
                      const char *ctx, dkm_buffer *out) {
    CHECK_OK(dkm_host_seal(h, ring, holder->id, u8(pt), strlen(pt), u8(ctx), strlen(ctx), out));
    CHECK(out->ptr != NULL && out->len > 0, "a sealed secret");
}

/* Unseals and expects exactly `pt` with origin `origin`. */
static void expect_unseal(dkm_host *h, const char *ring, const person *holder,
                          const dkm_buffer *sealed, const char *ctx, int32_t policy,
                          const char *pt, int32_t origin) {
    dkm_buffer out = {NULL, 0, 0};
    int32_t got = 0;
    CHECK_OK(dkm_host_unseal(h, ring, holder->id, sealed->ptr, sealed->len, u8(ctx), strlen(ctx),
                             policy, &out, &got));
    CHECK_BUF_STR(out, pt);
    CHECK(got == origin, "the secret's origin");
    dkm_buffer_free(&out);
}

static void expect_unseal_fails(dkm_host *h, const char *ring, const person *holder,
                                const uint8_t *sealed, size_t len, const char *ctx,
                                int32_t expected) {
    dkm_buffer out = {(uint8_t *)(void *)&out, 7, 9}; /* garbage: must come back {NULL, 0, 0} */
    int32_t origin = 77;
    CHECK_STATUS(expected, dkm_host_unseal(h, ring, holder->id, sealed, len, u8(ctx), strlen(ctx),
                                           DKM_ACCEPT_SEAL_ONLY, &out, &origin));
    CHECK_BUF_EMPTY(out);
    CHECK(origin == 77, "origin untouched by a failed unseal");
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    CHECK(f != NULL, "open a file to read");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (char *)malloc((size_t)n + 1);
    CHECK(buf != NULL, "memory");
    CHECK(fread(buf, 1, (size_t)n, f) == (size_t)n, "read the file");
    buf[n] = 0;
    fclose(f);
    if (len) {
        *len = (size_t)n;
    }
    return buf;
}

/* ------------------------------------------------------------------------------------------ */

static void test_version_and_names(void) {
    char v[64];
    static const char *names[19] = {
        "Ok",           "Malformed",   "Unsupported",  "TooLarge",        "BadChecksum",
        "Tampered",     "UnknownKey",  "KeyRevoked",   "KeyDestroyed",    "OutOfRange",
        "InvalidInput", "NotAMember",  "GrantExpired", "PolicyUnsatisfied", "Conflict",
        "StoreUnavailable", "Stale",   "Rollback",     "Internal",
    };
    int32_t codes[19] = {
        DKM_OK,          DKM_MALFORMED,         DKM_UNSUPPORTED,  DKM_TOO_LARGE,
        DKM_BAD_CHECKSUM, DKM_TAMPERED,         DKM_UNKNOWN_KEY,  DKM_KEY_REVOKED,
        DKM_KEY_DESTROYED, DKM_OUT_OF_RANGE,    DKM_INVALID_INPUT, DKM_NOT_A_MEMBER,
        DKM_GRANT_EXPIRED, DKM_POLICY_UNSATISFIED, DKM_CONFLICT,  DKM_STORE_UNAVAILABLE,
        DKM_STALE,       DKM_ROLLBACK,          DKM_INTERNAL,
    };
    int32_t i;
    GROUP("version and status names");
    CHECK(strcmp(dkm_version(), DKM_VERSION_STRING) == 0, "dkm_version() == DKM_VERSION_STRING");
    snprintf(v, sizeof v, "%d.%d.%d", DKM_VERSION_MAJOR, DKM_VERSION_MINOR, DKM_VERSION_PATCH);
    CHECK(strcmp(dkm_version(), v) == 0, "dkm_version() == MAJOR.MINOR.PATCH");
    CHECK(dkm_version() == dkm_version(), "dkm_version() is static");
    for (i = 0; i <= 18; i++) {
        CHECK(codes[i] == i, "status codes are 0..18 in order");
        if (strcmp(dkm_status_name(i), names[i]) != 0) {
            fprintf(stderr, "status %d is named %s, expected %s\n", (int)i, dkm_status_name(i),
                    names[i]);
            CHECK(0, "dkm_status_name");
        }
    }
    CHECK(strcmp(dkm_status_name(19), "Unknown") == 0, "19 is Unknown");
    CHECK(strcmp(dkm_status_name(-1), "Unknown") == 0, "-1 is Unknown");
    CHECK(strcmp(dkm_status_name(INT32_MAX), "Unknown") == 0, "INT32_MAX is Unknown");
    CHECK(strcmp(dkm_status_name(INT32_MIN), "Unknown") == 0, "INT32_MIN is Unknown");
    GROUP_END();
}

static void *other_thread_message(void *arg) {
    /* The last error is per thread: a thread that made no failed call sees "". */
    const char **out = (const char **)arg;
    *out = dkm_last_error_message()[0] == 0 ? "empty" : "not empty";
    return NULL;
}

static void test_last_error_and_free(void) {
    dkm_identity *id = NULL;
    dkm_buffer b = {NULL, 0, 0};
    dkm_policy pol;
    pthread_t t;
    const char *seen = NULL;
    GROUP("last error message, free(NULL), buffer freed twice");
    CHECK_STATUS(DKM_MALFORMED, dkm_identity_from_text(u8("hello"), 5, &id));
    CHECK(dkm_last_error_message() != NULL && dkm_last_error_message()[0] != 0,
          "a message after a failure");
    CHECK(pthread_create(&t, NULL, other_thread_message, &seen) == 0, "thread");
    CHECK(pthread_join(t, NULL) == 0, "join");
    CHECK(strcmp(seen, "empty") == 0, "the last error is per thread");
    CHECK(dkm_last_error_message()[0] != 0, "still this thread's message");
    CHECK_OK(dkm_policy_default(&pol));
    CHECK(strcmp(dkm_last_error_message(), "") == 0, "\"\" after a success");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_policy_default(NULL));
    CHECK(strlen(dkm_last_error_message()) > 0, "a message after a NULL out-parameter");
    /* Every free of NULL is a no-op. */
    dkm_identity_free(NULL);
    dkm_public_identity_free(NULL);
    dkm_ring_public_free(NULL);
    dkm_store_free(NULL);
    dkm_host_free(NULL);
    dkm_host_options_free(NULL);
    dkm_buffer_free(NULL);
    dkm_buffer_free(&b);
    CHECK_BUF_EMPTY(b);
    /* A buffer freed twice: the first free clears it, the second is a no-op. */
    CHECK_OK(dkm_identity_generate(&id));
    CHECK_OK(dkm_identity_id(id, &b));
    CHECK(b.ptr != NULL && b.len == 32, "an id is 32 hex digits");
    dkm_buffer_free(&b);
    CHECK_BUF_EMPTY(b);
    dkm_buffer_free(&b);
    CHECK_BUF_EMPTY(b);
    dkm_identity_free(id);
    GROUP_END();
}

static void test_policy_default(void) {
    dkm_policy p;
    GROUP("dkm_policy_default");
    memset(&p, 0xAB, sizeof p);
    CHECK_OK(dkm_policy_default(&p));
    CHECK(p.interval_secs == DAY, "interval 1 day");
    CHECK(p.max_grant_secs == 8 * HOUR, "grant 8 h");
    CHECK(p.max_lookback_secs == 30 * DAY, "lookback 30 days");
    CHECK(p.request_lifetime_secs == 12 * HOUR, "request lifetime 12 h");
    CHECK(p.freshness_intervals == 2, "freshness 2 intervals");
    CHECK(p.approver_cooloff_secs == DAY, "cool-off 24 h");
    GROUP_END();
}

static void test_identities(void) {
    dkm_identity *id = NULL, *back = NULL, *from_file = NULL, *from_bytes = NULL;
    dkm_public_identity *pub = NULL, *pub2 = NULL;
    dkm_buffer text = {NULL, 0, 0}, text2 = {NULL, 0, 0}, hex = {NULL, 0, 0}, hex2 = {NULL, 0, 0};
    dkm_buffer ptext = {NULL, 0, 0}, ptext2 = {NULL, 0, 0}, phex = {NULL, 0, 0};
    const char *path = tpath("me.id");
    char *contents;
    size_t contents_len;
    GROUP("identities: generate, text, files, public, ids");
    CHECK_OK(dkm_identity_generate(&id));
    CHECK_OK(dkm_identity_to_text(id, &text));
    CHECK(text.len > 7 && memcmp(text.ptr, "dkmsec1", 7) == 0, "secret text starts dkmsec1");
    CHECK(strlen((const char *)text.ptr) == text.len, "a text result is a C string");
    CHECK_OK(dkm_identity_from_text(text.ptr, text.len, &back));
    CHECK_OK(dkm_identity_to_text(back, &text2));
    CHECK_BUF_EQ(text2, text.ptr, text.len);
    CHECK_OK(dkm_identity_id(id, &hex));
    CHECK_OK(dkm_identity_id(back, &hex2));
    CHECK(check_is_hex((const char *)hex.ptr, 32), "an id is 32 hex digits");
    CHECK_BUF_EQ(hex2, hex.ptr, hex.len);
    dkm_buffer_free(&hex2);

    /* Files: written once (0600), never replaced, read back; its contents read from memory. */
    CHECK_OK(dkm_identity_write_file(id, path, "me"));
    {
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "identity file is 0600");
    }
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_write_file(back, path, "again"));
    {
        dkm_buffer warning = {NULL, 0, 0};
        CHECK_OK(dkm_identity_read_file(path, &from_file, &warning));
        CHECK_BUF_EMPTY(warning); /* 0600: nothing to warn about */
    }
    CHECK_OK(dkm_identity_id(from_file, &hex2));
    CHECK_BUF_EQ(hex2, hex.ptr, hex.len);
    dkm_buffer_free(&hex2);
    contents = read_file(path, &contents_len);
    CHECK_OK(dkm_identity_from_text(u8(contents), contents_len, &from_bytes));
    CHECK_OK(dkm_identity_id(from_bytes, &hex2));
    CHECK_BUF_EQ(hex2, hex.ptr, hex.len);
    dkm_buffer_free(&hex2);
    free(contents);
    /* Group- or world-readable: read, with a warning naming the fix (or none asked for). */
    CHECK(chmod(path, 0644) == 0, "chmod");
    {
        dkm_identity *x = NULL;
        dkm_buffer warning = {NULL, 0, 0};
        CHECK_OK(dkm_identity_read_file(path, &x, &warning));
        CHECK(x != NULL && warning.len > 0 &&
                  strstr((const char *)warning.ptr, "chmod 600") != NULL,
              "a readable identity file is read with a warning");
        dkm_buffer_free(&warning);
        dkm_identity_free(x);
        x = NULL;
        CHECK_OK(dkm_identity_read_file(path, &x, NULL));
        dkm_identity_free(x);
    }
    /* Group- or world-writable: refused. A missing file: refused. */
    CHECK(chmod(path, 0622) == 0, "chmod");
    {
        dkm_identity *x = NULL;
        dkm_buffer warning = {NULL, 0, 0};
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file(path, &x, &warning));
        CHECK(x == NULL, "no identity from a writable file");
        CHECK_BUF_EMPTY(warning);
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file(tpath("missing.id"), &x, NULL));
        CHECK(x == NULL, "no identity from a missing file");
    }

    /* Public identity: text round trip, the same id as the secret identity's. */
    CHECK_OK(dkm_identity_public(id, &pub));
    CHECK_OK(dkm_public_identity_to_text(pub, &ptext));
    CHECK(ptext.len > 7 && memcmp(ptext.ptr, "dkmpub1", 7) == 0, "public text starts dkmpub1");
    CHECK_OK(dkm_public_identity_from_text((const char *)ptext.ptr, &pub2));
    CHECK_OK(dkm_public_identity_to_text(pub2, &ptext2));
    CHECK_BUF_EQ(ptext2, ptext.ptr, ptext.len);
    CHECK_OK(dkm_public_identity_id(pub2, &phex));
    CHECK_BUF_EQ(phex, hex.ptr, hex.len);
    /* A public identity given as a secret one: INVALID_INPUT. */
    {
        dkm_identity *x = NULL;
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_from_text(ptext.ptr, ptext.len, &x));
        CHECK(x == NULL, "no identity from a public text");
    }

    dkm_buffer_free(&text);
    dkm_buffer_free(&text2);
    dkm_buffer_free(&hex);
    dkm_buffer_free(&ptext);
    dkm_buffer_free(&ptext2);
    dkm_buffer_free(&phex);
    dkm_public_identity_free(pub);
    dkm_public_identity_free(pub2);
    dkm_identity_free(id);
    dkm_identity_free(back);
    dkm_identity_free(from_file);
    dkm_identity_free(from_bytes);
    GROUP_END();
}

static void test_identity_errors(void) {
    dkm_identity *id = NULL, *x;
    dkm_public_identity *p;
    dkm_buffer secret = {NULL, 0, 0}, ptext = {NULL, 0, 0};
    char *typo;
    const char *msg;
    GROUP("identity text errors: MALFORMED, BAD_CHECKSUM, INVALID_INPUT, never echoed");
    CHECK_OK(dkm_identity_generate(&id));
    CHECK_OK(dkm_identity_to_text(id, &secret));
    {
        dkm_public_identity *pub = NULL;
        CHECK_OK(dkm_identity_public(id, &pub));
        CHECK_OK(dkm_public_identity_to_text(pub, &ptext));
        dkm_public_identity_free(pub);
    }
    x = (dkm_identity *)(void *)&x;
    CHECK_STATUS(DKM_MALFORMED, dkm_identity_from_text(u8("hello"), 5, &x));
    CHECK(x == NULL, "out-parameter NULL after a failure");
    CHECK_STATUS(DKM_MALFORMED, dkm_identity_from_text(NULL, 0, &x));
    CHECK_STATUS(DKM_MALFORMED, dkm_identity_from_text(u8("x"), 0, &x));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_from_text(NULL, 5, &x));
    /* A secret text with a typo: its checksum. */
    typo = (char *)malloc(secret.len + 1);
    CHECK(typo != NULL, "memory");
    memcpy(typo, secret.ptr, secret.len + 1);
    typo[20] = typo[20] == 'A' ? 'B' : 'A';
    CHECK_STATUS(DKM_BAD_CHECKSUM, dkm_identity_from_text(u8(typo), secret.len, &x));
    CHECK(x == NULL, "no identity from a typo");
    memset(typo, 0, secret.len);
    free(typo);

    /* Public identity texts: a typo, a bare prefix, garbage. */
    typo = (char *)malloc(ptext.len + 1);
    CHECK(typo != NULL, "memory");
    memcpy(typo, ptext.ptr, ptext.len + 1);
    typo[ptext.len - 3] = typo[ptext.len - 3] == 'a' ? 'b' : 'a';
    p = (dkm_public_identity *)(void *)&p;
    CHECK_STATUS(DKM_BAD_CHECKSUM, dkm_public_identity_from_text(typo, &p));
    CHECK(p == NULL, "out-parameter NULL after a failure");
    free(typo);
    CHECK_STATUS(DKM_MALFORMED, dkm_public_identity_from_text("dkmpub1", &p));
    CHECK_STATUS(DKM_MALFORMED, dkm_public_identity_from_text("", &p));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_from_text("dkmpub1\xff\xfe", &p));
    /* A secret identity given as a public one: refused, and the message never echoes it. */
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_public_identity_from_text((const char *)secret.ptr, &p));
    CHECK(p == NULL, "no public identity from a secret text");
    msg = dkm_last_error_message();
    CHECK(msg[0] != 0, "a message");
    CHECK(strstr(msg, (const char *)secret.ptr) == NULL, "the message holds no secret text");
    {
        /* Not even a piece of it (16 characters after the prefix). */
        char piece[17];
        memcpy(piece, secret.ptr + 7, 16);
        piece[16] = 0;
        CHECK(strstr(msg, piece) == NULL, "the message holds no piece of the secret text");
    }
    dkm_buffer_free(&secret);
    dkm_buffer_free(&ptext);
    dkm_identity_free(id);
    GROUP_END();
}

/* ---- clocks ---- */

typedef struct test_clock {
    uint64_t now;
    int calls;
    int32_t status;
} test_clock;

static dkm_status clock_cb(void *user, uint64_t *now) {
    test_clock *c = (test_clock *)user;
    c->calls++;
    if (c->status != DKM_OK) {
        return c->status;
    }
    *now = c->now;
    return DKM_OK;
}

static void test_options_and_clocks(void) {
    dkm_host_options *o = NULL;
    dkm_store *store = NULL;
    dkm_host *h = NULL;
    dkm_buffer json = {NULL, 0, 0}, id = {NULL, 0, 0};
    test_clock clock = {T0, 0, DKM_OK};
    char pin[600];
    GROUP("host options: pins, fixed clock, clock callback, thread clock, defaults");
    CHECK_OK(dkm_store_memory_new(&store));

    /* A fixed clock: the ring's key listing is at that time; records carry the override. */
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_OK(dkm_host_options_set_memory_pins(o));
    CHECK_OK(dkm_host_options_set_fixed_clock(o, T0));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    CHECK_OK(dkm_host_create_ring(h, "fixed", admin.id, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "fixed", admin.id, DKM_ROLE_SERVICE, svc.pub, NULL));
    CHECK_OK(dkm_host_maintain(h, "fixed", svc.id, NULL));
    CHECK_OK(dkm_host_keys(h, "fixed", &json));
    /* T0 = 1900000000 = 2030-03-17T17:46:40Z; fresh for 2 intervals (2 days) from then. */
    CHECK(check_contains(json.ptr, json.len, "\"fresh_until\":\"2030-03-19T17:46:40Z\""),
          "fresh_until from the fixed clock");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_audit_records(h, "fixed", &json));
    CHECK(check_contains(json.ptr, json.len, "\"time\":1900000000"), "records at T0");
    CHECK(check_contains(json.ptr, json.len, "\"clock_override\":true") &&
              !check_contains(json.ptr, json.len, "\"clock_override\":false"),
          "records made under a fixed clock carry the override flag");
    dkm_buffer_free(&json);
    dkm_host_free(h);

    /* A clock callback, called per operation. */
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_OK(dkm_host_options_set_memory_pins(o));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_clock_callback(o, NULL, &clock));
    CHECK_OK(dkm_host_options_set_clock_callback(o, clock_cb, &clock));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    clock.now = T0 + 2 * DAY;
    CHECK_OK(dkm_host_maintain(h, "fixed", svc.id, NULL));
    CHECK(clock.calls >= 1, "the clock callback was called");
    CHECK_OK(dkm_host_keys(h, "fixed", &json));
    CHECK(check_contains(json.ptr, json.len, "\"fresh_until\":\"2030-03-21T17:46:40Z\""),
          "fresh_until from the callback's time");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_audit_records(h, "fixed", &json));
    CHECK(check_contains(json.ptr, json.len, "\"time\":1900172800") &&
              check_contains(json.ptr, json.len, "\"clock_override\":false"),
          "records at the callback's time, not flagged");
    dkm_buffer_free(&json);
    /* A clock that fails fails the operation with its status (a code the library does not
     * define: INVALID_INPUT), before anything is written: at T0 + 10 days maintain has work
     * to do, yet the audit chain stays as it was. */
    {
        dkm_buffer before = {NULL, 0, 0}, after = {NULL, 0, 0};
        CHECK_OK(dkm_host_audit_records(h, "fixed", &before));
        clock.now = T0 + 10 * DAY;
        clock.status = DKM_STORE_UNAVAILABLE;
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_maintain(h, "fixed", svc.id, NULL));
        CHECK(strstr(dkm_last_error_message(), "clock") != NULL, "the message names the clock");
        clock.status = 4242;
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_maintain(h, "fixed", svc.id, NULL));
        clock.status = DKM_OK;
        CHECK_OK(dkm_host_audit_records(h, "fixed", &after));
        CHECK_BUF_EQ(after, before.ptr, before.len);
        dkm_buffer_free(&after);
        CHECK_OK(dkm_host_maintain(h, "fixed", svc.id, NULL));
        CHECK_OK(dkm_host_audit_records(h, "fixed", &after));
        CHECK(after.len > before.len, "with the clock back, maintain writes");
        dkm_buffer_free(&after);
        dkm_buffer_free(&before);
    }
    dkm_host_free(h);

    /* A clock that fails stops every verb before it loads the ring: a fresh pin book stays
     * empty (no first-use pin, no name record). */
    {
        const char *pins = tpath("clockfail-pins");
        dkm_buffer b = {NULL, 0, 0};
        int32_t origin = 0;
        static const char req[] =
            "0000000000000000000000000000000000000000000000000000000000000000";
        static const char grant[] = "00000000000000000000000000000000";
        CHECK_OK(dkm_host_options_new(&o));
        CHECK_OK(dkm_host_options_set_pin_dir(o, pins));
        CHECK_OK(dkm_host_options_set_clock_callback(o, clock_cb, &clock));
        CHECK_OK(dkm_host_new(store, o, &h));
        dkm_host_options_free(o);
        clock.status = DKM_STORE_UNAVAILABLE;
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_ring_info(h, "fixed", &b));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_keys(h, "fixed", &b));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_maintain(h, "fixed", svc.id, NULL));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_roll_epoch(h, "fixed", svc.id, NULL));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_seal(h, "fixed", svc.id, u8("x"), 1, NULL, 0, &b));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE,
                     dkm_host_request_access(h, "fixed", eng.id, "why", 3600, NULL, NULL, 0, &b));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_approve(h, "fixed", req, "ops", ops.id));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_deny(h, "fixed", req, "ops", ops.id));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_grant(h, "fixed", req, svc.id, &b, NULL));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE,
                     dkm_host_unseal_with_grant(h, "fixed", eng.id, grant, u8("x"), 1, NULL, 0,
                                                DKM_ACCEPT_SEAL_ONLY, &b, &origin));
        CHECK_STATUS(DKM_STORE_UNAVAILABLE,
                     dkm_host_add_member(h, "fixed", admin.id, DKM_ROLE_APPROVER, ops.pub, NULL));
        clock.status = DKM_OK;
        {
            DIR *d = opendir(pins);
            struct dirent *e;
            int entries = 0;
            if (d != NULL) {
                while ((e = readdir(d)) != NULL) {
                    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                        entries++;
                    }
                }
                closedir(d);
            }
            CHECK(entries == 0, "a failing clock saved no pin");
        }
        CHECK_OK(dkm_host_ring_info(h, "fixed", &b)); /* the clock back: a first use pins */
        dkm_buffer_free(&b);
        dkm_host_free(h);
    }

    /* The thread clock: refused on a thread that set no time. */
    h = new_host(store, NULL);
    dkm_thread_clear_time();
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_maintain(h, "fixed", svc.id, NULL));
    CHECK(strstr(dkm_last_error_message(), "dkm_thread_set_time") != NULL,
          "the message says to set the time");
    dkm_thread_set_time(T0 + 2 * DAY);
    CHECK_OK(dkm_host_maintain(h, "fixed", svc.id, NULL));
    dkm_host_free(h);

    /* Options errors. */
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_pin_dir(o, ""));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_pin_dir(o, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_pin_dir(o, "\xff\xfe"));
    dkm_host_options_free(o);

    /* A pin directory: the pin book holds <ring id>.pin after the first load. */
    h = new_host(store, tpath("pins-options"));
    CHECK_OK(dkm_host_create_ring(h, "pinned", admin.id, NULL, &id));
    snprintf(pin, sizeof pin, "%s/%s.pin", tpath("pins-options"), (const char *)id.ptr);
    CHECK(file_exists(pin), "the pin book in the pin directory");
    dkm_buffer_free(&id);
    dkm_host_free(h);

    /* The default options (NULL): the pin book under $DKM_HOME (pointed at the temp dir), the
     * system clock. */
    CHECK(setenv("DKM_HOME", tpath("home"), 1) == 0, "setenv");
    CHECK_OK(dkm_host_new(store, NULL, &h));
    CHECK_OK(dkm_host_create_ring(h, "defaults", admin.id, NULL, &id));
    snprintf(pin, sizeof pin, "%s/pins/%s.pin", tpath("home"), (const char *)id.ptr);
    CHECK(file_exists(pin), "the default pin book is $DKM_HOME/pins");
    dkm_buffer_free(&id);
    dkm_host_free(h);
    CHECK_OK(dkm_host_options_new(&o)); /* explicit defaults, then memory pins */
    CHECK_OK(dkm_host_new(store, o, &h));
    CHECK_OK(dkm_host_ring_info(h, "defaults", &json));
    CHECK(check_contains(json.ptr, json.len, "\"name\":\"defaults\""), "ring info by name");
    dkm_buffer_free(&json);
    dkm_host_free(h);
    dkm_host_options_free(o);

    dkm_store_free(store);
    GROUP_END();
}

static int free_user_calls;
static void count_free_user(void *user) {
    (void)user;
    free_user_calls++;
}

static dkm_status stub_ring(void *u, const char *n, dkm_store_reply *r) {
    (void)u;
    (void)n;
    (void)r;
    return DKM_OK;
}

static void test_store_constructors(void) {
    dkm_store *s;
    dkm_store_vtable vt = mapstore_vtable;
    int dummy = 0;
    GROUP("store constructors and their refusals");
    s = (dkm_store *)(void *)&s;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_file_new(NULL, &s));
    CHECK(s == NULL, "out-parameter NULL after a failure");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_file_new("", &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_file_new("\xff", &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_file_new(tpath("x"), NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_memory_new(NULL));
    CHECK_OK(dkm_store_file_new(tpath("lazy-store"), &s));
    CHECK(!file_exists(tpath("lazy-store")), "the file store's directory is made on first write");
    dkm_store_free(s);

    /* Callbacks: every one but free_user required; a failure never calls free_user. */
    vt.free_user = count_free_user;
    free_user_calls = 0;
    vt.commit = NULL;
    s = (dkm_store *)(void *)&s;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "loc", &s));
    CHECK(strstr(dkm_last_error_message(), "commit") != NULL, "the message names `commit`");
    CHECK(s == NULL, "out-parameter NULL after a failure");
    vt = mapstore_vtable;
    vt.free_user = count_free_user;
    vt.ring = NULL;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "loc", &s));
    vt.ring = stub_ring;
    vt.names = NULL;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "loc", &s));
    vt = mapstore_vtable;
    vt.free_user = count_free_user;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(NULL, &dummy, "loc", &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, NULL, &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "", &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "\xff", &s));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, &dummy, "loc", NULL));
    CHECK(free_user_calls == 0, "free_user not called when the store was not made");
    /* Made, then freed: free_user once (without a host). */
    CHECK_OK(dkm_store_callbacks_new(&vt, &dummy, "loc", &s));
    CHECK(free_user_calls == 0, "not yet");
    dkm_store_free(s);
    CHECK(free_user_calls == 1, "free_user once when the store is freed");
    /* The reply functions refuse a NULL reply (a callback's misuse), never crash. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_reply_line(NULL, u8("x"), 1));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_reply_ring(NULL, u8("x"), 1, u8("t"), 1));
    GROUP_END();
}

/* ---- the main ring: seal, unseal, elevated access ---- */

static dkm_store *main_store;
static dkm_host *main_host;
static dkm_buffer kept = {NULL, 0, 0}; /* "kept" sealed at T0 + 60 under context "c" */
static const char *main_pins;

static void test_ring_basics(void) {
    dkm_buffer ring_id = {NULL, 0, 0}, events = {NULL, 0, 0}, s = {NULL, 0, 0}, json = {NULL, 0, 0};
    dkm_change ch;
    dkm_policy bad;
    GROUP("ring: create, members, STALE before maintain, maintain, views");
    main_pins = tpath("pins-main");
    CHECK_OK(dkm_store_memory_new(&main_store));
    main_host = new_host(main_store, main_pins);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(main_host, "main", admin.id, NULL, &ring_id));
    CHECK(check_is_hex((const char *)ring_id.ptr, 32), "a ring id is 32 hex digits");
    /* A name taken, an invalid name, non-UTF-8, a bad policy. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(main_host, "main", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(main_host, "../x", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(main_host, "", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_create_ring(main_host, "bad\xff\xfe", admin.id, NULL, NULL));
    CHECK_OK(dkm_policy_default(&bad));
    bad.interval_secs = 0;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(main_host, "p", admin.id, &bad, NULL));

    /* Members: applied at once while the ring has no approval levels. */
    memset(&ch, 0xAB, sizeof ch);
    CHECK_OK(dkm_host_add_member(main_host, "main", admin.id, DKM_ROLE_SERVICE, svc.pub, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.version == 2 && ch.pending == 1 &&
              ch.request[0] == 0,
          "added: applied, version 2, pending");
    CHECK_OK(dkm_host_add_member(main_host, "main", admin.id, DKM_ROLE_APPROVER, ops.pub, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.version == 3, "version 3");
    CHECK_OK(dkm_host_add_member(main_host, "main", admin.id, DKM_ROLE_APPROVER, sec.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(main_host, "main", admin.id, DKM_ROLE_APPROVER, svc.pub, &ch));
    CHECK(ch.outcome == 0 && ch.version == 0 && ch.pending == 0 && ch.request[0] == 0,
          "change cleared after a failure");
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(main_host, "main", admin.id, 0, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(main_host, "main", admin.id, 4, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(main_host, "main", admin.id, -1, eng.pub, NULL));
    CHECK_STATUS(DKM_NOT_A_MEMBER,
                 dkm_host_add_member(main_host, "main", svc.id, DKM_ROLE_APPROVER, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(main_host, "nope", admin.id, DKM_ROLE_SERVICE, eng.pub, NULL));
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_remove_member(main_host, "main", admin.id, eng.pub, &ch));
    CHECK(ch.outcome == 0, "change cleared after a failure");

    /* No keys before a key holder's maintain: sealing to the ring's public part is STALE (no
     * published key covers the time). (dkm_host_seal itself runs maintain first when the ring
     * needs it, so a key holder's seal is not refused: see test_revoke_shred.) */
    CHECK_OK(dkm_host_export_public(main_host, "main", &s));
    {
        dkm_ring_public *rp = NULL;
        dkm_buffer out = {(uint8_t *)(void *)&rp, 3, 4};
        CHECK_OK(dkm_ring_public_new(s.ptr, s.len, NULL, 0, &rp));
        CHECK_STATUS(DKM_STALE, dkm_host_seal_to_public(main_host, rp, u8("x"), 1, NULL, 0, 0, &out));
        CHECK_BUF_EMPTY(out);
        dkm_ring_public_free(rp);
    }
    dkm_buffer_free(&s);
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_maintain(main_host, "main", admin.id, &events));
    CHECK_BUF_EMPTY(events);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, &events));
    CHECK(events.len > 2 && events.ptr[0] == '[' &&
              check_contains(events.ptr, events.len, "\"action\":\"epoch-created\""),
          "maintain's events: an epoch created");
    dkm_buffer_free(&events);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, &events));
    CHECK_BUF_STR(events, "[]");
    dkm_buffer_free(&events);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));

    /* Views. */
    CHECK_OK(dkm_host_keys(main_host, "main", &json));
    CHECK(check_contains(json.ptr, json.len, "\"current\":{\"epoch\":1,\"interval\":0}"),
          "keys: epoch 1, interval 0");
    CHECK(check_contains(json.ptr, json.len, (const char *)ring_id.ptr), "keys: the ring id");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_ring_info(main_host, "main", &json));
    CHECK(check_contains(json.ptr, json.len, "\"name\":\"main\""), "info: name");
    CHECK(check_contains(json.ptr, json.len, (const char *)svc.hex.ptr), "info: the key holder");
    CHECK(check_contains(json.ptr, json.len, (const char *)ops.hex.ptr), "info: an approver");
    CHECK(check_contains(json.ptr, json.len, "\"pending\":false"), "info: nothing pending");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_requests(main_host, "main", &json));
    CHECK_BUF_STR(json, "[]");
    dkm_buffer_free(&json);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_keys(main_host, "nope", &json));
    CHECK_BUF_EMPTY(json);
    dkm_buffer_free(&ring_id);
    GROUP_END();
}

static void test_seal_unseal(void) {
    dkm_buffer s = {NULL, 0, 0}, s2 = {NULL, 0, 0}, armored = {NULL, 0, 0}, pt = {NULL, 0, 0};
    uint8_t *copy;
    static const uint8_t bin[5] = {0, 1, 2, 0, 255};
    static const uint8_t ctx_bin[3] = {0, 0, 7};
    int32_t origin = 0;
    GROUP("seal / unseal: contexts, armor, TAMPERED, UNSUPPORTED, MALFORMED, NOT_A_MEMBER");
    dkm_thread_set_time(T0 + 60);
    seal_text(main_host, "main", &svc, "kept", "c", &kept);

    /* Empty context as NULL,0 and as a non-NULL pointer with length 0: the same context. */
    CHECK_OK(dkm_host_seal(main_host, "main", svc.id, u8("a"), 1, NULL, 0, &s));
    expect_unseal(main_host, "main", &svc, &s, "", DKM_REFUSE_SEAL_ONLY, "a", DKM_ORIGIN_KEY_HOLDER);
    CHECK_OK(dkm_host_unseal(main_host, "main", svc.id, s.ptr, s.len, NULL, 0,
                             DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
    CHECK_BUF_STR(pt, "a");
    dkm_buffer_free(&pt);
    CHECK_OK(dkm_host_seal(main_host, "main", svc.id, u8("b"), 1, u8("ignored"), 0, &s2));
    CHECK_OK(dkm_host_unseal(main_host, "main", svc.id, s2.ptr, s2.len, NULL, 0,
                             DKM_ACCEPT_SEAL_ONLY, &pt, &origin));
    CHECK_BUF_STR(pt, "b");
    CHECK(origin == DKM_ORIGIN_KEY_HOLDER, "origin key holder");
    dkm_buffer_free(&pt);
    /* A context is bound: a different one is TAMPERED. */
    expect_unseal_fails(main_host, "main", &svc, s.ptr, s.len, "x", DKM_TAMPERED);
    dkm_buffer_free(&s);
    dkm_buffer_free(&s2);

    /* Empty plaintext (NULL, 0): an empty, non-NULL, NUL-terminated buffer back. */
    CHECK_OK(dkm_host_seal(main_host, "main", svc.id, NULL, 0, u8("ctx"), 3, &s));
    CHECK_OK(dkm_host_unseal(main_host, "main", svc.id, s.ptr, s.len, u8("ctx"), 3,
                             DKM_REFUSE_SEAL_ONLY, &pt, NULL));
    CHECK(pt.ptr != NULL && pt.len == 0 && pt.ptr[0] == 0, "empty plaintext");
    dkm_buffer_free(&pt);
    dkm_buffer_free(&s);

    /* Binary plaintext and context with NUL bytes. */
    CHECK_OK(dkm_host_seal(main_host, "main", svc.id, bin, sizeof bin, ctx_bin, sizeof ctx_bin, &s));
    CHECK_OK(dkm_host_unseal(main_host, "main", svc.id, s.ptr, s.len, ctx_bin, sizeof ctx_bin,
                             DKM_REFUSE_SEAL_ONLY, &pt, NULL));
    CHECK_BUF_EQ(pt, bin, sizeof bin);
    dkm_buffer_free(&pt);
    CHECK_STATUS(DKM_TAMPERED, dkm_host_unseal(main_host, "main", svc.id, s.ptr, s.len, ctx_bin, 2,
                                               DKM_REFUSE_SEAL_ONLY, &pt, NULL));

    /* A changed byte anywhere after the header: TAMPERED; the version byte: UNSUPPORTED. */
    copy = (uint8_t *)malloc(s.len);
    CHECK(copy != NULL, "memory");
    memcpy(copy, s.ptr, s.len);
    copy[s.len - 1] ^= 1;
    expect_unseal_fails(main_host, "main", &svc, copy, s.len, "", DKM_TAMPERED);
    memcpy(copy, s.ptr, s.len);
    copy[s.len / 2] ^= 0x80;
    {
        dkm_buffer out = {NULL, 0, 0};
        CHECK_STATUS(DKM_TAMPERED, dkm_host_unseal(main_host, "main", svc.id, copy, s.len, ctx_bin,
                                                   sizeof ctx_bin, DKM_ACCEPT_SEAL_ONLY, &out, NULL));
        CHECK_BUF_EMPTY(out);
    }
    memcpy(copy, s.ptr, s.len);
    CHECK(copy[0] == 1, "sealed-secret version 1");
    copy[0] = 2;
    expect_unseal_fails(main_host, "main", &svc, copy, s.len, "", DKM_UNSUPPORTED);
    CHECK(strstr(dkm_last_error_message(), "version") != NULL, "the message names the version");
    /* Every single-bit change anywhere: refused, with the kind its place gives. The layout:
     * version (1), suite (1), ring id (16), epoch (4), interval (2), then what the key
     * commits to. */
    {
        size_t i;
        int bit;
        dkm_buffer out = {NULL, 0, 0};
        for (i = 0; i < s.len; i++) {
            int32_t want = i < 2 ? DKM_UNSUPPORTED : i < 22 ? DKM_UNKNOWN_KEY : DKM_TAMPERED;
            for (bit = 0; bit < 8; bit++) {
                memcpy(copy, s.ptr, s.len);
                copy[i] ^= (uint8_t)(1u << bit);
                CHECK_STATUS(want, dkm_host_unseal(main_host, "main", svc.id, copy, s.len, ctx_bin,
                                                   sizeof ctx_bin, DKM_ACCEPT_SEAL_ONLY, &out, NULL));
                CHECK_BUF_EMPTY(out);
            }
        }
    }
    memcpy(copy, s.ptr, s.len);
    expect_unseal_fails(main_host, "main", &svc, copy, 10, "", DKM_MALFORMED);
    expect_unseal_fails(main_host, "main", &svc, NULL, 0, "", DKM_MALFORMED);
    expect_unseal_fails(main_host, "main", &svc, NULL, 5, "", DKM_INVALID_INPUT);
    free(copy);

    /* Who may open: a key holder only. */
    CHECK_STATUS(DKM_NOT_A_MEMBER,
                 dkm_host_unseal(main_host, "main", admin.id, kept.ptr, kept.len, u8("c"), 1,
                                 DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
    CHECK_BUF_EMPTY(pt);
    CHECK_STATUS(DKM_NOT_A_MEMBER,
                 dkm_host_seal(main_host, "main", ops.id, u8("x"), 1, NULL, 0, &s2));
    CHECK_BUF_EMPTY(s2);
    /* Bad seal_only codes; NULL data with a length. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(main_host, "main", svc.id, kept.ptr, kept.len,
                                                    u8("c"), 1, 0, &pt, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(main_host, "main", svc.id, kept.ptr, kept.len,
                                                    u8("c"), 1, 3, &pt, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(main_host, "main", svc.id, kept.ptr, kept.len,
                                                    NULL, 1, DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal(main_host, "main", svc.id, NULL, 3, NULL, 0, &s2));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal(main_host, "main", svc.id, u8("x"), 1, NULL, 3, &s2));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal_armored(main_host, "main", svc.id, NULL, 3, NULL, 0, &s2));
    dkm_buffer_free(&s);

    /* Armor: "dkm1:" text, unsealed as it is (and with a trailing newline). */
    CHECK_OK(dkm_host_seal_armored(main_host, "main", svc.id, u8("armored"), 7, u8("c"), 1,
                                   &armored));
    CHECK(armored.len > 5 && memcmp(armored.ptr, "dkm1:", 5) == 0, "armor starts dkm1:");
    CHECK(strlen((const char *)armored.ptr) == armored.len, "armor is a C string");
    expect_unseal(main_host, "main", &svc, &armored, "c", DKM_REFUSE_SEAL_ONLY, "armored",
                  DKM_ORIGIN_KEY_HOLDER);
    {
        char *nl = (char *)malloc(armored.len + 2);
        CHECK(nl != NULL, "memory");
        memcpy(nl, armored.ptr, armored.len);
        nl[armored.len] = '\n';
        nl[armored.len + 1] = 0;
        CHECK_OK(dkm_host_unseal(main_host, "main", svc.id, u8(nl), armored.len + 1, u8("c"), 1,
                                 DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
        CHECK_BUF_STR(pt, "armored");
        dkm_buffer_free(&pt);
        nl[armored.len - 2] = nl[armored.len - 2] == 'A' ? 'B' : 'A';
        CHECK_STATUS(DKM_TAMPERED, dkm_host_unseal(main_host, "main", svc.id, u8(nl), armored.len,
                                                   u8("c"), 1, DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
        free(nl);
    }
    dkm_buffer_free(&armored);
    expect_unseal(main_host, "main", &svc, &kept, "c", DKM_REFUSE_SEAL_ONLY, "kept",
                  DKM_ORIGIN_KEY_HOLDER);
    GROUP_END();
}

/* 1 when one JSON object nested `level` deep in `json` (1: the top level; 2: an element of a
 * top-level array) holds both `a` and `b` (strings are skipped when counting brackets). */
static int json_object_has_both(const char *json, size_t len, int level, const char *a,
                                const char *b) {
    size_t i, start = 0;
    int depth = 0, in_string = 0, escaped = 0;
    for (i = 0; i < len; i++) {
        char c = json[i];
        if (in_string) {
            if (escaped) {
                escaped = 0;
            } else if (c == '\\') {
                escaped = 1;
            } else if (c == '"') {
                in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth == level && c == '{') {
                start = i;
            }
        } else if (c == '}' || c == ']') {
            if (depth == level && c == '}' && check_contains(json + start, i + 1 - start, a) &&
                check_contains(json + start, i + 1 - start, b)) {
                return 1;
            }
            depth--;
        }
    }
    return 0;
}

/* Request `id` of ring `ring` is listed with state `state`. */
static void expect_request_state(dkm_host *h, const char *ring, const char *id, const char *state) {
    dkm_buffer json = {NULL, 0, 0};
    char want_id[100], want_state[100];
    CHECK_OK(dkm_host_requests(h, ring, &json));
    snprintf(want_id, sizeof want_id, "\"id\":\"%s\"", id);
    snprintf(want_state, sizeof want_state, "\"state\":\"%s\"", state);
    if (!json_object_has_both((const char *)json.ptr, json.len, 2, want_id, want_state)) {
        fprintf(stderr, "requests: %s\nwanted %s with %s\n", (const char *)json.ptr, want_id,
                want_state);
        CHECK(0, "the request's state");
    }
    dkm_buffer_free(&json);
}

static void test_elevated_access(void) {
    char spec_ops[400], spec_sec[400];
    const char *levels[2];
    dkm_change ch;
    dkm_buffer req = {NULL, 0, 0}, req_denied = {NULL, 0, 0}, req_revoked = {NULL, 0, 0};
    dkm_buffer grant = {NULL, 0, 0}, grant_json = {NULL, 0, 0}, grant2 = {NULL, 0, 0};
    dkm_buffer pt = {NULL, 0, 0}, json = {NULL, 0, 0}, s = {NULL, 0, 0};
    uint64_t since = T0;
    uint64_t version = 0;
    int32_t origin = 0, intact = -1;
    GROUP("elevated access: levels, request, approve, deny, grant, unseal, expiry, revoke, audit");
    /* Two levels, one approver each: set during bootstrap (applied), carried out by maintain. */
    snprintf(spec_ops, sizeof spec_ops, "ops:1:%s", (const char *)ops.text.ptr);
    snprintf(spec_sec, sizeof spec_sec, "security:1:%s", (const char *)sec.text.ptr);
    levels[0] = spec_ops;
    levels[1] = spec_sec;
    dkm_thread_set_time(T0 + 120);
    {
        const char *bad[1] = {"ops:x:nope"};
        const char *utf[1] = {"ops\xff:1:x"};
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_set_approval_levels(main_host, "main", admin.id, bad, 1, &ch));
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_set_approval_levels(main_host, "main", admin.id, utf, 1, &ch));
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_set_approval_levels(main_host, "main", admin.id, NULL, 2, &ch));
        CHECK_STATUS(DKM_NOT_A_MEMBER,
                     dkm_host_set_approval_levels(main_host, "main", ops.id, levels, 2, &ch));
    }
    CHECK_OK(dkm_host_set_approval_levels(main_host, "main", admin.id, levels, 2, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.pending == 1, "levels applied, pending");
    /* A change pending until a key holder carries it out. */
    CHECK_OK(dkm_host_ring_info(main_host, "main", &json));
    CHECK(check_contains(json.ptr, json.len, "\"pending\":true"), "info: levels pending");
    CHECK(check_contains(json.ptr, json.len, "\"name\":\"ops\",\"quorum\":1") &&
              check_contains(json.ptr, json.len, "\"name\":\"security\",\"quorum\":1"),
          "info: the levels");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, &s));
    CHECK(check_contains(s.ptr, s.len, "\"action\":\"governance-applied\""), "carried out");
    dkm_buffer_free(&s);
    CHECK_OK(dkm_host_ring_info(main_host, "main", &json));
    CHECK(check_contains(json.ptr, json.len, "\"pending\":false"), "info: nothing pending");
    dkm_buffer_free(&json);

    /* After the approvers' cool-off. */
    dkm_thread_set_time(T1);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_request_access(main_host, "main", svc.id, "a key holder",
                                                            HOUR, NULL, NULL, 0, &req));
    CHECK_BUF_EMPTY(req);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_request_access(main_host, "main", eng.id, "too long",
                                                            30 * DAY, NULL, NULL, 0, &req));
    {
        uint32_t epochs[1] = {1};
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_request_access(main_host, "main", eng.id, "both scopes", HOUR, &since,
                                             epochs, 1, &req));
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_request_access(main_host, "main", eng.id, "epochs NULL", HOUR, NULL,
                                             NULL, 2, &req));
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_request_access(main_host, "main", eng.id, "bad \xff utf-8", HOUR,
                                             NULL, NULL, 0, &req));
    }
    CHECK_OK(dkm_host_request_access(main_host, "main", eng.id, "debug", 4 * HOUR, &since, NULL, 0,
                                     &req));
    CHECK(check_is_hex((const char *)req.ptr, 64), "a request id is 64 hex digits");
    expect_request_state(main_host, "main", (const char *)req.ptr, "pending");
    /* Before approvals: no grant. Out of order: the second level first. */
    CHECK_STATUS(DKM_POLICY_UNSATISFIED,
                 dkm_host_grant(main_host, "main", (const char *)req.ptr, svc.id, &grant, &grant_json));
    CHECK_BUF_EMPTY(grant);
    CHECK_BUF_EMPTY(grant_json);
    CHECK_STATUS(DKM_POLICY_UNSATISFIED,
                 dkm_host_approve(main_host, "main", (const char *)req.ptr, "security", sec.id));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_approve(main_host, "main", (const char *)req.ptr, "nope", ops.id));
    CHECK_OK(dkm_host_approve(main_host, "main", (const char *)req.ptr, "ops", ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_approve(main_host, "main", (const char *)req.ptr, "ops", ops.id));
    CHECK_OK(dkm_host_approve(main_host, "main", (const char *)req.ptr, "security", sec.id));
    expect_request_state(main_host, "main", (const char *)req.ptr, "approved");

    /* Another request, denied: one denial ends it. */
    CHECK_OK(dkm_host_request_access(main_host, "main", eng.id, "other", HOUR, NULL, NULL, 0,
                                     &req_denied));
    CHECK_OK(dkm_host_deny(main_host, "main", (const char *)req_denied.ptr, "ops", ops.id));
    expect_request_state(main_host, "main", (const char *)req_denied.ptr, "denied");
    CHECK_STATUS(DKM_POLICY_UNSATISFIED, dkm_host_grant(main_host, "main",
                                                        (const char *)req_denied.ptr, svc.id,
                                                        &grant, NULL));
    CHECK_STATUS(DKM_POLICY_UNSATISFIED,
                 dkm_host_approve(main_host, "main", (const char *)req_denied.ptr, "ops", ops.id));

    /* The grant, by a key holder only. */
    CHECK_STATUS(DKM_NOT_A_MEMBER,
                 dkm_host_grant(main_host, "main", (const char *)req.ptr, eng.id, &grant, NULL));
    CHECK_OK(dkm_host_grant(main_host, "main", (const char *)req.ptr, svc.id, &grant, &grant_json));
    CHECK(check_is_hex((const char *)grant.ptr, 32), "a grant id is 32 hex digits");
    CHECK(check_contains(grant_json.ptr, grant_json.len, (const char *)grant.ptr),
          "the grant JSON names its id");
    CHECK(check_contains(grant_json.ptr, grant_json.len, (const char *)req.ptr),
          "the grant JSON names its request");
    CHECK(check_contains(grant_json.ptr, grant_json.len, (const char *)eng.hex.ptr),
          "the grant JSON names its requester");
    expect_request_state(main_host, "main", (const char *)req.ptr, "granted");

    /* Elevated unseal: the plaintext and its origin; written to the audit chain. */
    CHECK_OK(dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant.ptr, kept.ptr,
                                        kept.len, u8("c"), 1, DKM_REFUSE_SEAL_ONLY, &pt, &origin));
    CHECK_BUF_STR(pt, "kept");
    CHECK(origin == DKM_ORIGIN_KEY_HOLDER, "elevated unseal: origin key holder");
    dkm_buffer_free(&pt);
    CHECK_STATUS(DKM_TAMPERED,
                 dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant.ptr,
                                            kept.ptr, kept.len, u8("d"), 1, DKM_REFUSE_SEAL_ONLY,
                                            &pt, NULL));
    CHECK_STATUS(DKM_NOT_A_MEMBER,
                 dkm_host_unseal_with_grant(main_host, "main", ops.id, (const char *)grant.ptr,
                                            kept.ptr, kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY,
                                            &pt, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(main_host, "main", eng.id, "not-hex", kept.ptr,
                                            kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant.ptr,
                                            kept.ptr, kept.len, u8("c"), 1, 9, &pt, NULL));
    CHECK_BUF_EMPTY(pt);
    CHECK_OK(dkm_host_audit_records(main_host, "main", &json));
    CHECK(json.len > 2 && json.ptr[0] == '[', "audit records: a JSON array");
    CHECK(check_contains(json.ptr, json.len, "\"action\":\"grant-unseal\""),
          "the elevated unseal is in the audit chain");
    CHECK(check_contains(json.ptr, json.len, "\"action\":\"grant-issued\""), "and the grant");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_audit_verify(main_host, "main", &intact, &json));
    CHECK(intact == 1, "audit chain intact");
    CHECK(check_contains(json.ptr, json.len, "\"verified\":true"), "report: verified");
    CHECK(check_contains(json.ptr, json.len, "\"problem\":null"), "report: no problem");
    dkm_buffer_free(&json);
    intact = -1;
    CHECK_OK(dkm_host_audit_verify(main_host, "main", &intact, NULL));
    CHECK(intact == 1, "audit chain intact (no report)");

    /* After the grant's 4 h window: GRANT_EXPIRED. */
    dkm_thread_set_time(T1 + 5 * HOUR);
    CHECK_STATUS(DKM_GRANT_EXPIRED,
                 dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant.ptr,
                                            kept.ptr, kept.len, u8("c"), 1, DKM_REFUSE_SEAL_ONLY,
                                            &pt, &origin));
    CHECK_BUF_EMPTY(pt);

    /* A grant revoked by the admin: GRANT_EXPIRED at once. */
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));
    CHECK_OK(dkm_host_request_access(main_host, "main", eng.id, "again", HOUR, &since, NULL, 0,
                                     &req_revoked));
    CHECK_OK(dkm_host_approve(main_host, "main", (const char *)req_revoked.ptr, "ops", ops.id));
    CHECK_OK(dkm_host_approve(main_host, "main", (const char *)req_revoked.ptr, "security", sec.id));
    CHECK_OK(dkm_host_grant(main_host, "main", (const char *)req_revoked.ptr, svc.id, &grant2, NULL));
    CHECK_OK(dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant2.ptr,
                                        kept.ptr, kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY, &pt,
                                        NULL));
    CHECK_BUF_STR(pt, "kept");
    dkm_buffer_free(&pt);
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_revoke_grant(main_host, "main", eng.id,
                                                         (const char *)grant2.ptr, &ch));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_revoke_grant(main_host, "main", admin.id, "zz", &ch));
    CHECK_OK(dkm_host_revoke_grant(main_host, "main", admin.id, (const char *)grant2.ptr, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED, "revoking a grant needs no quorum");
    CHECK_STATUS(DKM_GRANT_EXPIRED,
                 dkm_host_unseal_with_grant(main_host, "main", eng.id, (const char *)grant2.ptr,
                                            kept.ptr, kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY,
                                            &pt, NULL));
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));

    /* A change that needs the quorum: requested, then applied after approvals. */
    memset(&ch, 0xAB, sizeof ch);
    CHECK_OK(dkm_host_add_member(main_host, "main", admin.id, DKM_ROLE_SERVICE, svc2.pub, &ch));
    CHECK(ch.outcome == DKM_CHANGE_REQUESTED, "adding a key holder is requested");
    CHECK(check_is_hex(ch.request, 64), "the change request's id");
    CHECK(ch.version == 0 && ch.pending == 0, "a request carries no version");
    expect_request_state(main_host, "main", ch.request, "pending");
    CHECK_STATUS(DKM_POLICY_UNSATISFIED, dkm_host_apply(main_host, "main", ch.request, admin.id,
                                                        &version));
    CHECK(version == 0, "version untouched by a failed apply");
    CHECK_OK(dkm_host_approve(main_host, "main", ch.request, "ops", ops.id));
    CHECK_OK(dkm_host_approve(main_host, "main", ch.request, "security", sec.id));
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_apply(main_host, "main", ch.request, ops.id, &version));
    CHECK_OK(dkm_host_apply(main_host, "main", ch.request, admin.id, &version));
    CHECK(version > 5, "the governance version applied");
    expect_request_state(main_host, "main", ch.request, "applied");
    CHECK_OK(dkm_host_ring_info(main_host, "main", &json));
    {
        char want[80];
        snprintf(want, sizeof want, "\"governance_version\":%llu", (unsigned long long)version);
        CHECK(check_contains(json.ptr, json.len, want), "info: the applied version");
    }
    CHECK(check_contains(json.ptr, json.len, (const char *)svc2.hex.ptr), "info: the new key holder");
    dkm_buffer_free(&json);
    /* Applied once only. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_apply(main_host, "main", ch.request, admin.id, NULL));
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));
    /* The new key holder opens what the first sealed. */
    expect_unseal(main_host, "main", &svc2, &kept, "c", DKM_REFUSE_SEAL_ONLY, "kept",
                  DKM_ORIGIN_KEY_HOLDER);
    /* Removing a key holder needs no quorum. */
    CHECK_OK(dkm_host_remove_member(main_host, "main", admin.id, svc2.pub, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED, "removing a key holder is applied");
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));

    /* Unknown rings and requests. */
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_approve(main_host, "nope", (const char *)req.ptr, "ops", ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_apply(main_host, "main",
                                "0707070707070707070707070707070707070707070707070707070707070707",
                                admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_apply(main_host, "main", "07", admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_deny(main_host, "main", "xyz", "ops", ops.id));

    CHECK_OK(dkm_host_audit_verify(main_host, "main", &intact, NULL));
    CHECK(intact == 1, "audit chain intact after the story");

    dkm_buffer_free(&req);
    dkm_buffer_free(&req_denied);
    dkm_buffer_free(&req_revoked);
    dkm_buffer_free(&grant);
    dkm_buffer_free(&grant2);
    dkm_buffer_free(&grant_json);
    GROUP_END();
}

/* ---- revocation, shredding, another ring's secrets, OUT_OF_RANGE ---- */

static void test_revoke_shred(void) {
    dkm_store *store = NULL;
    dkm_host *h;
    dkm_buffer s0 = {NULL, 0, 0}, s4 = {NULL, 0, 0}, s5 = {NULL, 0, 0}, events = {NULL, 0, 0}, json = {NULL, 0, 0};
    dkm_change ch;
    dkm_policy fast;
    GROUP("KEY_DESTROYED, KEY_REVOKED, UNKNOWN_KEY, OUT_OF_RANGE");
    CHECK_OK(dkm_store_file_new(tpath("store-boot"), &store));
    h = new_host(store, tpath("pins-boot"));
    /* A bootstrap ring (no approval levels): the admin alone revokes and shreds. */
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "boot", admin.id, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "boot", admin.id, DKM_ROLE_SERVICE, svc.pub, NULL));
    /* Never maintained: dkm_host_seal runs maintain itself (the first epoch appears). */
    CHECK_OK(dkm_host_keys(h, "boot", &json));
    CHECK(check_contains(json.ptr, json.len, "\"current\":null"), "no keys yet");
    dkm_buffer_free(&json);
    seal_text(h, "boot", &svc, "day 0", "", &s0);
    CHECK_OK(dkm_host_keys(h, "boot", &json));
    CHECK(check_contains(json.ptr, json.len, "\"current\":{\"epoch\":1,\"interval\":0}"),
          "seal maintained the ring first");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_maintain(h, "boot", svc.id, &events));
    CHECK_BUF_STR(events, "[]");
    dkm_buffer_free(&events);
    dkm_thread_set_time(T0 + 4 * DAY);
    CHECK_OK(dkm_host_maintain(h, "boot", svc.id, NULL));
    seal_text(h, "boot", &svc, "day 4", "", &s4);

    /* Another ring's secret: no key of this ring opens it. */
    expect_unseal_fails(h, "boot", &svc, kept.ptr, kept.len, "c", DKM_UNKNOWN_KEY);

    /* Shred: a future cutoff refused; a past one destroys the intervals before it. */
    dkm_thread_set_time(T0 + 5 * DAY);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_shred_before(h, "boot", admin.id, T0 + 6 * DAY, &ch));
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_shred_before(h, "boot", svc.id, T0 + 2 * DAY, &ch));
    CHECK_OK(dkm_host_shred_before(h, "boot", admin.id, T0 + 2 * DAY, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.pending == 1, "shred applied, pending");
    CHECK_OK(dkm_host_maintain(h, "boot", svc.id, &events));
    CHECK(check_contains(events.ptr, events.len, "\"action\":\"epoch-shredded\""), "shredded");
    dkm_buffer_free(&events);
    expect_unseal_fails(h, "boot", &svc, s0.ptr, s0.len, "", DKM_KEY_DESTROYED);
    expect_unseal(h, "boot", &svc, &s4, "", DKM_REFUSE_SEAL_ONLY, "day 4", DKM_ORIGIN_KEY_HOLDER);

    /* Roll to epoch 2, revoke epoch 1: its secrets are refused. */
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_roll_epoch(h, "boot", admin.id, &events));
    CHECK_BUF_EMPTY(events);
    CHECK_OK(dkm_host_roll_epoch(h, "boot", svc.id, &events));
    CHECK(check_contains(events.ptr, events.len, "\"action\":\"epoch-created\""), "epoch 2");
    dkm_buffer_free(&events);
    CHECK_OK(dkm_host_roll_epoch(h, "boot", svc.id, NULL)); /* epoch 3; events not wanted */
    seal_text(h, "boot", &svc, "day 5", "", &s5);
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_revoke_epoch(h, "boot", svc.id, 1, &ch));
    /* Epoch numbers are 1 to 2^31: 0 and 2^31 + 1 are arguments out of range. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_revoke_epoch(h, "boot", admin.id, 0, &ch));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_revoke_epoch(h, "boot", admin.id, UINT32_C(2147483649), &ch));
    CHECK(ch.outcome == 0, "change cleared after a failure");
    CHECK_OK(dkm_host_revoke_epoch(h, "boot", admin.id, 1, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.pending == 1, "revoke applied, pending");
    expect_unseal_fails(h, "boot", &svc, s4.ptr, s4.len, "", DKM_KEY_REVOKED);
    CHECK_OK(dkm_host_maintain(h, "boot", svc.id, &events));
    CHECK(check_contains(events.ptr, events.len, "\"action\":\"epoch-revoked\""), "revoked");
    dkm_buffer_free(&events);
    expect_unseal_fails(h, "boot", &svc, s4.ptr, s4.len, "", DKM_KEY_REVOKED);
    expect_unseal(h, "boot", &svc, &s5, "", DKM_REFUSE_SEAL_ONLY, "day 5", DKM_ORIGIN_KEY_HOLDER);
    CHECK_OK(dkm_host_keys(h, "boot", &json));
    CHECK(json_object_has_both((const char *)json.ptr, json.len, 3, "\"epoch\":1,",
                               "\"state\":\"revoked\""),
          "keys: epoch 1 revoked");
    CHECK(json_object_has_both((const char *)json.ptr, json.len, 3, "\"epoch\":3,",
                               "\"state\":\"live\""),
          "keys: epoch 3 live");
    dkm_buffer_free(&json);
    /* The last key holder cannot be removed. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_remove_member(h, "boot", admin.id, svc.pub, &ch));

    /* OUT_OF_RANGE: with 1-second intervals an epoch lasts 65536 s; a key holder whose clock
     * is more than that behind the admin's shredding cutoff would create an epoch that is
     * shredded whole. */
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_policy_default(&fast));
    fast.interval_secs = 1;
    fast.freshness_intervals = 64;
    CHECK_OK(dkm_host_create_ring(h, "fast", admin.id, &fast, NULL));
    CHECK_OK(dkm_host_add_member(h, "fast", admin.id, DKM_ROLE_SERVICE, svc.pub, NULL));
    dkm_thread_set_time(T0 + 100000);
    CHECK_OK(dkm_host_shred_before(h, "fast", admin.id, T0 + 99999, NULL));
    dkm_thread_set_time(T0);
    CHECK_STATUS(DKM_OUT_OF_RANGE, dkm_host_maintain(h, "fast", svc.id, &events));
    CHECK_BUF_EMPTY(events);
    dkm_thread_set_time(T0 + 100000);
    CHECK_OK(dkm_host_maintain(h, "fast", svc.id, NULL));

    dkm_buffer_free(&s0);
    dkm_buffer_free(&s4);
    dkm_buffer_free(&s5);
    dkm_host_free(h);
    dkm_store_free(store);
    GROUP_END();
}

/* ---- seal-only ---- */

static void test_seal_only(void) {
    dkm_buffer pub = {NULL, 0, 0}, sealed = {NULL, 0, 0}, armored = {NULL, 0, 0}, json = {NULL, 0, 0};
    dkm_ring_public *rp = NULL, *rp_pinned = NULL, *x;
    dkm_host *browser;
    dkm_store *elsewhere;
    char pin_path[600];
    char *pin_text;
    size_t pin_len;
    GROUP("seal-only: export_public, ring_public_new, seal_to_public, origin, refusal");
    dkm_thread_set_time(T1 + 6 * HOUR);
    CHECK_OK(dkm_host_maintain(main_host, "main", svc.id, NULL));
    CHECK_OK(dkm_host_export_public(main_host, "main", &pub));
    CHECK(pub.len > 0, "a public part");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_public(main_host, "nope", &json));
    CHECK_BUF_EMPTY(json);
    /* Loaded through the pin it carries, and through the pin file of the main host's book. */
    CHECK_OK(dkm_ring_public_new(pub.ptr, pub.len, NULL, 0, &rp));
    CHECK_OK(dkm_host_keys(main_host, "main", &json));
    {
        /* The pin book's file: <pin dir>/<ring id>.pin (the key listing names the ring id). */
        const char *at = strstr((const char *)json.ptr, "\"ring\":\"");
        CHECK(at != NULL, "keys name the ring id");
        snprintf(pin_path, sizeof pin_path, "%s/%.32s.pin", main_pins, at + 8);
    }
    dkm_buffer_free(&json);
    pin_text = read_file(pin_path, &pin_len);
    CHECK_OK(dkm_ring_public_new(pub.ptr, pub.len, u8(pin_text), pin_len, &rp_pinned));
    /* Through another ring's pin: TAMPERED. */
    {
        char *other = (char *)malloc(pin_len + 1);
        CHECK(other != NULL, "memory");
        memcpy(other, pin_text, pin_len + 1);
        /* A pin is a format byte then the ring id: change the id's first hex digit. */
        other[2] = other[2] == '0' ? '1' : '0';
        x = (dkm_ring_public *)(void *)&x;
        CHECK_STATUS(DKM_TAMPERED, dkm_ring_public_new(pub.ptr, pub.len, u8(other), pin_len, &x));
        CHECK(x == NULL, "out-parameter NULL after a failure");
        free(other);
    }
    free(pin_text);
    x = (dkm_ring_public *)(void *)&x;
    CHECK_STATUS(DKM_MALFORMED, dkm_ring_public_new(pub.ptr, pub.len - 1, NULL, 0, &x));
    CHECK(x == NULL, "out-parameter NULL after a failure");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_ring_public_new(pub.ptr, 0, NULL, 0, &x));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_ring_public_new(NULL, 9, NULL, 0, &x));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_ring_public_new(pub.ptr, pub.len, NULL, 9, &x));
    /* A pin given but empty (a truncated pin file) is refused, never taken as "no pin". */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_ring_public_new(pub.ptr, pub.len, u8(""), 0, &x));
    CHECK(x == NULL, "no public part from an empty pin");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_ring_public_new(pub.ptr, pub.len, NULL, 0, NULL));

    /* A browser: a host on its own (empty) store, sealing to the public part. */
    CHECK_OK(dkm_store_memory_new(&elsewhere));
    browser = new_host(elsewhere, NULL);
    CHECK_OK(dkm_host_seal_to_public(browser, rp, u8("browser pw"), 10, u8("acct:1"), 6, 0,
                                     &sealed));
    CHECK(sealed.len > 0 && sealed.ptr[0] == 1, "binary sealed secret");
    CHECK_OK(dkm_host_seal_to_public(browser, rp_pinned, u8("armored pw"), 10, NULL, 0, 1,
                                     &armored));
    CHECK(armored.len > 5 && memcmp(armored.ptr, "dkm1:", 5) == 0, "armored");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal_to_public(browser, rp, u8("x"), 1, NULL, 0, 2,
                                                            &json));
    CHECK_BUF_EMPTY(json);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal_to_public(browser, NULL, u8("x"), 1, NULL, 0, 0,
                                                            &json));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal_to_public(browser, rp, NULL, 1, NULL, 0, 0,
                                                            &json));
    /* Opened by the key holder: origin SEAL_ONLY; refused when asked. */
    expect_unseal(main_host, "main", &svc, &sealed, "acct:1", DKM_ACCEPT_SEAL_ONLY, "browser pw",
                  DKM_ORIGIN_SEAL_ONLY);
    expect_unseal(main_host, "main", &svc, &armored, "", DKM_ACCEPT_SEAL_ONLY, "armored pw",
                  DKM_ORIGIN_SEAL_ONLY);
    {
        dkm_buffer out = {NULL, 0, 0};
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_unseal(main_host, "main", svc.id, sealed.ptr, sealed.len, u8("acct:1"),
                                     6, DKM_REFUSE_SEAL_ONLY, &out, NULL));
        CHECK(strstr(dkm_last_error_message(), "seal-only") != NULL, "the message says seal-only");
        CHECK_BUF_EMPTY(out);
        CHECK_STATUS(DKM_TAMPERED,
                     dkm_host_unseal(main_host, "main", svc.id, sealed.ptr, sealed.len, u8("acct:2"),
                                     6, DKM_ACCEPT_SEAL_ONLY, &out, NULL));
    }
    /* Long after the last maintain (no published key covers the time, the ring is stale):
     * STALE. */
    dkm_thread_set_time(T1 + 30 * DAY);
    CHECK_STATUS(DKM_STALE, dkm_host_seal_to_public(browser, rp, u8("x"), 1, NULL, 0, 0, &json));
    CHECK_BUF_EMPTY(json);

    dkm_buffer_free(&pub);
    dkm_buffer_free(&sealed);
    dkm_buffer_free(&armored);
    dkm_ring_public_free(rp);
    dkm_ring_public_free(rp_pinned);
    dkm_host_free(browser);
    dkm_store_free(elsewhere);
    GROUP_END();
}

/* ---- snapshots and rename ---- */

static void test_snapshots_and_rename(void) {
    dkm_buffer snap = {NULL, 0, 0}, back = {NULL, 0, 0}, name = {NULL, 0, 0}, json = {NULL, 0, 0};
    dkm_store *file_store = NULL, *mem2 = NULL;
    dkm_host *fh, *mh;
    dkm_change ch;
    uint8_t *bad;
    GROUP("snapshots between a file store and a memory store; rename");
    dkm_thread_set_time(T1 + 6 * HOUR);
    CHECK_OK(dkm_host_export_snapshot(main_host, "main", &snap));
    CHECK(snap.len > 100, "a snapshot");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_snapshot(main_host, "nope", &back));
    CHECK_BUF_EMPTY(back);
    /* Memory -> file (a fresh pin book): the same ring, the same secrets. */
    CHECK_OK(dkm_store_file_new(tpath("store-file"), &file_store));
    fh = new_host(file_store, tpath("pins-file"));
    dkm_store_free(file_store); /* the host keeps it alive */
    /* Tampered or truncated snapshots are refused, and nothing is written. */
    bad = (uint8_t *)malloc(snap.len + 1);
    CHECK(bad != NULL, "memory");
    memcpy(bad, snap.ptr, snap.len);
    CHECK_STATUS(DKM_MALFORMED, dkm_host_import_snapshot(fh, bad, snap.len - 1, &name));
    CHECK_BUF_EMPTY(name);
    bad[snap.len] = 0;
    CHECK_STATUS(DKM_MALFORMED, dkm_host_import_snapshot(fh, bad, snap.len + 1, &name));
    bad[snap.len / 3] ^= 1;
    CHECK_STATUS(DKM_TAMPERED, dkm_host_import_snapshot(fh, bad, snap.len, &name));
    free(bad);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_import_snapshot(fh, NULL, 4, &name));
    CHECK_STATUS(DKM_MALFORMED, dkm_host_import_snapshot(fh, NULL, 0, &name));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(fh, "main", &json));
    CHECK_OK(dkm_host_import_snapshot(fh, snap.ptr, snap.len, &name));
    CHECK_BUF_STR(name, "main");
    dkm_buffer_free(&name);
    CHECK(file_exists(tpath("store-file/main")), "the ring is in the file store");
    expect_unseal(fh, "main", &svc, &kept, "c", DKM_REFUSE_SEAL_ONLY, "kept", DKM_ORIGIN_KEY_HOLDER);
    CHECK_OK(dkm_host_export_snapshot(fh, "main", &back));
    CHECK_BUF_EQ(back, snap.ptr, snap.len);
    /* The name is taken now. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_import_snapshot(fh, snap.ptr, snap.len, &name));
    CHECK_BUF_EMPTY(name);
    /* File -> a second memory store (memory pins). */
    CHECK_OK(dkm_store_memory_new(&mem2));
    mh = new_host(mem2, NULL);
    CHECK_OK(dkm_host_import_snapshot(mh, back.ptr, back.len, &name));
    CHECK_BUF_STR(name, "main");
    dkm_buffer_free(&name);
    expect_unseal(mh, "main", &svc, &kept, "c", DKM_ACCEPT_SEAL_ONLY, "kept", DKM_ORIGIN_KEY_HOLDER);
    {
        dkm_buffer a = {NULL, 0, 0}, b = {NULL, 0, 0};
        CHECK_OK(dkm_host_requests(mh, "main", &a));
        CHECK_OK(dkm_host_requests(main_host, "main", &b));
        CHECK_BUF_EQ(a, b.ptr, b.len);
        dkm_buffer_free(&a);
        dkm_buffer_free(&b);
    }
    /* A newer ring on the file host, then the older snapshot again: ROLLBACK. */
    CHECK_OK(dkm_host_roll_epoch(fh, "main", svc.id, NULL));
    CHECK_OK(dkm_host_rename_ring(fh, "main", admin.id, "moved", &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED, "rename applied");
    CHECK_STATUS(DKM_ROLLBACK, dkm_host_import_snapshot(fh, snap.ptr, snap.len, &name));
    CHECK_BUF_EMPTY(name);

    /* Rename: to a free, valid name only; the old name is gone. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(fh, "main", &json));
    CHECK_OK(dkm_host_ring_info(fh, "moved", &json));
    CHECK(check_contains(json.ptr, json.len, "\"name\":\"moved\""), "renamed");
    dkm_buffer_free(&json);
    CHECK(!file_exists(tpath("store-file/main")) && file_exists(tpath("store-file/moved")),
          "the ring moved in the file store");
    CHECK_OK(dkm_host_create_ring(mh, "taken", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(mh, "main", admin.id, "taken", &ch));
    CHECK(ch.outcome == 0, "change cleared after a failure");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(mh, "main", admin.id, ".x", &ch));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(mh, "main", admin.id, "main", &ch));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(mh, "main", admin.id, "\xff", &ch));
    CHECK_STATUS(DKM_NOT_A_MEMBER, dkm_host_rename_ring(mh, "main", svc.id, "other", &ch));
    CHECK_OK(dkm_host_rename_ring(mh, "main", admin.id, "main2", NULL));
    expect_unseal(mh, "main2", &svc, &kept, "c", DKM_ACCEPT_SEAL_ONLY, "kept",
                  DKM_ORIGIN_KEY_HOLDER);
    {
        int32_t intact = -1;
        CHECK_OK(dkm_host_audit_verify(mh, "main2", &intact, NULL));
        CHECK(intact == 1, "intact after the rename");
    }

    dkm_buffer_free(&snap);
    dkm_buffer_free(&back);
    dkm_host_free(fh);
    dkm_host_free(mh);
    dkm_store_free(mem2);
    GROUP_END();
}

/* ---- callback stores: CONFLICT, STORE_UNAVAILABLE, ROLLBACK, a broken audit chain ---- */

static void test_store_faults(void) {
    int freed = 0;
    mapstore *m = mapstore_new(&freed);
    dkm_store *store = NULL;
    dkm_host *h;
    dkm_buffer json = {NULL, 0, 0}, s = {NULL, 0, 0};
    uint8_t *old = NULL;
    size_t old_len = 0;
    char old_token[32];
    uint64_t calls;
    int32_t intact = -1;
    GROUP("callback store faults: CONFLICT, STORE_UNAVAILABLE, ROLLBACK, broken audit chain");
    CHECK_OK(dkm_store_callbacks_new(&mapstore_vtable, m, "test-map", &store));
    h = new_host(store, NULL);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "r", admin.id, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "r", admin.id, DKM_ROLE_SERVICE, svc.pub, NULL));

    /* Every commit a conflict: the host retries, then gives DKM_CONFLICT. */
    mapstore_set_commit_status(m, DKM_CONFLICT);
    calls = mapstore_commit_calls(m);
    CHECK_STATUS(DKM_CONFLICT, dkm_host_maintain(h, "r", svc.id, NULL));
    CHECK(mapstore_commit_calls(m) - calls >= 2, "the host retried the commit");
    CHECK(mapstore_commits_applied(m) == 2, "nothing written");
    /* A commit failing with another code: STORE_UNAVAILABLE, no retries. */
    mapstore_set_commit_status(m, 99);
    calls = mapstore_commit_calls(m);
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_maintain(h, "r", svc.id, NULL));
    CHECK(mapstore_commit_calls(m) - calls == 1, "a failure is not retried");
    mapstore_set_commit_status(m, DKM_OK);
    CHECK_OK(dkm_host_maintain(h, "r", svc.id, NULL));

    /* A `ring` callback that fails: STORE_UNAVAILABLE, with the callback named. */
    mapstore_set_ring_status(m, DKM_STORE_UNAVAILABLE);
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_ring_info(h, "r", &json));
    CHECK(strstr(dkm_last_error_message(), "ring") != NULL, "the message names the callback");
    CHECK_BUF_EMPTY(json);
    mapstore_set_ring_status(m, DKM_TAMPERED); /* any other code: also unavailable */
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_seal(h, "r", svc.id, u8("x"), 1, NULL, 0, &s));
    /* CONFLICT means a conflict only from `commit`: from a read it is a failure, not retried. */
    mapstore_set_ring_status(m, DKM_CONFLICT);
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_maintain(h, "r", svc.id, NULL));
    mapstore_set_ring_status(m, DKM_OK);

    /* ROLLBACK: the host pinned a newer ring; the store serves an older one. */
    CHECK(mapstore_copy_ring(m, "r", &old, &old_len, old_token), "the ring as it is now");
    CHECK_OK(dkm_host_roll_epoch(h, "r", svc.id, NULL));
    seal_text(h, "r", &svc, "newer", "", &s);
    {
        uint8_t *cur = NULL;
        size_t cur_len = 0;
        char cur_token[32];
        CHECK(mapstore_copy_ring(m, "r", &cur, &cur_len, cur_token), "the newest ring");
        mapstore_force_ring(m, "r", old, old_len, old_token);
        CHECK_STATUS(DKM_ROLLBACK, dkm_host_ring_info(h, "r", &json));
        CHECK_BUF_EMPTY(json);
        CHECK_STATUS(DKM_ROLLBACK, dkm_host_unseal(h, "r", svc.id, s.ptr, s.len, NULL, 0,
                                                   DKM_REFUSE_SEAL_ONLY, &json, NULL));
        /* A host that never saw the newer ring trusts the old one on first use. */
        {
            dkm_host *fresh = new_host(store, NULL);
            CHECK_OK(dkm_host_ring_info(fresh, "r", &json));
            dkm_buffer_free(&json);
            dkm_host_free(fresh);
        }
        mapstore_force_ring(m, "r", cur, cur_len, cur_token);
        free(cur);
    }
    expect_unseal(h, "r", &svc, &s, "", DKM_REFUSE_SEAL_ONLY, "newer", DKM_ORIGIN_KEY_HOLDER);
    free(old);
    dkm_buffer_free(&s);

    /* An audit line edited in the store: the chain does not verify (a result, not an error). */
    CHECK_OK(dkm_host_audit_verify(h, "r", &intact, NULL));
    CHECK(intact == 1, "intact before");
    {
        /* The last record's time changed (its signature no longer holds). */
        ms_entry *e;
        char want[64];
        size_t last;
        pthread_mutex_lock(&m->mu);
        e = ms_find(m, "r");
        CHECK(e != NULL && e->audit.n > 2, "audit lines");
        last = e->audit.n - 1;
        {
            ms_line *l = &e->audit.v[last];
            char *at = strstr((char *)l->bytes, "\"time\":");
            CHECK(at != NULL, "a time field");
            at[7] = at[7] == '1' ? '2' : '1';
        }
        pthread_mutex_unlock(&m->mu);
        CHECK_OK(dkm_host_audit_verify(h, "r", &intact, &json));
        CHECK(intact == 0, "a broken chain is reported");
        CHECK(check_contains(json.ptr, json.len, "\"verified\":false"), "report: not verified");
        snprintf(want, sizeof want, "\"index\":%lu", (unsigned long)last);
        CHECK(check_contains(json.ptr, json.len, want), "report: the last record");
        dkm_buffer_free(&json);
    }
    /* A writer checks the chain from its anchor before appending: refused. */
    CHECK_STATUS(DKM_TAMPERED, dkm_host_roll_epoch(h, "r", svc.id, NULL));

    dkm_host_free(h);
    CHECK(freed == 0, "the store handle still holds the map");
    dkm_store_free(store);
    CHECK(freed == 1, "free_user once, when the last handle is freed");
    GROUP_END();
}

static void test_too_large(void) {
    char specs[9][400];
    const char *ptrs[9];
    int i;
    dkm_change ch;
    GROUP("TOO_LARGE: more approval levels than a policy holds");
    dkm_thread_set_time(T1 + 6 * HOUR);
    for (i = 0; i < 9; i++) {
        snprintf(specs[i], sizeof specs[i], "l%d:1:%s", i, (const char *)ops.text.ptr);
        ptrs[i] = specs[i];
    }
    CHECK_STATUS(DKM_TOO_LARGE,
                 dkm_host_set_approval_levels(main_host, "main", admin.id, ptrs, 9, &ch));
    CHECK(ch.outcome == 0, "change cleared after a failure");
    GROUP_END();
}

/* ---- NULL pointers: every family refuses them with INVALID_INPUT ---- */

static void test_null_pointers(void) {
    dkm_host *h = main_host;
    dkm_buffer b = {NULL, 0, 0};
    dkm_identity *id = NULL;
    dkm_public_identity *p = NULL;
    dkm_store *st = NULL;
    dkm_host *hh = NULL;
    dkm_host_options *o = NULL;
    int32_t intact;
    uint64_t since = T0;
    const char *req = "0707070707070707070707070707070707070707070707070707070707070707";
    GROUP("NULL required pointers: INVALID_INPUT, never a crash");
    /* identities */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_generate(NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_from_text(u8("x"), 1, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file(NULL, &id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file("\xff\xfe", &id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file(tpath("me.id"), NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_write_file(NULL, tpath("n.id"), "n"));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_write_file(admin.id, NULL, "n"));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_write_file(admin.id, tpath("n.id"), NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_write_file(admin.id, tpath("n.id"), "\xff"));
    CHECK(!file_exists(tpath("n.id")), "nothing written");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_to_text(NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_to_text(admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_public(NULL, &p));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_public(admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_id(NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_id(admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_from_text(NULL, &p));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_public_identity_from_text((const char *)admin.text.ptr, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_to_text(NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_to_text(admin.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_id(NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_id(admin.pub, NULL));
    /* options and host */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_new(NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_pin_dir(NULL, "/tmp"));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_memory_pins(NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_fixed_clock(NULL, T0));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_clock_callback(NULL, clock_cb, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_options_set_thread_clock(NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_new(NULL, NULL, &hh));
    CHECK(hh == NULL, "no host");
    CHECK_OK(dkm_store_memory_new(&st));
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_new(st, o, NULL));
    dkm_host_options_free(o);
    dkm_store_free(st);
    /* governance verbs: host, ring, identity, member, level, request, grant */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(NULL, "n", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(h, NULL, admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(h, "n", NULL, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(NULL, "main", admin.id, DKM_ROLE_ADMIN, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(h, NULL, admin.id, DKM_ROLE_ADMIN, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(h, "main", NULL, DKM_ROLE_ADMIN, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_add_member(h, "main", admin.id, DKM_ROLE_ADMIN, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_remove_member(h, "main", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_remove_member(NULL, "main", admin.id, eng.pub, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_set_approval_levels(h, "main", NULL, NULL, 0, NULL));
    {
        const char *one_null[1] = {NULL};
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_set_approval_levels(h, "main", admin.id, one_null, 1, NULL));
    }
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_revoke_epoch(h, NULL, admin.id, 1, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_revoke_epoch(h, "main", NULL, 1, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_shred_before(h, "main", NULL, T0, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_shred_before(NULL, "main", admin.id, T0, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_revoke_grant(h, "main", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_revoke_grant(h, "main", NULL, "00", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(h, "main", admin.id, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(h, NULL, admin.id, "x", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_apply(h, "main", NULL, admin.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_apply(h, "main", req, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_maintain(h, "main", NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_maintain(NULL, "main", svc.id, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_roll_epoch(h, NULL, svc.id, NULL));
    /* seal / unseal */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal(NULL, "main", svc.id, u8("x"), 1, NULL, 0, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal(h, "main", NULL, u8("x"), 1, NULL, 0, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal(h, "main", svc.id, u8("x"), 1, NULL, 0, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal_armored(h, NULL, svc.id, u8("x"), 1, NULL, 0, &b));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal_armored(h, "main", svc.id, u8("x"), 1, NULL, 0, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(h, "main", svc.id, kept.ptr, kept.len, u8("c"),
                                                    1, DKM_ACCEPT_SEAL_ONLY, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(h, "main", NULL, kept.ptr, kept.len, u8("c"), 1,
                                                    DKM_ACCEPT_SEAL_ONLY, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(h, "main", eng.id, NULL, kept.ptr, kept.len, u8("c"), 1,
                                            DKM_ACCEPT_SEAL_ONLY, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(h, "main", NULL, "00", kept.ptr, kept.len, u8("c"), 1,
                                            DKM_ACCEPT_SEAL_ONLY, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(h, "main", eng.id, "00000000000000000000000000000000",
                                            NULL, 3, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(h, "main", eng.id, "00000000000000000000000000000000",
                                            kept.ptr, kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY,
                                            NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_public(NULL, "main", &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_public(h, NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_public(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal_to_public(NULL, NULL, u8("x"), 1, NULL, 0, 0, &b));
    /* views */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_keys(NULL, "main", &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_keys(h, NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_keys(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(h, NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_requests(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_requests(NULL, "main", &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_records(h, NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_records(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_verify(h, "main", NULL, &b));
    CHECK_BUF_EMPTY(b);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_verify(NULL, "main", &intact, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_verify(h, NULL, &intact, NULL));
    /* access */
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_request_access(h, "main", eng.id, NULL, HOUR, &since, NULL, 0, &b));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_request_access(h, "main", NULL, "r", HOUR, &since, NULL, 0, &b));
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_request_access(h, "main", eng.id, "r", HOUR, &since, NULL, 0, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_approve(h, "main", NULL, "ops", ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_approve(h, "main", req, NULL, ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_approve(h, "main", req, "ops", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_deny(h, "main", req, NULL, ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_deny(NULL, "main", req, "ops", ops.id));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_grant(h, "main", NULL, svc.id, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_grant(h, "main", req, NULL, &b, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_grant(h, "main", req, svc.id, NULL, NULL));
    /* snapshots */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_snapshot(NULL, "main", &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_snapshot(h, NULL, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_snapshot(h, "main", NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_import_snapshot(NULL, u8("x"), 1, &b));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_import_snapshot(h, u8("x"), 1, NULL));
    CHECK_BUF_EMPTY(b);
    GROUP_END();
}

/* ---- out-parameters after failures ---- */

static void test_out_params_cleared(void) {
    dkm_buffer b1, b2;
    dkm_identity *id;
    dkm_public_identity *p;
    dkm_host *hh;
    dkm_store *st;
    void *garbage = &b1;
    GROUP("out-parameters are NULL / {NULL, 0, 0} after a failed call");
#define GARBAGE_BUF(b) ((b).ptr = (uint8_t *)garbage, (b).len = 99)
    id = (dkm_identity *)garbage;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_read_file(tpath("missing.id"), &id, NULL));
    CHECK(id == NULL, "identity_read_file");
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_to_text(NULL, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_id(NULL, &b1));
    CHECK_BUF_EMPTY(b1);
    p = (dkm_public_identity *)garbage;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_public(NULL, &p));
    CHECK(p == NULL, "identity_public");
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_to_text(NULL, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_public_identity_id(NULL, &b1));
    CHECK_BUF_EMPTY(b1);
    hh = (dkm_host *)garbage;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_new(NULL, NULL, &hh));
    CHECK(hh == NULL, "host_new");
    st = (dkm_store *)garbage;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(NULL, NULL, "x", &st));
    CHECK(st == NULL, "store_callbacks_new");
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(main_host, "main", admin.id, NULL, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_maintain(main_host, "nope", svc.id, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_roll_epoch(main_host, "nope", svc.id, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_seal_armored(main_host, "nope", svc.id, u8("x"), 1, NULL, 0, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_unseal_with_grant(main_host, "nope", eng.id,
                                            "00000000000000000000000000000000", kept.ptr,
                                            kept.len, u8("c"), 1, DKM_ACCEPT_SEAL_ONLY, &b1, NULL));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(main_host, "nope", &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_requests(main_host, "nope", &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_records(main_host, "nope", &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    {
        int32_t intact = 5;
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_audit_verify(main_host, "nope", &intact, &b1));
        CHECK_BUF_EMPTY(b1);
    }
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_request_access(main_host, "nope", eng.id, "r", HOUR, NULL, NULL, 0, &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    GARBAGE_BUF(b2);
    CHECK_STATUS(DKM_INVALID_INPUT,
                 dkm_host_grant(main_host, "nope",
                                "0707070707070707070707070707070707070707070707070707070707070707",
                                svc.id, &b1, &b2));
    CHECK_BUF_EMPTY(b1);
    CHECK_BUF_EMPTY(b2);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_export_public(main_host, "nope", &b1));
    CHECK_BUF_EMPTY(b1);
    GARBAGE_BUF(b1);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal_to_public(main_host, NULL, u8("x"), 1, NULL, 0,
                                                            0, &b1));
    CHECK_BUF_EMPTY(b1);
#undef GARBAGE_BUF
    GROUP_END();
}

int main(void) {
    char tmpl[] = "/tmp/dkm-test-api-XXXXXX";
    CHECK(mkdtemp(tmpl) != NULL, "mkdtemp");
    snprintf(tmp_root, sizeof tmp_root, "%s", tmpl);
    dkm_thread_set_time(T0);

    test_version_and_names();
    test_last_error_and_free();
    test_policy_default();
    person_new(&admin);
    person_new(&svc);
    person_new(&svc2);
    person_new(&ops);
    person_new(&sec);
    person_new(&eng);
    test_identities();
    test_identity_errors();
    test_options_and_clocks();
    test_store_constructors();
    test_ring_basics();
    test_seal_unseal();
    test_elevated_access();
    test_revoke_shred();
    test_seal_only();
    test_snapshots_and_rename();
    test_store_faults();
    test_too_large();
    test_null_pointers();
    test_out_params_cleared();

    dkm_buffer_free(&kept);
    dkm_host_free(main_host);
    dkm_store_free(main_store);
    person_free(&admin);
    person_free(&svc);
    person_free(&svc2);
    person_free(&ops);
    person_free(&sec);
    person_free(&eng);
    rm_tree(tmp_root);
    printf("test_api: all checks passed\n");
    return 0;
}
