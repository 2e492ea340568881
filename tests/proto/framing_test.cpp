// Level 1: parse_message rejects every malformed framing with the expected error, and
// indexes well-formed messages as RFC 8489 requires.
#include <doctest/doctest.h>

#include <vector>

#include "proto/proto.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

constexpr TransactionId kTid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// Builds a message with `build` adding attributes after start().
template <typename Build>
std::vector<uint8_t> message(Method method, MessageClass cls, Build build) {
  std::vector<uint8_t> out(4096);
  MessageBuilder b(out);
  b.start(method, cls, kTid);
  build(b);
  const auto size = b.finish();
  REQUIRE_MESSAGE(size.ok(), to_string(size.error()));
  out.resize(*size);
  return out;
}

std::vector<uint8_t> probe_with(std::initializer_list<uint16_t> types) {
  return message(Method::kProbe, MessageClass::kRequest, [&](MessageBuilder& b) {
    for (uint16_t t : types)
      b.add_raw(t, test::as_bytes("abcd"));
    b.add_fingerprint();
  });
}

DecodeErrc parse_error(const std::vector<uint8_t>& bytes) {
  const auto m = parse_message(bytes);
  REQUIRE_FALSE(m.ok());
  return m.error().code;
}

TEST_CASE("framing: header checks") {
  const auto good = probe_with({});
  REQUIRE(parse_message(good).ok());

  CHECK(parse_error({}) == DecodeErrc::kTruncated);
  CHECK(parse_error(std::vector<uint8_t>(good.begin(), good.begin() + 19)) ==
        DecodeErrc::kTruncated);

  auto top = good;
  top[0] |= 0x80;
  CHECK(parse_error(top) == DecodeErrc::kNotStun);
  top[0] = static_cast<uint8_t>((good[0] & 0x3F) | 0x40);
  CHECK(parse_error(top) == DecodeErrc::kNotStun);

  auto cookie = good;
  cookie[7] ^= 0x01;
  CHECK(parse_error(cookie) == DecodeErrc::kBadCookie);
  CHECK(parse_message(cookie).error().offset == 4);

  auto longer = good;
  longer[3] += 4;  // Header claims more than the datagram holds.
  CHECK(parse_error(longer) == DecodeErrc::kBadLength);
  auto shorter = good;
  shorter[3] -= 4;  // Header claims less: trailing bytes.
  CHECK(parse_error(shorter) == DecodeErrc::kBadLength);

  auto odd = good;
  odd.push_back(0);
  odd.push_back(0);
  odd[3] += 2;  // Length matches the datagram but is not a multiple of 4.
  CHECK(parse_error(odd) == DecodeErrc::kBadLength);
  CHECK(parse_message(odd).error().where == std::string_view("header.length"));
}

TEST_CASE("framing: attribute length past the end") {
  auto bytes = probe_with({0xC0F0});
  bytes[22] = 0x01;  // The first attribute now claims 260 bytes.
  const auto m = parse_message(bytes);
  REQUIRE_FALSE(m.ok());
  CHECK(m.error().code == DecodeErrc::kTruncated);
  CHECK(m.error().offset == 22);
  CHECK(m.error().where == std::string_view("attribute.length"));
}

TEST_CASE("framing: at most kMaxAttributes attributes") {
  auto fill = [](size_t n) {
    return message(Method::kBinding, MessageClass::kIndication, [n](MessageBuilder& b) {
      for (size_t i = 0; i < n; ++i)
        b.add_raw(0x8FFF, {});
    });
  };
  const auto at_limit = parse_message(fill(kMaxAttributes));
  REQUIRE(at_limit.ok());
  CHECK(at_limit->attribute_count() == kMaxAttributes);
  CHECK(at_limit->count(0x8FFF) == kMaxAttributes);
  // The builder refuses a 129th attribute, so append it by hand.
  auto over = fill(kMaxAttributes);
  for (int b : {0x8F, 0xFF, 0x00, 0x00})
    over.push_back(static_cast<uint8_t>(b));
  over[2] = static_cast<uint8_t>((over.size() - kHeaderSize) >> 8);
  over[3] = static_cast<uint8_t>(over.size() - kHeaderSize);
  CHECK(parse_error(over) == DecodeErrc::kTooManyAttributes);
}

