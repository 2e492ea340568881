// Golden vectors: the example of each message, byte for byte. They were produced by this
// encoder, checked with an independent HMAC-SHA256 and CRC-32 and with tshark (see
// PROTOCOL.md §14), and are the examples printed in proto/PROTOCOL.md (the last test keeps
// the document in step).
#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <map>
#include <string>

#include "proto/crypto.hpp"
#include "tests/proto/golden_messages.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

using test::from_hex;
using test::to_hex;

struct Vector {
  const char* name;
  const char* hex;
};

// clang-format off
const Vector kVectors[] = {
    {"probe_request",
     "02 61 00 8c 21 12 a4 42 5c 0f 8e 21 d3 47 aa 10 "
     "69 b8 e2 04 00 26 00 24 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 ca 07 00 04 "
     "00 08 00 00 ca 08 00 3a 01 02 00 00 00 00 00 00 "
     "69 55 b9 00 0d 31 39 38 2e 35 31 2e 31 30 30 2e "
     "32 33 0d 20 7d a2 d1 6c e6 56 81 16 ca 24 47 b5 "
     "b6 4f 90 81 41 9f ff 20 de c7 53 25 1c a6 fe 60 "
     "73 2f 00 00 80 22 00 0f 74 75 72 6e 73 63 6f 75 "
     "74 2f 30 2e 31 2e 30 00 80 28 00 04 40 b2 e2 4c"},
    {"probe_response_branch",
     "03 61 00 80 21 12 a4 42 5c 0f 8e 21 d3 47 aa 10 "
     "69 b8 e2 04 00 20 00 08 00 01 e2 d9 e7 21 c0 55 "
     "ca 01 00 07 65 75 2d 77 65 73 74 00 ca 02 00 04 "
     "01 a4 03 84 ca 05 00 10 00 00 00 14 00 00 13 88 "
     "00 01 00 01 02 00 00 00 ca 06 00 04 00 00 00 01 "
     "ca 03 00 0c 01 01 0d 96 01 36 00 64 c0 00 02 0a "
     "ca 03 00 0c 01 01 0d 96 02 1c 00 64 c0 00 02 0b "
     "ca 03 00 18 02 01 0d 96 00 78 00 32 20 01 0d b8 "
     "00 10 00 00 00 00 00 00 00 00 00 0a 80 28 00 04 "
     "0c 03 2f a6"},
    {"probe_response_leaf",
     "03 61 00 cc 21 12 a4 42 6b 2d 90 5e 11 c8 73 a4 "
     "0e f5 3c 82 00 20 00 14 00 02 bd 53 01 13 a9 fa "
     "d5 c2 90 5e 11 c8 73 a4 0e f5 3c 95 ca 01 00 0a "
     "65 75 2d 77 65 73 74 2d 31 61 00 00 ca 02 00 04 "
     "01 36 03 b6 ca 05 00 10 00 00 00 14 00 00 13 88 "
     "00 01 00 01 00 00 00 00 ca 06 00 04 00 00 00 00 "
     "ca 04 00 22 74 75 72 6e 3a 31 39 32 2e 30 2e 32 "
     "2e 31 30 3a 33 34 37 38 3f 74 72 61 6e 73 70 6f "
     "72 74 3d 75 64 70 00 00 ca 04 00 2c 74 75 72 6e "
     "73 3a 74 75 72 6e 2d 31 61 2e 65 78 61 6d 70 6c "
     "65 2e 6f 72 67 3a 35 33 34 39 3f 74 72 61 6e 73 "
     "70 6f 72 74 3d 74 63 70 ca 04 00 1a 73 74 75 6e "
     "3a 5b 32 30 30 31 3a 64 62 38 3a 31 30 3a 3a 61 "
     "5d 3a 33 34 37 38 00 00 80 28 00 04 1a 1a 63 d0"},
    {"probe_request_depth",
     "02 61 00 94 21 12 a4 42 4a 9e 02 d6 71 bb 1f 58 "
     "e3 0c 96 27 00 26 00 80 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
     "00 00 00 00 00 00 00 00 ca 0f 00 04 02 00 00 00 "
     "80 28 00 04 3f 91 11 a9"},
    {"probe_response_depth",
     "03 61 00 94 21 12 a4 42 4a 9e 02 d6 71 bb 1f 58 "
     "e3 0c 96 27 00 20 00 08 00 01 e2 d9 e7 21 c0 55 "
     "ca 01 00 06 67 6c 6f 62 61 6c 00 00 ca 02 00 04 "
     "00 c8 03 84 ca 05 00 10 00 00 00 14 00 00 13 88 "
     "00 01 00 01 00 00 00 00 ca 06 00 04 00 00 00 00 "
     "ca 03 00 0c 01 00 0d 96 01 36 00 64 c0 00 02 01 "
     "ca 10 00 0c 01 01 0d 96 01 36 00 64 c0 00 02 0a "
     "ca 10 00 0c 01 01 0d 96 02 1c 00 64 c0 00 02 0b "
     "ca 03 00 0c 01 00 0d 96 00 c8 00 64 cb 00 71 01 "
     "ca 10 00 0c 01 01 0d 96 00 c8 00 64 cb 00 71 0a "
     "80 28 00 04 6b 90 08 10"},
    {"heartbeat_request",
     "02 62 00 98 21 12 a4 42 3e 91 07 c4 58 2b f0 6d "
     "1a 93 c7 5e ca 01 00 0a 65 75 2d 77 65 73 74 2d "
     "31 61 00 00 ca 09 00 08 00 01 0d 96 c0 00 02 0a "
     "ca 09 00 14 00 02 0d 96 20 01 0d b8 00 10 00 00 "
     "00 00 00 00 00 00 00 0a ca 02 00 04 01 36 03 b6 "
     "ca 0a 00 04 00 00 13 88 ca 0b 00 08 00 00 00 01 "
     "01 36 00 00 ca 0c 00 04 00 00 00 00 ca 0e 00 04 "
     "00 64 00 00 ca 0d 00 08 00 00 01 9b 76 da a8 7b "
     "00 1c 00 20 e0 0b f3 41 62 b4 14 81 6a b1 e2 af "
     "4c b3 96 40 69 ee 20 f5 d5 22 30 e9 dc 2e d7 cf "
     "08 20 f2 a1 80 28 00 04 be 0e d1 cf"},
    {"heartbeat_response",
     "03 62 00 44 21 12 a4 42 3e 91 07 c4 58 2b f0 6d "
     "1a 93 c7 5e ca 01 00 07 65 75 2d 77 65 73 74 00 "
     "ca 0d 00 08 00 00 01 9b 76 da a8 7b 00 1c 00 20 "
     "7b 3f 3b f7 2f 6a 81 55 63 76 d4 c3 fa 7c fc 61 "
     "81 42 c2 8f 7f 3f a9 a5 56 a3 ba 79 80 ca 28 c3 "
     "80 28 00 04 af b0 09 18"},
    {"leave_request",
     "02 63 00 48 21 12 a4 42 88 14 d2 6f 0b a9 37 e5 "
     "c0 72 4d 19 ca 01 00 0a 65 75 2d 77 65 73 74 2d "
     "31 61 00 00 ca 0d 00 08 00 00 01 9b 76 db 94 28 "
     "00 1c 00 20 05 1f fc c8 fc ba e6 4e 26 51 dc 48 "
     "94 d8 5a 79 c8 63 db 4b 6f 77 15 12 04 13 97 05 "
     "fb 8a 9b 9b 80 28 00 04 69 d8 b7 e8"},
    {"leave_response",
     "03 63 00 44 21 12 a4 42 88 14 d2 6f 0b a9 37 e5 "
     "c0 72 4d 19 ca 01 00 07 65 75 2d 77 65 73 74 00 "
     "ca 0d 00 08 00 00 01 9b 76 db 94 28 00 1c 00 20 "
     "47 3b db ca 0c 72 14 b1 6c f0 54 b9 c4 34 25 a3 "
     "93 18 a1 6f 63 dd 7e 24 a7 1e dd 7e 5b fa 2a cf "
     "80 28 00 04 85 f1 5a 6b"},
    {"binding_request",
     "00 01 00 08 21 12 a4 42 21 6a f3 0d 9c 84 5b e7 "
     "12 c6 a0 3f 80 28 00 04 06 e9 18 86"},
    {"binding_response",
     "01 01 00 14 21 12 a4 42 21 6a f3 0d 9c 84 5b e7 "
     "12 c6 a0 3f 00 20 00 08 00 01 e2 d9 e7 21 c0 55 "
     "80 28 00 04 48 1e e4 f2"},
    {"error_response",
     "03 71 00 2c 21 12 a4 42 d7 40 1e b5 63 fa 29 8c "
     "04 e1 7b 96 00 09 00 15 00 00 04 14 55 6e 6b 6e "
     "6f 77 6e 20 41 74 74 72 69 62 75 74 65 00 00 00 "
     "00 0a 00 02 7f 01 00 00 80 28 00 04 42 86 b4 fb"},
};
// clang-format on

