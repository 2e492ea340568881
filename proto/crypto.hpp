// The two primitives the wire format needs: HMAC-SHA256 (MESSAGE-INTEGRITY-SHA256,
// capacity tokens) and the CRC-32 behind FINGERPRINT.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

namespace turnscout::proto {

inline constexpr size_t kHmacSha256Size = 32;

// HMAC-SHA256 with `key` over the concatenation of `parts`. False if the key is empty or
// the crypto library fails; `out` is then unspecified.
bool hmac_sha256(std::span<const uint8_t> key,
                 std::initializer_list<std::span<const uint8_t>> parts,
                 std::span<uint8_t, kHmacSha256Size> out);

// Compares in time that depends only on the sizes, for MAC checks.
bool constant_time_equal(std::span<const uint8_t> a, std::span<const uint8_t> b);

// ISO-HDLC CRC-32 (the one of zlib's crc32 and gzip), computed by ISA-L.
uint32_t crc32(std::span<const uint8_t> data);

}  // namespace turnscout::proto