TEST_CASE("framing: FINGERPRINT must be last and correct") {
  auto bytes = probe_with({0xC0F0});
  // Append an attribute after FINGERPRINT and fix the header length.
  for (int b : {0xC0, 0xF1, 0x00, 0x00})
    bytes.push_back(static_cast<uint8_t>(b));
  bytes[3] += 4;
  CHECK(parse_error(bytes) == DecodeErrc::kAttributeAfterFingerprint);

  auto bad_value = probe_with({0xC0F0});
  bad_value.back() ^= 0xFF;
  CHECK(parse_error(bad_value) == DecodeErrc::kBadFingerprint);

  const auto long_fp = message(Method::kBinding, MessageClass::kRequest, [](MessageBuilder& b) {
    b.add_raw(attr::kFingerprint, test::as_bytes("12345678"));
  });
  CHECK(parse_error(long_fp) == DecodeErrc::kBadFingerprint);
}

TEST_CASE("framing: attributes after MESSAGE-INTEGRITY-SHA256 are ignored, FINGERPRINT is not") {
  const std::vector<uint8_t> mac(32, 0xAA);
  const auto bytes = message(Method::kHeartbeat, MessageClass::kSuccess, [&](MessageBuilder& b) {
    b.add_node_name("eu-west");
    b.add_raw(attr::kMessageIntegritySha256, mac);
    b.add_software("ignored");
    b.add_raw(0x7F01, {});  // Unknown and comprehension-required, but ignored here.
    b.add_fingerprint();
  });
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(m->attribute_count() == 3);
  CHECK_FALSE(m->find(attr::kSoftware).has_value());
  CHECK_FALSE(m->has_unknown_required());
  CHECK(m->has_fingerprint());
  CHECK(m->integrity_sha256()->offset == 32);
  CHECK_FALSE(verify_integrity_sha256(*m, test::as_bytes("key")));
}

TEST_CASE("framing: padding bytes are ignored and values keep their unpadded length") {
  auto bytes = message(Method::kBinding, MessageClass::kIndication,
                       [](MessageBuilder& b) { b.add_software("abcde"); });
  REQUIRE(bytes.size() == 32);
  bytes[29] = 0x20;  // Non-zero padding, as in RFC 5769.
  bytes[31] = 0xFF;
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  const auto sw = m->find(attr::kSoftware);
  REQUIRE(sw.has_value());
  CHECK(sw->value.size() == 5);
  CHECK(*read_software(*sw) == "abcde");
}

TEST_CASE("framing: unknown attributes") {
  const auto bytes = probe_with({0xC0FF, 0x7F01, 0x0031, 0x7F01});
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  // Comprehension-optional unknowns are not reported; required ones once each, in order.
  REQUIRE(m->unknown_required().size() == 2);
  CHECK(m->unknown_required()[0] == 0x7F01);
  CHECK(m->unknown_required()[1] == 0x0031);
  CHECK(m->first_unknown_offset() == 28);
  const auto r = decode_probe_request(*m);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == DecodeErrc::kUnknownRequiredAttribute);
  CHECK(r.error().offset == 28);

  // Only optional unknowns: the request decodes.
  const auto optional_only = probe_with({0xC0FF, 0xFFFF});
  CHECK(decode_probe_request(*parse_message(optional_only)).ok());

  // The list of reported types is bounded.
  const auto many = message(Method::kProbe, MessageClass::kRequest, [](MessageBuilder& b) {
    for (uint16_t t = 0x7000; t < 0x7020; ++t)
      b.add_raw(t, {});
  });
  CHECK(parse_message(many)->unknown_required().size() == MessageView::kMaxUnknownReported);
}