std::vector<uint8_t> vector_bytes(std::string_view name) {
  for (const auto& v : kVectors) {
    if (name == v.name) return from_hex(v.hex);
  }
  return {};
}

// The view refers to `bytes`, which must outlive it.
MessageView parsed(const std::vector<uint8_t>& bytes) {
  auto view = parse_message(bytes);
  REQUIRE_MESSAGE(view.ok(), to_string(view.error()));
  return *view;
}

// Any decoder for the message's method and class; true if it accepts the message.
bool decodes(const MessageView& m) {
  const auto cls = m.message_class();
  switch (m.method()) {
    case Method::kBinding:
      if (cls == MessageClass::kRequest) return decode_binding_request(m).ok();
      if (cls == MessageClass::kSuccess) return decode_binding_response(m).ok();
      break;
    case Method::kProbe:
      if (cls == MessageClass::kRequest) return decode_probe_request(m).ok();
      if (cls == MessageClass::kSuccess) return decode_probe_response(m).ok();
      break;
    case Method::kHeartbeat:
      if (cls == MessageClass::kRequest) return decode_heartbeat_request(m).ok();
      if (cls == MessageClass::kSuccess) return decode_heartbeat_response(m).ok();
      break;
    case Method::kLeave:
      if (cls == MessageClass::kRequest) return decode_leave_request(m).ok();
      if (cls == MessageClass::kSuccess) return decode_leave_response(m).ok();
      break;
  }
  return cls == MessageClass::kError && decode_error_response(m).ok();
}

