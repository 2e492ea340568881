// Encode -> decode -> equal for every typed message, with IPv4 and IPv6, signed and not;
// the builder's limits; and the Probe reply's size budget.
#include <doctest/doctest.h>

#include <array>
#include <string>
#include <vector>

#include "proto/proto.hpp"
#include "tests/proto/golden_messages.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

constexpr TransactionId kTid{0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5,
                             0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};

Endpoint v6(uint8_t last, uint16_t port) {
  std::array<uint8_t, 16> ip{0x20, 0x01, 0x0d, 0xb8};
  ip[15] = last;
  return Endpoint::v6(ip, port);
}

// Encodes with `encode`, parses, and decodes with `decode`; the bytes stay alive in `buffer`.
template <typename Encode, typename Decode>
auto round_trip(std::vector<uint8_t>& buffer, Encode encode, Decode decode) {
  buffer.assign(4096, 0);
  const auto size = encode(std::span<uint8_t>(buffer));
  REQUIRE_MESSAGE(size.ok(), to_string(size.error()));
  buffer.resize(*size);
  const auto view = parse_message(buffer);
  REQUIRE_MESSAGE(view.ok(), to_string(view.error()));
  auto decoded = decode(*view);
  REQUIRE_MESSAGE(decoded.ok(), to_string(decoded.error()));
  return std::move(decoded).value();
}

TEST_CASE("round trip: Probe response with IPv6 children and services") {
  ProbeResponse r;
  r.transaction_id = kTid;
  r.reflexive = v6(0x99, 1);
  r.node_name = "ap-south.edge_7";
  r.load = {1200, 0};
  r.flow_control = {1, 2, 3, 4, 255};
  r.reply_flags = reply_flag::kDraining;
  for (uint8_t i = 0; i < 20; ++i) {
    r.children.push_back(
        {i % 2 ? v6(i, static_cast<uint16_t>(3478 + i)) : Endpoint::v4(198, 51, 100, i, 3478),
         i % 3 == 0, static_cast<uint16_t>(i * 50), static_cast<uint16_t>(i)});
  }
  r.services = {"stun:[2001:db8::1]:3478", "turn:turn.example.org"};
  std::vector<uint8_t> buf;
  const auto back = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_probe_response(r, out); },
      decode_probe_response);
  CHECK(back == r);
}

TEST_CASE("round trip: Probe request sizes and padding") {
  ProbeRequest bare;
  bare.transaction_id = kTid;
  std::vector<uint8_t> buf;
  const auto b = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_probe_request(bare, out); },
      decode_probe_request);
  CHECK(buf.size() == 28);  // Header and FINGERPRINT.
  CHECK(b.transaction_id == kTid);
  CHECK(b.children_wanted == 0);
  CHECK(b.capacity_token.empty());
  CHECK(b.software.empty());

  for (size_t pad_to :
       {size_t{0}, size_t{28}, size_t{29}, size_t{32}, size_t{33}, size_t{40}, size_t{1200}}) {
    ProbeRequest r = bare;
    r.children_wanted = 3;
    r.pad_to = pad_to;
    CAPTURE(pad_to);
    const auto d = round_trip(
        buf, [&](std::span<uint8_t> out) { return encode_probe_request(r, out); },
        decode_probe_request);
    CHECK(d.children_wanted == 3);
    CHECK(buf.size() == std::max<size_t>(36, (pad_to + 3) / 4 * 4));
  }
}

TEST_CASE("round trip: Heartbeat request, unsigned, IPv6 only, draining") {
  HeartbeatRequest r;
  r.transaction_id = kTid;
  r.node_name = "n";
  r.advertised = {v6(1, 1), v6(2, 2), v6(3, 3), v6(4, 4)};
  r.load = {0, 0};
  r.capacity = 0xFFFFFFFF;
  r.subtree = {123456, 7, 3};
  r.state = NodeState::kDraining;
  r.weight = 65535;
  r.timestamp_ms = 0xFFFFFFFFFFFFFFFF;
  std::vector<uint8_t> buf;
  const auto back = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_heartbeat_request(r, {}, out); },
      decode_heartbeat_request);
  CHECK(back == r);
  CHECK_FALSE(back.has_integrity);

  r.advertised.push_back(v6(5, 5));
  std::array<uint8_t, 512> out{};
  CHECK(encode_heartbeat_request(r, {}, out).error().code == EncodeErrc::kValueOutOfRange);
  r.advertised.clear();
  CHECK(encode_heartbeat_request(r, {}, out).error().code == EncodeErrc::kValueOutOfRange);
}

