// Feeds arbitrary datagrams to every decoder. Besides "no crash, no UB, no leak" it checks
// that whatever decodes also encodes, that the encoding parses, and that it decodes to the
// same value; and that error responses never outgrow the request.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "proto/proto.hpp"

namespace turnscout::proto {
namespace {

constexpr std::string_view kKey = "turnscout-example-cluster-key";

std::span<const uint8_t> key() {
  return {reinterpret_cast<const uint8_t*>(kKey.data()), kKey.size()};
}

std::array<uint8_t, kMaxMessageSize> g_out;

void require(bool condition) {
  if (!condition) std::abort();
}

// decode(encode(x)) == x for every x that decoded from the input.
template <typename Decode, typename Encode>
void check_round_trip(const MessageView& view, Decode decode, Encode encode) {
  const auto first = decode(view);
  if (!first) return;
  const auto size = encode(*first, std::span<uint8_t>(g_out));
  require(size.ok());
  const auto again = parse_message(std::span<const uint8_t>(g_out).first(*size));
  require(again.ok());
  const auto second = decode(*again);
  require(second.ok() && *second == *first);
}

// ProbeRequest holds spans, so it is compared field by field.
void check_probe_request(const MessageView& view) {
  const auto first = decode_probe_request(view);
  if (!first) return;
  const auto size = encode_probe_request(*first, g_out);
  require(size.ok());
  const auto again = parse_message(std::span<const uint8_t>(g_out).first(*size));
  require(again.ok());
  const auto second = decode_probe_request(*again);
  require(second.ok());
  require(second->transaction_id == first->transaction_id);
  require(second->children_wanted == first->children_wanted);
  require(second->software == first->software);
  require(std::equal(second->capacity_token.begin(), second->capacity_token.end(),
                     first->capacity_token.begin(), first->capacity_token.end()));
}

template <typename T>
auto signed_encoder(Result<size_t, EncodeError> (*encode)(const T&, std::span<const uint8_t>,
                                                          std::span<uint8_t>)) {
  return [encode](const T& value, std::span<uint8_t> out) {
    return encode(value, value.has_integrity ? key() : std::span<const uint8_t>(), out);
  };
}

void check_error_replies(const MessageView& view) {
  if (view.message_class() != MessageClass::kRequest) return;
  for (uint16_t code : {error_code::kBadRequest, error_code::kUnknownAttribute}) {
    const auto size = make_error_response(view, code, "Some reason", kMaxMessageSize, g_out);
    if (!size) continue;
    require(*size <= view.size());
    const auto reply = parse_message(std::span<const uint8_t>(g_out).first(*size));
    require(reply.ok());
    require(decode_error_response(*reply).ok());
  }
}

void check_attribute_readers(const MessageView& view) {
  (void)verify_integrity_sha256(view, key());
  for (const Attribute a : view) {
    (void)attribute_name(a.type);
    if (a.type == attr::kService) {
      const std::string_view text(reinterpret_cast<const char*>(a.value.data()), a.value.size());
      if (auto uri = parse_turn_uri(text)) require(parse_turn_uri(to_string(*uri)).ok());
    } else if (a.type == attr::kCapacityToken) {
      (void)verify_capacity_token(a.value, key(), 1735689600, "198.51.100.23");
    }
  }
}

void check_base64(std::span<const uint8_t> data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  if (auto bytes = base64url_decode(text)) require(base64url_encode(*bytes) == text);
}

}  // namespace
}  // namespace turnscout::proto

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turnscout::proto;
  const std::span<const uint8_t> input(data, size);
  check_base64(input);
  const bool looks = looks_like_stun(input);
  const auto view = parse_message(input);
  if (!view) return 0;
  require(looks);
  check_attribute_readers(*view);
  check_error_replies(*view);
  check_probe_request(*view);
  check_round_trip(*view, decode_probe_response, encode_probe_response);
  check_round_trip(*view, decode_heartbeat_request, signed_encoder(encode_heartbeat_request));
  check_round_trip(*view, decode_heartbeat_response, signed_encoder(encode_heartbeat_response));
  check_round_trip(*view, decode_leave_request, signed_encoder(encode_leave_request));
  check_round_trip(*view, decode_leave_response, signed_encoder(encode_leave_response));
  check_round_trip(*view, decode_binding_request, encode_binding_request);
  check_round_trip(*view, decode_binding_response, encode_binding_response);
  check_round_trip(*view, decode_error_response, encode_error_response);
  return 0;
}