TEST_CASE("golden: every encoding matches its vector byte for byte") {
  const auto all = golden::encode_all();
  REQUIRE(all.size() == std::size(kVectors));
  for (size_t i = 0; i < all.size(); ++i) {
    CAPTURE(all[i].name);
    CHECK(all[i].name == kVectors[i].name);
    CHECK(!all[i].bytes.empty());
    CHECK(to_hex(all[i].bytes) == to_hex(from_hex(kVectors[i].hex)));
  }
}

TEST_CASE("golden: Probe request decodes field by field") {
  const auto bytes = vector_bytes("probe_request");
  const auto m = parsed(bytes);
  CHECK(m.type() == 0x0261);
  CHECK(m.size() == 160);
  CHECK(m.has_fingerprint());
  CHECK(m.count(attr::kPadding) == 1);
  const auto r = decode_probe_request(m);
  REQUIRE(r.ok());
  CHECK(r->transaction_id == golden::probe_request().transaction_id);
  CHECK(r->children_wanted == 8);
  CHECK(r->software == "turnscout/0.1.0");
  CHECK(to_hex(r->capacity_token) == to_hex(golden::token_bytes()));
  const auto token = verify_capacity_token(r->capacity_token, golden::cluster_key(),
                                           golden::kIssuedAt, "198.51.100.23");
  REQUIRE(token.ok());
  CHECK(*token == golden::token_fields());
}