TEST_CASE("round trip: signed messages verify with the key and only with it") {
  const auto key = test::as_bytes("a different cluster key");
  LeaveRequest leave{{kTid, "eu-west-2b", 42, true}};
  std::vector<uint8_t> buf;
  const auto back = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_leave_request(leave, key, out); },
      decode_leave_request);
  CHECK(back == leave);
  const auto view = parse_message(buf);
  CHECK(verify_integrity_sha256(*view, key));
  CHECK_FALSE(verify_integrity_sha256(*view, golden::cluster_key()));
  CHECK_FALSE(verify_integrity_sha256(*view, {}));

  // Without a key there is no integrity attribute, and verification fails.
  leave.has_integrity = false;
  const auto unsigned_back = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_leave_request(leave, {}, out); },
      decode_leave_request);
  CHECK(unsigned_back == leave);
  CHECK_FALSE(verify_integrity_sha256(*parse_message(buf), key));
}

TEST_CASE("round trip: Binding and error responses") {
  std::vector<uint8_t> buf;
  const BindingResponse br{kTid, v6(7, 9), false};
  CHECK(round_trip(
            buf, [&](std::span<uint8_t> out) { return encode_binding_response(br, out); },
            decode_binding_response) == br);
  CHECK(buf.size() == 44);  // XOR-MAPPED-ADDRESS only.

  const ErrorResponse er{
      kTid, Method::kHeartbeat, error_code::kStaleTimestamp, "Stale Timestamp", {}, true};
  CHECK(round_trip(
            buf, [&](std::span<uint8_t> out) { return encode_error_response(er, out); },
            decode_error_response) == er);

  // For our methods FINGERPRINT is always written, whatever the flag says.
  ErrorResponse no_fp = er;
  no_fp.fingerprint = false;
  const auto decoded = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_error_response(no_fp, out); },
      decode_error_response);
  CHECK(decoded.fingerprint);
}

TEST_CASE("builder: never writes past the buffer and reports the first error") {
  const auto request = golden::heartbeat_request();
  std::array<uint8_t, 512> full{};
  const auto size = encode_heartbeat_request(request, golden::cluster_key(), full);
  REQUIRE(size.ok());
  for (size_t n = 0; n < *size; ++n) {
    std::array<uint8_t, 512> buf;
    buf.fill(0xEE);
    const auto r =
        encode_heartbeat_request(request, golden::cluster_key(), std::span(buf).first(n));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == EncodeErrc::kBufferTooSmall);
    for (size_t i = n; i < buf.size(); ++i)
      REQUIRE(buf[i] == 0xEE);
  }
}

TEST_CASE("builder: state and value rules") {
  std::array<uint8_t, 256> buf{};
  MessageBuilder b(buf);
  CHECK(b.finish().error().code == EncodeErrc::kBadState);
  CHECK_FALSE(b.add_load({}));  // Not started.
  CHECK(b.finish().error().code == EncodeErrc::kBadState);

  REQUIRE(b.start(Method::kProbe, MessageClass::kSuccess, kTid));
  CHECK(b.ok());
  CHECK(b.size() == kHeaderSize);
  CHECK(b.fits(256 - kHeaderSize - 4));
  CHECK_FALSE(b.fits(256 - kHeaderSize - 3));
  REQUIRE(b.add_integrity_sha256(golden::cluster_key()));
  CHECK_FALSE(b.add_load({}));  // Only FINGERPRINT may follow the integrity attribute.
  CHECK(std::string_view(b.finish().error().where) == "LOAD");

  b.start(Method::kProbe, MessageClass::kSuccess, kTid);  // Starting over clears the error.
  CHECK(b.ok());
  CHECK(b.add_fingerprint());
  CHECK_FALSE(b.add_fingerprint());
  CHECK(b.finish().error().code == EncodeErrc::kBadState);

  const auto bad = [&](auto add) {
    b.start(Method::kProbe, MessageClass::kSuccess, kTid);
    CHECK_FALSE(add());
    return b.finish().error().code;
  };
  CHECK(bad([&] { return b.add_node_name(""); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_node_name(std::string(65, 'x')); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_weight(0); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_error_code(700, ""); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_error_code(299, ""); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_error_code(400, std::string(129, 'r')); }) ==
        EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_child({}); }) == EncodeErrc::kInvalidAddress);
  CHECK(bad([&] { return b.add_xor_mapped_address({}); }) == EncodeErrc::kInvalidAddress);
  CHECK(bad([&] { return b.add_service("turn:a b"); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_capacity_token({}); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_integrity_sha256({}); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_padding(0x10000); }) == EncodeErrc::kValueOutOfRange);
  CHECK(bad([&] { return b.add_padding(300); }) == EncodeErrc::kBufferTooSmall);
}

