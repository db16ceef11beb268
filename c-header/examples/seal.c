/*
 * A short C program to copy: keep a mail account's password in a dkm ring.
 *
 * It makes a ring in the embedded file store under DIR (a fresh directory), adds a service
 * account as key holder, seals a password, opens it again, and shows the error a tampered
 * secret gives. Build it with pkg-config or CMake (see README.md) and run `./seal DIR`.
 *
 * `./seal DIR etcd://HOST:PORT/PREFIX` keeps the ring in etcd instead (a prefix that holds no
 * ring "mail" yet; the pin book stays under DIR). The stores: dkm_store_file_new(dir),
 * dkm_store_etcd_new(url, password or NULL), dkm_store_memory_new(), and
 * dkm_store_callbacks_new(vtable, user, location) for your own database (docs/FFI.md).
 */
#include <dkm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failed call and its status, then leaves the function. */
#define CHECK(call)                                                                        \
  do {                                                                                     \
    dkm_status s_ = (call);                                                                \
    if (s_ != DKM_OK) {                                                                    \
      fprintf(stderr, "%s failed: %s: %s\n", #call, dkm_status_name(s_),                   \
              dkm_last_error_message());                                                   \
      goto done;                                                                           \
    }                                                                                      \
  } while (0)

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) {
    fprintf(stderr,
            "usage: %s DIR [etcd://HOST:PORT/PREFIX] (a fresh directory for the store and the "
            "pin book; the ring in etcd instead)\n",
            argv[0]);
    return 2;
  }
  char store_dir[4096], pin_dir[4096];
  snprintf(store_dir, sizeof store_dir, "%s/store", argv[1]);
  snprintf(pin_dir, sizeof pin_dir, "%s/pins", argv[1]);

  int result = 1;
  dkm_store *store = NULL;
  dkm_host_options *options = NULL;
  dkm_host *host = NULL;
  dkm_identity *admin = NULL, *service = NULL;
  dkm_public_identity *service_public = NULL;
  dkm_buffer ring_id = {0}, sealed = {0}, plaintext = {0};
  const char *password = "correct horse battery staple";
  const char *context = "mail-account:42"; /* binds the secret to its use */

  if (argc == 3) {
    CHECK(dkm_store_etcd_new(argv[2], NULL, &store)); /* connects: may wait up to 5 s */
  } else {
    CHECK(dkm_store_file_new(store_dir, &store));
  }
  CHECK(dkm_host_options_new(&options));
  CHECK(dkm_host_options_set_pin_dir(options, pin_dir));
  CHECK(dkm_host_new(store, options, &host)); /* the system clock */

  /* People govern the ring; only service accounts hold its keys. */
  CHECK(dkm_identity_generate(&admin));
  CHECK(dkm_identity_generate(&service));
  CHECK(dkm_identity_public(service, &service_public));
  CHECK(dkm_host_create_ring(host, "mail", admin, NULL, &ring_id));
  CHECK(dkm_host_add_member(host, "mail", admin, DKM_ROLE_SERVICE, service_public, NULL));
  CHECK(dkm_host_maintain(host, "mail", service, NULL)); /* the key holder makes the keys */
  printf("ring mail (%s) is ready\n", (const char *)ring_id.ptr);

  CHECK(dkm_host_seal(host, "mail", service, (const uint8_t *)password, strlen(password),
                      (const uint8_t *)context, strlen(context), &sealed));
  printf("sealed %zu bytes of password into %zu bytes\n", strlen(password), sealed.len);

  int32_t origin = 0;
  CHECK(dkm_host_unseal(host, "mail", service, sealed.ptr, sealed.len,
                        (const uint8_t *)context, strlen(context), DKM_REFUSE_SEAL_ONLY,
                        &plaintext, &origin));
  printf("unsealed: %.*s\n", (int)plaintext.len, (const char *)plaintext.ptr);
  dkm_buffer_free(&plaintext); /* zeroizes the password */

  /* One changed byte: the secret no longer opens, and nothing says which byte. */
  sealed.ptr[sealed.len - 1] ^= 1;
  dkm_status s = dkm_host_unseal(host, "mail", service, sealed.ptr, sealed.len,
                                 (const uint8_t *)context, strlen(context),
                                 DKM_REFUSE_SEAL_ONLY, &plaintext, NULL);
  if (s != DKM_TAMPERED) {
    fprintf(stderr, "a tampered secret gave %s\n", dkm_status_name(s));
    goto done;
  }
  printf("a tampered secret: %s (%s)\n", dkm_status_name(s), dkm_last_error_message());
  result = 0;

done:
  dkm_buffer_free(&plaintext);
  dkm_buffer_free(&sealed);
  dkm_buffer_free(&ring_id);
  dkm_public_identity_free(service_public);
  dkm_identity_free(service);
  dkm_identity_free(admin);
  dkm_host_free(host);
  dkm_host_options_free(options);
  dkm_store_free(store);
  return result;
}
