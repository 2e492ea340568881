// UdpImpairProxy on loopback: an echo server behind the proxy and clients in front of it,
// all on one libuv loop. Every test ends with uv_loop_close() succeeding.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "tests/impair/loop_fixture.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace turnscout::impair {
namespace {

using test::LoopFixture;
using test::LoopSocket;
using test::Received;

constexpr Direction kUp = Direction::kToServer;
constexpr Direction kDown = Direction::kToClient;

std::vector<uint8_t> bytes_of(const std::string& text) {
  return {text.begin(), text.end()};
}

std::vector<std::string> texts(const std::vector<Received>& received) {
  std::vector<std::string> out;
  for (const Received& r : received)
    out.emplace_back(r.bytes.begin(), r.bytes.end());
  return out;
}

ProxyOptions options_for(const LoopSocket& server, ImpairConfig impair = {}) {
  ProxyOptions options;
  options.listen = test::kLoopbackV4;
  options.upstream = server.local();
  options.impair = std::move(impair);
  options.seed = 42;
  return options;
}

// Sends `text` from `client` and runs the loop until it has one more datagram.
bool echo_once(LoopFixture& fx, LoopSocket& client, const Endpoint& to, const std::string& text) {
  const size_t before = client.received().size();
  if (!client.send(to, bytes_of(text))) return false;
  return fx.run_until(2s, [&] { return client.received().size() > before; });
}

bool stop_and_finish(LoopFixture& fx, UdpImpairProxy& proxy) {
  bool closed = false;
  proxy.stop([&] { closed = true; });
  fx.run_until(2s, [&] { return closed; });
  return closed && fx.finish();
}

TEST_CASE("a 20 ms delay each way gives a 40 ms echo RTT, never early, median within 1 ms") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket();
  ImpairConfig impair;
  impair[kUp].delay = 20ms;
  impair[kDown].delay = 20ms;
  UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
  REQUIRE(proxy.start().ok());
  CHECK(proxy.local().port != 0);

  constexpr int kPackets = 50;
  std::vector<Duration> rtt_error;
  std::vector<Duration> up_error;
  std::vector<Duration> down_error;
  for (int i = 0; i < kPackets; ++i) {
    const TimePoint sent = steady_now();
    REQUIRE(echo_once(fx, client, proxy.local(), "ping " + std::to_string(i)));
    const TimePoint at_server = server.received().back().at;
    const TimePoint back = client.received().back().at;
    up_error.push_back(at_server - sent - 20ms);
    down_error.push_back(back - at_server - 20ms);
    rtt_error.push_back(back - sent - 40ms);
  }
  const auto max_of = [](const std::vector<Duration>& v) {
    return *std::max_element(v.begin(), v.end());
  };
  const auto min_of = [](const std::vector<Duration>& v) {
    return *std::min_element(v.begin(), v.end());
  };
  MESSAGE("RTT error over ", kPackets, " echoes: median ", format_duration(test::median(rtt_error)),
          ", max ", format_duration(max_of(rtt_error)), "; one-way to-server median ",
          format_duration(test::median(up_error)), " max ", format_duration(max_of(up_error)),
          ", to-client median ", format_duration(test::median(down_error)), " max ",
          format_duration(max_of(down_error)));
  // A datagram never leaves before its time (the 1 us allows for the microsecond clock).
  CHECK(min_of(up_error) >= -1us);
  CHECK(min_of(down_error) >= -1us);
  CHECK(test::median(rtt_error) <= 1ms);
  CHECK(test::median(up_error) <= 500us);
  CHECK(test::median(down_error) <= 500us);
  // A loaded machine may stretch single samples; the median above is the contract.
  WARN(max_of(rtt_error) <= 1ms);
  CHECK(proxy.core().counters(kUp).forwarded == kPackets);
  CHECK(proxy.core().counters(kDown).forwarded == kPackets);
  CHECK(proxy.io_counters() == ProxyIoCounters{});
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("loss 0.5 drops about half, as counted by the core") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket();
  ImpairConfig impair;
  impair[kUp].loss = 0.5;
  UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
  REQUIRE(proxy.start().ok());

