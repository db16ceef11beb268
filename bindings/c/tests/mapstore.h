/*
 * mapstore.h: a dkm store kept in a small C hash map, given to libdkm as a table of callbacks
 * (header only; used by test_store.c and test_api.c).
 *
 * Per ring name the map holds the ring's bytes with a change token ("t<N>", a counter that
 * grows at every write) and two append-only line streams (the audit chain and the request
 * log). One pthread mutex guards everything, so every callback is safe from any thread.
 * `commit` carries out a dkm_commit exactly as dkm.h documents it: it checks the expected
 * token (or the ring's absence), every stream's expected line count and, for a rename, that
 * the new name holds no ring; then it applies every change, or none and returns DKM_CONFLICT.
 *
 * Faults for tests, set under the lock with mapstore_set_*:
 *  - ring_status:    when not DKM_OK, the `ring` callback returns it (a store that fails);
 *  - commit_status:  when not DKM_OK, every `commit` returns it and writes nothing;
 *  - conflict_once:  the next `commit` returns DKM_CONFLICT and writes nothing.
 * Counters: `commit_calls` (every call), `commits_applied` (writes carried out).
 * mapstore_force_ring() overwrites a ring's bytes and token behind the library's back (a store
 * that serves an older ring).
 */
#ifndef DKM_TEST_MAPSTORE_H
#define DKM_TEST_MAPSTORE_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkm.h"

#if defined(__GNUC__)
#define MS_UNUSED __attribute__((unused))
#else
#define MS_UNUSED
#endif

#define MS_BUCKETS 64

typedef struct ms_line {
    uint8_t *bytes;
    size_t len;
} ms_line;

typedef struct ms_stream {
    ms_line *v;
    size_t n;
    size_t cap;
} ms_stream;

typedef struct ms_entry {
    char *name;
    int has_ring;
    uint8_t *ring;
    size_t ring_len;
    char token[32];
    ms_stream audit;
    ms_stream requests;
    struct ms_entry *next;
} ms_entry;

typedef struct mapstore {
    pthread_mutex_t mu;
    ms_entry *buckets[MS_BUCKETS];
    uint64_t next_token;
    int32_t ring_status;
    int32_t commit_status;
    int conflict_once;
    uint64_t commit_calls;
    uint64_t commits_applied;
    /* Incremented by free_user (outside the store: it outlives it). May be NULL. */
    int *freed;
} mapstore;

static void *ms_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "mapstore: out of memory\n");
        abort();
    }
    return p;
}

static uint8_t *ms_dup(const uint8_t *b, size_t len) {
    uint8_t *p = (uint8_t *)ms_xmalloc(len + 1);
    if (len > 0) {
        memcpy(p, b, len);
    }
    p[len] = 0;
    return p;
}

static char *ms_strdup(const char *s) {
    return (char *)ms_dup((const uint8_t *)s, strlen(s));
}

static size_t ms_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)(h % MS_BUCKETS);
}

static ms_entry *ms_find(mapstore *m, const char *name) {
    ms_entry *e = m->buckets[ms_hash(name)];
    for (; e != NULL; e = e->next) {
        if (strcmp(e->name, name) == 0) {
            return e;
        }
    }
    return NULL;
}

static ms_entry *ms_get_or_add(mapstore *m, const char *name) {
    ms_entry *e = ms_find(m, name);
    size_t h;
    if (e != NULL) {
        return e;
    }
    e = (ms_entry *)ms_xmalloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->name = ms_strdup(name);
    h = ms_hash(name);
    e->next = m->buckets[h];
    m->buckets[h] = e;
    return e;
}

/* Unlinks `e` from its bucket (does not free it). */
static void ms_unlink(mapstore *m, ms_entry *e) {
    ms_entry **p = &m->buckets[ms_hash(e->name)];
    while (*p != NULL && *p != e) {
        p = &(*p)->next;
    }
    if (*p == e) {
        *p = e->next;
    }
    e->next = NULL;
}

