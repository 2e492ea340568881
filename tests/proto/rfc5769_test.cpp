// The sample messages of RFC 5769 §2, byte for byte (including the RFC's 0x20 padding bytes).
#include <doctest/doctest.h>

#include "proto/proto.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

using test::from_hex;

// clang-format off
// §2.1 Sample Request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MESSAGE-INTEGRITY, FINGERPRINT.
const char* const kRequest =
    "00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae "
    "80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74 "
    "00 24 00 04 6e 00 01 ff "
    "80 29 00 08 93 2f f9 b1 51 26 3b 36 "
    "00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20 "
    "00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2 "
    "80 28 00 04 e5 7a 3b cf";

// §2.2 Sample IPv4 Response: SOFTWARE, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY, FINGERPRINT.
const char* const kIpv4Response =
    "01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae "
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20 "
    "00 20 00 08 00 01 a1 47 e1 12 a6 43 "
    "00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7 "
    "80 28 00 04 c0 7d 4c 96";

// §2.3 Sample IPv6 Response.
const char* const kIpv6Response =
    "01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae "
    "80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20 "
    "00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9 "
    "00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41 "
    "80 28 00 04 c8 fb 0b 4c";

// §2.4 Sample Request with Long-Term Authentication: USERNAME, NONCE, REALM,
// MESSAGE-INTEGRITY; no FINGERPRINT.
const char* const kLongTermRequest =
    "00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e "
    "00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00 "
    "00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 "
    "36 34 73 41 "
    "00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00 "
    "00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66";
// clang-format on

constexpr TransactionId kTid{0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                             0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

std::string text_of(const MessageView& m, uint16_t type) {
  const auto a = m.find(type);
  REQUIRE(a.has_value());
  return {a->value.begin(), a->value.end()};
}

TEST_CASE("RFC 5769 §2.1 sample request") {
  const auto bytes = from_hex(kRequest);
  REQUIRE(bytes.size() == 108);
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(looks_like_stun(bytes));
  CHECK(m->method() == Method::kBinding);
  CHECK(m->message_class() == MessageClass::kRequest);
  CHECK(m->transaction_id() == kTid);
  CHECK(m->has_fingerprint());
  CHECK(m->attribute_count() == 6);
  CHECK(text_of(*m, attr::kSoftware) == "STUN test client");
  CHECK(text_of(*m, attr::kUsername) == "evtj:h6vY");
  CHECK(m->find(attr::kMessageIntegrity)->value.size() == 20);
  CHECK(m->find(0x8029)->value.size() == 8);  // ICE-CONTROLLED: optional, ignored.
  // PRIORITY (0x0024) is comprehension-required and unknown here: a server answers 420.
  REQUIRE(m->unknown_required().size() == 1);
  CHECK(m->unknown_required()[0] == 0x0024);
  CHECK(m->first_unknown_offset() == 40);
  CHECK(decode_binding_request(*m).error().code == DecodeErrc::kUnknownRequiredAttribute);

  std::array<uint8_t, 256> out{};
  const auto size =
      make_error_response(*m, error_code::kUnknownAttribute, "Unknown Attribute", 1500, out);
  REQUIRE(size.ok());
  CHECK(*size <= bytes.size());
  const auto reply = parse_message(std::span(out).first(*size));
  REQUIRE(reply.ok());
  const auto err = decode_error_response(*reply);
  REQUIRE(err.ok());
  CHECK(err->transaction_id == kTid);
  CHECK(err->code == 420);
  CHECK(err->unknown_attributes == std::vector<uint16_t>{0x0024});
  CHECK(err->fingerprint);  // The request had one.
}

TEST_CASE("RFC 5769 §2.2 sample IPv4 response") {
  const auto bytes = from_hex(kIpv4Response);
  REQUIRE(bytes.size() == 80);
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(m->message_class() == MessageClass::kSuccess);
  CHECK(m->has_fingerprint());
  CHECK(*read_software(*m->find(attr::kSoftware)) == "test vector");
  const auto r = decode_binding_response(*m);
  REQUIRE(r.ok());
  CHECK(r->transaction_id == kTid);
  CHECK(r->mapped == Endpoint::v4(192, 0, 2, 1, 32853));
  CHECK(r->fingerprint);
}

TEST_CASE("RFC 5769 §2.3 sample IPv6 response") {
  const auto bytes = from_hex(kIpv6Response);
  REQUIRE(bytes.size() == 92);
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(m->has_fingerprint());
  CHECK(text_of(*m, attr::kSoftware) == "test vector");
  const auto r = decode_binding_response(*m);
  REQUIRE(r.ok());
  // 2001:db8:1234:5678:11:2233:4455:6677 port 32853
  const std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78,
                                   0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
  CHECK(r->mapped == Endpoint::v6(ip, 32853));
}

TEST_CASE("RFC 5769 §2.4 sample request with long-term authentication") {
  const auto bytes = from_hex(kLongTermRequest);
  REQUIRE(bytes.size() == 116);
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(m->transaction_id() ==
        TransactionId{0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72, 0xc0, 0x29, 0xda, 0x41, 0x2e});
  CHECK_FALSE(m->has_fingerprint());
  CHECK(text_of(*m, attr::kUsername) ==
        "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9");
  CHECK(text_of(*m, 0x0014) == "example.org");                   // REALM
  CHECK(text_of(*m, 0x0015) == "f//499k954d6OL34oL9FSTvy64sA");  // NONCE
  REQUIRE(m->unknown_required().size() == 2);
  CHECK(m->unknown_required()[0] == 0x0015);
  CHECK(m->unknown_required()[1] == 0x0014);
}

TEST_CASE("RFC 5769 samples: a corrupted byte breaks the fingerprint") {
  for (const char* hex : {kRequest, kIpv4Response, kIpv6Response}) {
    auto bytes = from_hex(hex);
    bytes[30] ^= 0x01;  // Inside SOFTWARE.
    const auto m = parse_message(bytes);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == DecodeErrc::kBadFingerprint);
  }
}

}  // namespace
}  // namespace turnscout::proto
