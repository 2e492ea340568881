#include "proto/probe.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "proto/field_reader.hpp"
#include "proto/message_builder.hpp"

namespace turnscout::proto {
namespace {

size_t probe_request_size(const ProbeRequest& r) {
  size_t size = kHeaderSize + attribute_size(kFingerprintSize);
  if (r.children_wanted != 0) size += attribute_size(kU32ValueSize);
  if (r.depth >= 2) size += attribute_size(kU32ValueSize);
  if (!r.capacity_token.empty()) size += attribute_size(r.capacity_token.size());
  if (!r.software.empty()) size += attribute_size(r.software.size());
  return size;
}

// NODE-NAME and SERVICE from text, checked as they are written.
struct CheckedText {
  std::string_view node_name;
  std::span<const std::string> services;

  size_t size() const {
    size_t size = attribute_size(node_name.size());
    for (const auto& s : services)
      size += attribute_size(s.size());
    return size;
  }
  size_t service_count() const { return services.size(); }
  void add_node_name(MessageBuilder& b) const { b.add_node_name(node_name); }
  void add_services(MessageBuilder& b) const {
    for (const auto& s : services)
      b.add_service(s);
  }
};

// NODE-NAME and SERVICE already checked and encoded by ProbeReplyText::make.
struct EncodedText {
  const ProbeReplyText& text;