TEST_CASE("Probe reply: never larger than the budget, children cut from the end") {
  const auto reply = golden::branch_reply();
  std::array<uint8_t, 1024> buf{};
  const auto all = encode_probe_reply(reply, buf.size(), buf);
  REQUIRE(all.ok());
  CHECK(all->children_written == 4);
  CHECK_FALSE(all->truncated);
  const size_t fixed = all->size - 3 * 16 - 28;  // Three IPv4 and one IPv6 CHILD.

  for (size_t budget = 0; budget <= all->size + 8; ++budget) {
    CAPTURE(budget);
    const auto r = encode_probe_reply(reply, budget, buf);
    if (budget < fixed) {
      REQUIRE_FALSE(r.ok());
      CHECK(r.error().code == EncodeErrc::kBufferTooSmall);
      continue;
    }
    REQUIRE(r.ok());
    CHECK(r->size <= budget);
    const auto decoded = decode_probe_response(*parse_message(std::span(buf).first(r->size)));
    REQUIRE(decoded.ok());
    CHECK(decoded->children.size() == r->children_written);
    CHECK(r->truncated == (r->children_written < 4));
    CHECK(((decoded->reply_flags & reply_flag::kTruncated) != 0) == r->truncated);
    for (size_t i = 0; i < r->children_written; ++i)
      CHECK(decoded->children[i] == reply.children[i]);
  }
  // The plain encoder never truncates.
  CHECK(encode_probe_response(golden::leaf_response(), std::span(buf).first(100)).error().code ==
        EncodeErrc::kBufferTooSmall);
}

TEST_CASE("Probe reply with grandchildren: children first, then grandchildren while they fit") {
  const ProbeResponse full = golden::root_response_depth();
  const ProbeReply reply = golden::root_reply_depth();
  std::array<uint8_t, 1024> buf{};
  const auto all = encode_probe_reply(reply, buf.size(), buf);
  REQUIRE(all.ok());
  CHECK(all->children_written == 2);
  CHECK(all->grandchildren_written == 3);
  CHECK_FALSE(all->truncated);
  for (size_t budget = all->size - 3 * 16 - 2 * 16; budget <= all->size; ++budget) {
    CAPTURE(budget);
    const auto r = encode_probe_reply(reply, budget, buf);
    REQUIRE(r.ok());
    CHECK(r->size <= budget);
    const auto decoded = decode_probe_response(*parse_message(std::span(buf).first(r->size)));
    REQUIRE(decoded.ok());
    CHECK(decoded->children.size() == r->children_written);
    CHECK(decoded->grandchildren.size() == r->grandchildren_written);
    CHECK(r->truncated == (r->children_written < 2 || r->grandchildren_written < 3));
    // A grandchild is kept only once every child fits, and in the order given.
    if (r->grandchildren_written > 0) CHECK(r->children_written == 2);
    for (size_t i = 0; i < r->grandchildren_written; ++i)
      CHECK(decoded->grandchildren[i] == full.grandchildren[i]);
  }
  // Written under its own CHILD whatever the order given: the second child's first.
  ProbeReply reordered = reply;
  const std::vector<Grandchild> order{full.grandchildren[2], full.grandchildren[0]};
  reordered.grandchildren = order;
  const auto two = encode_probe_reply(reordered, buf.size(), buf);
  REQUIRE(two.ok());
  const auto decoded = decode_probe_response(*parse_message(std::span(buf).first(two->size)));
  REQUIRE(decoded.ok());
  CHECK(decoded->grandchildren ==
        std::vector<Grandchild>{full.grandchildren[0], full.grandchildren[2]});
  // A grandchild whose parent is not listed is never written.
  ProbeReply orphan = reply;
  const std::vector<Grandchild> stray{{7, full.grandchildren[0].entry}};
  orphan.grandchildren = stray;
  const auto none = encode_probe_reply(orphan, buf.size(), buf);
  REQUIRE(none.ok());
  CHECK(none->grandchildren_written == 0);
  CHECK(none->truncated);
}

