/*
 * test_store.c: a store given as a table of C callbacks over a small C hash map (mapstore.h:
 * ring bytes with a change token and two line streams per ring name, one pthread mutex, the
 * commit semantics of dkm_commit).
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -pedantic -I c-header/include test_store.c \
 *            target/debug/libdkm.a -lpthread -ldl -lm -o test_store
 * Run:   ./test_store
 *
 *  1. The map's commit, called directly: a create needs the name free, a write needs the
 *     current token, every stream its line count; on any mismatch nothing is written
 *     (DKM_CONFLICT); a move renames the ring and both streams, never onto a ring.
 *  2. The whole story through the callbacks: create ring, add a key holder and approvers,
 *     maintain, seal, unseal, approval levels, access request, approvals, grant, elevated
 *     unseal, audit verify intact, rename (checked in the map: the old name is gone).
 *  3. A commit that reports DKM_CONFLICT once: the host calls commit again and succeeds.
 *  4. Racing writers (4 threads rolling epochs and sealing) through the callbacks lose nothing.
 *  5. Replies the library refuses (a line or a token that is not UTF-8) fail the callback.
 *  6. Callbacks (store and clock) may call back into the library: it holds no lock then.
 *  7. free_user: called exactly once, when the last host and store handle are freed; never
 *     when dkm_store_callbacks_new fails (a vtable without `commit`).
 */
#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "mapstore.h"

#define HOUR 3600ULL
#define DAY 86400ULL
#define T0 1900000000ULL
#define T1 (T0 + DAY + HOUR) /* after the approvers' 24 h cool-off */

static dkm_identity *admin, *svc, *ops, *sec, *eng;
static dkm_public_identity *svc_pub, *ops_pub, *sec_pub;

static const uint8_t *u8(const char *s) {
    return (const uint8_t *)s;
}

static dkm_slice slice(const char *s) {
    dkm_slice v;
    v.ptr = (const uint8_t *)s;
    v.len = strlen(s);
    return v;
}

static dkm_host *host_on(const dkm_store *store) {
    dkm_host_options *o = NULL;
    dkm_host *h = NULL;
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_OK(dkm_host_options_set_memory_pins(o));
    CHECK_OK(dkm_host_options_set_thread_clock(o));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    return h;
}

/* A line of a stream, compared. */
static int line_is(mapstore *m, const char *name, int32_t stream, size_t i, const char *text) {
    int ok;
    ms_stream *s;
    pthread_mutex_lock(&m->mu);
    s = ms_stream_of(ms_find(m, name), stream);
    ok = s != NULL && i < s->n && s->v[i].len == strlen(text) &&
         memcmp(s->v[i].bytes, text, s->v[i].len) == 0;
    pthread_mutex_unlock(&m->mu);
    return ok;
}

