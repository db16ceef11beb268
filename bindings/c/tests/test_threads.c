/*
 * test_threads.c: one host shared by many threads.
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -pedantic -I c-header/include test_threads.c \
 *            target/debug/libdkm.a -lpthread -ldl -lm -o test_threads
 * Run:   ./test_threads
 *
 * Twice, on a memory store (memory pins) and on a file store (a pin book in a fresh temp dir):
 *  1. 8 threads on the same host and ring, each sealing and unsealing 200 secrets of different
 *     sizes (0 to 64 KiB) under different contexts (some empty, given as NULL), some armored;
 *     each plaintext and origin checked at once, a wrong context checked TAMPERED, every secret
 *     opened again by its thread at the end and by the main thread after the join.
 *  2. 8 threads each with its own time on the thread clock (a ring of 10-minute intervals): the
 *     interval in each sealed secret's key id is the one of that thread's time; a thread that
 *     clears its time is refused (INVALID_INPUT) while the others go on.
 */
#define _XOPEN_SOURCE 700

#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define THREADS 8
#define SECRETS 200
#define T0 1900000000ULL
#define DAY 86400ULL

static dkm_identity *admin, *svc;
static dkm_public_identity *svc_pub;

typedef struct job {
    int t;
    dkm_host *host;
    const char *ring;
    dkm_buffer sealed[SECRETS];
    uint8_t *pt[SECRETS];
    size_t pt_len[SECRETS];
    char ctx[SECRETS][64];
    size_t ctx_len[SECRETS];
} job;

static size_t size_of(int t, int i) {
    if (i == 0) {
        return 0;
    }
    if (i == SECRETS - 1) {
        return 65536;
    }
    return (size_t)((i * 97 + t * 13) % 3001);
}

static uint8_t *plaintext(int t, int i, size_t len) {
    uint8_t *p = (uint8_t *)malloc(len + 1);
    size_t k;
    CHECK(p != NULL, "memory");
    for (k = 0; k < len; k++) {
        p[k] = (uint8_t)(t * 131 + i * 31 + (int)k * 7);
    }
    return p;
}

/* The context: empty (NULL, 0) every 40th, else "thread T secret I " padded with dots to a
 * length that varies with i. */
static void context_of(int t, int i, char out[64], size_t *len) {
    if (i % 40 == 0) {
        out[0] = 0;
        *len = 0;
        return;
    }
    {
        int n = snprintf(out, 64, "thread %d secret %d ", t, i);
        size_t k;
        *len = 20 + (size_t)(i % 40); /* 21 to 59 bytes */
        for (k = (size_t)n; k < *len; k++) {
            out[k] = '.';
        }
        out[*len] = 0;
    }
}

static const uint8_t *ctx_ptr(const job *j, int i) {
    return j->ctx_len[i] == 0 ? NULL : (const uint8_t *)j->ctx[i];
}

static void expect_open(dkm_host *h, const char *ring, const job *j, int i) {
    dkm_buffer out = {NULL, 0, 0};
    int32_t origin = 0;
    CHECK_OK(dkm_host_unseal(h, ring, svc, j->sealed[i].ptr, j->sealed[i].len, ctx_ptr(j, i),
                             j->ctx_len[i], DKM_REFUSE_SEAL_ONLY, &out, &origin));
    CHECK(check_buf_eq(&out, j->pt[i], j->pt_len[i]), "the plaintext back");
    CHECK(origin == DKM_ORIGIN_KEY_HOLDER, "origin key holder");
    dkm_buffer_free(&out);
}

