// The FINGERPRINT CRC-32 (ISA-L) against zlib's crc32, the reference the STUN RFCs name.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
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