TEST_CASE("golden: Probe response (branch, truncated to the request's size)") {
  const auto bytes = vector_bytes("probe_response_branch");
  CHECK(bytes.size() <= vector_bytes("probe_request").size());
  const auto r = decode_probe_response(parsed(bytes));
  REQUIRE(r.ok());
  CHECK(r->reflexive == Endpoint::v4(198, 51, 100, 23, 50123));
  CHECK(r->node_name == "eu-west");
  CHECK(r->load == Load{420, 900});
  CHECK(r->flow_control == FlowControl{20, 5000, 1, 1, 2});
  CHECK(r->reply_flags == reply_flag::kTruncated);
  REQUIRE(r->children.size() == 3);
  CHECK(r->children[0] == ChildEntry{Endpoint::v4(192, 0, 2, 10, 3478), true, 310, 100});
  CHECK(r->children[1] == ChildEntry{Endpoint::v4(192, 0, 2, 11, 3478), true, 540, 100});
  CHECK(r->children[2].address.family == Family::kV6);
  CHECK(r->children[2].address.ip[15] == 0x0a);
  CHECK(r->children[2].weight == 50);
  CHECK(r->services.empty());
  CHECK(*r == golden::branch_response_decoded());
}

TEST_CASE("golden: Probe response (leaf with services)") {
  const auto bytes = vector_bytes("probe_response_leaf");
  const auto r = decode_probe_response(parsed(bytes));
  REQUIRE(r.ok());
  CHECK(r->reflexive.family == Family::kV6);
  CHECK(r->reflexive.port == 40001);
  CHECK(r->node_name == "eu-west-1a");
  CHECK(r->reply_flags == 0);
  CHECK(r->children.empty());
  REQUIRE(r->services.size() == 3);
  CHECK(r->services[1] == "turns:turn-1a.example.org:5349?transport=tcp");
  CHECK(*r == golden::leaf_response());
  for (const auto& s : r->services)
    CHECK(parse_turn_uri(s).ok());
}

TEST_CASE("golden: Probe with DEPTH-WANTED, and a root's reply with GRANDCHILD entries") {
  const auto request_bytes = vector_bytes("probe_request_depth");
  const auto request = decode_probe_request(parsed(request_bytes));
  REQUIRE(request.ok());
  CHECK(request->depth == 2);
  CHECK(request->children_wanted == 0);
  const auto bytes = vector_bytes("probe_response_depth");
  CHECK(bytes.size() <= request_bytes.size());
  const auto r = decode_probe_response(parsed(bytes));
  REQUIRE(r.ok());
  CHECK(*r == golden::root_response_depth());
  REQUIRE(r->children.size() == 2);
  CHECK_FALSE(r->children[0].leaf);
  REQUIRE(r->grandchildren.size() == 3);
  CHECK(r->grandchildren[0].parent == 0);
  CHECK(r->grandchildren[1].parent == 0);
  CHECK(r->grandchildren[2].parent == 1);
  CHECK(r->grandchildren[2].entry ==
        ChildEntry{Endpoint::v4(203, 0, 113, 10, 3478), true, 200, 100});
  // A server that encodes the same reply into the request's room keeps every entry.
  std::array<uint8_t, 2048> out{};
  const auto written = encode_probe_reply(golden::root_reply_depth(), request_bytes.size(), out);
  REQUIRE(written.ok());
  CHECK_FALSE(written->truncated);
  CHECK(to_hex({out.data(), written->size}) == to_hex(bytes));
}

