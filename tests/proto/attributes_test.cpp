// Attribute values: every size and range rule gives the expected error and field name.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "proto/proto.hpp"
#include "tests/proto/hex.hpp"

namespace turnscout::proto {
namespace {

using test::from_hex;

constexpr TransactionId kTid{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

// An attribute at offset 20 of a message, as a decoder would see it.
Attribute at20(uint16_t type, const std::vector<uint8_t>& value) {
  return Attribute{type, 20, value};
}

template <typename R>
void expect_error(const R& result, DecodeErrc code, std::string_view where, uint32_t offset) {
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == code);
  CHECK(std::string_view(result.error().where) == where);
  CHECK(result.error().offset == offset);
}

TEST_CASE("attributes: CHILD") {
  const auto v4 = from_hex("01 01 0d 96 01 36 00 64 c0 00 02 0a");
  const auto c = read_child(at20(attr::kChild, v4));
  REQUIRE(c.ok());
  CHECK(*c == ChildEntry{Endpoint::v4(192, 0, 2, 10, 3478), true, 310, 100});

  auto reserved_flags = v4;
  reserved_flags[1] = 0xFE;  // Reserved bits are ignored; leaf is bit 0.
  CHECK_FALSE(read_child(at20(attr::kChild, reserved_flags))->leaf);

  auto family = v4;
  family[0] = 3;
  expect_error(read_child(at20(attr::kChild, family)), DecodeErrc::kBadValue, "CHILD.family", 24);
  auto v6_short = v4;
  v6_short[0] = 2;  // IPv6 needs 24 bytes.
  expect_error(read_child(at20(attr::kChild, v6_short)), DecodeErrc::kBadAttributeLength, "CHILD",
               20);
  expect_error(read_child(at20(attr::kChild, from_hex("01 01 0d 96"))),
               DecodeErrc::kBadAttributeLength, "CHILD", 20);
}

TEST_CASE("attributes: addresses") {
  // ADVERTISED-ADDRESS / MAPPED-ADDRESS are not xored.
  const auto a = read_address(at20(attr::kAdvertisedAddress, from_hex("00 01 0d 96 c6 33 64 17")));
  REQUIRE(a.ok());
  CHECK(*a == Endpoint::v4(198, 51, 100, 23, 3478));
  expect_error(read_address(at20(attr::kAdvertisedAddress, from_hex("00 00 0d 96 c6 33 64 17"))),
               DecodeErrc::kBadValue, "ADVERTISED-ADDRESS.family", 25);
  expect_error(
      read_xor_address(at20(attr::kXorMappedAddress, from_hex("00 02 0d 96 c6 33 64 17")), kTid),
      DecodeErrc::kBadAttributeLength, "XOR-MAPPED-ADDRESS", 20);

  // XOR: round trip through write_xor_address, IPv6 uses the transaction id.
  std::array<uint8_t, 16> ip{};
  for (size_t i = 0; i < ip.size(); ++i)
    ip[i] = static_cast<uint8_t>(0x20 + i);
  const auto e = Endpoint::v6(ip, 65535);
  std::vector<uint8_t> value(address_value_size(e));
  write_xor_address(e, kTid, value);
  CHECK(value[4] == (0x20 ^ 0x21));
  CHECK(value[19] == (0x2f ^ 12));
  CHECK(*read_xor_address(at20(attr::kXorMappedAddress, value), kTid) == e);
}

TEST_CASE("attributes: text values") {
  CHECK(valid_node_name("eu-west.1_a"));
  CHECK(valid_node_name(std::string(64, 'a')));
  CHECK_FALSE(valid_node_name(""));
  CHECK_FALSE(valid_node_name(std::string(65, 'a')));
  CHECK_FALSE(valid_node_name("eu west"));
  CHECK_FALSE(valid_node_name("eu/west"));
  CHECK_FALSE(valid_node_name("\xc3\xa9u"));
  expect_error(read_node_name(at20(attr::kNodeName, from_hex("65 75 20 77"))),
               DecodeErrc::kBadValue, "NODE-NAME", 24);
  expect_error(read_node_name(at20(attr::kNodeName, {})), DecodeErrc::kBadAttributeLength,
               "NODE-NAME", 20);

  CHECK(valid_service_text("turn:192.0.2.7:3478?transport=udp"));
  CHECK_FALSE(valid_service_text(""));
  CHECK_FALSE(valid_service_text("turn:a b"));
  CHECK_FALSE(valid_service_text(std::string(256, 'a')));
  expect_error(read_service(at20(attr::kService, from_hex("74 0a"))), DecodeErrc::kBadValue,
               "SERVICE", 24);
  expect_error(read_capacity_token(at20(attr::kCapacityToken, std::vector<uint8_t>(129))),
               DecodeErrc::kBadAttributeLength, "CAPACITY-TOKEN", 20);
}

TEST_CASE("attributes: fixed-size values") {
  expect_error(read_load(at20(attr::kLoad, from_hex("00 01"))), DecodeErrc::kBadAttributeLength,
               "LOAD", 20);
  expect_error(read_flow_control(at20(attr::kFlowControl, std::vector<uint8_t>(12))),
               DecodeErrc::kBadAttributeLength, "FLOW-CONTROL", 20);
  expect_error(read_subtree(at20(attr::kSubtree, std::vector<uint8_t>(4))),
               DecodeErrc::kBadAttributeLength, "SUBTREE", 20);
  expect_error(read_timestamp(at20(attr::kTimestamp, std::vector<uint8_t>(4))),
               DecodeErrc::kBadAttributeLength, "TIMESTAMP", 20);
  expect_error(read_weight(at20(attr::kWeight, from_hex("00 00 00 00"))), DecodeErrc::kBadValue,
               "WEIGHT.weight", 24);
  CHECK(*read_weight(at20(attr::kWeight, from_hex("ff ff 12 34"))) == 65535);
  expect_error(read_node_state(at20(attr::kNodeState, from_hex("02 00 00 00"))),
               DecodeErrc::kBadValue, "NODE-STATE.state", 24);
  CHECK(*read_node_state(at20(attr::kNodeState, from_hex("01 ff ff ff"))) == NodeState::kDraining);
  CHECK(*read_children_wanted(at20(attr::kChildrenWanted, from_hex("01 02 ff ff"))) == 0x0102);
  CHECK(*read_u32(at20(attr::kReplyFlags, from_hex("00 00 00 03"))) ==
        (reply_flag::kTruncated | reply_flag::kDraining));
  const auto flow = read_flow_control(
      at20(attr::kFlowControl, from_hex("00 00 00 14 00 00 13 88 00 01 00 02 03 ff ff ff")));
  CHECK(*flow == FlowControl{20, 5000, 1, 2, 3});  // Reserved bytes are ignored.
}

TEST_CASE("attributes: ERROR-CODE and UNKNOWN-ATTRIBUTES") {
  const auto stale = from_hex("00 00 04 26 53 74 61 6c 65");
  const auto e = read_error_code(at20(attr::kErrorCode, stale));
  REQUIRE(e.ok());
  CHECK(e->code == 438);
  CHECK(e->reason == "Stale");
  expect_error(read_error_code(at20(attr::kErrorCode, from_hex("00 00 07 00"))),
               DecodeErrc::kBadValue, "ERROR-CODE.code", 26);
  expect_error(read_error_code(at20(attr::kErrorCode, from_hex("00 00 04 64"))),
               DecodeErrc::kBadValue, "ERROR-CODE.code", 26);
  expect_error(read_error_code(at20(attr::kErrorCode, from_hex("00 00 04"))),
               DecodeErrc::kBadAttributeLength, "ERROR-CODE", 20);
  CHECK(*read_unknown_attributes(at20(attr::kUnknownAttributes, from_hex("7f 01 00 31"))) ==
        std::vector<uint16_t>{0x7f01, 0x0031});
  expect_error(read_unknown_attributes(at20(attr::kUnknownAttributes, from_hex("7f 01 00"))),
               DecodeErrc::kBadAttributeLength, "UNKNOWN-ATTRIBUTES", 20);
}

TEST_CASE("attributes: names and sizes") {
  CHECK(std::string_view(attribute_name(attr::kSubtree)) == "SUBTREE");
  CHECK(std::string_view(attribute_name(0x1234)) == "attribute");
  CHECK(attribute_size(0) == 4);
  CHECK(attribute_size(1) == 8);
  CHECK(attribute_size(4) == 8);
  CHECK(attribute_size(child_value_size(Endpoint::v4(192, 0, 2, 1, 1))) == 16);
  CHECK(attribute_size(child_value_size(Endpoint::v6({}, 1))) == 28);
  CHECK(child_value_size(Endpoint{}) == 0);
}

}  // namespace
}  // namespace turnscout::proto