static void test_commit_semantics(void) {
    mapstore *m = mapstore_new(NULL);
    dkm_commit c;
    dkm_commit_append a[2];
    dkm_slice lines[2];
    char token[32];
    uint8_t *bytes = NULL;
    size_t len = 0;
    GROUP("the map's commit: expectations checked, all or nothing, moves");
    /* A create: the name must hold no ring. */
    memset(&c, 0, sizeof c);
    c.writes_ring = 1;
    c.has_expected_token = 0;
    c.ring = slice("ring v1");
    lines[0] = slice("{\"a\":1}");
    a[0].stream = DKM_STREAM_AUDIT;
    a[0].expected_count = 0;
    a[0].lines = lines;
    a[0].lines_len = 1;
    c.appends = a;
    c.appends_len = 1;
    CHECK_OK(ms_commit(m, "x", &c));
    CHECK(mapstore_copy_ring(m, "x", &bytes, &len, token), "x holds a ring");
    CHECK(len == 7 && memcmp(bytes, "ring v1", 7) == 0 && strcmp(token, "t1") == 0, "v1, t1");
    free(bytes);
    CHECK(line_is(m, "x", DKM_STREAM_AUDIT, 0, "{\"a\":1}"), "the audit line");
    CHECK_STATUS(DKM_CONFLICT, ms_commit(m, "x", &c)); /* created twice */
    /* A write with a stale token, or a stale line count: nothing written. */
    c.has_expected_token = 1;
    c.expected_token = slice("t0");
    c.ring = slice("ring v2");
    a[0].expected_count = 1;
    CHECK_STATUS(DKM_CONFLICT, ms_commit(m, "x", &c));
    c.expected_token = slice("t1");
    a[0].expected_count = 0;
    CHECK_STATUS(DKM_CONFLICT, ms_commit(m, "x", &c));
    lines[1] = slice("{\"r\":1}");
    a[0].expected_count = 1;
    a[1].stream = DKM_STREAM_REQUESTS;
    a[1].expected_count = 5; /* wrong: the second expectation fails, the first held */
    a[1].lines = &lines[1];
    a[1].lines_len = 1;
    c.appends_len = 2;
    CHECK_STATUS(DKM_CONFLICT, ms_commit(m, "x", &c));
    CHECK(mapstore_stream_len(m, "x", DKM_STREAM_AUDIT) == 1, "no line appended");
    CHECK(mapstore_copy_ring(m, "x", &bytes, &len, token), "x holds a ring");
    CHECK(len == 7 && memcmp(bytes, "ring v1", 7) == 0 && strcmp(token, "t1") == 0,
          "still v1, t1");
    free(bytes);
    a[1].expected_count = 0;
    CHECK_OK(ms_commit(m, "x", &c));
    CHECK(mapstore_copy_ring(m, "x", &bytes, &len, token), "x holds a ring");
    CHECK(len == 7 && memcmp(bytes, "ring v2", 7) == 0 && strcmp(token, "t2") == 0, "v2, t2");
    free(bytes);
    CHECK(line_is(m, "x", DKM_STREAM_AUDIT, 1, "{\"a\":1}") &&
              line_is(m, "x", DKM_STREAM_REQUESTS, 0, "{\"r\":1}"),
          "both streams appended");
    /* Appends only (the ring unchanged): the token stays. */
    c.writes_ring = 0;
    a[0].expected_count = 2;
    c.appends_len = 1;
    CHECK_OK(ms_commit(m, "x", &c));
    CHECK(mapstore_copy_ring(m, "x", &bytes, &len, token) && strcmp(token, "t2") == 0,
          "token unchanged");
    free(bytes);
    CHECK(mapstore_stream_len(m, "x", DKM_STREAM_AUDIT) == 3, "three audit lines");
    /* A move: onto a name holding a ring refused; else the ring and both streams move. */
    memset(&c, 0, sizeof c);
    c.writes_ring = 1;
    c.has_expected_token = 0;
    c.ring = slice("other");
    CHECK_OK(ms_commit(m, "y", &c));
    c.has_expected_token = 1;
    c.expected_token = slice("t2");
    c.ring = slice("ring v3");
    c.move_to = "y";
    CHECK_STATUS(DKM_CONFLICT, ms_commit(m, "x", &c));
    CHECK(mapstore_has_ring(m, "x") && mapstore_has_ring(m, "y"), "nothing moved");
    c.move_to = "z";
    CHECK_OK(ms_commit(m, "x", &c));
    CHECK(!mapstore_has_ring(m, "x") && mapstore_has_ring(m, "z"), "moved to z");
    CHECK(mapstore_stream_len(m, "x", DKM_STREAM_AUDIT) == 0 &&
              mapstore_stream_len(m, "z", DKM_STREAM_AUDIT) == 3 &&
              mapstore_stream_len(m, "z", DKM_STREAM_REQUESTS) == 1,
          "the streams moved too");
    CHECK(mapstore_copy_ring(m, "z", &bytes, &len, token), "z holds the ring");
    CHECK(len == 7 && memcmp(bytes, "ring v3", 7) == 0 && strcmp(token, "t4") == 0, "v3, t4");
    free(bytes);
    mapstore_destroy(m);
    GROUP_END();
}