  constexpr uint64_t kPackets = 200;
  // In batches, so no socket buffer overflows and only the proxy loses datagrams.
  for (uint64_t sent = 0; sent < kPackets;) {
    for (int i = 0; i < 20; ++i, ++sent)
      REQUIRE(client.send(proxy.local(), bytes_of("datagram " + std::to_string(sent))));
    REQUIRE(fx.run_until(2s, [&] { return proxy.core().counters(kUp).received == sent; }));
  }
  const DirectionCounters& up = proxy.core().counters(kUp);
  REQUIRE(fx.run_until(2s, [&] { return client.received().size() == up.forwarded; }));
  fx.run_for(20ms);  // Nothing more may come.
  // Binomial(200, 0.5): standard deviation 7.1, a 5-sigma band.
  CHECK(up.dropped_loss >= 65);
  CHECK(up.dropped_loss <= 135);
  CHECK(up.forwarded + up.dropped_loss == kPackets);
  CHECK(server.received().size() == up.forwarded);
  CHECK(client.received().size() == up.forwarded);
  CHECK(proxy.core().counters(kDown).dropped() == 0);
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("each client gets its own upstream socket and only its own replies") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& alice = fx.open_socket();
  LoopSocket& bob = fx.open_socket();
  UdpImpairProxy proxy(fx.loop(), options_for(server));
  REQUIRE(proxy.start().ok());

  REQUIRE(alice.send(proxy.local(), bytes_of("a1")));
  REQUIRE(bob.send(proxy.local(), bytes_of("b1")));
  REQUIRE(alice.send(proxy.local(), bytes_of("a2")));
  REQUIRE(bob.send(proxy.local(), bytes_of("b2")));
  REQUIRE(alice.send(proxy.local(), std::vector<uint8_t>{}));  // Empty datagrams pass too.
  REQUIRE(
      fx.run_until(2s, [&] { return alice.received().size() == 3 && bob.received().size() == 2; }));
  fx.run_for(20ms);
  CHECK(texts(alice.received()) == std::vector<std::string>{"a1", "a2", ""});
  CHECK(texts(bob.received()) == std::vector<std::string>{"b1", "b2"});
  for (const Received& r : alice.received())
    CHECK(r.from == proxy.local());

  const auto senders = server.senders();
  REQUIRE(senders.size() == 2);
  CHECK(senders[0] != senders[1]);
  CHECK(senders[0] != proxy.local());
  CHECK(proxy.core().client_count() == 2);
  CHECK(proxy.upstream_count() == 2);
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("IPv6 clients reach an IPv4 server") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket(false, test::kLoopbackV6);
  ProxyOptions options = options_for(server);
  options.listen = test::kLoopbackV6;
  UdpImpairProxy proxy(fx.loop(), options);
  REQUIRE(proxy.start().ok());
  CHECK(proxy.local().family == Family::kV6);
  REQUIRE(echo_once(fx, client, proxy.local(), "over v6"));
  CHECK(texts(client.received()) == std::vector<std::string>{"over v6"});
  CHECK(proxy.core().has_client(client.local()));
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("chosen packets: drop the 2nd to the server, duplicate the 1st reply") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket();
  ImpairConfig impair;
  impair[kUp].rules.push_back(PacketRule::drop_nth(2));
  impair[kDown].rules.push_back(PacketRule::duplicate_nth(1));
  UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
  REQUIRE(proxy.start().ok());
  for (const char* text : {"one", "two", "three"})
    REQUIRE(client.send(proxy.local(), bytes_of(text)));
  REQUIRE(fx.run_until(2s, [&] { return client.received().size() == 3; }));
  fx.run_for(20ms);
  CHECK(texts(server.received()) == std::vector<std::string>{"one", "three"});
  CHECK(texts(client.received()) == std::vector<std::string>{"one", "one", "three"});
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("the client table closes the least recent session when full, and idle ones") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& a = fx.open_socket();
  LoopSocket& b = fx.open_socket();
  LoopSocket& c = fx.open_socket();
  ImpairConfig impair;
  impair.max_clients = 2;
  impair.client_idle_timeout = 300ms;
  UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
  REQUIRE(proxy.start().ok());

  REQUIRE(echo_once(fx, a, proxy.local(), "a"));
  REQUIRE(echo_once(fx, b, proxy.local(), "b"));
  REQUIRE(echo_once(fx, c, proxy.local(), "c"));
  CHECK(proxy.core().client_count() == 2);
  CHECK(proxy.upstream_count() == 2);
  CHECK(!proxy.core().has_client(a.local()));
  CHECK(proxy.core().client_counters().closed_full == 1);