  size_t size() const { return text.node_name().bytes().size() + text.services().bytes().size(); }
  size_t service_count() const { return text.services().count(); }
  void add_node_name(MessageBuilder& b) const { b.add_encoded(text.node_name()); }
  void add_services(MessageBuilder& b) const { b.add_encoded(text.services()); }
};

// Everything but the children.
template <typename Text>
size_t probe_reply_fixed_size(const ProbeReply& r, const Text& text) {
  return kHeaderSize + attribute_size(address_value_size(r.reflexive)) + text.size() +
         attribute_size(kLoadSize) + attribute_size(kFlowControlSize) +
         attribute_size(kU32ValueSize) + attribute_size(kFingerprintSize);
}

// How many of the first children fit after `used` bytes, within `budget` bytes and within
// kMaxAttributes next to the other attributes (XOR-MAPPED-ADDRESS, NODE-NAME, LOAD,
// FLOW-CONTROL, REPLY-FLAGS, FINGERPRINT and the services).
size_t children_that_fit(const ProbeReply& r, size_t service_count, size_t used, size_t budget) {
  const size_t others = 6 + service_count;
  const size_t max_children = kMaxAttributes > others ? kMaxAttributes - others : 0;
  size_t n = 0;
  for (; n < std::min(r.children.size(), max_children); ++n) {
    const size_t child = attribute_size(child_value_size(r.children[n].address));
    if (used + child > budget) break;
    used += child;
  }
  return n;
}

template <typename Text>
Result<ProbeReplySize, EncodeError> write_probe_reply(const ProbeReply& r, const Text& text,
                                                      size_t max_size, bool allow_truncation,
                                                      std::span<uint8_t> out) {
  const size_t budget = std::min(max_size, out.size());
  const size_t fixed = probe_reply_fixed_size(r, text);
  if (fixed > budget) return unexpected(EncodeError{EncodeErrc::kBufferTooSmall, "probe reply"});
  const size_t n = children_that_fit(r, text.service_count(), fixed, budget);
  // Then the grandchildren of the children kept, in the caller's order, while they fit.
  size_t used = fixed;
  for (size_t i = 0; i < n; ++i)
    used += attribute_size(child_value_size(r.children[i].address));
  std::array<uint16_t, kMaxAttributes> chosen{};
  size_t m = 0;
  size_t attributes = 6 + text.service_count() + n;
  for (size_t g = 0; g < r.grandchildren.size() && attributes < kMaxAttributes; ++g) {
    const Grandchild& grand = r.grandchildren[g];
    if (grand.parent >= n) continue;
    const size_t size = attribute_size(child_value_size(grand.entry.address));
    if (used + size > budget) continue;  // A smaller (IPv4) one may still fit.
    used += size;
    ++attributes;
    chosen[m++] = static_cast<uint16_t>(g);
  }
  const bool truncated = n < r.children.size() || m < r.grandchildren.size();
  if (truncated && !allow_truncation) {
    return unexpected(EncodeError{EncodeErrc::kBufferTooSmall, "CHILD"});
  }
  MessageBuilder b(out.first(budget));
  b.start(Method::kProbe, MessageClass::kSuccess, r.transaction_id);
  b.add_xor_mapped_address(r.reflexive);
  text.add_node_name(b);
  b.add_load(r.load);
  b.add_flow_control(r.flow_control);
  b.add_reply_flags(r.reply_flags | (truncated ? reply_flag::kTruncated : 0));
  for (size_t i = 0; i < n; ++i) {
    b.add_child(r.children[i]);
    for (size_t k = 0; k < m; ++k) {
      if (r.grandchildren[chosen[k]].parent == i)
        b.add_grandchild(r.grandchildren[chosen[k]].entry);
    }
  }
  text.add_services(b);
  b.add_fingerprint();
  auto size = b.finish();
  if (!size) return unexpected(size.error());
  return ProbeReplySize{*size, n, m, truncated};
}

// The attributes `add` writes, encoded on their own; `size` is their total encoded size.
template <typename Add>
Result<EncodedAttributes, EncodeError> encode_attributes(size_t size, Add add) {
  std::vector<uint8_t> buf(kHeaderSize + size);
  MessageBuilder b(buf);
  b.start(Method::kProbe, MessageClass::kSuccess, TransactionId{});
  add(b);
  return b.attributes();
}

}  // namespace

Result<size_t, EncodeError> encode_probe_request(const ProbeRequest& request,
                                                 std::span<uint8_t> out) {
  MessageBuilder b(out);
  b.start(Method::kProbe, MessageClass::kRequest, request.transaction_id);
  const size_t natural = probe_request_size(request);
  const size_t target = (request.pad_to + 3) & ~size_t{3};
  // PADDING goes first; its 4-byte header is part of the growth.
  if (target > natural) b.add_padding(target - natural - 4);
  if (request.children_wanted != 0) b.add_children_wanted(request.children_wanted);
  if (request.depth >= 2) b.add_depth_wanted(request.depth);
  if (!request.capacity_token.empty()) b.add_capacity_token(request.capacity_token);
  if (!request.software.empty()) b.add_software(request.software);
  b.add_fingerprint();
  return b.finish();
}

Result<ProbeRequest, DecodeError> decode_probe_request(const MessageView& view) {
  if (auto ok = check_message(view, Method::kProbe, MessageClass::kRequest); !ok) {
    return unexpected(ok.error());
  }
  ProbeRequest r;
  r.transaction_id = view.transaction_id();
  FieldReader f(view);
  f.optional(attr::kChildrenWanted, r.children_wanted, read_children_wanted);
  f.optional(attr::kDepthWanted, r.depth, read_depth_wanted);
  r.depth = std::clamp<uint8_t>(r.depth, 1, 2);
  f.optional(attr::kCapacityToken, r.capacity_token, read_capacity_token);
  f.optional(attr::kSoftware, r.software, read_software);
  if (!f.ok()) return unexpected(f.error());
  return r;
}

Result<ProbeReplyText, EncodeError> ProbeReplyText::make(std::string_view node_name,
                                                         std::span<const std::string> services) {
  const CheckedText checked{node_name, services};
  auto name = encode_attributes(attribute_size(node_name.size()),
                                [&](MessageBuilder& b) { checked.add_node_name(b); });
  if (!name) return unexpected(name.error());
  auto listed = encode_attributes(checked.size() - attribute_size(node_name.size()),
                                  [&](MessageBuilder& b) { checked.add_services(b); });
  if (!listed) return unexpected(listed.error());
  ProbeReplyText text;
  text.node_name_ = std::move(*name);
  text.services_ = std::move(*listed);
  return text;
}

Result<ProbeReplySize, EncodeError> encode_probe_reply(const ProbeReply& reply, size_t max_size,
                                                       std::span<uint8_t> out) {
  return write_probe_reply(reply, CheckedText{reply.node_name, reply.services}, max_size, true,
                           out);
}

Result<ProbeReplySize, EncodeError> encode_probe_reply(const ProbeReply& reply,
                                                       const ProbeReplyText& text, size_t max_size,
                                                       std::span<uint8_t> out) {
  return write_probe_reply(reply, EncodedText{text}, max_size, true, out);
}

Result<size_t, EncodeError> encode_probe_response(const ProbeResponse& response,
                                                  std::span<uint8_t> out) {
  const ProbeReply reply{response.transaction_id, response.reflexive,    response.node_name,
                         response.load,           response.flow_control, response.reply_flags,
                         response.children,       response.services,     response.grandchildren};
  auto written = write_probe_reply(reply, CheckedText{reply.node_name, reply.services}, out.size(),
                                   false, out);
  if (!written) return unexpected(written.error());
  return written->size;
}

Result<ProbeResponse, DecodeError> decode_probe_response(const MessageView& view) {
  if (auto ok = check_message(view, Method::kProbe, MessageClass::kSuccess); !ok) {
    return unexpected(ok.error());
  }
  ProbeResponse r;
  r.transaction_id = view.transaction_id();
  FieldReader f(view);
  f.required(attr::kXorMappedAddress, r.reflexive,
             [&view](const Attribute& a) { return read_xor_address(a, view.transaction_id()); });
  f.required(attr::kNodeName, r.node_name, read_node_name);
  f.required(attr::kLoad, r.load, read_load);
  f.required(attr::kFlowControl, r.flow_control, read_flow_control);
  f.required(attr::kReplyFlags, r.reply_flags, read_u32);
  f.repeated(attr::kService, r.services, read_service);
  if (!f.ok()) return unexpected(f.error());
  // CHILD and GRANDCHILD in their order: a GRANDCHILD belongs to the CHILD before it.
  for (const Attribute a : view) {
    if (a.type != attr::kChild && a.type != attr::kGrandchild) continue;
    auto entry = read_child(a);
    if (!entry) return unexpected(entry.error());
    if (a.type == attr::kChild) {
      r.children.push_back(*entry);
    } else if (!r.children.empty()) {
      r.grandchildren.push_back({static_cast<uint32_t>(r.children.size() - 1), *entry});
    }
  }
  return r;
}

}  // namespace turnscout::proto