static void test_story(void) {
    int freed = 0;
    mapstore *m = mapstore_new(&freed);
    dkm_store *store = NULL;
    dkm_host *h, *later;
    dkm_buffer sealed = {NULL, 0, 0}, pt = {NULL, 0, 0}, req = {NULL, 0, 0}, grant = {NULL, 0, 0};
    dkm_buffer json = {NULL, 0, 0}, events = {NULL, 0, 0}, pubtext = {NULL, 0, 0};
    char spec_ops[300], spec_sec[300];
    const char *levels[2];
    uint64_t since = T0, calls, applied;
    int32_t origin = 0, intact = -1;
    dkm_change ch;
    size_t audit_lines;
    GROUP("the whole story through the callbacks");
    CHECK_OK(dkm_store_callbacks_new(&mapstore_vtable, m, "test-map/rings", &store));
    h = host_on(store);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "r", admin, NULL, NULL));
    CHECK(mapstore_has_ring(m, "r"), "the ring is in the map");
    CHECK(mapstore_stream_len(m, "r", DKM_STREAM_AUDIT) >= 1, "its first audit record");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(h, "r", admin, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "r", admin, DKM_ROLE_SERVICE, svc_pub, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED && ch.pending == 1, "key holder added");
    CHECK_OK(dkm_host_add_member(h, "r", admin, DKM_ROLE_APPROVER, ops_pub, NULL));
    CHECK_OK(dkm_host_add_member(h, "r", admin, DKM_ROLE_APPROVER, sec_pub, NULL));
    CHECK_OK(dkm_public_identity_to_text(ops_pub, &pubtext));
    snprintf(spec_ops, sizeof spec_ops, "ops:1:%s", (const char *)pubtext.ptr);
    dkm_buffer_free(&pubtext);
    CHECK_OK(dkm_public_identity_to_text(sec_pub, &pubtext));
    snprintf(spec_sec, sizeof spec_sec, "security:1:%s", (const char *)pubtext.ptr);
    dkm_buffer_free(&pubtext);
    levels[0] = spec_ops;
    levels[1] = spec_sec;
    CHECK_OK(dkm_host_set_approval_levels(h, "r", admin, levels, 2, &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED, "levels applied");
    CHECK_OK(dkm_host_maintain(h, "r", svc, &events));
    CHECK(check_contains(events.ptr, events.len, "\"action\":\"epoch-created\""), "epoch 1");
    dkm_buffer_free(&events);
    dkm_thread_set_time(T0 + 60);
    CHECK_OK(dkm_host_seal(h, "r", svc, u8("kept"), 4, u8("c"), 1, &sealed));
    CHECK_OK(dkm_host_unseal(h, "r", svc, sealed.ptr, sealed.len, u8("c"), 1,
                             DKM_REFUSE_SEAL_ONLY, &pt, &origin));
    CHECK_BUF_STR(pt, "kept");
    CHECK(origin == DKM_ORIGIN_KEY_HOLDER, "origin");
    dkm_buffer_free(&pt);

    /* A second host on the same store, a day later. */
    later = host_on(store);
    dkm_thread_set_time(T1);
    CHECK_OK(dkm_host_request_access(later, "r", eng, "debug", 4 * HOUR, &since, NULL, 0, &req));
    CHECK(mapstore_stream_len(m, "r", DKM_STREAM_REQUESTS) == 1, "the request in the log");
    CHECK_STATUS(DKM_POLICY_UNSATISFIED,
                 dkm_host_grant(later, "r", (const char *)req.ptr, svc, &grant, NULL));
    CHECK_OK(dkm_host_approve(later, "r", (const char *)req.ptr, "ops", ops));
    CHECK_OK(dkm_host_approve(h, "r", (const char *)req.ptr, "security", sec));
    CHECK(mapstore_stream_len(m, "r", DKM_STREAM_REQUESTS) == 3, "two approvals in the log");
    CHECK_OK(dkm_host_grant(later, "r", (const char *)req.ptr, svc, &grant, &json));
    CHECK(check_contains(json.ptr, json.len, (const char *)grant.ptr), "the grant's JSON");
    dkm_buffer_free(&json);
    audit_lines = mapstore_stream_len(m, "r", DKM_STREAM_AUDIT);
    CHECK_OK(dkm_host_unseal_with_grant(h, "r", eng, (const char *)grant.ptr, sealed.ptr,
                                        sealed.len, u8("c"), 1, DKM_REFUSE_SEAL_ONLY, &pt, &origin));
    CHECK_BUF_STR(pt, "kept");
    CHECK(origin == DKM_ORIGIN_KEY_HOLDER, "origin");
    dkm_buffer_free(&pt);
    CHECK(mapstore_stream_len(m, "r", DKM_STREAM_AUDIT) == audit_lines + 1,
          "the elevated unseal appended one audit line");
    {
        /* That line is the grant-unseal record. */
        ms_stream *s;
        int found;
        pthread_mutex_lock(&m->mu);
        s = ms_stream_of(ms_find(m, "r"), DKM_STREAM_AUDIT);
        found = check_contains(s->v[s->n - 1].bytes, s->v[s->n - 1].len,
                               "\"action\":\"grant-unseal\"");
        pthread_mutex_unlock(&m->mu);
        CHECK(found, "the last audit line is the grant-unseal record");
    }
    CHECK_OK(dkm_host_audit_verify(h, "r", &intact, &json));
    CHECK(intact == 1, "audit chain intact");
    {
        char want[64];
        snprintf(want, sizeof want, "\"records\":%lu",
                 (unsigned long)mapstore_stream_len(m, "r", DKM_STREAM_AUDIT));
        CHECK(check_contains(json.ptr, json.len, want), "every line of the map verified");
    }
    dkm_buffer_free(&json);

    /* A commit that reports DKM_CONFLICT once: the host calls commit again and succeeds. */
    calls = mapstore_commit_calls(m);
    applied = mapstore_commits_applied(m);
    mapstore_set_conflict_once(m);
    CHECK_OK(dkm_host_roll_epoch(h, "r", svc, &events));
    CHECK(mapstore_commit_calls(m) == calls + 2, "commit called again after the conflict");
    CHECK(mapstore_commits_applied(m) == applied + 1, "and carried out once");
    CHECK(check_contains(events.ptr, events.len, "\"action\":\"epoch-created\""), "epoch 2");
    dkm_buffer_free(&events);
    CHECK_OK(dkm_host_keys(later, "r", &json));
    CHECK(check_contains(json.ptr, json.len, "\"current\":{\"epoch\":2,"), "epoch 2 current");
    dkm_buffer_free(&json);
    /* The same for a request-log append. */
    calls = mapstore_commit_calls(m);
    mapstore_set_conflict_once(m);
    {
        dkm_buffer req2 = {NULL, 0, 0};
        CHECK_OK(dkm_host_request_access(h, "r", eng, "again", HOUR, NULL, NULL, 0, &req2));
        CHECK(mapstore_commit_calls(m) == calls + 2, "commit called again");
        CHECK(mapstore_stream_len(m, "r", DKM_STREAM_REQUESTS) == 4, "the request logged once");
        dkm_buffer_free(&req2);
    }
    CHECK_OK(dkm_host_unseal(later, "r", svc, sealed.ptr, sealed.len, u8("c"), 1,
                             DKM_ACCEPT_SEAL_ONLY, &pt, NULL));
    CHECK_BUF_STR(pt, "kept");
    dkm_buffer_free(&pt);

    /* Rename: the ring and both streams move in the map; the old name is gone. */
    audit_lines = mapstore_stream_len(m, "r", DKM_STREAM_AUDIT);
    CHECK_OK(dkm_host_rename_ring(h, "r", admin, "s", &ch));
    CHECK(ch.outcome == DKM_CHANGE_APPLIED, "renamed");
    CHECK(!mapstore_has_ring(m, "r") && mapstore_has_ring(m, "s"), "moved in the map");
    CHECK(mapstore_stream_len(m, "r", DKM_STREAM_AUDIT) == 0 &&
              mapstore_stream_len(m, "s", DKM_STREAM_AUDIT) > audit_lines &&
              mapstore_stream_len(m, "s", DKM_STREAM_REQUESTS) == 4,
          "both streams moved");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_ring_info(later, "r", &json));
    CHECK_OK(dkm_host_ring_info(later, "s", &json));
    CHECK(check_contains(json.ptr, json.len, "\"name\":\"s\""), "the new name");
    dkm_buffer_free(&json);
    CHECK_OK(dkm_host_unseal(later, "s", svc, sealed.ptr, sealed.len, u8("c"), 1,
                             DKM_REFUSE_SEAL_ONLY, &pt, NULL));
    CHECK_BUF_STR(pt, "kept");
    dkm_buffer_free(&pt);
    CHECK_OK(dkm_host_audit_verify(later, "s", &intact, NULL));
    CHECK(intact == 1, "intact after the rename");
    /* A rename onto a name that holds a ring: refused. */
    CHECK_OK(dkm_host_create_ring(h, "t", admin, NULL, NULL));
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_rename_ring(h, "s", admin, "t", &ch));
    CHECK(mapstore_has_ring(m, "s") && mapstore_has_ring(m, "t"), "both still there");

    dkm_buffer_free(&sealed);
    dkm_buffer_free(&req);
    dkm_buffer_free(&grant);
    dkm_host_free(h);
    dkm_store_free(store);
    CHECK(freed == 0, "a host still uses the store");
    dkm_host_free(later);
    CHECK(freed == 1, "free_user once, with the last host");
    GROUP_END();
}

