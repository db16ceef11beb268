/*
 * test_etcd.c: the etcd store through the C API (dkm_store_etcd_new), against a real etcd
 * member named by the environment variable DKM_TEST_ETCD ("127.0.0.1:PORT"; scripts/test-c.sh
 * starts one through scripts/lib/etcd.sh). Without it the test FAILS (exit 1): it never skips.
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -pedantic -I c-header/include test_etcd.c \
 *            target/debug/libdkm.a -lpthread -ldl -lm -o test_etcd
 * Run:   DKM_TEST_ETCD=127.0.0.1:2379 ./test_etcd
 *
 *  1. Arguments: a NULL url or out is DKM_INVALID_INPUT; so are URLs that are not etcd's
 *     (foo://x), without a key prefix (etcd://h:1), with a password (etcd://h:1/p?password=x),
 *     with an unknown option or a bad timeout, a CA file that cannot be read, not UTF-8 (URL
 *     or password), and a password without user=; each with its message, *out left NULL.
 *  2. An unreachable member (etcd://127.0.0.1:1/x?timeout=1s: refused) is
 *     DKM_STORE_UNAVAILABLE within about 2 s (checked: under 3 s), with a message; so is a
 *     member that accepts the connection and never answers (a listening socket of this test),
 *     after the 1 s timeout and well before the default 5 s.
 *  3. The story on etcd://$DKM_TEST_ETCD/<a prefix unique to this run>: create a ring, add a
 *     key holder, maintain, seal, unseal; the store handle freed before its host (the host
 *     keeps it alive).
 *  4. A second connection: another store handle and host over the same URL unseal the first
 *     host's secret and seal one the first opens; a store at another prefix does not see the
 *     ring.
 *  5. Threads: 4 threads sealing and unsealing at once on one host over etcd.
 *  6. fork(): in the child, a write through the parent's store is DKM_STORE_UNAVAILABLE (the
 *     store belongs to the parent), and a store opened in the child works (it unseals the
 *     parent's secret). The child ends by exec'ing /bin/true (so valgrind, which does not
 *     follow it, does not count the parent's heap it inherited as leaked) or exits 1.
 *  7. Once every store and host is freed, the stores' client threads end by themselves
 *     (within 10 s: freeing never waits for them), so none is left running (nor its memory
 *     reported by valgrind) at exit.
 * (A ring made by the `dkm` command in etcd, used from C and back: scripts/test-c.sh, with
 * interop.c given an etcd:// URL as its store.)
 */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char url[512];

static const uint8_t *u8(const char *s) {
    return (const uint8_t *)s;
}

static double now_secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A host over `store` with the system clock and pins in memory. */
static dkm_host *new_host(const dkm_store *store) {
    dkm_host_options *o = NULL;
    dkm_host *h = NULL;
    CHECK_OK(dkm_host_options_new(&o));
    CHECK_OK(dkm_host_options_set_memory_pins(o));
    CHECK_OK(dkm_host_new(store, o, &h));
    dkm_host_options_free(o);
    CHECK(h != NULL, "a host");
    return h;
}

static dkm_store *open_etcd(const char *u) {
    dkm_store *s = NULL;
    CHECK_OK(dkm_store_etcd_new(u, NULL, &s));
    CHECK(s != NULL, "a store");
    return s;
}

/* Unseals and expects exactly `pt`. */
static void expect_unseal(dkm_host *h, const char *ring, const dkm_identity *holder,
                          const dkm_buffer *sealed, const char *ctx, const char *pt) {
    dkm_buffer out = {NULL, 0, 0};
    CHECK_OK(dkm_host_unseal(h, ring, holder, sealed->ptr, sealed->len, u8(ctx), strlen(ctx),
                             DKM_REFUSE_SEAL_ONLY, &out, NULL));
    CHECK_BUF_STR(out, pt);
    dkm_buffer_free(&out);
}

