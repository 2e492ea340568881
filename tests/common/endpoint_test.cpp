#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

#include <arpa/inet.h>
#include <sys/un.h>

#include <doctest/doctest.h>

#include <cstring>
#include <string>

namespace turnscout {
namespace {

Endpoint v6(std::initializer_list<uint16_t> groups, uint16_t port) {
  std::array<uint8_t, 16> bytes{};
  size_t i = 0;
  for (uint16_t g : groups) {
    bytes[i++] = static_cast<uint8_t>(g >> 8);
    bytes[i++] = static_cast<uint8_t>(g & 0xff);
  }
  return Endpoint::v6(bytes, port);
}

std::string error_of(const Result<Endpoint, std::string>& r) {
  return r.ok() ? "(parsed as " + to_string(*r) + ")" : r.error();
}

}  // namespace

TEST_CASE("parse_endpoint reads IPv4 and bracketed IPv6 with a port") {
  CHECK(*parse_endpoint("1.2.3.4:3478") == Endpoint::v4(1, 2, 3, 4, 3478));
  CHECK(*parse_endpoint("[2001:db8::1]:3478") == v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, 3478));
  CHECK(*parse_endpoint("[::]:0") == v6({}, 0));
  CHECK(*parse_endpoint("255.255.255.255:65535") == Endpoint::v4(255, 255, 255, 255, 65535));
  CHECK(*parse_endpoint("[::ffff:1.2.3.4]:5") == v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304}, 5));
  CHECK(*parse_endpoint("1.2.3.4:03478") == Endpoint::v4(1, 2, 3, 4, 3478));
}

