// Plain RFC 8489 Binding, answered by every balance server and used by clients to check a
// TURN server. The response carries only XOR-MAPPED-ADDRESS, plus FINGERPRINT when the
// request had one, which keeps its size within 1.6x of a minimal request.
#pragma once

#include <cstdint>
#include <span>

#include "base/address.hpp"
#include "base/result.hpp"
#include "proto/constants.hpp"
#include "proto/errors.hpp"
#include "proto/message_view.hpp"

namespace turnscout::proto {

struct BindingRequest {
  TransactionId transaction_id{};
  bool fingerprint = true;
  friend bool operator==(const BindingRequest&, const BindingRequest&) = default;
};

struct BindingResponse {
  TransactionId transaction_id{};
  Endpoint mapped;  // From XOR-MAPPED-ADDRESS, else from MAPPED-ADDRESS (RFC 3489 servers).
  bool fingerprint = true;
  friend bool operator==(const BindingResponse&, const BindingResponse&) = default;
};

Result<size_t, EncodeError> encode_binding_request(const BindingRequest& request,
                                                   std::span<uint8_t> out);
Result<BindingRequest, DecodeError> decode_binding_request(const MessageView& view);

Result<size_t, EncodeError> encode_binding_response(const BindingResponse& response,
                                                    std::span<uint8_t> out);
Result<BindingResponse, DecodeError> decode_binding_response(const MessageView& view);

}  // namespace turnscout::proto
