#include "proto/crypto.hpp"

#include <isa-l/crc.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <memory>

namespace turnscout::proto {
namespace {

// Fetching the algorithm is costly; it is done once and kept for the process lifetime.
EVP_MAC* hmac_algorithm() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
  return mac;
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};

}  // namespace

bool hmac_sha256(std::span<const uint8_t> key,
                 std::initializer_list<std::span<const uint8_t>> parts,
                 std::span<uint8_t, kHmacSha256Size> out) {
  HmacSha256 mac;  // One MAC: no re-use, so no self-test either.
  return mac.init_context(key) && mac.finish(parts, out);
}

HmacSha256::~HmacSha256() {
  reset();
}

void HmacSha256::reset() {
  EVP_MAC_CTX_free(ctx_);
  ctx_ = nullptr;
  if (!key_.empty()) OPENSSL_cleanse(key_.data(), key_.size());
  key_.clear();
}

bool HmacSha256::set_key(std::span<const uint8_t> key) {
  reset();
  if (!init_context(key)) return false;
  // OpenSSL 3.0.0 to 3.0.2 ignore a re-initialisation with a null key (their issue 17811):
  // every MAC after the first would be wrong. Two MACs of the same text must agree, or
  // each MAC gets a context of its own, keyed afresh.
  key_.assign(key.begin(), key.end());
  reusable_ = true;
  static constexpr uint8_t kProbe[] = {'t', 'u', 'r', 'n', 's', 'c', 'o', 'u', 't'};
  std::array<uint8_t, kHmacSha256Size> first{};
  std::array<uint8_t, kHmacSha256Size> second{};
  const bool agree = compute({kProbe}, first) && compute({kProbe}, second) && first == second;
  if (!agree) {
    reusable_ = false;
    EVP_MAC_CTX_free(ctx_);
    ctx_ = nullptr;
    if (!init_context(key)) return false;  // Kept only as "has a key"; never re-used.
  }
  return true;
}

bool HmacSha256::init_context(std::span<const uint8_t> key) {
  if (key.empty() || hmac_algorithm() == nullptr) return false;
  std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(EVP_MAC_CTX_new(hmac_algorithm()));
  if (!ctx) return false;
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) return false;
  ctx_ = ctx.release();
  return true;
}

bool HmacSha256::compute(std::initializer_list<std::span<const uint8_t>> parts,
                         std::span<uint8_t, kHmacSha256Size> out) {
  if (ctx_ == nullptr) return false;
  if (!reusable_) {
    HmacSha256 fresh;  // Keyed for this MAC alone: the library's fallback above.
    fresh.reusable_ = false;
    if (!fresh.init_context(key_)) return false;
    return fresh.finish(parts, out);
  }
  // A null key re-initializes with the key already set (EVP_MAC_init(3)).
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1) return false;
  return finish(parts, out);
}

bool HmacSha256::finish(std::initializer_list<std::span<const uint8_t>> parts,
                        std::span<uint8_t, kHmacSha256Size> out) {
  for (const auto& part : parts) {
    if (!part.empty() && EVP_MAC_update(ctx_, part.data(), part.size()) != 1) return false;
  }
  size_t written = 0;
  if (EVP_MAC_final(ctx_, out.data(), &written, out.size()) != 1) return false;
  return written == kHmacSha256Size;
}

bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

uint32_t crc32(std::span<const uint8_t> data) {
  // ISA-L's gzip CRC is zlib's crc32 (tested against zlib), about ten times as fast on a
  // padded Probe: it folds with carry-less multiplication where the CPU has it.
  return crc32_gzip_refl(0, data.data(), data.size());
}

}  // namespace turnscout::proto
