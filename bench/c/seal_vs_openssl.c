/*
 * libdkm's seal and unseal through the C API against OpenSSL's EVP AES-256-GCM, side by side
 * in one run (alternating rounds, medians): the ratios are what count, not the times.
 *
 *   dkm/memory, dkm/file: dkm_host_seal / dkm_host_unseal on a warm host (ring kept
 *     verified, key holder opened), memory store and file store, system clock.
 *   openssl/rekeyed: per message a fresh RAND_bytes key and nonce, EVP_EncryptInit_ex with
 *     that key (the key schedule every message), 80 bytes of AAD (what dkm authenticates),
 *     the tag: what a C program that keeps a key per message does.
 *   openssl/keyed: the key set up once, a RAND_bytes nonce per message.
 *
 * Usage: seal_vs_openssl [ROUNDS]   (default 31; 3 for a smoke run)
 */
#define _POSIX_C_SOURCE 200809L
#include <dkm.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIE(...)                                                                           \
  do {                                                                                     \
    fprintf(stderr, __VA_ARGS__);                                                          \
    fputc('\n', stderr);                                                                   \
    exit(1);                                                                               \
  } while (0)
#define OK(call)                                                                           \
  do {                                                                                     \
    dkm_status s_ = (call);                                                                \
    if (s_ != DKM_OK) DIE("%s: %s: %s", #call, dkm_status_name(s_), dkm_last_error_message()); \
  } while (0)

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return v[n / 2];
}

static const uint8_t CONTEXT[17] = "mail-account:4242";
static uint8_t aad[80];

typedef struct {
  dkm_host *host;
  dkm_identity *holder;
  const char *ring;
} dkm_ctx;

static void dkm_seal_op(dkm_ctx *c, const uint8_t *pt, size_t len) {
  dkm_buffer out = {0};
  OK(dkm_host_seal(c->host, c->ring, c->holder, pt, len, CONTEXT, sizeof CONTEXT, &out));
  dkm_buffer_free(&out);
}

static void dkm_unseal_op(dkm_ctx *c, const dkm_buffer *sealed) {
  dkm_buffer out = {0};
  OK(dkm_host_unseal(c->host, c->ring, c->holder, sealed->ptr, sealed->len, CONTEXT,
                     sizeof CONTEXT, DKM_REFUSE_SEAL_ONLY, &out, NULL));
  dkm_buffer_free(&out);
}

/* OpenSSL: seal into a fresh buffer (nonce ‖ ciphertext ‖ tag), as dkm returns a new one. */
static void ossl_seal(EVP_CIPHER_CTX *ctx, const uint8_t *fixed_key, const uint8_t *pt,
                      size_t len) {
  uint8_t key[32], nonce[12];
  const uint8_t *k = fixed_key;
  if (!k) {
    if (RAND_bytes(key, sizeof key) != 1) DIE("RAND_bytes");
    k = key;
  }
  if (RAND_bytes(nonce, sizeof nonce) != 1) DIE("RAND_bytes");
  uint8_t *out = malloc(len + 12 + 16);
  if (!out) DIE("malloc");
  int n = 0, f = 0;
  if (fixed_key) {
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1) DIE("init");
  } else if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k, nonce) != 1) {
    DIE("init");
  }
  if (EVP_EncryptUpdate(ctx, NULL, &n, aad, sizeof aad) != 1) DIE("aad");
  if (EVP_EncryptUpdate(ctx, out + 12, &n, pt, (int)len) != 1) DIE("update");
  if (EVP_EncryptFinal_ex(ctx, out + 12 + n, &f) != 1) DIE("final");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + len) != 1) DIE("tag");
  memcpy(out, nonce, 12);
  free(out);
  memset(key, 0, sizeof key);
}

