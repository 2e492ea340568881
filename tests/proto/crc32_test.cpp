// The FINGERPRINT CRC-32 (ISA-L) against zlib's crc32, the reference the STUN RFCs name;
// and the HMAC-SHA256 of proto/crypto.hpp.
#include <doctest/doctest.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "proto/crypto.hpp"

namespace turnscout::proto {
namespace {

uint32_t zlib_crc32(std::span<const uint8_t> data) {
  return static_cast<uint32_t>(::crc32(0L, data.data(), static_cast<uInt>(data.size())));
}

TEST_CASE("crc32: the catalogue check value of CRC-32/ISO-HDLC") {
  constexpr std::string_view kCheck = "123456789";
  const std::span bytes(reinterpret_cast<const uint8_t*>(kCheck.data()), kCheck.size());
  CHECK(crc32(bytes) == 0xCBF43926u);
  CHECK(crc32({}) == 0u);
}

TEST_CASE("crc32: equals zlib's for every length up to 2100 bytes and every alignment") {
  std::mt19937 rng(20261121);
  std::vector<uint8_t> buffer(2100 + 16);
  for (uint8_t& b : buffer)
    b = static_cast<uint8_t>(rng());
  size_t mismatches = 0;
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t length = 0; offset + length <= buffer.size(); ++length) {
      const std::span<const uint8_t> data(buffer.data() + offset, length);
      if (crc32(data) != zlib_crc32(data)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("crc32: equals zlib's on a whole 64 KiB message and on constant runs") {
  std::vector<uint8_t> zeros(65535, 0x00);
  std::vector<uint8_t> ones(65535, 0xFF);
  std::vector<uint8_t> random(65535);
  std::mt19937 rng(7);
  for (uint8_t& b : random)
    b = static_cast<uint8_t>(rng());
  for (const auto* data : {&zeros, &ones, &random}) {
    CHECK(crc32(*data) == zlib_crc32(*data));
  }
}

}  // namespace
}  // namespace turnscout::proto

// RFC 4231 test case 2 ("Jefe"), and a keyed context re-used for many MACs in a row, as a
// worker checks heartbeats: every MAC equals a one-shot MAC of the same text.
TEST_CASE("HMAC-SHA256: RFC 4231, and a re-used keyed context agrees with one-shot MACs") {
  const std::string key = "Jefe";
  const std::string text = "what do ya want for nothing?";
  std::array<uint8_t, turnscout::proto::kHmacSha256Size> mac{};
  auto bytes = [](const std::string& s) {
    return std::span(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  REQUIRE(turnscout::proto::hmac_sha256(bytes(key), {bytes(text)}, mac));
  std::string hexed;
  for (uint8_t b : mac) {
    hexed += "0123456789abcdef"[b >> 4];
    hexed += "0123456789abcdef"[b & 15];
  }
  CHECK(hexed == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  turnscout::proto::HmacSha256 keyed;
  REQUIRE(keyed.set_key(bytes(key)));
  CHECK(keyed.reuses_context());  // OpenSSL 3.0.3 or later.
  for (int i = 0; i < 50; ++i) {
    const std::string message = "heartbeat " + std::to_string(i);
    std::array<uint8_t, turnscout::proto::kHmacSha256Size> once{};
    std::array<uint8_t, turnscout::proto::kHmacSha256Size> again{};
    REQUIRE(turnscout::proto::hmac_sha256(bytes(key), {bytes(message)}, once));
    REQUIRE(keyed.compute({bytes(message)}, again));
    CHECK(once == again);
  }
  turnscout::proto::HmacSha256 none;
  CHECK_FALSE(none.set_key({}));
  CHECK_FALSE(none.compute({bytes(text)}, mac));
}
