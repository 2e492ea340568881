// make_error_response and the anti-amplification rule: never larger than the request.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "proto/proto.hpp"
#include "tests/proto/golden_messages.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

constexpr TransactionId kTid{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

// A Probe request of exactly `size` bytes (a multiple of 4, at least 28).
std::vector<uint8_t> probe_of_size(size_t size) {
  ProbeRequest r;
  r.transaction_id = kTid;
  r.pad_to = size;
  std::vector<uint8_t> out(2048);
  const auto n = encode_probe_request(r, out);
  REQUIRE(n.ok());
  out.resize(*n);
  REQUIRE(out.size() == size);
  return out;
}

TEST_CASE("error response: never larger than the request") {
  const std::string reason = "Bad Request: the CHILDREN-WANTED attribute is malformed";
  std::array<uint8_t, 2048> out{};
  for (size_t size = 28; size <= 200; size += 4) {
    CAPTURE(size);
    const auto request = probe_of_size(size);
    const auto view = parse_message(request);
    REQUIRE(view.ok());
    const auto reply = make_error_response(*view, error_code::kBadRequest, reason, 1500, out);
    if (size < 36) {  // Header, empty ERROR-CODE and FINGERPRINT need 36 bytes.
      REQUIRE_FALSE(reply.ok());
      CHECK(reply.error().code == EncodeErrc::kBufferTooSmall);
      continue;
    }
    REQUIRE(reply.ok());
    CHECK(*reply <= size);
    const auto decoded = decode_error_response(*parse_message(std::span(out).first(*reply)));
    REQUIRE(decoded.ok());
    CHECK(decoded->transaction_id == kTid);
    CHECK(decoded->method == Method::kProbe);
    CHECK(decoded->code == 400);
    CHECK(reason.rfind(decoded->reason, 0) == 0);  // A prefix of the reason.
    CHECK(decoded->fingerprint);
    if (size >= 36 + 56) CHECK(decoded->reason == reason);
  }
}

TEST_CASE("error response: max_size and the output buffer also bound the reply") {
  const auto request = probe_of_size(1200);
  const auto view = parse_message(request);
  std::array<uint8_t, 2048> out{};
  const auto capped = make_error_response(*view, error_code::kServerError, "Server Error", 39, out);
  REQUIRE(capped.ok());
  CHECK(*capped == 36);
  CHECK(decode_error_response(*parse_message(std::span(out).first(36)))->reason == "");
  const auto small =
      make_error_response(*view, 500, "Server Error", 1500, std::span(out).first(44));
  REQUIRE(small.ok());
  CHECK(*small == 44);
  CHECK(decode_error_response(*parse_message(std::span(out).first(44)))->reason == "Server E");
}

TEST_CASE("error response: a 420 lists the request's unknown required attributes") {
  std::vector<uint8_t> request(256);
  MessageBuilder b(request);
  b.start(Method::kHeartbeat, MessageClass::kRequest, kTid);
  b.add_raw(0x7F01, std::vector<uint8_t>(40, 0));
  b.add_raw(0x0031, {});
  b.add_fingerprint();
  request.resize(*b.finish());
  const auto view = parse_message(request);
  REQUIRE(decode_heartbeat_request(*view).error().code == DecodeErrc::kUnknownRequiredAttribute);
  std::array<uint8_t, 256> out{};
  const auto reply =
      make_error_response(*view, error_code::kUnknownAttribute, "Unknown Attribute", 1500, out);
  REQUIRE(reply.ok());
  const auto e = decode_error_response(*parse_message(std::span(out).first(*reply)));
  REQUIRE(e.ok());
  CHECK(e->method == Method::kHeartbeat);
  CHECK(e->code == 420);
  CHECK(e->unknown_attributes == std::vector<uint16_t>{0x7F01, 0x0031});
  // Other codes carry no list.
  const auto other = make_error_response(*view, error_code::kForbidden, "Forbidden", 1500, out);
  CHECK(decode_error_response(*parse_message(std::span(out).first(*other)))
            ->unknown_attributes.empty());
}

TEST_CASE("error response: Binding mirrors the request's FINGERPRINT, responses get none") {
  std::array<uint8_t, 128> out{};
  std::vector<uint8_t> with_fp(64), without_fp(64);
  MessageBuilder a(with_fp);
  a.start(Method::kBinding, MessageClass::kRequest, kTid);
  a.add_padding(24);
  a.add_fingerprint();
  with_fp.resize(*a.finish());
  MessageBuilder c(without_fp);
  c.start(Method::kBinding, MessageClass::kRequest, kTid);
  c.add_padding(32);
  without_fp.resize(*c.finish());
  REQUIRE(with_fp.size() == without_fp.size());

  const auto r1 = make_error_response(*parse_message(with_fp), 400, "Bad Request", 1500, out);
  CHECK(parse_message(std::span(out).first(*r1))->has_fingerprint());
  const auto r2 = make_error_response(*parse_message(without_fp), 400, "Bad Request", 1500, out);
  CHECK_FALSE(parse_message(std::span(out).first(*r2))->has_fingerprint());

  // A minimal 20-byte Binding request is too small for any error response.
  const std::vector<uint8_t> minimal(with_fp.begin(), with_fp.begin() + 20);
  std::vector<uint8_t> fixed = minimal;
  fixed[3] = 0;
  CHECK(make_error_response(*parse_message(fixed), 400, "", 1500, out).error().code ==
        EncodeErrc::kBufferTooSmall);

  // Only requests are answered.
  const auto response = golden::encode_all()[8].bytes;  // binding_response
  CHECK(make_error_response(*parse_message(response), 400, "", 1500, out).error().code ==
        EncodeErrc::kBadState);
}

TEST_CASE("error response: long reasons are cut on receipt at a character boundary") {
  std::string reason = "a";
  for (int i = 0; i < 70; ++i)
    reason += "\xc3\xa9";  // 'e acute': byte 128 is mid-character.
  std::vector<uint8_t> value{0, 0, 4, 0};
  value.insert(value.end(), reason.begin(), reason.end());
  std::vector<uint8_t> bytes(512);
  MessageBuilder b(bytes);
  b.start(Method::kBinding, MessageClass::kError, kTid);
  b.add_raw(attr::kErrorCode, value);
  bytes.resize(*b.finish());
  const auto e = decode_error_response(*parse_message(bytes));
  REQUIRE(e.ok());
  CHECK(e->code == 400);
  CHECK(e->reason.size() == kMaxReasonSize - 1);
  CHECK(e->reason == reason.substr(0, kMaxReasonSize - 1));

  CHECK(utf8_prefix("\xc3\xa9\xc3\xa9", 3) == "\xc3\xa9");
  CHECK(utf8_prefix("\xe2\x82\xac", 2) == "");
  CHECK(utf8_prefix("abc", 2) == "ab");
  CHECK(utf8_prefix("abc", 5) == "abc");
}

}  // namespace
}  // namespace turnscout::proto