static void *seal_worker(void *arg) {
    job *j = (job *)arg;
    int i;
    dkm_thread_set_time(T0 + 60); /* each thread sets its own time */
    for (i = 0; i < SECRETS; i++) {
        j->pt_len[i] = size_of(j->t, i);
        j->pt[i] = plaintext(j->t, i, j->pt_len[i]);
        context_of(j->t, i, j->ctx[i], &j->ctx_len[i]);
        if (i % 4 == 3) {
            CHECK_OK(dkm_host_seal_armored(j->host, j->ring, svc, j->pt[i], j->pt_len[i],
                                           ctx_ptr(j, i), j->ctx_len[i], &j->sealed[i]));
            CHECK(j->sealed[i].len > 5 && memcmp(j->sealed[i].ptr, "dkm1:", 5) == 0, "armored");
        } else {
            CHECK_OK(dkm_host_seal(j->host, j->ring, svc, j->pt[i], j->pt_len[i], ctx_ptr(j, i),
                                   j->ctx_len[i], &j->sealed[i]));
            CHECK(j->sealed[i].len >= j->pt_len[i] && j->sealed[i].ptr[0] == 1, "binary");
        }
        expect_open(j->host, j->ring, j, i);
        if (i % 50 == 1) {
            /* Another thread's context: TAMPERED. */
            dkm_buffer out = {NULL, 0, 0};
            char other[64];
            size_t other_len;
            context_of((j->t + 1) % THREADS, i, other, &other_len);
            CHECK_STATUS(DKM_TAMPERED,
                         dkm_host_unseal(j->host, j->ring, svc, j->sealed[i].ptr, j->sealed[i].len,
                                         (const uint8_t *)other, other_len, DKM_REFUSE_SEAL_ONLY,
                                         &out, NULL));
            CHECK_BUF_EMPTY(out);
        }
    }
    for (i = 0; i < SECRETS; i++) {
        expect_open(j->host, j->ring, j, i);
    }
    return NULL;
}

/* ---- per-thread time ---- */

#define TIMED 20
/* A ring of 10-minute intervals (fresh for 64 of them): its first epoch starts at the
 * interval holding T0, T0 - T0 % 600 = T0 - 400. */
#define INTERVAL 600ULL
#define EPOCH_START (T0 - T0 % INTERVAL)

typedef struct timed_job {
    int t;
    dkm_host *host;
    pthread_barrier_t *barrier;
    const uint8_t *ring_id; /* 16 bytes */
    dkm_buffer sealed[TIMED];
} timed_job;

static uint64_t time_of(int k) {
    return T0 + (uint64_t)k * 900; /* 15 minutes apart: intervals 0,2,3,5,6,7,9,10 */
}

static uint16_t interval_of(uint64_t t) {
    return (uint16_t)((t - EPOCH_START) / INTERVAL);
}

/* A sealed secret's key id: version, suite, ring id (16), epoch (u32 BE), interval (u16 BE). */
static void expect_key_id(const dkm_buffer *s, const uint8_t *ring_id, uint32_t epoch,
                          uint16_t interval) {
    uint32_t e;
    uint16_t i;
    CHECK(s->len > 24 && s->ptr[0] == 1 && s->ptr[1] == 1, "a suite-1 sealed secret");
    CHECK(memcmp(s->ptr + 2, ring_id, 16) == 0, "the ring's id");
    e = ((uint32_t)s->ptr[18] << 24) | ((uint32_t)s->ptr[19] << 16) | ((uint32_t)s->ptr[20] << 8) |
        (uint32_t)s->ptr[21];
    i = (uint16_t)(((unsigned)s->ptr[22] << 8) | (unsigned)s->ptr[23]);
    if (e != epoch || i != interval) {
        fprintf(stderr, "key id: epoch %u interval %u, expected epoch %u interval %u\n",
                (unsigned)e, (unsigned)i, (unsigned)epoch, (unsigned)interval);
        CHECK(0, "the interval of the thread's time");
    }
}