/* OpenSSL: open nonce ‖ ciphertext ‖ tag with the key set up, into a fresh buffer. */
static void ossl_unseal(EVP_CIPHER_CTX *ctx, const uint8_t *sealed, size_t len) {
  size_t ct = len - 12 - 16;
  uint8_t *out = malloc(ct + 1);
  if (!out) DIE("malloc");
  int n = 0, f = 0;
  if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, sealed) != 1) DIE("init");
  if (EVP_DecryptUpdate(ctx, NULL, &n, aad, sizeof aad) != 1) DIE("aad");
  if (EVP_DecryptUpdate(ctx, out, &n, sealed + 12, (int)ct) != 1) DIE("update");
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(sealed + 12 + ct)) != 1)
    DIE("tag");
  if (EVP_DecryptFinal_ex(ctx, out + n, &f) != 1) DIE("open failed");
  memset(out, 0, ct);
  free(out);
}

static dkm_ctx make_host(dkm_store *store, const char *pins) {
  dkm_ctx c = {NULL, NULL, "bench"};
  dkm_host_options *o = NULL;
  dkm_identity *admin = NULL;
  dkm_public_identity *pub = NULL;
  OK(dkm_host_options_new(&o));
  OK(pins ? dkm_host_options_set_pin_dir(o, pins) : dkm_host_options_set_memory_pins(o));
  OK(dkm_host_new(store, o, &c.host));
  dkm_host_options_free(o);
  OK(dkm_identity_generate(&admin));
  OK(dkm_identity_generate(&c.holder));
  OK(dkm_identity_public(c.holder, &pub));
  OK(dkm_host_create_ring(c.host, c.ring, admin, NULL, NULL));
  OK(dkm_host_add_member(c.host, c.ring, admin, DKM_ROLE_SERVICE, pub, NULL));
  OK(dkm_host_maintain(c.host, c.ring, c.holder, NULL));
  dkm_public_identity_free(pub);
  dkm_identity_free(admin);
  return c;
}