static void ms_stream_free(ms_stream *s) {
    size_t i;
    for (i = 0; i < s->n; i++) {
        free(s->v[i].bytes);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

static void ms_entry_free(ms_entry *e) {
    free(e->name);
    free(e->ring);
    ms_stream_free(&e->audit);
    ms_stream_free(&e->requests);
    free(e);
}

static void ms_stream_push(ms_stream *s, const uint8_t *b, size_t len) {
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        ms_line *v = (ms_line *)realloc(s->v, cap * sizeof *v);
        if (v == NULL) {
            fprintf(stderr, "mapstore: out of memory\n");
            abort();
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].bytes = ms_dup(b, len);
    s->v[s->n].len = len;
    s->n++;
}

static ms_stream *ms_stream_of(ms_entry *e, int32_t stream) {
    if (e == NULL) {
        return NULL;
    }
    if (stream == DKM_STREAM_AUDIT) {
        return &e->audit;
    }
    if (stream == DKM_STREAM_REQUESTS) {
        return &e->requests;
    }
    return NULL;
}

/* ---- the callbacks ---- */

static dkm_status ms_ring(void *user, const char *name, dkm_store_reply *reply) {
    mapstore *m = (mapstore *)user;
    dkm_status st = DKM_OK;
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    if (m->ring_status != DKM_OK) {
        st = m->ring_status;
    } else {
        e = ms_find(m, name);
        if (e != NULL && e->has_ring) {
            st = dkm_store_reply_ring(reply, e->ring, e->ring_len, (const uint8_t *)e->token,
                                      strlen(e->token));
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static dkm_status ms_line_count(void *user, const char *name, int32_t stream, uint64_t *count) {
    mapstore *m = (mapstore *)user;
    dkm_status st = DKM_OK;
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    e = ms_find(m, name);
    if (stream != DKM_STREAM_AUDIT && stream != DKM_STREAM_REQUESTS) {
        st = DKM_STORE_UNAVAILABLE;
    } else {
        ms_stream *s = ms_stream_of(e, stream);
        *count = s ? (uint64_t)s->n : 0;
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static dkm_status ms_lines_from(void *user, const char *name, int32_t stream, uint64_t from,
                                dkm_store_reply *reply) {
    mapstore *m = (mapstore *)user;
    dkm_status st = DKM_OK;
    ms_stream *s;
    uint64_t i;
    pthread_mutex_lock(&m->mu);
    if (stream != DKM_STREAM_AUDIT && stream != DKM_STREAM_REQUESTS) {
        st = DKM_STORE_UNAVAILABLE;
    } else {
        s = ms_stream_of(ms_find(m, name), stream);
        for (i = from; s != NULL && i < (uint64_t)s->n && st == DKM_OK; i++) {
            st = dkm_store_reply_line(reply, s->v[i].bytes, s->v[i].len);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

/* Checks every expectation of `c` on ring `name` (the lock held): DKM_OK or DKM_CONFLICT. */
static dkm_status ms_check(mapstore *m, const char *name, const dkm_commit *c) {
    ms_entry *e = ms_find(m, name);
    size_t i;
    if (c->writes_ring) {
        if (c->has_expected_token) {
            if (e == NULL || !e->has_ring || strlen(e->token) != c->expected_token.len ||
                memcmp(e->token, c->expected_token.ptr, c->expected_token.len) != 0) {
                return DKM_CONFLICT;
            }
        } else if (e != NULL && e->has_ring) {
            return DKM_CONFLICT; /* a create: the ring must not exist yet */
        }
    }
    for (i = 0; i < c->appends_len; i++) {
        const dkm_commit_append *a = &c->appends[i];
        ms_stream *s = ms_stream_of(e, a->stream);
        uint64_t have = s ? (uint64_t)s->n : 0;
        if (a->stream != DKM_STREAM_AUDIT && a->stream != DKM_STREAM_REQUESTS) {
            return DKM_STORE_UNAVAILABLE;
        }
        if (have != a->expected_count) {
            return DKM_CONFLICT;
        }
    }
    if (c->move_to != NULL && strcmp(c->move_to, name) != 0) {
        ms_entry *t = ms_find(m, c->move_to);
        if (t != NULL && t->has_ring) {
            return DKM_CONFLICT; /* the new name holds a ring */
        }
    }
    return DKM_OK;
}

static dkm_status ms_commit(void *user, const char *name, const dkm_commit *c) {
    mapstore *m = (mapstore *)user;
    dkm_status st;
    ms_entry *e;
    size_t i, j;
    pthread_mutex_lock(&m->mu);
    m->commit_calls++;
    if (m->commit_status != DKM_OK) {
        st = m->commit_status;
        goto out;
    }
    if (m->conflict_once) {
        m->conflict_once = 0;
        st = DKM_CONFLICT;
        goto out;
    }
    st = ms_check(m, name, c);
    if (st != DKM_OK) {
        goto out;
    }
    /* Every expectation holds: apply all of it. */
    e = ms_get_or_add(m, name);
    if (c->writes_ring) {
        free(e->ring);
        e->ring = ms_dup(c->ring.ptr, c->ring.len);
        e->ring_len = c->ring.len;
        e->has_ring = 1;
        m->next_token++;
        snprintf(e->token, sizeof e->token, "t%llu", (unsigned long long)m->next_token);
    }
    for (i = 0; i < c->appends_len; i++) {
        const dkm_commit_append *a = &c->appends[i];
        ms_stream *s = ms_stream_of(e, a->stream);
        for (j = 0; j < a->lines_len; j++) {
            ms_stream_push(s, a->lines[j].ptr, a->lines[j].len);
        }
    }
    if (c->move_to != NULL && strcmp(c->move_to, name) != 0) {
        ms_entry *old = ms_find(m, c->move_to);
        if (old != NULL) { /* streams left without a ring: replaced by the moved ones */
            ms_unlink(m, old);
            ms_entry_free(old);
        }
        ms_unlink(m, e);
        free(e->name);
        e->name = ms_strdup(c->move_to);
        {
            size_t h = ms_hash(e->name);
            e->next = m->buckets[h];
            m->buckets[h] = e;
        }
    }
    m->commits_applied++;
out:
    pthread_mutex_unlock(&m->mu);
    return st;
}

static dkm_status ms_names(void *user, dkm_store_reply *reply) {
    mapstore *m = (mapstore *)user;
    dkm_status st = DKM_OK;
    size_t b;
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    for (b = 0; b < MS_BUCKETS && st == DKM_OK; b++) {
        for (e = m->buckets[b]; e != NULL && st == DKM_OK; e = e->next) {
            if (e->has_ring) {
                st = dkm_store_reply_line(reply, (const uint8_t *)e->name, strlen(e->name));
            }
        }
    }
    pthread_mutex_unlock(&m->mu);
    return st;
}

static mapstore *mapstore_new(int *freed) {
    mapstore *m = (mapstore *)ms_xmalloc(sizeof *m);
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
    m->ring_status = DKM_OK;
    m->commit_status = DKM_OK;
    m->freed = freed;
    return m;
}

/* Frees the map (what free_user does, and what a caller does when the store was not made). */
static void mapstore_destroy(mapstore *m) {
    size_t b;
    for (b = 0; b < MS_BUCKETS; b++) {
        ms_entry *e = m->buckets[b];
        while (e != NULL) {
            ms_entry *next = e->next;
            ms_entry_free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&m->mu);
    free(m);
}

static void ms_free_user(void *user) {
    mapstore *m = (mapstore *)user;
    if (m->freed != NULL) {
        (*m->freed)++;
    }
    mapstore_destroy(m);
}

static MS_UNUSED const dkm_store_vtable mapstore_vtable = {
    ms_ring, ms_line_count, ms_lines_from, ms_commit, ms_names, ms_free_user,
};

/* ---- test helpers (each takes the lock) ---- */

static MS_UNUSED void mapstore_set_ring_status(mapstore *m, int32_t st) {
    pthread_mutex_lock(&m->mu);
    m->ring_status = st;
    pthread_mutex_unlock(&m->mu);
}

static MS_UNUSED void mapstore_set_commit_status(mapstore *m, int32_t st) {
    pthread_mutex_lock(&m->mu);
    m->commit_status = st;
    pthread_mutex_unlock(&m->mu);
}

static MS_UNUSED void mapstore_set_conflict_once(mapstore *m) {
    pthread_mutex_lock(&m->mu);
    m->conflict_once = 1;
    pthread_mutex_unlock(&m->mu);
}

static MS_UNUSED uint64_t mapstore_commit_calls(mapstore *m) {
    uint64_t n;
    pthread_mutex_lock(&m->mu);
    n = m->commit_calls;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static MS_UNUSED uint64_t mapstore_commits_applied(mapstore *m) {
    uint64_t n;
    pthread_mutex_lock(&m->mu);
    n = m->commits_applied;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* Line count of a stream (0 when the name holds nothing). */
static MS_UNUSED size_t mapstore_stream_len(mapstore *m, const char *name, int32_t stream) {
    size_t n;
    ms_stream *s;
    pthread_mutex_lock(&m->mu);
    s = ms_stream_of(ms_find(m, name), stream);
    n = s ? s->n : 0;
    pthread_mutex_unlock(&m->mu);
    return n;
}

/* 1 when `name` holds a ring. */
static MS_UNUSED int mapstore_has_ring(mapstore *m, const char *name) {
    int has;
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    e = ms_find(m, name);
    has = e != NULL && e->has_ring;
    pthread_mutex_unlock(&m->mu);
    return has;
}

/* A copy of ring `name`'s bytes (malloc'd, free it) and token; 0 when it holds no ring. */
static MS_UNUSED int mapstore_copy_ring(mapstore *m, const char *name, uint8_t **bytes,
                                        size_t *len, char token[32]) {
    int found = 0;
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    e = ms_find(m, name);
    if (e != NULL && e->has_ring) {
        *bytes = ms_dup(e->ring, e->ring_len);
        *len = e->ring_len;
        memcpy(token, e->token, 32);
        found = 1;
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

/* Overwrites ring `name`'s bytes and token behind the library's back. */
static MS_UNUSED void mapstore_force_ring(mapstore *m, const char *name, const uint8_t *bytes,
                                          size_t len, const char *token) {
    ms_entry *e;
    pthread_mutex_lock(&m->mu);
    e = ms_get_or_add(m, name);
    free(e->ring);
    e->ring = ms_dup(bytes, len);
    e->ring_len = len;
    e->has_ring = 1;
    snprintf(e->token, sizeof e->token, "%s", token);
    pthread_mutex_unlock(&m->mu);
}

#endif /* DKM_TEST_MAPSTORE_H */
