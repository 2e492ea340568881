// Stream framing (RFC 8489 §6.2.2): where each message ends in bytes that arrive in any
// chunks, and which streams are refused as soon as their first bytes show it.
#include <doctest/doctest.h>

#include <span>
#include <vector>

#include "proto/proto.hpp"

namespace turnscout::proto {
namespace {

std::vector<uint8_t> probe(size_t pad_to) {
  ProbeRequest r;
  r.transaction_id = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  r.pad_to = pad_to;
  std::vector<uint8_t> out(1500);
  const auto n = encode_probe_request(r, out);
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

}  // namespace

TEST_CASE("next_frame finds each message of a stream, whatever the chunks") {
  const std::vector<uint8_t> a = probe(0);
  const std::vector<uint8_t> b = probe(200);
  std::vector<uint8_t> stream = a;
  stream.insert(stream.end(), b.begin(), b.end());

  // Every prefix of the first message needs more; the whole of it is complete, with or
  // without the start of the next one behind it.
  for (size_t n = 0; n < a.size(); ++n) {
    CAPTURE(n);
    CHECK(next_frame(std::span(stream).first(n), 1500).status == FrameStatus::kNeedMore);
  }
  for (size_t n = a.size(); n <= stream.size(); ++n) {
    const Frame f = next_frame(std::span(stream).first(n), 1500);
    CHECK(f.status == FrameStatus::kComplete);
    CHECK(f.size == a.size());
  }
  const Frame second = next_frame(std::span(stream).subspan(a.size()), 1500);
  CHECK(second.status == FrameStatus::kComplete);
  CHECK(second.size == b.size());
  CHECK(parse_message(std::span(stream).subspan(a.size(), second.size)).ok());
}

TEST_CASE("next_frame refuses a stream that is not STUN from its first bytes") {
  const std::vector<uint8_t> good = probe(0);

  SUBCASE("first two bits set: HTTP or garbage, refused on the first byte") {
    for (const int first : {0x47, 0x50, 0x80, 0xC0}) {
      const std::vector<uint8_t> one{static_cast<uint8_t>(first)};
      CHECK(next_frame(one, 1500).status == FrameStatus::kInvalid);
    }
  }
  SUBCASE("a TLS ClientHello, refused by its eighth byte (no magic cookie)") {
    const std::vector<uint8_t> hello{0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03};
    CHECK(next_frame(std::span(hello).first(7), 1500).status == FrameStatus::kNeedMore);
    CHECK(next_frame(hello, 1500).status == FrameStatus::kInvalid);
  }
  SUBCASE("a length that is not a multiple of 4") {
    std::vector<uint8_t> bad(good.begin(), good.begin() + 4);
    bad[3] = static_cast<uint8_t>(bad[3] + 1);
    CHECK(next_frame(bad, 1500).status == FrameStatus::kInvalid);
  }
  SUBCASE("a wrong magic cookie, once its four bytes are in") {
    std::vector<uint8_t> bad(good.begin(), good.begin() + 8);
    bad[7] ^= 1;
    CHECK(next_frame(std::span(bad).first(7), 1500).status == FrameStatus::kNeedMore);
    CHECK(next_frame(bad, 1500).status == FrameStatus::kInvalid);
  }
  SUBCASE("a length over the reader's limit, from the first four bytes") {
    std::vector<uint8_t> big(good.begin(), good.begin() + 4);
    big[2] = 0xFF;
    big[3] = 0xFC;
    const Frame f = next_frame(big, 1500);
    CHECK(f.status == FrameStatus::kTooLarge);
    CHECK(f.size == 20 + 0xFFFC);
    // The limit itself is allowed.
    CHECK(next_frame(good, good.size()).status == FrameStatus::kComplete);
    CHECK(next_frame(good, good.size() - 1).status == FrameStatus::kTooLarge);
  }
}

}  // namespace turnscout::proto
