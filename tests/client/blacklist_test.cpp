#include "client/core/blacklist.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace turnscout::client {
namespace {

Result<Blacklist, std::string> parse(std::vector<std::string> tokens, size_t roots = 3) {
  return Blacklist::parse(tokens, roots);
}

}  // namespace

TEST_CASE("blacklist tokens: index, addr (v4 and v6), name") {
  auto list = parse({"index:0", "addr:192.0.2.1:3478", "addr:[2001:db8::1]:5000", "name:EU-1"});
  REQUIRE(list.ok());
  CHECK(list->blocks_root(0));
  CHECK_FALSE(list->blocks_root(1));
  CHECK(list->blocks_address(Endpoint::v4(192, 0, 2, 1, 3478)));
  CHECK_FALSE(list->blocks_address(Endpoint::v4(192, 0, 2, 1, 3479)));
  std::array<uint8_t, 16> v6{0x20, 0x01, 0x0d, 0xb8};
  v6[15] = 1;
  CHECK(list->blocks_address(Endpoint::v6(v6, 5000)));
  CHECK(list->blocks_name("eu-1"));
  CHECK(list->blocks_name("EU-1"));
  CHECK_FALSE(list->blocks_name("eu-10"));
  CHECK_FALSE(list->blocks_name(""));
}

TEST_CASE("an IPv4-mapped address matches its IPv4 token") {
  auto list = parse({"addr:192.0.2.1:3478"});
  REQUIRE(list.ok());
  std::array<uint8_t, 16> mapped{};
  mapped[10] = 0xff;
  mapped[11] = 0xff;
  mapped[12] = 192;
  mapped[14] = 2;
  mapped[15] = 1;
  CHECK(list->blocks_address(Endpoint::v6(mapped, 3478)));
}

TEST_CASE("bad blacklist tokens give one clear line naming the token") {
  CHECK(parse({"adr:1.2.3.4:5"}).error() ==
        "blacklist token \"adr:1.2.3.4:5\": expected index:N, addr:IP:PORT or name:NODE");
  CHECK(parse({"eu-1"}).error() ==
        "blacklist token \"eu-1\": expected index:N, addr:IP:PORT or name:NODE");
  CHECK(parse({"index:x"}).error() ==
        "blacklist token \"index:x\": expected index:N with N a root's position from 0");
  CHECK(parse({"index:-1"}).error() ==
        "blacklist token \"index:-1\": expected index:N with N a root's position from 0");
  CHECK(parse({"index:3"}).error() ==
        "blacklist token \"index:3\": there are only 3 roots (positions 0 to 2)");
  const std::string addr_hint =
      "expected addr:IP:PORT, e.g. addr:192.0.2.1:3478 or addr:[2001:db8::1]:3478";
  CHECK(parse({"addr:192.0.2.1"}).error() == "blacklist token \"addr:192.0.2.1\": " + addr_hint);
  CHECK(parse({"addr:2001:db8::1:3478"}).error() ==
        "blacklist token \"addr:2001:db8::1:3478\": " + addr_hint);
  CHECK(parse({"addr:192.0.2.1:0"}).error() ==
        "blacklist token \"addr:192.0.2.1:0\": " + addr_hint);
  CHECK(parse({"name:"}).error() == "blacklist token \"name:\": expected name:NODE with a name");
  // The first bad token is reported, even after good ones.
  CHECK(parse({"index:1", "bogus"}).error() ==
        "blacklist token \"bogus\": expected index:N, addr:IP:PORT or name:NODE");
}

TEST_CASE("an empty list blocks nothing") {
  auto list = parse({});
  REQUIRE(list.ok());
  CHECK(list->empty());
  CHECK_FALSE(list->blocks_root(0));
  CHECK_FALSE(list->blocks_address(Endpoint::v4(192, 0, 2, 1, 3478)));
}

}  // namespace turnscout::client
