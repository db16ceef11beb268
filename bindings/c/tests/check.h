/*
 * check.h: the check macros the C tests of libdkm share (header only).
 *
 * Every check fails the program at once (exit 1) with a message naming the check (file, line
 * and the call's text), the status it got and expected (code and dkm_status_name), and
 * dkm_last_error_message() as it was right after the call. Statuses are plain int32_t.
 *
 *   CHECK_OK(call)                  the call returns DKM_OK
 *   CHECK_STATUS(expected, call)    the call returns exactly `expected`
 *   CHECK(cond, what)               a condition on results
 *   CHECK_BUF_EQ(buf, bytes, len)   a dkm_buffer holds exactly these bytes (and a NUL after)
 *   CHECK_BUF_STR(buf, text)        a dkm_buffer holds exactly this C string
 *   CHECK_BUF_EMPTY(buf)            a dkm_buffer is {NULL, 0, 0} (a failed call's out-parameter)
 *   GROUP(name) ... GROUP_END()     prints one line per group of checks
 */
#ifndef DKM_TEST_CHECK_H
#define DKM_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dkm.h"

#if defined(__GNUC__)
#define CHECK_UNUSED __attribute__((unused))
#else
#define CHECK_UNUSED
#endif

static const char *check_group_name = "";

/* Prints the failure and exits 1. `message` is dkm_last_error_message() taken right after the
 * call that failed (before any other dkm call could replace it). */
static CHECK_UNUSED void check_fail_status(const char *file, int line, const char *what,
                                           int32_t expected, int32_t got, const char *message) {
    fprintf(stderr,
            "FAIL [%s] %s:%d: %s\n  expected status %d (%s), got %d (%s)\n  last error: \"%s\"\n",
            check_group_name, file, line, what, (int)expected, dkm_status_name(expected),
            (int)got, dkm_status_name(got), message ? message : "(null)");
    fflush(stderr);
    exit(1);
}

static CHECK_UNUSED void check_fail(const char *file, int line, const char *what) {
    const char *message = dkm_last_error_message();
    fprintf(stderr, "FAIL [%s] %s:%d: %s\n  last error: \"%s\"\n", check_group_name, file, line,
            what, message ? message : "(null)");
    fflush(stderr);
    exit(1);
}

#define CHECK_STATUS(expected, call)                                                         \
    do {                                                                                     \
        int32_t check_got_ = (int32_t)(call);                                                \
        int32_t check_expected_ = (int32_t)(expected);                                       \
        if (check_got_ != check_expected_) {                                                 \
            check_fail_status(__FILE__, __LINE__, #call, check_expected_, check_got_,        \
                              dkm_last_error_message());                                     \
        }                                                                                    \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(DKM_OK, call)

#define CHECK(cond, what)                                                                    \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            check_fail(__FILE__, __LINE__, "check failed: " #cond " (" what ")");            \
        }                                                                                    \
    } while (0)

static CHECK_UNUSED int check_buf_eq(const dkm_buffer *b, const void *bytes, size_t len) {
    if (b->ptr == NULL || b->len != len) {
        return 0;
    }
    if (len > 0 && memcmp(b->ptr, bytes, len) != 0) {
        return 0;
    }
    return b->ptr[len] == 0; /* the documented NUL after the bytes */
}

#define CHECK_BUF_EQ(buf, bytes, len)                                                        \
    CHECK(check_buf_eq(&(buf), (bytes), (len)), "buffer " #buf " holds exactly " #bytes)

#define CHECK_BUF_STR(buf, text)                                                             \
    CHECK(check_buf_eq(&(buf), (text), strlen(text)), "buffer " #buf " is the text " #text)

#define CHECK_BUF_EMPTY(buf)                                                                 \
    CHECK((buf).ptr == NULL && (buf).len == 0 && (buf).capacity == 0, "buffer " #buf " is {NULL, 0, 0}")

#define GROUP(name)                                                                          \
    do {                                                                                     \
        check_group_name = (name);                                                           \
        printf("-- %s\n", check_group_name);                                                 \
        fflush(stdout);                                                                      \
    } while (0)

#define GROUP_END()                                                                          \
    do {                                                                                     \
        printf("ok %s\n", check_group_name);                                                 \
        fflush(stdout);                                                                      \
    } while (0)

/* True when `s` is exactly `n` lowercase hex digits. */
static CHECK_UNUSED int check_is_hex(const char *s, size_t n) {
    size_t i;
    if (s == NULL || strlen(s) != n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

/* True when `hay` (len bytes, not NUL-terminated) contains the C string `needle`. */
static CHECK_UNUSED int check_contains(const void *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    size_t i;
    const unsigned char *h = (const unsigned char *)hay;
    if (n == 0) {
        return 1;
    }
    if (hay == NULL || len < n) {
        return 0;
    }
    for (i = 0; i + n <= len; i++) {
        if (memcmp(h + i, needle, n) == 0) {
            return 1;
        }
    }
    return 0;
}

#endif /* DKM_TEST_CHECK_H */