TEST_CASE("framing: duplicates of a non-repeatable attribute: the first counts") {
  const auto bytes = message(Method::kHeartbeat, MessageClass::kSuccess, [](MessageBuilder& b) {
    b.add_node_name("first");
    b.add_node_name("second");
    b.add_timestamp(7);
    b.add_timestamp(8);
    b.add_fingerprint();
  });
  const auto m = parse_message(bytes);
  REQUIRE(m.ok());
  CHECK(m->count(attr::kNodeName) == 2);
  const auto r = decode_heartbeat_response(*m);
  REQUIRE(r.ok());
  CHECK(r->node_name == "first");
  CHECK(r->timestamp_ms == 7);
}

TEST_CASE("framing: typed decoders check method, class and FINGERPRINT") {
  const auto probe = probe_with({});
  const auto m = parse_message(probe);
  REQUIRE(m.ok());
  CHECK(decode_probe_response(*m).error().code == DecodeErrc::kUnexpectedMessage);
  CHECK(decode_heartbeat_request(*m).error().code == DecodeErrc::kUnexpectedMessage);
  CHECK(decode_binding_request(*m).error().code == DecodeErrc::kUnexpectedMessage);
  CHECK(decode_error_response(*m).error().code == DecodeErrc::kUnexpectedMessage);

  const auto no_fp = message(Method::kProbe, MessageClass::kRequest, [](MessageBuilder&) {});
  const auto r = decode_probe_request(*parse_message(no_fp));
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == DecodeErrc::kMissingFingerprint);
  // Missing FINGERPRINT is reported before an unknown required attribute, which earns a 420:
  // a corrupted FINGERPRINT type is exactly such an attribute.
  const auto unknown_no_fp = message(Method::kProbe, MessageClass::kRequest,
                                     [](MessageBuilder& b) { b.add_raw(0x1328, {}); });
  CHECK(decode_probe_request(*parse_message(unknown_no_fp)).error().code ==
        DecodeErrc::kMissingFingerprint);
  // Binding does not require it.
  const auto binding = message(Method::kBinding, MessageClass::kRequest, [](MessageBuilder&) {});
  CHECK(*decode_binding_request(*parse_message(binding)) == BindingRequest{kTid, false});
}

TEST_CASE("framing: looks_like_stun") {
  const auto good = probe_with({});
  CHECK(looks_like_stun(good));
  CHECK_FALSE(looks_like_stun(std::span(good).first(good.size() - 4)));
  auto rtp = good;
  rtp[0] = 0x80;  // RTP version 2.
  CHECK_FALSE(looks_like_stun(rtp));
  auto cookie = good;
  cookie[4] = 0;
  CHECK_FALSE(looks_like_stun(cookie));
  CHECK_FALSE(looks_like_stun({}));
}

TEST_CASE("framing: message type packing (RFC 8489 §5)") {
  CHECK(message_type(Method::kBinding, MessageClass::kRequest) == 0x0001);
  CHECK(message_type(Method::kBinding, MessageClass::kIndication) == 0x0011);
  CHECK(message_type(Method::kBinding, MessageClass::kError) == 0x0111);
  CHECK(message_type(Method::kProbe, MessageClass::kSuccess) == 0x0361);
  CHECK(message_type(Method::kHeartbeat, MessageClass::kRequest) == 0x0262);
  CHECK(message_type(Method::kLeave, MessageClass::kError) == 0x0373);
  for (uint16_t m = 0; m <= 0xFFF; ++m) {
    for (uint8_t c = 0; c < 4; ++c) {
      const auto type = message_type(static_cast<Method>(m), static_cast<MessageClass>(c));
      CHECK((type & 0xC000) == 0);
      CHECK(static_cast<uint16_t>(method_of(type)) == m);
      CHECK(static_cast<uint8_t>(class_of(type)) == c);
    }
  }
}

TEST_CASE("framing: error strings name the field") {
  const DecodeError e{DecodeErrc::kBadValue, 44, "CHILD.family"};
  CHECK(to_string(e) == "bad-value at offset 44 (CHILD.family)");
  CHECK(to_string(EncodeError{EncodeErrc::kBufferTooSmall, "CHILD"}) == "buffer-too-small (CHILD)");
}

}  // namespace
}  // namespace turnscout::proto