/* ---- racing writers ---- */

typedef struct racer {
    dkm_host *host;
    int t;
} racer;

static void *race(void *arg) {
    racer *r = (racer *)arg;
    int i;
    char pt[32];
    dkm_thread_set_time(T0 + 120);
    for (i = 0; i < 3; i++) {
        dkm_buffer s = {NULL, 0, 0}, out = {NULL, 0, 0};
        CHECK_OK(dkm_host_roll_epoch(r->host, "race", svc, NULL));
        snprintf(pt, sizeof pt, "racer %d/%d", r->t, i);
        CHECK_OK(dkm_host_seal(r->host, "race", svc, u8(pt), strlen(pt), NULL, 0, &s));
        CHECK_OK(dkm_host_unseal(r->host, "race", svc, s.ptr, s.len, NULL, 0, DKM_REFUSE_SEAL_ONLY,
                                 &out, NULL));
        CHECK_BUF_STR(out, pt);
        dkm_buffer_free(&out);
        dkm_buffer_free(&s);
    }
    return NULL;
}

static int count_occurrences(const uint8_t *hay, size_t len, const char *needle) {
    size_t n = strlen(needle), i;
    int count = 0;
    for (i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            count++;
        }
    }
    return count;
}

static void test_racing_writers(void) {
    int freed = 0;
    mapstore *m = mapstore_new(&freed);
    dkm_store *store = NULL;
    dkm_host *hosts[4], *h;
    pthread_t threads[4];
    racer racers[4];
    dkm_buffer json = {NULL, 0, 0};
    int32_t intact = -1;
    int t;
    GROUP("racing writers through the callbacks lose nothing");
    CHECK_OK(dkm_store_callbacks_new(&mapstore_vtable, m, "test-map/race", &store));
    h = host_on(store);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "race", admin, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "race", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_maintain(h, "race", svc, NULL));
    /* Four hosts (as four processes would have), one store. */
    for (t = 0; t < 4; t++) {
        hosts[t] = host_on(store);
        racers[t].host = hosts[t];
        racers[t].t = t;
        CHECK(pthread_create(&threads[t], NULL, race, &racers[t]) == 0, "pthread_create");
    }
    for (t = 0; t < 4; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0, "pthread_join");
        dkm_host_free(hosts[t]);
    }
    CHECK_OK(dkm_host_audit_verify(h, "race", &intact, NULL));
    CHECK(intact == 1, "the audit chain is intact");
    CHECK_OK(dkm_host_keys(h, "race", &json));
    /* 1 + 12 epochs: every roll landed. */
    CHECK(count_occurrences(json.ptr, json.len, "\"interval_secs\":") == 13, "13 epochs");
    CHECK(check_contains(json.ptr, json.len, "\"current\":{\"epoch\":13,"), "epoch 13 current");
    dkm_buffer_free(&json);
    CHECK(mapstore_commit_calls(m) >= mapstore_commits_applied(m), "counters");
    dkm_store_free(store);
    CHECK(freed == 0, "a host still uses the store");
    dkm_host_free(h);
    CHECK(freed == 1, "free_user once");
    GROUP_END();
}

