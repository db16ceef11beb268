// test_cpp.cpp: dkm.h from C++17, handles owned by std::unique_ptr with the library's free
// functions as deleters, buffers by a small RAII type.
//
// Build: g++ -std=c++17 -Wall -Wextra -Werror -pedantic -I c-header/include test_cpp.cpp
//            target/debug/libdkm.a -lpthread -ldl -lm -o test_cpp   (one command line)
// Run:   ./test_cpp
//
// Makes a ring in a memory store (fixed clock, memory pins), seals and unseals (binary and
// armored), checks a changed byte and a wrong context are DKM_TAMPERED (with the thread's
// message), and that every handle and buffer is released by its owner.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dkm.h"

namespace {

// Each handle type with its free function as the deleter.
template <typename T, void (*Free)(T *)>
struct Deleter {
    void operator()(T *p) const noexcept { Free(p); }
};
using Identity = std::unique_ptr<dkm_identity, Deleter<dkm_identity, dkm_identity_free>>;
using PublicIdentity =
    std::unique_ptr<dkm_public_identity, Deleter<dkm_public_identity, dkm_public_identity_free>>;
using Store = std::unique_ptr<dkm_store, Deleter<dkm_store, dkm_store_free>>;
using Host = std::unique_ptr<dkm_host, Deleter<dkm_host, dkm_host_free>>;
using Options =
    std::unique_ptr<dkm_host_options, Deleter<dkm_host_options, dkm_host_options_free>>;
using RingPublic =
    std::unique_ptr<dkm_ring_public, Deleter<dkm_ring_public, dkm_ring_public_free>>;

// A library-owned buffer, zeroized and freed when it goes out of scope.
class Buffer {
  public:
    Buffer() = default;
    Buffer(const Buffer &) = delete;
    Buffer &operator=(const Buffer &) = delete;
    ~Buffer() { dkm_buffer_free(&buf_); }
    dkm_buffer *out() {
        dkm_buffer_free(&buf_);
        return &buf_;
    }
    const uint8_t *data() const { return buf_.ptr; }
    size_t size() const { return buf_.len; }
    bool empty_out() const { return buf_.ptr == nullptr && buf_.len == 0; }
    std::string str() const {
        return buf_.ptr ? std::string(reinterpret_cast<const char *>(buf_.ptr), buf_.len)
                        : std::string();
    }

  private:
    dkm_buffer buf_{nullptr, 0, 0};
};

[[noreturn]] void fail(int line, const char *what, dkm_status expected, dkm_status got) {
    std::fprintf(stderr, "FAIL test_cpp.cpp:%d: %s\n  expected %d (%s), got %d (%s)\n  last error: \"%s\"\n",
                 line, what, static_cast<int>(expected), dkm_status_name(expected),
                 static_cast<int>(got), dkm_status_name(got), dkm_last_error_message());
    std::exit(1);
}

#define EXPECT_STATUS(expected, call)                                                        \
    do {                                                                                     \
        const dkm_status got_ = (call);                                                      \
        if (got_ != (expected)) fail(__LINE__, #call, (expected), got_);                     \
    } while (0)
#define EXPECT_OK(call) EXPECT_STATUS(DKM_OK, call)
#define EXPECT(cond)                                                                         \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "FAIL test_cpp.cpp:%d: %s\n  last error: \"%s\"\n", __LINE__, \
                         #cond, dkm_last_error_message());                                   \
            std::exit(1);                                                                    \
        }                                                                                    \
    } while (0)

Identity generate() {
    dkm_identity *raw = nullptr;
    EXPECT_OK(dkm_identity_generate(&raw));
    return Identity(raw);
}

PublicIdentity public_of(const Identity &id) {
    dkm_public_identity *raw = nullptr;
    EXPECT_OK(dkm_identity_public(id.get(), &raw));
    return PublicIdentity(raw);
}

const uint8_t *bytes(const std::string &s) { return reinterpret_cast<const uint8_t *>(s.data()); }

}  // namespace

