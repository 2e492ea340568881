// The two primitives the wire format needs: HMAC-SHA256 (MESSAGE-INTEGRITY-SHA256,
// capacity tokens) and the CRC-32 behind FINGERPRINT.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

// OpenSSL's EVP_MAC_CTX, kept out of this header.
struct evp_mac_ctx_st;

namespace turnscout::proto {

inline constexpr size_t kHmacSha256Size = 32;

// HMAC-SHA256 with `key` over the concatenation of `parts`. False if the key is empty or
// the crypto library fails; `out` is then unspecified.
bool hmac_sha256(std::span<const uint8_t> key,
                 std::initializer_list<std::span<const uint8_t>> parts,
                 std::span<uint8_t, kHmacSha256Size> out);

// HMAC-SHA256 with one key, set once: each computation re-initializes the same OpenSSL
// context with that key, so after the first nothing is allocated (a worker checks
// heartbeats on its hot path). Not thread-safe: one per thread.
class HmacSha256 {
 public:
  HmacSha256() = default;
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // False (and no key) if `key` is empty or the crypto library fails.
  bool set_key(std::span<const uint8_t> key);
  bool has_key() const { return ctx_ != nullptr; }
  bool compute(std::initializer_list<std::span<const uint8_t>> parts,
               std::span<uint8_t, kHmacSha256Size> out);
  // False when the library cannot re-use a keyed context (OpenSSL before 3.0.3): each
  // MAC then keys a context of its own.
  bool reuses_context() const { return reusable_; }

 private:
  friend bool hmac_sha256(std::span<const uint8_t> key,
                          std::initializer_list<std::span<const uint8_t>> parts,
                          std::span<uint8_t, kHmacSha256Size> out);
  void reset();
  bool init_context(std::span<const uint8_t> key);
  bool finish(std::initializer_list<std::span<const uint8_t>> parts,
              std::span<uint8_t, kHmacSha256Size> out);
  evp_mac_ctx_st* ctx_ = nullptr;
  std::vector<uint8_t> key_;
  bool reusable_ = false;
};

// Compares in time that depends only on the sizes, for MAC checks.
bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

// ISO-HDLC CRC-32 (the one of zlib's crc32 and gzip), computed by ISA-L.
uint32_t crc32(std::span<const uint8_t> data);

}  // namespace turnscout::proto