TEST_CASE("parse_endpoint refuses junk with a message naming the input") {
  const std::string kAddress =
      "expected an address like 192.0.2.1:3478 or [2001:db8::1]:3478, got ";
  CHECK(error_of(parse_endpoint("")) == kAddress + R"("")");
  CHECK(error_of(parse_endpoint("abc:1")) == kAddress + R"("abc:1")");
  CHECK(error_of(parse_endpoint("1.2.3:5")) == kAddress + R"("1.2.3:5")");
  CHECK(error_of(parse_endpoint("1.2.3.4.5:5")) == kAddress + R"("1.2.3.4.5:5")");
  CHECK(error_of(parse_endpoint("1.2.3.256:5")) == kAddress + R"("1.2.3.256:5")");
  CHECK(error_of(parse_endpoint("01.2.3.4:5")) == kAddress + R"("01.2.3.4:5")");
  CHECK(error_of(parse_endpoint(" 1.2.3.4:5")) == kAddress + R"(" 1.2.3.4:5")");
  CHECK(error_of(parse_endpoint("[::1")) == kAddress + R"("[::1")");
  CHECK(error_of(parse_endpoint("[::1]x")) == kAddress + R"("[::1]x")");
  CHECK(error_of(parse_endpoint("[1.2.3.4]:5")) == kAddress + R"("[1.2.3.4]:5")");
  CHECK(error_of(parse_endpoint("[fe80::1%eth0]:5")) == kAddress + R"("[fe80::1%eth0]:5")");
  CHECK(error_of(parse_endpoint("a:b:c")) == kAddress + R"("a:b:c")");
  CHECK(error_of(parse_endpoint("example.com:3478")) == kAddress + R"("example.com:3478")");
}

TEST_CASE("parse_endpoint requires a port in range") {
  const std::string kPort = "expected a port from 0 to 65535, got ";
  CHECK(error_of(parse_endpoint("1.2.3.4:65536")) == kPort + R"("1.2.3.4:65536")");
  CHECK(error_of(parse_endpoint("1.2.3.4:99999999999")) == kPort + R"("1.2.3.4:99999999999")");
  CHECK(error_of(parse_endpoint("1.2.3.4:")) == kPort + R"("1.2.3.4:")");
  CHECK(error_of(parse_endpoint("1.2.3.4:-1")) == kPort + R"("1.2.3.4:-1")");
  CHECK(error_of(parse_endpoint("1.2.3.4:http")) == kPort + R"("1.2.3.4:http")");
  CHECK(error_of(parse_endpoint("[::1]:+5")) == kPort + R"("[::1]:+5")");
  CHECK(error_of(parse_endpoint("1.2.3.4")) ==
        R"(expected a port, like 192.0.2.1:3478, got "1.2.3.4")");
  CHECK(error_of(parse_endpoint("[::1]")) ==
        R"(expected a port, like [2001:db8::1]:3478, got "[::1]")");
  CHECK(error_of(parse_endpoint("::1")) ==
        R"(expected a port, like [2001:db8::1]:3478, got "::1")");
}

TEST_CASE("parse_endpoint refuses an IPv6 address and port without brackets") {
  CHECK(error_of(parse_endpoint("2001:db8::1:3478")) ==
        "expected brackets around an IPv6 address with a port, like [2001:db8::1]:3478, got "
        R"("2001:db8::1:3478")");
}

TEST_CASE("parse_endpoint with a default port also takes a bare address") {
  CHECK(*parse_endpoint("1.2.3.4", 3478) == Endpoint::v4(1, 2, 3, 4, 3478));
  CHECK(*parse_endpoint("[::1]", 3478) == v6({0, 0, 0, 0, 0, 0, 0, 1}, 3478));
  CHECK(*parse_endpoint("::1", 3478) == v6({0, 0, 0, 0, 0, 0, 0, 1}, 3478));
  CHECK(*parse_endpoint("1.2.3.4:5", 3478) == Endpoint::v4(1, 2, 3, 4, 5));
  CHECK(*parse_endpoint("[::1]:5", 3478) == v6({0, 0, 0, 0, 0, 0, 0, 1}, 5));
  // Without brackets, the last group belongs to the address.
  CHECK(*parse_endpoint("2001:db8::1:5", 3478) == v6({0x2001, 0xdb8, 0, 0, 0, 0, 1, 5}, 3478));
  CHECK(error_of(parse_endpoint("", 3478)) ==
        R"(expected an address like 192.0.2.1:3478 or [2001:db8::1]:3478, got "")");
  CHECK(error_of(parse_endpoint("1.2.3.4:70000", 3478)) ==
        R"(expected a port from 0 to 65535, got "1.2.3.4:70000")");
}

TEST_CASE("parse_ip takes a bare address only") {
  CHECK(*parse_ip("192.0.2.1") == Endpoint::v4(192, 0, 2, 1, 0));
  CHECK(*parse_ip("2001:DB8::1") == v6({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}, 0));
  const std::string kIp = "expected an IP address like 192.0.2.1 or 2001:db8::1, got ";
  CHECK(error_of(parse_ip("[::1]")) == kIp + R"("[::1]")");
  CHECK(error_of(parse_ip("1.2.3.4:5")) == kIp + R"("1.2.3.4:5")");
  CHECK(error_of(parse_ip("")) == kIp + R"("")");
  CHECK(error_of(parse_ip(std::string(100, '1'))) == kIp + '"' + std::string(64, '1') + "\"...");
  CHECK(error_of(parse_ip(std::string_view("1.2.3.4\0", 8))) == kIp + R"("1.2.3.4\x00")");
}

TEST_CASE("to_string prints the RFC 5952 form") {
  CHECK(to_string(Endpoint::v4(1, 2, 3, 4, 5)) == "1.2.3.4:5");
  CHECK(to_string(*parse_endpoint("[2001:DB8:0:0:0:0:0:1]:5")) == "[2001:db8::1]:5");
  CHECK(to_string(*parse_endpoint("[2001:db8:0:0:1:0:0:1]:5")) == "[2001:db8::1:0:0:1]:5");
  CHECK(to_string(*parse_endpoint("[2001:db8:0:1:1:1:1:1]:5")) == "[2001:db8:0:1:1:1:1:1]:5");
  CHECK(to_string(v6({}, 0)) == "[::]:0");
  CHECK(to_string(Endpoint{}) == "none");
  CHECK(ip_to_string(*parse_endpoint("[2001:db8::1]:5")) == "2001:db8::1");
  CHECK(ip_to_string(Endpoint::v4(10, 0, 0, 1, 9)) == "10.0.0.1");
  CHECK(ip_to_string(Endpoint{}) == "none");
  const Endpoint widest =
      v6({0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff}, 65535);
  CHECK(format_endpoint(widest).view() == "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  const Endpoint mapped = v6({0, 0, 0, 0, 0, 0xffff, 0xffff, 0xffff}, 65535);
  CHECK(to_string(mapped) == "[::ffff:255.255.255.255]:65535");
}

TEST_CASE("Endpoint works with fmt") {
  CHECK(fmt::format("{}", Endpoint::v4(1, 2, 3, 4, 5)) == "1.2.3.4:5");
  CHECK(fmt::format("<{:>12}>", Endpoint::v4(1, 2, 3, 4, 5)) == "<   1.2.3.4:5>");
  CHECK(fmt::format("{}", *parse_endpoint("[::1]:53")) == "[::1]:53");
}

TEST_CASE("sockaddr conversion round-trips both families in network byte order") {
  sockaddr_storage ss;
  const Endpoint a = Endpoint::v4(192, 0, 2, 1, 3478);
  REQUIRE(to_sockaddr(a, ss) == sizeof(sockaddr_in));
  sockaddr_in sin;
  std::memcpy(&sin, &ss, sizeof sin);
  CHECK(sin.sin_family == AF_INET);
  CHECK(sin.sin_port == htons(3478));
  CHECK(sin.sin_addr.s_addr == htonl(0xc0000201));
  CHECK(*from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof ss) == a);

  const Endpoint b = *parse_endpoint("[2001:db8::7]:53");
  REQUIRE(to_sockaddr(b, ss) == sizeof(sockaddr_in6));
  sockaddr_in6 sin6;
  std::memcpy(&sin6, &ss, sizeof sin6);
  CHECK(sin6.sin6_family == AF_INET6);
  CHECK(sin6.sin6_port == htons(53));
  CHECK(sin6.sin6_addr.s6_addr[15] == 7);
  CHECK(*from_sockaddr(reinterpret_cast<sockaddr*>(&ss), sizeof(sockaddr_in6)) == b);

  CHECK(to_sockaddr(Endpoint{}, ss) == 0);
}

TEST_CASE("from_sockaddr refuses what it cannot represent") {
  sockaddr_storage ss;
  to_sockaddr(Endpoint::v4(1, 2, 3, 4, 5), ss);
  const auto* sa = reinterpret_cast<const sockaddr*>(&ss);
  CHECK(from_sockaddr(nullptr, sizeof ss).error() == "no address");
  CHECK(from_sockaddr(sa, sizeof(sockaddr_in) - 1).error() ==
        "address of family 2 truncated to 15 bytes");
  sockaddr_un un{};
  un.sun_family = AF_UNIX;
  CHECK(from_sockaddr(reinterpret_cast<const sockaddr*>(&un), sizeof un).error() ==
        "unsupported address family 1");
}

TEST_CASE("loopback, any and IPv4-mapped addresses") {
  CHECK(is_loopback(Endpoint::v4(127, 0, 0, 1, 0)));
  CHECK(is_loopback(Endpoint::v4(127, 255, 0, 9, 0)));
  CHECK(is_loopback(*parse_endpoint("[::1]:1")));
  CHECK(is_loopback(*parse_endpoint("[::ffff:127.0.0.1]:1")));
  CHECK_FALSE(is_loopback(Endpoint::v4(128, 0, 0, 1, 0)));
  CHECK_FALSE(is_loopback(*parse_endpoint("[::2]:1")));
  CHECK_FALSE(is_loopback(Endpoint{}));

  CHECK(is_any(Endpoint::v4(0, 0, 0, 0, 0)));
  CHECK(is_any(*parse_endpoint("[::]:3478")));
  CHECK_FALSE(is_any(Endpoint::v4(0, 0, 0, 1, 0)));
  CHECK_FALSE(is_any(Endpoint{}));

  const Endpoint mapped = *parse_endpoint("[::ffff:192.0.2.1]:9");
  CHECK(is_v4_mapped(mapped));
  CHECK_FALSE(is_v4_mapped(*parse_endpoint("[::1]:9")));
  CHECK(unmap_v4(mapped) == Endpoint::v4(192, 0, 2, 1, 9));
  CHECK(unmap_v4(Endpoint::v4(1, 2, 3, 4, 5)) == Endpoint::v4(1, 2, 3, 4, 5));
}

}  // namespace turnscout