int main() {
    constexpr uint64_t t0 = 1900000000;
    static_assert(DKM_TAMPERED == 5, "stable status codes");

    std::printf("-- C++: handles in unique_ptr, ring in a memory store, seal / unseal\n");
    EXPECT(std::string(dkm_version()) == DKM_VERSION_STRING);
    Identity admin = generate();
    Identity svc = generate();
    PublicIdentity svc_pub = public_of(svc);

    Store store;
    {
        dkm_store *raw = nullptr;
        EXPECT_OK(dkm_store_memory_new(&raw));
        store.reset(raw);
    }
    Host host;
    {
        Options options;
        dkm_host_options *raw_options = nullptr;
        EXPECT_OK(dkm_host_options_new(&raw_options));
        options.reset(raw_options);
        EXPECT_OK(dkm_host_options_set_memory_pins(options.get()));
        EXPECT_OK(dkm_host_options_set_fixed_clock(options.get(), t0));
        dkm_host *raw = nullptr;
        EXPECT_OK(dkm_host_new(store.get(), options.get(), &raw));
        host.reset(raw);
    }  // the options are freed here; the host does not need them
    store.reset();  // the host keeps the store alive

    Buffer ring_id;
    EXPECT_OK(dkm_host_create_ring(host.get(), "cpp", admin.get(), nullptr, ring_id.out()));
    EXPECT(ring_id.size() == 32);
    dkm_change change{};
    EXPECT_OK(dkm_host_add_member(host.get(), "cpp", admin.get(), DKM_ROLE_SERVICE, svc_pub.get(),
                                  &change));
    EXPECT(change.outcome == DKM_CHANGE_APPLIED && change.version == 2);
    EXPECT_OK(dkm_host_maintain(host.get(), "cpp", svc.get(), nullptr));

    const std::string secret = std::string("C++ secret\0with a NUL", 21);
    const std::string context = "ctx:cpp";
    Buffer sealed;
    EXPECT_OK(dkm_host_seal(host.get(), "cpp", svc.get(), bytes(secret), secret.size(),
                            bytes(context), context.size(), sealed.out()));
    {
        Buffer plain;
        int32_t origin = 0;
        EXPECT_OK(dkm_host_unseal(host.get(), "cpp", svc.get(), sealed.data(), sealed.size(),
                                  bytes(context), context.size(), DKM_REFUSE_SEAL_ONLY,
                                  plain.out(), &origin));
        EXPECT(plain.str() == secret);
        EXPECT(origin == DKM_ORIGIN_KEY_HOLDER);
    }
    Buffer armored;
    EXPECT_OK(dkm_host_seal_armored(host.get(), "cpp", svc.get(), bytes(secret), secret.size(),
                                    nullptr, 0, armored.out()));
    EXPECT(armored.str().rfind("dkm1:", 0) == 0);
    {
        Buffer plain;
        EXPECT_OK(dkm_host_unseal(host.get(), "cpp", svc.get(), armored.data(), armored.size(),
                                  nullptr, 0, DKM_ACCEPT_SEAL_ONLY, plain.out(), nullptr));
        EXPECT(plain.str() == secret);
    }
    std::printf("ok C++: handles in unique_ptr, ring in a memory store, seal / unseal\n");

    std::printf("-- C++: Tampered\n");
    {
        // A changed byte: DKM_TAMPERED, nothing handed out, a message on this thread.
        std::vector<uint8_t> changed(sealed.data(), sealed.data() + sealed.size());
        changed.back() ^= 0x01;
        Buffer plain;
        EXPECT_STATUS(DKM_TAMPERED,
                      dkm_host_unseal(host.get(), "cpp", svc.get(), changed.data(), changed.size(),
                                      bytes(context), context.size(), DKM_ACCEPT_SEAL_ONLY,
                                      plain.out(), nullptr));
        EXPECT(plain.empty_out());
        EXPECT(std::strlen(dkm_last_error_message()) > 0);
        EXPECT(std::string(dkm_status_name(DKM_TAMPERED)) == "Tampered");
        // The wrong context: DKM_TAMPERED too.
        const std::string wrong = "ctx:other";
        EXPECT_STATUS(DKM_TAMPERED,
                      dkm_host_unseal(host.get(), "cpp", svc.get(), sealed.data(), sealed.size(),
                                      bytes(wrong), wrong.size(), DKM_ACCEPT_SEAL_ONLY, plain.out(),
                                      nullptr));
        EXPECT(plain.empty_out());
    }
    {
        // Seal-only through a ring_public handle owned by a unique_ptr.
        Buffer part;
        EXPECT_OK(dkm_host_export_public(host.get(), "cpp", part.out()));
        dkm_ring_public *raw = nullptr;
        EXPECT_OK(dkm_ring_public_new(part.data(), part.size(), nullptr, 0, &raw));
        RingPublic rp(raw);
        Buffer to_public;
        EXPECT_OK(dkm_host_seal_to_public(host.get(), rp.get(), bytes(secret), secret.size(),
                                          nullptr, 0, 0, to_public.out()));
        Buffer plain;
        int32_t origin = 0;
        EXPECT_OK(dkm_host_unseal(host.get(), "cpp", svc.get(), to_public.data(), to_public.size(),
                                  nullptr, 0, DKM_ACCEPT_SEAL_ONLY, plain.out(), &origin));
        EXPECT(plain.str() == secret && origin == DKM_ORIGIN_SEAL_ONLY);
    }
    std::printf("ok C++: Tampered\n");
    std::printf("test_cpp: all checks passed\n");
    return 0;
}