/* A bad URL: DKM_INVALID_INPUT with a message containing `needle`, *out NULL. */
static void expect_invalid(const char *u, const char *password, const char *needle) {
    dkm_store *s = (dkm_store *)(void *)&s; /* garbage: must come back NULL */
    int32_t st = dkm_store_etcd_new(u, password, &s);
    const char *m = dkm_last_error_message();
    if (st != DKM_INVALID_INPUT || m == NULL || strstr(m, needle) == NULL) {
        check_fail_status(__FILE__, __LINE__, u ? u : "(NULL url)", DKM_INVALID_INPUT, st, m);
    }
    CHECK(s == NULL, "*out is NULL after a failure");
}

static void test_arguments(void) {
    dkm_store *s = NULL;
    GROUP("arguments and URLs");
    expect_invalid(NULL, NULL, "url is NULL");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_store_etcd_new(url, NULL, NULL));
    CHECK(strstr(dkm_last_error_message(), "out") != NULL, "the message names out");
    expect_invalid("foo://x", NULL, "not an etcd URL");
    expect_invalid("etcd://h:1", NULL, "prefix");
    expect_invalid("etcd://h:1/p?password=x", NULL, "password");
    expect_invalid("etcd://h:1/p?colour=blue", NULL, "unknown etcd URL option");
    expect_invalid("etcd://h:1/p?timeout=soon", NULL, "timeout");
    expect_invalid("etcd://h:1/p", "secret", "without user=");
    expect_invalid("etcds://h:1/p?ca=/nonexistent/ca.pem", NULL, "cannot read");
    expect_invalid("etcd://h:1/p\xff", NULL, "UTF-8");
    expect_invalid("etcd://h:1/p", "\xff", "UTF-8");
    /* A success clears the message; a failure's stays until the next call. */
    CHECK_OK(dkm_store_memory_new(&s));
    CHECK(strcmp(dkm_last_error_message(), "") == 0, "no message after a success");
    dkm_store_free(s);
    GROUP_END();
}

/* Opens `u`, expects DKM_STORE_UNAVAILABLE with a message; how long it took. */
static double expect_unavailable(const char *u) {
    dkm_store *s = (dkm_store *)(void *)&s;
    double t0 = now_secs(), took;
    int32_t st = dkm_store_etcd_new(u, NULL, &s);
    took = now_secs() - t0;
    if (st != DKM_STORE_UNAVAILABLE || strlen(dkm_last_error_message()) == 0) {
        check_fail_status(__FILE__, __LINE__, u, DKM_STORE_UNAVAILABLE, st,
                          dkm_last_error_message());
    }
    CHECK(s == NULL, "*out is NULL after a failure");
    printf("   %s: failed in %.2f s: %s\n", u, took, dkm_last_error_message());
    return took;
}