  // A comes back with a new session: a new upstream socket, so a fourth sender.
  REQUIRE(echo_once(fx, a, proxy.local(), "a again"));
  CHECK(server.senders().size() == 4);
  CHECK(!proxy.core().has_client(b.local()));

  const TimePoint quiet_since = steady_now();
  REQUIRE(fx.run_until(3s, [&] { return proxy.core().client_count() == 0; }));
  CHECK(steady_now() - quiet_since >= 299ms);
  CHECK(proxy.upstream_count() == 0);
  CHECK(proxy.core().client_counters().closed_idle == 2);
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("an upstream that is down costs counted errors, not a crash") {
  // A port nobody listens on: bind one, note it, close it.
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(test::kLoopbackV4, addr);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0);
  socklen_t bound_len = sizeof(addr);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &bound_len) == 0);
  const Endpoint closed_port =
      from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), bound_len).value();
  ::close(fd);

  LoopFixture fx;
  LoopSocket& client = fx.open_socket();
  ProxyOptions options;
  options.listen = test::kLoopbackV4;
  options.upstream = closed_port;
  UdpImpairProxy proxy(fx.loop(), options);
  REQUIRE(proxy.start().ok());
  for (int i = 0; i < 3; ++i)
    REQUIRE(client.send(proxy.local(), bytes_of("anyone?")));
  REQUIRE(fx.run_until(2s, [&] {
    const ProxyIoCounters& io = proxy.io_counters();
    return io.receive_errors + io.send_errors >= 1;
  }));
  CHECK(proxy.core().counters(kUp).forwarded == 3);
  CHECK(client.received().empty());
  CHECK(stop_and_finish(fx, proxy));
}

TEST_CASE("stop drops what is queued and closes every handle") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket();
  ImpairConfig impair;
  impair[kUp].delay = 50ms;
  UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
  REQUIRE(proxy.start().ok());
  REQUIRE(client.send(proxy.local(), bytes_of("late")));
  REQUIRE(fx.run_until(2s, [&] { return proxy.core().queued_packets(kUp) == 1; }));
  CHECK(proxy.running());
  CHECK(stop_and_finish(fx, proxy));
  CHECK(!proxy.running());
  CHECK(server.received().empty());
}

TEST_CASE("destroying a running proxy leaves nothing open once the loop runs") {
  LoopFixture fx;
  LoopSocket& server = fx.open_socket(true);
  LoopSocket& client = fx.open_socket();
  {
    ImpairConfig impair;
    impair[kUp].delay = 30ms;
    UdpImpairProxy proxy(fx.loop(), options_for(server, impair));
    REQUIRE(proxy.start().ok());
    REQUIRE(echo_once(fx, client, proxy.local(), "hello"));
    REQUIRE(client.send(proxy.local(), bytes_of("queued")));
    fx.run_for(5ms);
  }
  CHECK(fx.finish());
}

TEST_CASE("start reports what went wrong and leaves nothing open") {
  LoopFixture fx;
  LoopSocket& taken = fx.open_socket();
  SUBCASE("address in use") {
    ProxyOptions options;
    options.listen = taken.local();
    options.upstream = taken.local();
    UdpImpairProxy proxy(fx.loop(), options);
    auto started = proxy.start();
    REQUIRE(!started.ok());
    CHECK(started.error().find("cannot bind UDP 127.0.0.1:") == 0);
    CHECK(started.error().find("in use") != std::string::npos);
    CHECK(!proxy.running());
    CHECK(fx.finish());
  }
  SUBCASE("bad config") {
    ProxyOptions options;
    options.listen = test::kLoopbackV4;
    options.upstream = taken.local();
    options.impair[kUp].loss = -0.5;
    UdpImpairProxy proxy(fx.loop(), options);
    auto started = proxy.start();
    REQUIRE(!started.ok());
    CHECK(started.error() == "to-server loss must be in [0, 1], got -0.5");
    CHECK(fx.finish());
  }
  SUBCASE("no upstream port") {
    ProxyOptions options;
    options.listen = test::kLoopbackV4;
    options.upstream = test::kLoopbackV4;
    UdpImpairProxy proxy(fx.loop(), options);
    auto started = proxy.start();
    REQUIRE(!started.ok());
    CHECK(started.error() == "invalid upstream address 127.0.0.1:0");
    CHECK(fx.finish());
  }
}

}  // namespace
}  // namespace turnscout::impair