TEST_CASE("Probe response: a GRANDCHILD before any CHILD is ignored") {
  std::array<uint8_t, 512> buf{};
  MessageBuilder b(buf);
  b.start(Method::kProbe, MessageClass::kSuccess, kTid);
  b.add_xor_mapped_address(Endpoint::v4(192, 0, 2, 1, 1000));
  b.add_node_name("n");
  b.add_load({1, 0});
  b.add_flow_control({});
  b.add_reply_flags(0);
  b.add_grandchild({Endpoint::v4(192, 0, 2, 9, 3478), true, 1, 1});
  b.add_child({Endpoint::v4(192, 0, 2, 2, 3478), false, 1, 1});
  b.add_grandchild({Endpoint::v4(192, 0, 2, 3, 3478), true, 1, 1});
  b.add_fingerprint();
  const auto size = b.finish();
  REQUIRE(size.ok());
  const auto r = decode_probe_response(*parse_message(std::span(buf).first(*size)));
  REQUIRE(r.ok());
  REQUIRE(r->grandchildren.size() == 1);
  CHECK(r->grandchildren[0].parent == 0);
  CHECK(r->grandchildren[0].entry.address == Endpoint::v4(192, 0, 2, 3, 3478));
}

TEST_CASE("Probe request: DEPTH-WANTED round trip, absent is 1, anything above 2 reads as 2") {
  for (const uint8_t depth : {uint8_t{1}, uint8_t{2}, uint8_t{9}}) {
    ProbeRequest r;
    r.transaction_id = kTid;
    r.depth = depth;
    std::vector<uint8_t> buf;
    const auto back = round_trip(
        buf, [&](std::span<uint8_t> out) { return encode_probe_request(r, out); },
        decode_probe_request);
    CHECK(back.depth == std::min<uint8_t>(depth, 2));
    CHECK(parse_message(buf)->count(attr::kDepthWanted) == (depth >= 2 ? 1u : 0u));
  }
}

TEST_CASE("Heartbeat request: a branch's listing round trips; more than 16 entries are refused") {
  HeartbeatRequest r = golden::heartbeat_request();
  for (uint8_t i = 0; i < kMaxHeartbeatListing; ++i)
    r.listing.push_back({Endpoint::v4(192, 0, 2, i, 3478), true, i, 1});
  std::vector<uint8_t> buf;
  const auto back = round_trip(
      buf, [&](std::span<uint8_t> out) { return encode_heartbeat_request(r, {}, out); },
      decode_heartbeat_request);
  CHECK(back.listing == r.listing);
  r.listing.push_back({Endpoint::v4(192, 0, 2, 99, 3478), true, 0, 1});
  std::array<uint8_t, 1024> out{};
  CHECK(encode_heartbeat_request(r, {}, out).error().code == EncodeErrc::kValueOutOfRange);
  // Written by hand, a 17th is a bad value.
  MessageBuilder b(out);
  b.start(Method::kHeartbeat, MessageClass::kRequest, kTid);
  b.add_node_name("n");
  b.add_advertised_address(Endpoint::v4(192, 0, 2, 1, 3478));
  b.add_load({1, 0});
  b.add_capacity(0);
  b.add_subtree({1, 1, 1});
  b.add_node_state(NodeState::kActive);
  b.add_weight(1);
  for (const ChildEntry& c : r.listing)
    b.add_child(c);
  b.add_timestamp(1);
  b.add_fingerprint();
  const auto size = b.finish();
  REQUIRE(size.ok());
  const auto decoded = decode_heartbeat_request(*parse_message(std::span(out).first(*size)));
  REQUIRE_FALSE(decoded.ok());
  CHECK(decoded.error().code == DecodeErrc::kBadValue);
}

TEST_CASE("Probe reply from pre-encoded text: the same result as the checked encoder") {
  ProbeReply reply = golden::branch_reply();
  const std::vector<std::string> services{"turn:192.0.2.10:3478?transport=udp",
                                          "turns:turn.example.com:5349?transport=tcp"};
  reply.services = services;
  const auto text = ProbeReplyText::make(reply.node_name, services);
  REQUIRE(text.ok());
  CHECK(text->node_name().count() == 1);
  CHECK(text->services().count() == 2);

  std::array<uint8_t, 1024> checked{};
  std::array<uint8_t, 1024> copied{};
  const auto all = encode_probe_reply(reply, checked.size(), checked);
  REQUIRE(all.ok());
  for (size_t budget = 0; budget <= all->size + 8; ++budget) {
    CAPTURE(budget);
    const auto a = encode_probe_reply(reply, budget, checked);
    // The text comes from `text` alone.
    ProbeReply without_text = reply;
    without_text.node_name = "";
    without_text.services = {};
    const auto b = encode_probe_reply(without_text, *text, budget, copied);
    REQUIRE(a.ok() == b.ok());
    if (!a.ok()) {
      CHECK(a.error().code == b.error().code);
      continue;
    }
    CHECK(a->size == b->size);
    CHECK(a->children_written == b->children_written);
    CHECK(a->truncated == b->truncated);
    CHECK(test::to_hex(std::span(checked).first(a->size)) ==
          test::to_hex(std::span(copied).first(b->size)));
  }
}