enum { PEERS = 5 };
static const char *NAMES[PEERS] = {"dkm/memory", "dkm/file", "openssl/rekeyed",
                                   "openssl/keyed", ""};

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 31;
  if (rounds < 1 || rounds > 1000) DIE("ROUNDS must be 1..1000");
  char dir[] = "/tmp/dkm-bench-XXXXXX";
  if (!mkdtemp(dir)) DIE("mkdtemp");
  char store_dir[64], pins[64];
  snprintf(store_dir, sizeof store_dir, "%s/store", dir);
  snprintf(pins, sizeof pins, "%s/pins", dir);
  memset(aad, 0xa5, sizeof aad);

  dkm_store *mem = NULL, *file = NULL;
  OK(dkm_store_memory_new(&mem));
  OK(dkm_store_file_new(store_dir, &file));
  dkm_ctx hosts[2] = {make_host(mem, NULL), make_host(file, pins)};

  EVP_CIPHER_CTX *rekeyed = EVP_CIPHER_CTX_new(), *keyed = EVP_CIPHER_CTX_new(),
                 *opener = EVP_CIPHER_CTX_new();
  uint8_t key[32];
  if (!rekeyed || !keyed || !opener || RAND_bytes(key, sizeof key) != 1) DIE("openssl setup");
  if (EVP_EncryptInit_ex(keyed, EVP_aes_256_gcm(), NULL, key, NULL) != 1) DIE("init");
  if (EVP_DecryptInit_ex(opener, EVP_aes_256_gcm(), NULL, key, NULL) != 1) DIE("init");

  const size_t sizes[2] = {64, 1 << 20};
  printf("# libdkm vs OpenSSL %s, %d alternating rounds, median ns per operation\n",
         OpenSSL_version_num() ? OPENSSL_VERSION_TEXT : "?", rounds);
  printf("%-8s %-7s %14s %14s %16s %14s   %s\n", "op", "size", NAMES[0], NAMES[1], NAMES[2],
         NAMES[3], "ratios");
  for (int s = 0; s < 2; s++) {
    size_t len = sizes[s];
    int iters = len == 64 ? 2000 : 20;
    uint8_t *pt = malloc(len);
    if (!pt) DIE("malloc");
    memset(pt, 0x42, len);
    double *t[PEERS - 1];
    for (int p = 0; p < PEERS - 1; p++) {
      t[p] = calloc((size_t)rounds, sizeof(double));
      if (!t[p]) DIE("calloc");
    }
    /* seal */
    for (int r = 0; r < rounds; r++) {
      for (int p = 0; p < PEERS - 1; p++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
          if (p < 2) dkm_seal_op(&hosts[p], pt, len);
          else ossl_seal(p == 2 ? rekeyed : keyed, p == 2 ? NULL : key, pt, len);
        }
        t[p][r] = (now_ns() - t0) / iters;
      }
    }
    double m[PEERS - 1], ms[PEERS - 1];
    for (int p = 0; p < PEERS - 1; p++) ms[p] = m[p] = median(t[p], rounds);
    printf("%-8s %-7zu %14.0f %14.0f %16.0f %14.0f   memory/rekeyed %.2fx, memory/keyed %.2fx, "
           "file/rekeyed %.2fx, file/keyed %.2fx\n",
           "seal", len, m[0], m[1], m[2], m[3], m[0] / m[2], m[0] / m[3], m[1] / m[2],
           m[1] / m[3]);
    /* unseal: dkm's own sealed secrets; OpenSSL's with the key set up */
    dkm_buffer sealed[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
    for (int p = 0; p < 2; p++)
      OK(dkm_host_seal(hosts[p].host, hosts[p].ring, hosts[p].holder, pt, len, CONTEXT,
                       sizeof CONTEXT, &sealed[p]));
    size_t olen = len + 12 + 16;
    uint8_t *osealed = malloc(olen);
    if (!osealed) DIE("malloc");
    {
      int n = 0, f = 0;
      if (RAND_bytes(osealed, 12) != 1) DIE("RAND_bytes");
      if (EVP_EncryptInit_ex(keyed, NULL, NULL, NULL, osealed) != 1) DIE("init");
      if (EVP_EncryptUpdate(keyed, NULL, &n, aad, sizeof aad) != 1) DIE("aad");
      if (EVP_EncryptUpdate(keyed, osealed + 12, &n, pt, (int)len) != 1) DIE("update");
      if (EVP_EncryptFinal_ex(keyed, osealed + 12 + n, &f) != 1) DIE("final");
      if (EVP_CIPHER_CTX_ctrl(keyed, EVP_CTRL_GCM_GET_TAG, 16, osealed + 12 + len) != 1) DIE("tag");
    }
    for (int r = 0; r < rounds; r++) {
      for (int p = 0; p < 3; p++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
          if (p < 2) dkm_unseal_op(&hosts[p], &sealed[p]);
          else ossl_unseal(opener, osealed, olen);
        }
        t[p][r] = (now_ns() - t0) / iters;
      }
    }
    for (int p = 0; p < 3; p++) m[p] = median(t[p], rounds);
    printf("%-8s %-7zu %14.0f %14.0f %16s %14.0f   memory/keyed %.2fx, file/keyed %.2fx\n",
           "unseal", len, m[0], m[1], "-", m[2], m[0] / m[2], m[1] / m[2]);
    if (len == (1 << 20))
      printf("# 1 MiB throughput of dkm (memory store) relative to OpenSSL with its key set up: "
             "seal %.2fx, unseal %.2fx\n",
             ms[3] / ms[0], m[2] / m[0]);
    for (int p = 0; p < 2; p++) dkm_buffer_free(&sealed[p]);
    free(osealed);
    for (int p = 0; p < PEERS - 1; p++) free(t[p]);
    free(pt);
  }
  EVP_CIPHER_CTX_free(rekeyed);
  EVP_CIPHER_CTX_free(keyed);
  EVP_CIPHER_CTX_free(opener);
  for (int p = 0; p < 2; p++) {
    dkm_identity_free(hosts[p].holder);
    dkm_host_free(hosts[p].host);
  }
  dkm_store_free(mem);
  dkm_store_free(file);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) DIE("cleanup");
  return 0;
}
