/*
 * test_zeroize.c: no secret is left in heap memory the library frees. free and realloc are
 * wrapped (link with -Wl,--wrap=free -Wl,--wrap=realloc): every block freed while the test
 * is armed is scanned for a plaintext marker, a piece of a secret identity's text and the
 * "dkmsec1" prefix. A growing buffer that holds a secret would leave a copy in the block it
 * frees; this found one (identity files with names of 23-51 bytes) and keeps it fixed.
 * Not run under valgrind or ASan, whose allocators the wrap would bypass.
 */
#define _GNU_SOURCE
#include <dkm.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void __real_free(void *);
void *__real_realloc(void *, size_t);

static char needle_pt[] = "PLAINTEXT-MARKER-0123456789";
static char needle_sec[24];   /* a chunk of the secret text's body */
static const char *phase = "setup";
static int armed = 0;
static int hits = 0;

static void scan(void *p, const char *how) {
    if (!armed || !p) return;
    size_t n = malloc_usable_size(p);
    const char *needles[3] = {needle_pt, needle_sec[0] ? needle_sec : NULL, "dkmsec1"};
    for (int k = 0; k < 3; k++) {
        if (!needles[k]) continue;
        size_t m = strlen(needles[k]);
        if (n >= m && memmem(p, n, needles[k], m)) {
            char msg[256];
            int l = snprintf(msg, sizeof msg, "LEAK [%s] %s of %zu-byte block holds %s\n", phase, how, n,
                             k == 0 ? "the plaintext" : k == 1 ? "secret text body" : "\"dkmsec1\"");
            if (write(2, msg, (size_t)l) < 0) {
                /* nothing more to do: the count below still fails the test */
            }
            hits++;
        }
    }
}
void __wrap_free(void *p) { scan(p, "free"); __real_free(p); }
void *__wrap_realloc(void *p, size_t n) {
    if (!p || !armed) return __real_realloc(p, n);
    size_t old = malloc_usable_size(p);
    void *q = malloc(n);
    if (!q) return NULL;
    memcpy(q, p, old < n ? old : n);
    scan(p, "realloc");
    __real_free(p);
    return q;
}

#define OK(x) do { dkm_status s_ = (x); if (s_) { fprintf(stderr, "%s: %s %s\n", #x, dkm_status_name(s_), dkm_last_error_message()); exit(1);} } while (0)

int main(void) {
    char dir[] = "/tmp/dkm-test-zeroize-XXXXXX";
    char path[512];
    dkm_store *store; dkm_host_options *o; dkm_host *h;
    dkm_identity *admin, *svc, *svc2, *svc3;
    dkm_public_identity *svcp;
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    OK(dkm_store_memory_new(&store));
    OK(dkm_host_options_new(&o));
    OK(dkm_host_options_set_memory_pins(o));
    OK(dkm_host_options_set_fixed_clock(o, 1800000000));
    OK(dkm_host_new(store, o, &h));
    OK(dkm_identity_generate(&admin));
    OK(dkm_identity_generate(&svc));
    OK(dkm_identity_public(svc, &svcp));
    OK(dkm_host_create_ring(h, "r", admin, NULL, NULL));
    OK(dkm_host_add_member(h, "r", admin, DKM_ROLE_SERVICE, svcp, NULL));
    OK(dkm_host_maintain(h, "r", svc, NULL));

    dkm_buffer t = {0};
    OK(dkm_identity_to_text(svc, &t));
    memcpy(needle_sec, (char *)t.ptr + 20, 20);
    char sectext[200]; memcpy(sectext, t.ptr, t.len + 1);
    dkm_buffer_free(&t);
    armed = 1;

    phase = "identity_to_text"; OK(dkm_identity_to_text(svc, &t)); dkm_buffer_free(&t);
    phase = "identity_from_text"; OK(dkm_identity_from_text((const uint8_t *)sectext, strlen(sectext), &svc2));
    for (int L = 1; L <= 64; L++) {
        char name[80]; memset(name, 'n', L); name[L] = 0;
        snprintf(path, sizeof path, "%s/id%d", dir, L); unlink(path);
        static char ph[64]; snprintf(ph, sizeof ph, "identity_write_file(name of %d bytes)", L); phase = ph;
        OK(dkm_identity_write_file(svc, path, name));
    }
    phase = "identity_read_file"; snprintf(path, sizeof path, "%s/id30", dir);
    OK(dkm_identity_read_file(path, &svc3, NULL));
    const char *pt = needle_pt; size_t ptl = strlen(pt);
    dkm_buffer sealed = {0}, armored = {0}, out = {0}, pub = {0}, so = {0};
    phase = "seal"; OK(dkm_host_seal(h, "r", svc, (const uint8_t *)pt, ptl, (const uint8_t *)"c", 1, &sealed));
    phase = "unseal"; OK(dkm_host_unseal(h, "r", svc, sealed.ptr, sealed.len, (const uint8_t *)"c", 1, DKM_ACCEPT_SEAL_ONLY, &out, NULL)); dkm_buffer_free(&out);
    phase = "seal_armored"; OK(dkm_host_seal_armored(h, "r", svc, (const uint8_t *)pt, ptl, (const uint8_t *)"c", 1, &armored));
    phase = "unseal armored"; OK(dkm_host_unseal(h, "r", svc, armored.ptr, armored.len, (const uint8_t *)"c", 1, DKM_ACCEPT_SEAL_ONLY, &out, NULL)); dkm_buffer_free(&out);
    phase = "unseal wrong context"; dkm_host_unseal(h, "r", svc, sealed.ptr, sealed.len, (const uint8_t *)"d", 1, DKM_ACCEPT_SEAL_ONLY, &out, NULL);
    phase = "export_public"; OK(dkm_host_export_public(h, "r", &pub));
    dkm_ring_public *rp; OK(dkm_ring_public_new(pub.ptr, pub.len, NULL, 0, &rp));
    phase = "seal_to_public"; OK(dkm_host_seal_to_public(h, rp, (const uint8_t *)pt, ptl, (const uint8_t *)"c", 1, 1, &so));
    phase = "unseal seal-only"; OK(dkm_host_unseal(h, "r", svc, so.ptr, so.len, (const uint8_t *)"c", 1, DKM_ACCEPT_SEAL_ONLY, &out, NULL)); dkm_buffer_free(&out);
    phase = "public_identity_from_text(secret)"; dkm_public_identity *pp; dkm_public_identity_from_text(sectext, &pp);
    phase = "identity_free"; dkm_identity_free(svc2); dkm_identity_free(svc3);
    phase = "teardown";
    dkm_buffer_free(&sealed); dkm_buffer_free(&armored); dkm_buffer_free(&pub); dkm_buffer_free(&so);
    dkm_ring_public_free(rp); dkm_public_identity_free(svcp);
    dkm_identity_free(svc); dkm_identity_free(admin);
    dkm_host_free(h); dkm_host_options_free(o); dkm_store_free(store);
    armed = 0;
    for (int L = 1; L <= 64; L++) {
        snprintf(path, sizeof path, "%s/id%d", dir, L);
        unlink(path);
    }
    rmdir(dir);
    printf("test_zeroize: %d secret(s) left in freed memory\n", hits);
    return hits != 0;
}
