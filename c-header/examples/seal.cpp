// The same story in C++17, with each handle in a std::unique_ptr whose deleter is the
// library's free function, and errors as exceptions. Run `./seal_cpp DIR`.
#include <dkm.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace dkm {

// A failed call: its status (DKM_*) and message.
struct error : std::runtime_error {
  dkm_status status;
  error(dkm_status s, const std::string &what)
      : std::runtime_error(what + ": " + dkm_status_name(s) + ": " + dkm_last_error_message()),
        status(s) {}
};

inline void check(dkm_status s, const char *what) {
  if (s != DKM_OK) throw error(s, what);
}

template <typename T, void (*Free)(T *)>
struct deleter {
  void operator()(T *p) const noexcept { Free(p); }
};
using store = std::unique_ptr<dkm_store, deleter<dkm_store, dkm_store_free>>;
using host = std::unique_ptr<dkm_host, deleter<dkm_host, dkm_host_free>>;
using options = std::unique_ptr<dkm_host_options, deleter<dkm_host_options, dkm_host_options_free>>;
using identity = std::unique_ptr<dkm_identity, deleter<dkm_identity, dkm_identity_free>>;
using public_identity =
    std::unique_ptr<dkm_public_identity, deleter<dkm_public_identity, dkm_public_identity_free>>;

// A library-owned buffer, zeroized and freed when it goes out of scope.
struct buffer {
  dkm_buffer b{nullptr, 0, 0};
  buffer() = default;
  buffer(const buffer &) = delete;
  buffer &operator=(const buffer &) = delete;
  ~buffer() { dkm_buffer_free(&b); }
  // The bytes in place (no copy: a std::string of a plaintext would outlive the buffer's
  // zeroization).
  const char *data() const { return reinterpret_cast<const char *>(b.ptr); }
  int size() const { return static_cast<int>(b.len); }
};

inline identity generate() {
  dkm_identity *p = nullptr;
  check(dkm_identity_generate(&p), "dkm_identity_generate");
  return identity(p);
}

}  // namespace dkm

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR (a fresh directory)\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    dkm_store *s = nullptr;
    dkm::check(dkm_store_file_new((dir + "/store").c_str(), &s), "dkm_store_file_new");
    dkm::store store(s);
    dkm_host_options *o = nullptr;
    dkm::check(dkm_host_options_new(&o), "dkm_host_options_new");
    dkm::options options(o);
    dkm::check(dkm_host_options_set_pin_dir(options.get(), (dir + "/pins").c_str()),
               "dkm_host_options_set_pin_dir");
    dkm_host *h = nullptr;
    dkm::check(dkm_host_new(store.get(), options.get(), &h), "dkm_host_new");
    dkm::host host(h);

    dkm::identity admin = dkm::generate(), service = dkm::generate();
    dkm_public_identity *p = nullptr;
    dkm::check(dkm_identity_public(service.get(), &p), "dkm_identity_public");
    dkm::public_identity service_public(p);
    dkm::check(dkm_host_create_ring(host.get(), "mail", admin.get(), nullptr, nullptr),
               "dkm_host_create_ring");
    dkm::check(dkm_host_add_member(host.get(), "mail", admin.get(), DKM_ROLE_SERVICE,
                                   service_public.get(), nullptr),
               "dkm_host_add_member");
    dkm::check(dkm_host_maintain(host.get(), "mail", service.get(), nullptr), "dkm_host_maintain");

    const std::string password = "correct horse battery staple", context = "mail-account:42";
    auto bytes = [](const std::string &t) { return reinterpret_cast<const uint8_t *>(t.data()); };
    dkm::buffer sealed;
    dkm::check(dkm_host_seal(host.get(), "mail", service.get(), bytes(password), password.size(),
                             bytes(context), context.size(), &sealed.b),
               "dkm_host_seal");
    dkm::buffer plaintext;
    dkm::check(dkm_host_unseal(host.get(), "mail", service.get(), sealed.b.ptr, sealed.b.len,
                               bytes(context), context.size(), DKM_REFUSE_SEAL_ONLY,
                               &plaintext.b, nullptr),
               "dkm_host_unseal");
    std::printf("unsealed: %.*s\n", plaintext.size(), plaintext.data());

    sealed.b.ptr[sealed.b.len - 1] ^= 1;  // a changed byte of the tag
    try {
      dkm::buffer again;
      dkm::check(dkm_host_unseal(host.get(), "mail", service.get(), sealed.b.ptr, sealed.b.len,
                                 bytes(context), context.size(), DKM_REFUSE_SEAL_ONLY, &again.b,
                                 nullptr),
                 "dkm_host_unseal");
      std::fprintf(stderr, "a tampered secret opened\n");
      return 1;
    } catch (const dkm::error &e) {
      std::printf("a tampered secret: %s\n", dkm_status_name(e.status));
    }
    return 0;
  } catch (const dkm::error &e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