static void test_unreachable(void) {
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    char silent[128];
    double took;
    int fd;
    GROUP("an unreachable member: DKM_STORE_UNAVAILABLE within the timeout");
    took = expect_unavailable("etcd://127.0.0.1:1/x?timeout=1s");
    CHECK(took < 3.0, "a refused connection fails within about 2 s");
    /* A member that takes the connection (the kernel does, from the backlog) and never
     * answers: only the timeout ends the wait. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket");
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind");
    CHECK(listen(fd, 8) == 0, "listen");
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0, "getsockname");
    snprintf(silent, sizeof silent, "etcd://127.0.0.1:%d/x?timeout=1s", (int)ntohs(a.sin_port));
    took = expect_unavailable(silent);
    CHECK(took >= 0.9 && took < 3.0, "a silent member fails after the 1 s timeout");
    close(fd);
    GROUP_END();
}

typedef struct job {
    dkm_host *host;
    const dkm_identity *holder;
    int index;
    int32_t status;
} job;

static void *worker(void *arg) {
    job *j = (job *)arg;
    int i;
    for (i = 0; i < 5; i++) {
        char pt[64], ctx[64];
        dkm_buffer sealed = {NULL, 0, 0}, out = {NULL, 0, 0};
        snprintf(pt, sizeof pt, "thread %d secret %d", j->index, i);
        snprintf(ctx, sizeof ctx, "acct:%d:%d", j->index, i);
        j->status = dkm_host_seal(j->host, "mail", j->holder, u8(pt), strlen(pt), u8(ctx),
                                  strlen(ctx), &sealed);
        if (j->status == DKM_OK) {
            j->status = dkm_host_unseal(j->host, "mail", j->holder, sealed.ptr, sealed.len,
                                        u8(ctx), strlen(ctx), DKM_REFUSE_SEAL_ONLY, &out, NULL);
            if (j->status == DKM_OK && (out.len != strlen(pt) || memcmp(out.ptr, pt, out.len))) {
                j->status = DKM_INTERNAL;
            }
        }
        dkm_buffer_free(&sealed);
        dkm_buffer_free(&out);
        if (j->status != DKM_OK) {
            return NULL;
        }
    }
    return NULL;
}

static void test_story(void) {
    dkm_identity *admin = NULL, *svc = NULL;
    dkm_public_identity *svc_pub = NULL;
    dkm_store *a = NULL, *b = NULL, *other = NULL;
    dkm_host *ha, *hb, *ho;
    dkm_buffer id = {NULL, 0, 0}, sealed = {NULL, 0, 0}, sealed_b = {NULL, 0, 0};
    dkm_buffer info = {NULL, 0, 0};
    char other_url[600];
    pthread_t threads[4];
    job jobs[4];
    int t;

    GROUP("a ring in etcd: create, add a key holder, maintain, seal, unseal");
    CHECK_OK(dkm_identity_generate(&admin));
    CHECK_OK(dkm_identity_generate(&svc));
    CHECK_OK(dkm_identity_public(svc, &svc_pub));
    a = open_etcd(url);
    ha = new_host(a);
    dkm_store_free(a); /* the host keeps the store (and its connection) alive */
    CHECK_OK(dkm_host_create_ring(ha, "mail", admin, NULL, &id));
    CHECK(check_is_hex((const char *)id.ptr, 32), "the ring id is 32 hex digits");
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_create_ring(ha, "mail", admin, NULL, NULL));
    CHECK_OK(dkm_host_add_member(ha, "mail", admin, DKM_ROLE_SERVICE, svc_pub, NULL));
    CHECK_OK(dkm_host_maintain(ha, "mail", svc, NULL));
    CHECK_OK(dkm_host_seal(ha, "mail", svc, u8("the mail password"), 17, u8("acct:1"), 6,
                           &sealed));
    expect_unseal(ha, "mail", svc, &sealed, "acct:1", "the mail password");
    CHECK_STATUS(DKM_TAMPERED, dkm_host_unseal(ha, "mail", svc, sealed.ptr, sealed.len,
                                               u8("acct:2"), 6, DKM_REFUSE_SEAL_ONLY, &info,
                                               NULL));
    CHECK_BUF_EMPTY(info);
    CHECK_OK(dkm_host_ring_info(ha, "mail", &info));
    CHECK(check_contains(info.ptr, info.len, (const char *)id.ptr), "ring info names the id");
    dkm_buffer_free(&info);
    GROUP_END();

    GROUP("a second connection and host: the same ring");
    b = open_etcd(url);
    hb = new_host(b);
    expect_unseal(hb, "mail", svc, &sealed, "acct:1", "the mail password");
    CHECK_OK(dkm_host_seal(hb, "mail", svc, u8("sealed on b"), 11, u8("acct:2"), 6, &sealed_b));
    expect_unseal(ha, "mail", svc, &sealed_b, "acct:2", "sealed on b");
    /* Another prefix of the same cluster holds no ring "mail". */
    snprintf(other_url, sizeof other_url, "%s-other", url);
    other = open_etcd(other_url);
    ho = new_host(other);
    CHECK_STATUS(DKM_INVALID_INPUT, dkm_host_unseal(ho, "mail", svc, sealed.ptr, sealed.len,
                                                    u8("acct:1"), 6, DKM_REFUSE_SEAL_ONLY,
                                                    &info, NULL));
    dkm_host_free(ho);
    dkm_store_free(other);
    GROUP_END();

    GROUP("fork(): the parent's store is not usable in the child; a new one is");
    fflush(NULL);
    {
        pid_t pid = fork();
        int status = 0;
        CHECK(pid >= 0, "fork");
        if (pid == 0) {
            dkm_store *c = NULL;
            dkm_host_options *o = NULL;
            dkm_host *hc = NULL;
            dkm_buffer out = {NULL, 0, 0};
            int ok = dkm_host_roll_epoch(ha, "mail", svc, NULL) == DKM_STORE_UNAVAILABLE &&
                     strstr(dkm_last_error_message(), "fork") != NULL &&
                     dkm_store_etcd_new(url, NULL, &c) == DKM_OK &&
                     dkm_host_options_new(&o) == DKM_OK &&
                     dkm_host_options_set_memory_pins(o) == DKM_OK &&
                     dkm_host_new(c, o, &hc) == DKM_OK &&
                     dkm_host_unseal(hc, "mail", svc, sealed.ptr, sealed.len, u8("acct:1"), 6,
                                     DKM_REFUSE_SEAL_ONLY, &out, NULL) == DKM_OK &&
                     out.len == 17 && memcmp(out.ptr, "the mail password", 17) == 0;
            if (!ok) {
                fprintf(stderr, "FAIL [fork] in the child: %s\n", dkm_last_error_message());
                _exit(1);
            }
            dkm_buffer_free(&out);
            dkm_host_free(hc);
            dkm_host_options_free(o);
            dkm_store_free(c);
            execl("/bin/true", "true", (char *)NULL);
            _exit(1);
        }
        CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child's checks passed");
    }
    /* The parent's store is untouched by the child. */
    CHECK_OK(dkm_host_roll_epoch(ha, "mail", svc, NULL));
    expect_unseal(hb, "mail", svc, &sealed, "acct:1", "the mail password");
    GROUP_END();

    GROUP("4 threads seal and unseal on one host over etcd");
    for (t = 0; t < 4; t++) {
        jobs[t].host = t % 2 ? hb : ha;
        jobs[t].holder = svc;
        jobs[t].index = t;
        jobs[t].status = DKM_OK;
        CHECK(pthread_create(&threads[t], NULL, worker, &jobs[t]) == 0, "pthread_create");
    }
    for (t = 0; t < 4; t++) {
        CHECK(pthread_join(threads[t], NULL) == 0, "pthread_join");
        CHECK_STATUS(DKM_OK, jobs[t].status);
    }
    GROUP_END();

    dkm_buffer_free(&id);
    dkm_buffer_free(&sealed);
    dkm_buffer_free(&sealed_b);
    dkm_host_free(ha);
    dkm_host_free(hb);
    dkm_store_free(b);
    dkm_public_identity_free(svc_pub);
    dkm_identity_free(svc);
    dkm_identity_free(admin);
}

