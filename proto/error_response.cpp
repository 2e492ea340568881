#include "proto/error_response.hpp"

#include <algorithm>

#include "proto/attributes.hpp"
#include "proto/field_reader.hpp"
#include "proto/message_builder.hpp"

namespace turnscout::proto {
namespace {

bool wants_fingerprint(Method method, bool requested) {
  return requested || is_turnscout_method(method);
}

Result<size_t, EncodeError> write_error(const TransactionId& tid, Method method, uint16_t code,
                                        std::string_view reason, std::span<const uint16_t> unknown,
                                        bool fingerprint, std::span<uint8_t> out) {
  MessageBuilder b(out);
  b.start(method, MessageClass::kError, tid);
  b.add_error_code(code, reason);
  if (!unknown.empty()) b.add_unknown_attributes(unknown);
  if (fingerprint) b.add_fingerprint();
  return b.finish();
}

}  // namespace

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80)
    --end;
  return text.substr(0, end);
}

Result<size_t, EncodeError> encode_error_response(const ErrorResponse& r, std::span<uint8_t> out) {
  return write_error(r.transaction_id, r.method, r.code, r.reason, r.unknown_attributes,
                     wants_fingerprint(r.method, r.fingerprint), out);
}

Result<ErrorResponse, DecodeError> decode_error_response(const MessageView& view) {
  if (auto ok = check_message(view, view.method(), MessageClass::kError); !ok) {
    return unexpected(ok.error());
  }
  ErrorResponse r;
  r.transaction_id = view.transaction_id();
  r.method = view.method();
  r.fingerprint = view.has_fingerprint();
  ErrorCodeValue error;
  FieldReader f(view);
  f.required(attr::kErrorCode, error, read_error_code);
  f.optional(attr::kUnknownAttributes, r.unknown_attributes, read_unknown_attributes);
  if (!f.ok()) return unexpected(f.error());
  r.code = error.code;
  r.reason = std::string(utf8_prefix(error.reason, kMaxReasonSize));
  return r;
}

Result<size_t, EncodeError> make_error_response(const MessageView& request, uint16_t code,
                                                std::string_view reason, size_t max_size,
                                                std::span<uint8_t> out) {
  if (request.message_class() != MessageClass::kRequest) {
    return unexpected(EncodeError{EncodeErrc::kBadState, "request.class"});
  }
  const auto unknown = code == error_code::kUnknownAttribute ? request.unknown_required()
                                                             : std::span<const uint16_t>();
  const bool fingerprint = wants_fingerprint(request.method(), request.has_fingerprint());
  const size_t budget = std::min({max_size, request.size(), out.size()});
  size_t fixed = kHeaderSize + attribute_size(4);
  if (!unknown.empty()) fixed += attribute_size(2 * unknown.size());
  if (fingerprint) fixed += attribute_size(kFingerprintSize);
  if (fixed > budget) return unexpected(EncodeError{EncodeErrc::kBufferTooSmall, "error budget"});
  // A reason of n bytes grows the message by n rounded up to 4.
  const size_t room = (budget - fixed) & ~size_t{3};
  const auto fitted = utf8_prefix(reason, std::min(room, kMaxReasonSize));
  return write_error(request.transaction_id(), request.method(), code, fitted, unknown, fingerprint,
                     out);
}

}  // namespace turnscout::proto
