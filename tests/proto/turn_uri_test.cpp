// TURN/STUN URIs (RFC 7064, RFC 7065): defaults, literals, and what is refused.
#include <doctest/doctest.h>

#include <string>

#include "proto/turn_uri.hpp"

namespace turnscout::proto {
namespace {

TurnUri parsed(std::string_view text) {
  const auto uri = parse_turn_uri(text);
  REQUIRE_MESSAGE(uri.ok(), to_string(uri.error()));
  return *uri;
}

TEST_CASE("TURN URI: examples and defaults") {
  CHECK(parsed("turn:192.0.2.7:3478?transport=udp") ==
        TurnUri{UriScheme::kTurn, "192.0.2.7", false, 3478, UriTransport::kUdp});
  CHECK(parsed("turns:turn.example.org:5349?transport=tcp") ==
        TurnUri{UriScheme::kTurns, "turn.example.org", false, 5349, UriTransport::kTcp});
  CHECK(parsed("stun:[2001:db8::1]:3478") ==
        TurnUri{UriScheme::kStun, "2001:db8::1", true, 3478, UriTransport::kUdp});
  CHECK(parsed("turn:turn.example.org") ==
        TurnUri{UriScheme::kTurn, "turn.example.org", false, 3478, UriTransport::kUdp});
  CHECK(parsed("turns:turn.example.org") ==
        TurnUri{UriScheme::kTurns, "turn.example.org", false, 5349, UriTransport::kTcp});
  CHECK(parsed("stuns:stun.example.org") ==
        TurnUri{UriScheme::kStuns, "stun.example.org", false, 5349, UriTransport::kTcp});
  CHECK(parsed("turn:turn.example.org?transport=tcp").transport == UriTransport::kTcp);
  CHECK(parsed("turns:192.0.2.7?transport=udp").port == 5349);
  CHECK(parsed("TURN:Turn.Example.ORG:1?Transport=TCP") ==
        TurnUri{UriScheme::kTurn, "Turn.Example.ORG", false, 1, UriTransport::kTcp});
  CHECK(parsed("turn:[::ffff:192.0.2.1]:65535").host == "::ffff:192.0.2.1");
  CHECK(parsed("turn:[2001:db8:0:0:0:0:0:1]").host_is_ipv6);
  CHECK(parsed("stun:[::1]").port == 3478);
}

TEST_CASE("TURN URI: invalid examples") {
  for (std::string_view bad : {
           "",
           "turn",
           "http://turn.example.org",
           "turn://turn.example.org",
           "turn:",
           "turn:turn.example.org:",
           "turn:turn.example.org:0",
           "turn:turn.example.org:65536",
           "turn:turn.example.org:123456",
           "turn:turn.example.org:34a",
           "turn:192.0.2.7:3478:1",
           "turn:turn example.org",
           "turn:turn%2eexample.org",
           "turn:[2001:db8::1",
           "turn:[2001:db8::1]x",
           "turn:[zz::1]",
           "turn:[2001:db8::1::2]",
           "turn:[1:2:3:4:5:6:7:8:9]",
           "turn:[1:2:3:4:5:6:7]",
           "turn:[::1.2.3.256]",
           "turn:[]",
           "stun:stun.example.org?transport=udp",
           "turn:turn.example.org?transport=sctp",
           "turn:turn.example.org?transport=",
           "turn:turn.example.org?foo=bar",
       }) {
    CAPTURE(bad);
    const auto r = parse_turn_uri(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == DecodeErrc::kBadValue);
  }
  const auto port = parse_turn_uri("turn:turn.example.org:99999");
  CHECK(std::string_view(port.error().where) == "uri.port");
  CHECK(port.error().offset == 22);
  CHECK(std::string_view(parse_turn_uri("turn:[zz::1]").error().where) == "uri.host");
  CHECK(std::string_view(parse_turn_uri("turn:a?transport=x").error().where) == "uri.transport");
}

TEST_CASE("TURN URI: canonical text") {
  CHECK(to_string(parsed("turn:turn.example.org")) == "turn:turn.example.org:3478?transport=udp");
  CHECK(to_string(parsed("stun:[2001:db8::1]")) == "stun:[2001:db8::1]:3478");
  CHECK(to_string(parsed("TURNS:192.0.2.7")) == "turns:192.0.2.7:5349?transport=tcp");
  for (std::string_view text : {"turn:192.0.2.7:3478?transport=udp", "stuns:[::1]:5349"}) {
    CHECK(to_string(parsed(text)) == text);
  }
}

}  // namespace
}  // namespace turnscout::proto