/* ---- replies the library refuses ---- */

/* How the wrapped callbacks below misbehave: 0 not at all; 1 the ring's token is not UTF-8;
 * 2 an audit line is not UTF-8. `obey`: the callback returns the reply function's status
 * (else it ignores it and returns DKM_OK). */
static int bad_reply, obey;
static int32_t reply_status;

static dkm_status bad_ring_cb(void *user, const char *name, dkm_store_reply *reply) {
    mapstore *m = (mapstore *)user;
    ms_entry *e;
    dkm_status st = DKM_OK;
    if (bad_reply != 1) {
        return ms_ring(user, name, reply);
    }
    pthread_mutex_lock(&m->mu);
    e = ms_find(m, name);
    if (e != NULL && e->has_ring) {
        st = dkm_store_reply_ring(reply, e->ring, e->ring_len, (const uint8_t *)"t\xff", 2);
    }
    pthread_mutex_unlock(&m->mu);
    reply_status = st;
    return obey ? st : DKM_OK;
}

static dkm_status bad_lines_cb(void *user, const char *name, int32_t stream, uint64_t from,
                               dkm_store_reply *reply) {
    dkm_status st;
    if (bad_reply != 2 || stream != DKM_STREAM_AUDIT) {
        return ms_lines_from(user, name, stream, from, reply);
    }
    st = dkm_store_reply_line(reply, (const uint8_t *)"{\xff}", 3);
    reply_status = st;
    return obey ? st : DKM_OK;
}