/* The threads of this process (Linux: /proc/self/task). */
static int thread_count(void) {
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int n = 0;
    CHECK(d != NULL, "open /proc/self/task");
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
        }
    }
    closedir(d);
    return n;
}

static void test_threads_end(void) {
    double t0 = now_secs();
    GROUP("freed stores' threads end by themselves");
    while (thread_count() > 1 && now_secs() - t0 < 10.0) {
        struct timespec ten_ms = {0, 10000000L};
        nanosleep(&ten_ms, NULL);
    }
    printf("   %d thread(s) left after %.2f s\n", thread_count(), now_secs() - t0);
    CHECK(thread_count() == 1, "only the main thread is left");
    GROUP_END();
}

int main(void) {
    const char *member = getenv("DKM_TEST_ETCD");
    if (member == NULL || member[0] == 0) {
        fprintf(stderr, "FAIL: DKM_TEST_ETCD is not set (127.0.0.1:PORT of an etcd member; "
                        "scripts/test-c.sh starts one)\n");
        return 1;
    }
    snprintf(url, sizeof url, "etcd://%s/dkm-c-test-%ld-%ld", member, (long)getpid(),
             (long)time(NULL));
    printf("-- store %s\n", url);
    test_arguments();
    test_unreachable();
    test_story();
    test_threads_end();
    printf("test_etcd: all passed\n");
    return 0;
}