TEST_CASE("golden: Heartbeat request decodes and verifies") {
  const auto bytes = vector_bytes("heartbeat_request");
  const auto m = parsed(bytes);
  const auto r = decode_heartbeat_request(m);
  REQUIRE(r.ok());
  CHECK(r->node_name == "eu-west-1a");
  REQUIRE(r->advertised.size() == 2);
  CHECK(r->advertised[0] == Endpoint::v4(192, 0, 2, 10, 3478));
  CHECK(r->advertised[1].family == Family::kV6);
  CHECK(r->load == Load{310, 950});
  CHECK(r->capacity == 5000);
  CHECK(r->subtree == Subtree{1, 310, 0});
  CHECK(r->state == NodeState::kActive);
  CHECK(r->weight == 100);
  CHECK(r->timestamp_ms == 1767225600123);
  CHECK(r->has_integrity);
  CHECK(*r == golden::heartbeat_request());
  CHECK(verify_integrity_sha256(m, golden::cluster_key()));
  CHECK_FALSE(verify_integrity_sha256(m, test::as_bytes("turnscout-example-cluster-kez")));
}

TEST_CASE("golden: Heartbeat and Leave responses, Leave request") {
  const auto hb_bytes = vector_bytes("heartbeat_response");
  const auto hb = parsed(hb_bytes);
  REQUIRE(decode_heartbeat_response(hb).ok());
  CHECK(*decode_heartbeat_response(hb) == golden::heartbeat_response());
  CHECK(decode_heartbeat_response(hb)->timestamp_ms == golden::heartbeat_request().timestamp_ms);
  CHECK(verify_integrity_sha256(hb, golden::cluster_key()));

  const auto lq_bytes = vector_bytes("leave_request");
  const auto lq = parsed(lq_bytes);
  REQUIRE(decode_leave_request(lq).ok());
  CHECK(*decode_leave_request(lq) == golden::leave_request());
  CHECK(decode_leave_request(lq)->node_name == "eu-west-1a");
  CHECK(verify_integrity_sha256(lq, golden::cluster_key()));

  const auto lr_bytes = vector_bytes("leave_response");
  const auto lr = parsed(lr_bytes);
  REQUIRE(decode_leave_response(lr).ok());
  CHECK(*decode_leave_response(lr) == golden::leave_response());
  CHECK(verify_integrity_sha256(lr, golden::cluster_key()));
  CHECK_FALSE(verify_integrity_sha256(lr, test::as_bytes("another-key")));
  // A Leave response is not a Heartbeat response.
  CHECK(decode_heartbeat_response(lr).error().code == DecodeErrc::kUnexpectedMessage);
}

TEST_CASE("golden: Binding request and response, error response") {
  const auto req_bytes = vector_bytes("binding_request");
  const auto req = parsed(req_bytes);
  CHECK(req.size() == 28);
  CHECK(*decode_binding_request(req) == golden::binding_request());
  const auto resp_bytes = vector_bytes("binding_response");
  const auto resp = parsed(resp_bytes);
  CHECK(resp.size() == 40);
  CHECK(decode_binding_response(resp)->mapped == Endpoint::v4(198, 51, 100, 23, 50123));
  CHECK(*decode_binding_response(resp) == golden::binding_response());
  const auto err_bytes = vector_bytes("error_response");
  const auto err = decode_error_response(parsed(err_bytes));
  REQUIRE(err.ok());
  CHECK(err->method == Method::kProbe);
  CHECK(err->code == 420);
  CHECK(err->reason == "Unknown Attribute");
  CHECK(err->unknown_attributes == std::vector<uint16_t>{0x7f01});
  CHECK(*err == golden::error_response());
}

