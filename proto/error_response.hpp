// Error responses, and the helper a server uses to answer a bad request without breaking
// the anti-amplification rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

struct ErrorResponse {
  TransactionId transaction_id{};
  Method method = Method::kBinding;          // The method of the request being answered.
  uint16_t code = 0;                         // error_code::k*; 300..699.
  std::string reason;                        // At most 128 bytes; longer ones are cut on receipt.
  std::vector<uint16_t> unknown_attributes;  // With 420 only.
  // Always written for our own methods; for Binding, mirrors the request.
  bool fingerprint = true;
  friend bool operator==(const ErrorResponse&, const ErrorResponse&) = default;
};

Result<size_t, EncodeError> encode_error_response(const ErrorResponse& response,
                                                  std::span<uint8_t> out);
Result<ErrorResponse, DecodeError> decode_error_response(const MessageView& view);

// Answers `request` with `code`. The reply is never larger than the request nor than
// `max_size`: the reason is shortened (at a UTF-8 character boundary) to fit, and if even an
// empty reason does not fit this fails with kBufferTooSmall and the request must go
// unanswered. For 420 the request's unknown comprehension-required types are listed.
Result<size_t, EncodeError> make_error_response(const MessageView& request, uint16_t code,
                                                std::string_view reason, size_t max_size,
                                                std::span<uint8_t> out);

// The longest prefix of `text` of at most `max_bytes` that does not split a UTF-8 sequence.
std::string_view utf8_prefix(std::string_view text, size_t max_bytes);

}  // namespace turnscout::proto