TEST_CASE("pre-encoded Probe reply text: checked once, copied within the builder's limits") {
  const std::vector<std::string> good{"turn:192.0.2.10:3478?transport=udp"};
  const std::vector<std::string> bad{"turn:a b"};
  CHECK(ProbeReplyText::make("", good).error().code == EncodeErrc::kValueOutOfRange);
  CHECK(ProbeReplyText::make("eu west", good).error().code == EncodeErrc::kValueOutOfRange);
  CHECK(ProbeReplyText::make("eu-west", bad).error().code == EncodeErrc::kValueOutOfRange);
  const std::vector<std::string> too_many(kMaxAttributes + 1, good[0]);
  CHECK(ProbeReplyText::make("eu-west", too_many).error().code == EncodeErrc::kValueOutOfRange);
  const auto text = ProbeReplyText::make("eu-west", good);
  REQUIRE(text.ok());
  const EncodedAttributes& service = text->services();
  REQUIRE(service.bytes().size() == 4 + good[0].size() + 2);  // Padded to 4 bytes.

  std::vector<uint8_t> buf(8192);
  MessageBuilder b(buf);
  // The buffer must hold the attributes.
  const std::span<uint8_t> short_buffer(buf.data(), kHeaderSize + service.bytes().size() - 1);
  MessageBuilder small(short_buffer);
  small.start(Method::kProbe, MessageClass::kSuccess, kTid);
  CHECK_FALSE(small.add_encoded(service));
  CHECK(small.finish().error().code == EncodeErrc::kBufferTooSmall);
  // They count towards kMaxAttributes.
  b.start(Method::kProbe, MessageClass::kSuccess, kTid);
  for (size_t i = 0; i < kMaxAttributes; ++i)
    REQUIRE(b.add_encoded(service));
  CHECK_FALSE(b.add_encoded(service));
  CHECK(b.finish().error().code == EncodeErrc::kValueOutOfRange);
  // Nothing follows FINGERPRINT, and a sealed message gives no attributes to copy.
  b.start(Method::kProbe, MessageClass::kSuccess, kTid);
  REQUIRE(b.add_encoded(service));
  REQUIRE(b.add_fingerprint());
  CHECK(b.attributes().error().code == EncodeErrc::kBadState);
  CHECK_FALSE(b.add_encoded(service));
  CHECK(b.finish().error().code == EncodeErrc::kBadState);
  // What a builder copies is what it wrote.
  b.start(Method::kProbe, MessageClass::kSuccess, kTid);
  REQUIRE(b.add_encoded(text->node_name()));
  REQUIRE(b.add_encoded(service));
  const auto copy = b.attributes();
  REQUIRE(copy.ok());
  CHECK(copy->count() == 2);
  CHECK(copy->bytes().size() == text->node_name().bytes().size() + service.bytes().size());
}

}  // namespace
}  // namespace turnscout::proto

namespace turnscout::proto {
namespace {

TEST_CASE("builder and Probe reply: at most kMaxAttributes attributes") {
  std::vector<uint8_t> buf(8192);
  MessageBuilder b(buf);
  b.start(Method::kBinding, MessageClass::kIndication, kTid);
  for (size_t i = 0; i < kMaxAttributes; ++i)
    REQUIRE(b.add_raw(0x8FFF, {}));
  CHECK_FALSE(b.add_raw(0x8FFF, {}));
  CHECK(b.finish().error().code == EncodeErrc::kValueOutOfRange);

  // A large enough budget for 200 children still lists only as many as a receiver accepts.
  std::vector<ChildEntry> children(200, ChildEntry{Endpoint::v4(192, 0, 2, 1, 3478), true, 1, 1});
  ProbeReply reply = golden::branch_reply();
  reply.children = children;
  const auto r = encode_probe_reply(reply, buf.size(), buf);
  REQUIRE(r.ok());
  CHECK(r->children_written == kMaxAttributes - 6);
  CHECK(r->truncated);
  const auto view = parse_message(std::span(buf).first(r->size));
  REQUIRE(view.ok());
  CHECK(view->attribute_count() == kMaxAttributes);
  CHECK(decode_probe_response(*view)->children.size() == kMaxAttributes - 6);
}

}  // namespace
}  // namespace turnscout::proto