static void *timed_worker(void *arg) {
    timed_job *j = (timed_job *)arg;
    uint64_t mine = time_of(j->t), other = time_of(THREADS - 1 - j->t);
    char pt[32];
    dkm_buffer out = {NULL, 0, 0};
    int i, rc;
    dkm_thread_set_time(mine);
    rc = pthread_barrier_wait(j->barrier);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier");
    for (i = 0; i < TIMED; i++) {
        /* Half the secrets at this thread's time, the other half at another's: the time is
         * read per call. */
        uint64_t t = i % 2 == 0 ? mine : other;
        dkm_thread_set_time(t);
        snprintf(pt, sizeof pt, "t%d/%d", j->t, i);
        CHECK_OK(dkm_host_seal(j->host, "timed", svc, (const uint8_t *)pt, strlen(pt),
                               (const uint8_t *)"ctx", 3, &j->sealed[i]));
        expect_key_id(&j->sealed[i], j->ring_id, 1, interval_of(t));
    }
    rc = pthread_barrier_wait(j->barrier);
    CHECK(rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD, "barrier");
    /* Odd threads clear their time: refused, while even threads go on. */
    if (j->t % 2 == 1) {
        dkm_thread_clear_time();
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal(j->host, "timed", svc, (const uint8_t *)"x", 1,
                                                      NULL, 0, &out));
        CHECK_BUF_EMPTY(out);
        CHECK_STATUS(DKM_INVALID_INPUT,
                     dkm_host_unseal(j->host, "timed", svc, j->sealed[0].ptr, j->sealed[0].len,
                                     (const uint8_t *)"ctx", 3, DKM_REFUSE_SEAL_ONLY, &out, NULL));
        dkm_thread_set_time(mine);
    }
    for (i = 0; i < TIMED; i++) {
        snprintf(pt, sizeof pt, "t%d/%d", j->t, i);
        CHECK_OK(dkm_host_unseal(j->host, "timed", svc, j->sealed[i].ptr, j->sealed[i].len,
                                 (const uint8_t *)"ctx", 3, DKM_REFUSE_SEAL_ONLY, &out, NULL));
        CHECK_BUF_STR(out, pt);
        dkm_buffer_free(&out);
    }
    return NULL;
}

static int hexval(char c) {
    return c <= '9' ? c - '0' : c - 'a' + 10;
}

static void run(const char *label, dkm_store *store, const char *pin_dir) {
    dkm_host_options *o = NULL;
    dkm_host *h = NULL;
    static job jobs[THREADS];
    timed_job timed[THREADS];
    pthread_t threads[THREADS];
    pthread_barrier_t barrier;
    dkm_policy pol;
    dkm_buffer id = {NULL, 0, 0};
    uint8_t ring_id[16];
    int t, i;
    char group[128];

    snprintf(group, sizeof group, "%s: 8 threads x 200 secrets on one host and ring", label);
    GROUP(group);
    CHECK_OK(dkm_host_options_new(&o));
    if (pin_dir != NULL) {
        CHECK_OK(dkm_host_options_set_pin_dir(o, pin_dir));
    } else {
        CHECK_OK(dkm_host_options_set_memory_pins(o));
    }
    CHECK_OK(dkm_host_options_set_thread_clock(o));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_host_create_ring(h, "shared", admin, NULL, NULL));
    CHECK_OK(dkm_host_add_member(h, "shared", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_maintain(h, "shared", svc, NULL));
    dkm_thread_clear_time(); /* the workers set their own */
    memset(jobs, 0, sizeof jobs);
    for (t = 0; t < THREADS; t++) {
        jobs[t].t = t;
        jobs[t].host = h;
        jobs[t].ring = "shared";
        CHECK(pthread_create(&threads[t], NULL, seal_worker, &jobs[t]) == 0, "pthread_create");
    }
    for (t = 0; t < THREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0, "pthread_join");
    }
    /* Every secret of every thread, opened from this thread. */
    dkm_thread_set_time(T0 + DAY);
    for (t = 0; t < THREADS; t++) {
        for (i = 0; i < SECRETS; i++) {
            expect_open(h, "shared", &jobs[t], i);
        }
    }
    /* All distinct: no two seals gave the same bytes. */
    for (t = 0; t < THREADS; t++) {
        CHECK(jobs[t].sealed[1].len != jobs[(t + 1) % THREADS].sealed[1].len ||
                  memcmp(jobs[t].sealed[1].ptr, jobs[(t + 1) % THREADS].sealed[1].ptr,
                         jobs[t].sealed[1].len) != 0,
              "distinct sealed secrets");
    }
    {
        int32_t intact = -1;
        CHECK_OK(dkm_host_audit_verify(h, "shared", &intact, NULL));
        CHECK(intact == 1, "the audit chain is intact");
    }
    for (t = 0; t < THREADS; t++) {
        for (i = 0; i < SECRETS; i++) {
            dkm_buffer_free(&jobs[t].sealed[i]);
            free(jobs[t].pt[i]);
        }
    }
    GROUP_END();

    snprintf(group, sizeof group, "%s: 8 threads, each with its own thread time", label);
    GROUP(group);
    dkm_thread_set_time(T0);
    CHECK_OK(dkm_policy_default(&pol));
    pol.interval_secs = INTERVAL;
    pol.freshness_intervals = 64;
    CHECK_OK(dkm_host_create_ring(h, "timed", admin, &pol, &id));
    for (i = 0; i < 16; i++) {
        ring_id[i] = (uint8_t)(hexval((char)id.ptr[2 * i]) * 16 + hexval((char)id.ptr[2 * i + 1]));
    }
    dkm_buffer_free(&id);
    CHECK_OK(dkm_host_add_member(h, "timed", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_maintain(h, "timed", svc, NULL));
    dkm_thread_clear_time();
    CHECK(pthread_barrier_init(&barrier, NULL, THREADS) == 0, "barrier");
    memset(timed, 0, sizeof timed);
    for (t = 0; t < THREADS; t++) {
        timed[t].t = t;
        timed[t].host = h;
        timed[t].barrier = &barrier;
        timed[t].ring_id = ring_id;
        CHECK(pthread_create(&threads[t], NULL, timed_worker, &timed[t]) == 0, "pthread_create");
    }
    for (t = 0; t < THREADS; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0, "pthread_join");
    }
    pthread_barrier_destroy(&barrier);
    /* The main thread set no time: refused. */
    {
        dkm_buffer out = {NULL, 0, 0};
        CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_seal(h, "timed", svc, (const uint8_t *)"x", 1,
                                                      NULL, 0, &out));
        CHECK_BUF_EMPTY(out);
    }
    for (t = 0; t < THREADS; t++) {
        for (i = 0; i < TIMED; i++) {
            dkm_buffer_free(&timed[t].sealed[i]);
        }
    }
    dkm_host_free(h);
    GROUP_END();
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* dkm called from a pthread key's destructor, which may run after the thread's Rust
 * thread-locals are gone: every call still returns a status (no panic crosses into C). */
