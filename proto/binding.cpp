#include "proto/binding.hpp"

#include "proto/attributes.hpp"
#include "proto/message_builder.hpp"

namespace turnscout::proto {

Result<size_t, EncodeError> encode_binding_request(const BindingRequest& request,
                                                   std::span<uint8_t> out) {
  MessageBuilder b(out);
  b.start(Method::kBinding, MessageClass::kRequest, request.transaction_id);
  if (request.fingerprint) b.add_fingerprint();
  return b.finish();
}

Result<BindingRequest, DecodeError> decode_binding_request(const MessageView& view) {
  if (auto ok = check_message(view, Method::kBinding, MessageClass::kRequest); !ok) {
    return unexpected(ok.error());
  }
  return BindingRequest{view.transaction_id(), view.has_fingerprint()};
}

Result<size_t, EncodeError> encode_binding_response(const BindingResponse& response,
                                                    std::span<uint8_t> out) {
  MessageBuilder b(out);
  b.start(Method::kBinding, MessageClass::kSuccess, response.transaction_id);
  b.add_xor_mapped_address(response.mapped);
  if (response.fingerprint) b.add_fingerprint();
  return b.finish();
}

Result<BindingResponse, DecodeError> decode_binding_response(const MessageView& view) {
  if (auto ok = check_message(view, Method::kBinding, MessageClass::kSuccess); !ok) {
    return unexpected(ok.error());
  }
  BindingResponse r;
  r.transaction_id = view.transaction_id();
  r.fingerprint = view.has_fingerprint();
  Result<Endpoint, DecodeError> mapped = Endpoint{};
  if (auto x = view.find(attr::kXorMappedAddress)) {
    mapped = read_xor_address(*x, view.transaction_id());
  } else if (auto m = view.find(attr::kMappedAddress)) {
    mapped = read_address(*m);
  } else {
    return unexpected(DecodeError{DecodeErrc::kMissingAttribute, static_cast<uint32_t>(view.size()),
                                  "XOR-MAPPED-ADDRESS"});
  }
  if (!mapped) return unexpected(mapped.error());
  r.mapped = *mapped;
  return r;
}

}  // namespace turnscout::proto