static void test_refused_replies(void) {
    mapstore *m = mapstore_new(NULL);
    dkm_store_vtable vt = mapstore_vtable;
    dkm_store *store = NULL;
    dkm_host *h;
    dkm_buffer json = {NULL, 0, 0};
    GROUP("replies the library refuses (text that is not UTF-8) fail the callback");
    vt.ring = bad_ring_cb;
    vt.lines_from = bad_lines_cb;
    vt.free_user = NULL;
    CHECK_OK(dkm_store_callbacks_new(&vt, m, "loc", &store));
    h = host_on(store);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "r", admin, NULL, NULL));
    /* A line that is not UTF-8: refused; the callback fails whether or not it passes the
     * status on (the reply remembers it). */
    bad_reply = 2;
    for (obey = 0; obey <= 1; obey++) {
        CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_audit_records(h, "r", &json));
        CHECK(reply_status == DKM_INVALID_INPUT, "dkm_store_reply_line refused the line");
        CHECK_BUF_EMPTY(json);
    }
    /* A token that is not UTF-8: refused; a callback passing the status on fails. */
    bad_reply = 1;
    obey = 1;
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_ring_info(h, "r", &json));
    CHECK(reply_status == DKM_INVALID_INPUT, "dkm_store_reply_ring refused the token");
    /* One that ignores it: the ring must not look absent: the reply remembers the error. */
    obey = 0;
    CHECK_STATUS(DKM_STORE_UNAVAILABLE, dkm_host_ring_info(h, "r", &json));
    CHECK_BUF_EMPTY(json);
    bad_reply = 0;
    CHECK_OK(dkm_host_ring_info(h, "r", &json));
    dkm_buffer_free(&json);
    dkm_host_free(h);
    dkm_store_free(store);
    mapstore_destroy(m);
    GROUP_END();
}

