/*
 * interop.c: seals and unseals from C on the `dkm` command's store (a file store directory or an
 * etcd:// URL), for a shell test that passes secrets between C and the command (scripts/test-c.sh).
 *
 * Build: gcc -std=c11 -Wall -Wextra -Werror -pedantic -I c-header/include interop.c \
 *            target/debug/libdkm.a -lpthread -ldl -lm -o interop
 * Usage:
 *   interop seal   STORE_DIR PIN_DIR RING IDENTITY_FILE CONTEXT OUT_FILE  < plaintext
 *   interop unseal STORE_DIR PIN_DIR RING IDENTITY_FILE CONTEXT IN_FILE   > plaintext
 *
 * `seal` reads the plaintext from stdin and writes the binary sealed secret to OUT_FILE;
 * `unseal` reads a sealed secret (binary or dkm1: armor) from IN_FILE and writes the plaintext
 * to stdout (secrets sealed by seal-only parties are accepted). The host uses the file store in
 * STORE_DIR (or, when STORE_DIR is an etcd:// or etcds:// URL, the etcd store it names, with
 * the password in DKM_ETCD_PASSWORD as the command takes it), the pin book in PIN_DIR and the
 * system clock; CONTEXT is the context's bytes (may be empty).
 *
 * Exit status: the dkm status (0 on success; e.g. 5 for DKM_TAMPERED), with
 * dkm_last_error_message() on stderr. Failures outside the library (usage, reading or writing
 * a file) exit with DKM_INVALID_INPUT (10), as the library does for a file it cannot read.
 */
#define _XOPEN_SOURCE 700

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkm.h"

static int failed(const char *what, dkm_status status) {
    fprintf(stderr, "interop: %s: %s (%d): %s\n", what, dkm_status_name(status), (int)status,
            dkm_last_error_message());
    return (int)status;
}

static int usage(void) {
    fprintf(stderr,
            "usage: interop seal   STORE_DIR PIN_DIR RING IDENTITY_FILE CONTEXT OUT_FILE < plaintext\n"
            "       interop unseal STORE_DIR PIN_DIR RING IDENTITY_FILE CONTEXT IN_FILE > plaintext\n");
    return DKM_INVALID_INPUT;
}

/* Overwrites memory that held a secret (not optimized away: through a volatile pointer). */
static void wipe(void *p, size_t n) {
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) {
        *v++ = 0;
    }
}

/* Reads all of `f` into a malloc'd buffer; NULL on an error (errno set). */
static uint8_t *read_all(FILE *f, size_t *len) {
    size_t cap = 4096, n = 0;
    uint8_t *buf = (uint8_t *)malloc(cap);
    if (buf == NULL) {
        return NULL;
    }
    for (;;) {
        size_t got;
        if (n == cap) {
            uint8_t *bigger = (uint8_t *)malloc(cap * 2);
            if (bigger == NULL) {
                wipe(buf, n);
                free(buf);
                return NULL;
            }
            memcpy(bigger, buf, n);
            wipe(buf, n); /* no copy of a secret left behind by a realloc */
            free(buf);
            buf = bigger;
            cap *= 2;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                wipe(buf, n);
                free(buf);
                return NULL;
            }
            break;
        }
    }
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    const char *verb, *store_dir, *pin_dir, *ring, *identity_file, *context, *file;
    dkm_store *store = NULL;
    dkm_host_options *options = NULL;
    dkm_host *host = NULL;
    dkm_identity *identity = NULL;
    dkm_buffer out = {NULL, 0, 0};
    dkm_status st;
    int code = 0;

    if (argc != 8) {
        return usage();
    }
    verb = argv[1];
    store_dir = argv[2];
    pin_dir = argv[3];
    ring = argv[4];
    identity_file = argv[5];
    context = argv[6];
    file = argv[7];
    if (strcmp(verb, "seal") != 0 && strcmp(verb, "unseal") != 0) {
        return usage();
    }

    if ((st = dkm_identity_read_file(identity_file, &identity, NULL)) != DKM_OK) {
        return failed("reading the identity file", st);
    }
    if (strncmp(store_dir, "etcd://", 7) == 0 || strncmp(store_dir, "etcds://", 8) == 0) {
        st = dkm_store_etcd_new(store_dir, getenv("DKM_ETCD_PASSWORD"), &store);
    } else {
        st = dkm_store_file_new(store_dir, &store);
    }
    if (st != DKM_OK) {
        code = failed("opening the store", st);
        goto done;
    }
    if ((st = dkm_host_options_new(&options)) != DKM_OK ||
        (st = dkm_host_options_set_pin_dir(options, pin_dir)) != DKM_OK ||
        (st = dkm_host_new(store, options, &host)) != DKM_OK) {
        code = failed("making the host", st);
        goto done;
    }

    if (strcmp(verb, "seal") == 0) {
        size_t len = 0;
        uint8_t *plaintext = read_all(stdin, &len);
        FILE *f;
        if (plaintext == NULL) {
            fprintf(stderr, "interop: cannot read the plaintext from stdin: %s\n", strerror(errno));
            code = DKM_INVALID_INPUT;
            goto done;
        }
        st = dkm_host_seal(host, ring, identity, plaintext, len, (const uint8_t *)context,
                           strlen(context), &out);
        wipe(plaintext, len);
        free(plaintext);
        if (st != DKM_OK) {
            code = failed("sealing", st);
            goto done;
        }
        f = fopen(file, "wb");
        if (f == NULL || fwrite(out.ptr, 1, out.len, f) != out.len || fclose(f) != 0) {
            fprintf(stderr, "interop: cannot write %s: %s\n", file, strerror(errno));
            code = DKM_INVALID_INPUT;
            goto done;
        }
    } else {
        size_t len = 0;
        uint8_t *sealed;
        FILE *f = fopen(file, "rb");
        if (f == NULL) {
            fprintf(stderr, "interop: cannot open %s: %s\n", file, strerror(errno));
            code = DKM_INVALID_INPUT;
            goto done;
        }
        sealed = read_all(f, &len);
        fclose(f);
        if (sealed == NULL) {
            fprintf(stderr, "interop: cannot read %s: %s\n", file, strerror(errno));
            code = DKM_INVALID_INPUT;
            goto done;
        }
        st = dkm_host_unseal(host, ring, identity, sealed, len, (const uint8_t *)context,
                             strlen(context), DKM_ACCEPT_SEAL_ONLY, &out, NULL);
        free(sealed);
        if (st != DKM_OK) {
            code = failed("unsealing", st);
            goto done;
        }
        if (fwrite(out.ptr, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
            fprintf(stderr, "interop: cannot write the plaintext: %s\n", strerror(errno));
            code = DKM_INVALID_INPUT;
            goto done;
        }
    }

done:
    dkm_buffer_free(&out);
    dkm_host_free(host);
    dkm_host_options_free(options);
    dkm_store_free(store);
    dkm_identity_free(identity);
    return code;
}