static pthread_key_t teardown_key;
static int teardown_status = -1;

static void teardown_dtor(void *v) {
    dkm_identity *id = NULL;
    (void)v;
    teardown_status = dkm_identity_generate(&id);
    (void)dkm_last_error_message();
    dkm_identity_free(id);
}

static void *teardown_thread(void *a) {
    dkm_identity *id = NULL;
    (void)a;
    CHECK(pthread_setspecific(teardown_key, (void *)1) == 0, "pthread_setspecific");
    /* A failed call first: the thread's message slot is in use. */
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_identity_generate(NULL));
    CHECK_OK(dkm_identity_generate(&id));
    dkm_identity_free(id);
    return NULL;
}

static void test_thread_teardown(void) {
    pthread_t t;
    printf("-- dkm called while a thread is torn down\n");
    CHECK(pthread_key_create(&teardown_key, teardown_dtor) == 0, "pthread_key_create");
    CHECK(pthread_create(&t, NULL, teardown_thread, NULL) == 0, "pthread_create");
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(teardown_status == DKM_OK, "the destructor's call succeeded");
    CHECK(pthread_key_delete(teardown_key) == 0, "pthread_key_delete");
    printf("ok dkm called while a thread is torn down\n");
}

int main(void) {
    dkm_store *mem = NULL, *files = NULL;
    char tmpl[] = "/tmp/dkm-test-threads-XXXXXX";
    char store_dir[300], pin_dir[300];
    CHECK(mkdtemp(tmpl) != NULL, "mkdtemp");
    snprintf(store_dir, sizeof store_dir, "%s/store", tmpl);
    snprintf(pin_dir, sizeof pin_dir, "%s/pins", tmpl);
    CHECK_OK(dkm_identity_generate(&admin));
    CHECK_OK(dkm_identity_generate(&svc));
    CHECK_OK(dkm_identity_public(svc, &svc_pub));

    CHECK_OK(dkm_store_memory_new(&mem));
    run("memory store", mem, NULL);
    dkm_store_free(mem);

    CHECK_OK(dkm_store_file_new(store_dir, &files));
    run("file store", files, pin_dir);
    dkm_store_free(files);

    dkm_public_identity_free(svc_pub);
    dkm_identity_free(admin);
    dkm_identity_free(svc);
    nftw(tmpl, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    test_thread_teardown();
    printf("test_threads: all checks passed\n");
    return 0;
}