/* ---- callbacks calling back into the library ---- */

/* The library holds no lock of its own while it calls a callback: a callback may use the
 * same host (here on another ring, and on the same one), and so may a clock callback. */
static dkm_host *reentrant_host;
static int reentrant_depth, reentrant_calls;

static void reenter(const char *other) {
    dkm_buffer b = {NULL, 0, 0};
    reentrant_depth++;
    CHECK_OK(dkm_host_keys(reentrant_host, other, &b));
    dkm_buffer_free(&b);
    CHECK_OK(dkm_host_seal(reentrant_host, other, svc, u8("inner"), 5, NULL, 0, &b));
    dkm_buffer_free(&b);
    reentrant_calls++;
    reentrant_depth--;
}

static dkm_status reentrant_ring(void *user, const char *name, dkm_store_reply *reply) {
    if (reentrant_host != NULL && reentrant_depth == 0) {
        reenter(strcmp(name, "a") == 0 ? "b" : "a");
    }
    return ms_ring(user, name, reply);
}

static dkm_status reentrant_commit(void *user, const char *name, const dkm_commit *c) {
    if (reentrant_host != NULL && reentrant_depth == 0) {
        reenter(strcmp(name, "a") == 0 ? "b" : "a");
    }
    return ms_commit(user, name, c);
}

static dkm_status reentrant_clock(void *user, uint64_t *now) {
    (void)user;
    if (reentrant_host != NULL && reentrant_depth == 0) {
        dkm_buffer b = {NULL, 0, 0};
        reentrant_depth++;
        CHECK_OK(dkm_host_ring_info(reentrant_host, "b", &b));
        dkm_buffer_free(&b);
        reentrant_calls++;
        reentrant_depth--;
    }
    *now = T0 + 300;
    return DKM_OK;
}