TEST_CASE("golden: every truncation is rejected") {
  for (const auto& v : kVectors) {
    const std::string name = v.name;
    CAPTURE(name);
    const auto bytes = from_hex(v.hex);
    for (size_t n = 0; n < bytes.size(); ++n) {
      CAPTURE(n);
      std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
      const auto as_is = parse_message(prefix);
      REQUIRE_FALSE(as_is.ok());
      CHECK(as_is.error().code ==
            (n < kHeaderSize ? DecodeErrc::kTruncated : DecodeErrc::kBadLength));
      if (n < kHeaderSize || n % 4 != 0) continue;
      // Even with a header length that matches, the cut message must not decode.
      prefix[2] = static_cast<uint8_t>((n - kHeaderSize) >> 8);
      prefix[3] = static_cast<uint8_t>(n - kHeaderSize);
      const auto fixed = parse_message(prefix);
      // A Binding message without its FINGERPRINT is still a valid Binding message.
      const bool binding_without_fp = name.rfind("binding", 0) == 0 && n == bytes.size() - 8;
      if (fixed.ok() && !binding_without_fp) CHECK_FALSE(decodes(*fixed));
    }
  }
}

TEST_CASE("golden: any single-bit flip is detected") {
  for (const auto& v : kVectors) {
    const std::string name = v.name;
    CAPTURE(name);
    const auto bytes = from_hex(v.hex);
    for (size_t bit = 0; bit < bytes.size() * 8; ++bit) {
      auto flipped = bytes;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      CAPTURE(bit);
      const auto m = parse_message(flipped);
      if (!m.ok()) continue;
      // A flip that still parses has hidden FINGERPRINT (changed its type, or grown the
      // attribute before it over it); our own methods require FINGERPRINT.
      CHECK_FALSE(m->has_fingerprint());
      if (is_turnscout_method(m->method())) CHECK_FALSE(decodes(*m));
    }
  }
}

// An attacker who recomputes FINGERPRINT after changing a signed message still fails the
// integrity check.
TEST_CASE("golden: signed messages fail integrity after any bit flip") {
  for (const std::string name :
       {"heartbeat_request", "heartbeat_response", "leave_request", "leave_response"}) {
    CAPTURE(name);
    const auto bytes = vector_bytes(name);
    const size_t fp_at = bytes.size() - 8;
    for (size_t bit = 0; bit < fp_at * 8; ++bit) {
      auto flipped = bytes;
      flipped[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
      const uint32_t crc = crc32(std::span(flipped).first(fp_at)) ^ kFingerprintXor;
      for (int i = 0; i < 4; ++i)
        flipped[fp_at + 4 + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
      CAPTURE(bit);
      const auto m = parse_message(flipped);
      CHECK((!m.ok() || !verify_integrity_sha256(*m, golden::cluster_key())));
    }
  }
}

// The examples in PROTOCOL.md are `<!-- golden:NAME -->` followed by a code block whose lines
// start with four hex bytes.
std::map<std::string, std::vector<uint8_t>> document_examples(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::vector<uint8_t>> out;
  std::string line, name;
  bool in_block = false;
  while (std::getline(in, line)) {
    if (line.rfind("<!-- golden:", 0) == 0) {
      name = line.substr(12, line.find(' ', 12) - 12);
    } else if (line.rfind("```", 0) == 0 && !name.empty()) {
      in_block = !in_block;
      if (!in_block) name.clear();
    } else if (in_block) {
      const auto row = from_hex(line.substr(0, 11));
      out[name].insert(out[name].end(), row.begin(), row.end());
    }
  }
  return out;
}

TEST_CASE("golden: PROTOCOL.md shows exactly these bytes") {
  const auto examples = document_examples(TURNSCOUT_PROTOCOL_MD);
  REQUIRE(examples.size() == std::size(kVectors));
  for (const auto& v : kVectors) {
    const std::string name = v.name;
    CAPTURE(name);
    const auto it = examples.find(v.name);
    REQUIRE(it != examples.end());
    CHECK(to_hex(it->second) == to_hex(from_hex(v.hex)));
  }
}

}  // namespace
}  // namespace turnscout::proto