static void test_reentrant_callbacks(void) {
    mapstore *m = mapstore_new(NULL);
    dkm_store_vtable vt = mapstore_vtable;
    dkm_store *store = NULL;
    dkm_host *h, *hc;
    dkm_host_options *o = NULL;
    dkm_buffer b = {NULL, 0, 0};
    int calls;
    GROUP("callbacks (store and clock) may call back into the library");
    alarm(300); /* a deadlock ends the test (SIGALRM) */
    vt.ring = reentrant_ring;
    vt.commit = reentrant_commit;
    vt.free_user = NULL;
    CHECK_OK(dkm_store_callbacks_new(&vt, m, "loc", &store));
    h = host_on(store);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "a", admin, NULL, NULL));
    CHECK_OK(dkm_host_create_ring(h, "b", admin, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "a", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_add_member(h, "b", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_maintain(h, "a", svc, NULL));
    CHECK_OK(dkm_host_maintain(h, "b", svc, NULL));
    reentrant_host = h;
    calls = reentrant_calls;
    CHECK_OK(dkm_host_ring_info(h, "a", &b)); /* `ring` calls back */
    dkm_buffer_free(&b);
    CHECK_OK(dkm_host_roll_epoch(h, "a", svc, NULL)); /* `ring` and `commit` call back */
    CHECK_OK(dkm_host_seal(h, "b", svc, u8("outer"), 5, NULL, 0, &b));
    CHECK(reentrant_calls > calls + 2, "the callbacks called the library");
    {
        dkm_buffer out = {NULL, 0, 0};
        CHECK_OK(dkm_host_unseal(h, "b", svc, b.ptr, b.len, NULL, 0, DKM_REFUSE_SEAL_ONLY, &out,
                                 NULL));
        CHECK_BUF_STR(out, "outer");
        dkm_buffer_free(&out);
    }
    dkm_buffer_free(&b);
    reentrant_host = NULL;
    /* A clock callback using the host it is the clock of. */
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_OK(dkm_host_options_set_memory_pins(o));
    CHECK_OK(dkm_host_options_set_clock_callback(o, reentrant_clock, NULL));
    CHECK_OK(dkm_host_new(store, o, &hc));
    dkm_host_options_free(o);
    reentrant_host = hc;
    calls = reentrant_calls;
    CHECK_OK(dkm_host_seal(hc, "a", svc, u8("timed"), 5, NULL, 0, &b));
    CHECK(reentrant_calls > calls, "the clock called the library");
    reentrant_host = NULL;
    dkm_buffer_free(&b);
    dkm_host_free(hc);
    dkm_host_free(h);
    dkm_store_free(store);
    mapstore_destroy(m);
    alarm(0);
    GROUP_END();
}

static void test_free_user(void) {
    int freed = 0;
    mapstore *m = mapstore_new(&freed);
    dkm_store_vtable vt = mapstore_vtable;
    dkm_store *store = NULL;
    dkm_host *h1, *h2;
    GROUP("free_user: once with the last handle, never when the store was not made");
    /* Not made (no `commit`): free_user not called, the map stays the caller's. */
    vt.commit = NULL;
    store = (dkm_store *)(void *)&store;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, m, "loc", &store));
    CHECK(store == NULL, "no store");
    CHECK(freed == 0, "free_user not called on failure");
    vt = mapstore_vtable;
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_callbacks_new(&vt, m, "", &store));
    CHECK(freed == 0, "free_user not called on failure");
    /* Made; two hosts; the store handle freed first. */
    CHECK_OK(dkm_store_callbacks_new(&vt, m, "loc", &store));
    h1 = host_on(store);
    h2 = host_on(store);
    dkm_store_free(store);
    CHECK(freed == 0, "hosts keep the store alive");
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h1, "alive", admin, NULL, NULL)); /* the map is still there */
    dkm_host_free(h1);
    CHECK(freed == 0, "one host left");
    {
        dkm_buffer json = {NULL, 0, 0};
        CHECK_OK(dkm_host_ring_info(h2, "alive", &json));
        dkm_buffer_free(&json);
    }
    dkm_host_free(h2);
    CHECK(freed == 1, "free_user exactly once, with the last host");
    /* A store with no host: freed with its handle. And a vtable without free_user: the map
     * stays the caller's after the store is gone. */
    freed = 0;
    m = mapstore_new(&freed);
    CHECK_OK(dkm_store_callbacks_new(&vt, m, "loc", &store));
    dkm_store_free(store);
    CHECK(freed == 1, "free_user with the store handle");
    m = mapstore_new(&freed);
    vt.free_user = NULL;
    CHECK_OK(dkm_store_callbacks_new(&vt, m, "loc", &store));
    h1 = host_on(store);
    dkm_store_free(store);
    dkm_host_free(h1);
    CHECK(freed == 1, "no free_user: not called");
    mapstore_destroy(m);
    GROUP_END();
}

int main(void) {
    CHECK_OK(dkm_identity_generate(&admin));
    CHECK_OK(dkm_identity_generate(&svc));
    CHECK_OK(dkm_identity_generate(&ops));
    CHECK_OK(dkm_identity_generate(&sec));
    CHECK_OK(dkm_identity_generate(&eng));
    CHECK_OK(dkm_identity_public(svc, &svc_pub));
    CHECK_OK(dkm_identity_public(ops, &ops_pub));
    CHECK_OK(dkm_identity_public(sec, &sec_pub));

    test_commit_semantics();
    test_story();
    test_racing_writers();
    test_refused_replies();
    test_reentrant_callbacks();
    test_free_user();

    dkm_public_identity_free(svc_pub);
    dkm_public_identity_free(ops_pub);
    dkm_public_identity_free(sec_pub);
    dkm_identity_free(admin);
    dkm_identity_free(svc);
    dkm_identity_free(ops);
    dkm_identity_free(sec);
    dkm_identity_free(eng);
    printf("test_store: all checks passed\n");
    return 0;
}
