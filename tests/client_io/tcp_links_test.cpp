// The client driver's TCP connections (client/io/tcp_links) on loopback: a connection
// carries requests and hands back whole messages, closes once answered, and a server that
// accepts and never answers does not hold a connection for good.
#include "client/io/tcp_links.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include "common/sockaddr.hpp"

namespace turnscout::client {
namespace {

// A listening socket whose connections the kernel completes and nobody ever reads.
struct SilentServer {
  int fd = -1;
  Endpoint address;
  SilentServer() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_storage addr{};
    const socklen_t len = to_sockaddr(Endpoint::v4(127, 0, 0, 1, 0), addr);
    REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) == 0);
    REQUIRE(listen(fd, 16) == 0);
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) == 0);
    address = *from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len);
  }
  ~SilentServer() { ::close(fd); }
};

// Runs the loop until `done()` or `limit_ms` of loop time passed.
template <typename Done>
bool run_until(uv_loop_t& loop, uint64_t limit_ms, Done&& done) {
  const uint64_t start = uv_now(&loop);
  uv_timer_t tick{};
  uv_timer_init(&loop, &tick);
  uv_timer_start(
      &tick, [](uv_timer_t*) {}, 10, 10);
  while (!done() && uv_now(&loop) - start < limit_ms)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close(reinterpret_cast<uv_handle_t*>(&tick), nullptr);
  uv_run(&loop, UV_RUN_NOWAIT);
  return done();
}

}  // namespace

TEST_CASE("TcpLinks: a server that accepts and never answers loses the connection when quiet") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    SilentServer server;
    int messages = 0;
    int failed = 0;
    TcpLinks links(
        &loop, [&](const Endpoint&, std::span<const uint8_t>) { ++messages; },
        [&](const Endpoint&, std::string_view) { ++failed; }, 200);
    links.set_ref(true);
    const std::vector<uint8_t> request(28, 0);
    REQUIRE(links.send(server.address, request) == 0);
    CHECK(links.size() == 1);
    // A retransmission goes on the same connection.
    REQUIRE(links.send(server.address, request) == 0);
    CHECK(links.size() == 1);
    CHECK(run_until(loop, 2000, [&] { return links.size() == 0; }));
    CHECK(messages == 0);
    CHECK(failed == 0);  // It was accepted: silence, not a refusal.
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("TcpLinks: a refused connection is reported") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    Endpoint closed;
    {
      SilentServer gone;  // Its port, once it is closed: connections are refused.
      closed = gone.address;
    }
    std::vector<Endpoint> failed;
    TcpLinks links(
        &loop, [](const Endpoint&, std::span<const uint8_t>) {},
        [&](const Endpoint& remote, std::string_view) { failed.push_back(remote); });
    links.set_ref(true);
    REQUIRE(links.send(closed, std::vector<uint8_t>(28, 0)) == 0);
    CHECK(run_until(loop, 2000, [&] { return !failed.empty(); }));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0] == closed);
    CHECK(links.size() == 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

// A server without TLS on that port closes the connection at the first byte of a
// ClientHello (it is not STUN): that is a failed handshake, reported at once.
TEST_CASE("TcpLinks: a TLS link the server closes before its handshake is reported") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    SilentServer server;
    auto context = TlsContext::client(false, "");
    REQUIRE(context.ok());
    std::vector<std::string> failed;
    TcpLinks links(
        &loop, [](const Endpoint&, std::span<const uint8_t>) {},
        [&](const Endpoint&, std::string_view why) { failed.emplace_back(why); });
    links.set_ref(true);
    REQUIRE(links.send(server.address, std::vector<uint8_t>(28, 0), *context) == 0);
    run_until(loop, 200, [] { return false; });  // Connected, and the ClientHello sent.
    const int accepted = ::accept(server.fd, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    uint8_t first = 0;
    REQUIRE(::recv(accepted, &first, 1, 0) == 1);
    CHECK(first == 22);  // A TLS handshake record.
    ::close(accepted);
    CHECK(run_until(loop, 2000, [&] { return !failed.empty(); }));
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].starts_with("TLS handshake failed: the server closed the connection"));
    CHECK(links.size() == 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

// Two discoveries may check certificates differently: one that accepts any must not lend
// its connection to one that checks.
TEST_CASE("TcpLinks: a TLS link is shared only by requests that check the same way") {
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    SilentServer server;
    auto accepting = TlsContext::client(false, "");
    auto checking = TlsContext::client(true, "");
    REQUIRE((accepting.ok() && checking.ok()));
    TcpLinks links(
        &loop, [](const Endpoint&, std::span<const uint8_t>) {},
        [](const Endpoint&, std::string_view) {});
    const std::vector<uint8_t> request(28, 0);
    REQUIRE(links.send(server.address, request, *accepting) == 0);
    REQUIRE(links.send(server.address, request, *accepting) == 0);
    CHECK(links.size() == 1);
    REQUIRE(links.send(server.address, request, *checking) == 0);
    CHECK(links.size() == 2);
    REQUIRE(links.send(server.address, request, *checking, "scout.example.org") == 0);
    CHECK(links.size() == 3);
    REQUIRE(links.send(server.address, request) == 0);  // Plain TCP: a link of its own.
    CHECK(links.size() == 4);
    links.close_all();
    CHECK(links.size() == 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

// A library must not kill its program: writing to a connection the server has closed raises
// SIGPIPE with write(), which libuv's uv_write uses. The signal keeps its default action
// here (the test process would die of it).
TEST_CASE("TcpLinks: a request on a connection the server closed raises no SIGPIPE") {
  // The default action for this test only (the test main ignores SIGPIPE).
  const auto previous = ::signal(SIGPIPE, SIG_DFL);
  const bool defaulted = previous != SIG_ERR;
  REQUIRE(defaulted);
  struct Restore {
    decltype(previous) handler;
    ~Restore() { ::signal(SIGPIPE, handler); }
  } restore{previous};
  uv_loop_t loop{};
  REQUIRE(uv_loop_init(&loop) == 0);
  {
    SilentServer server;
    TcpLinks links(
        &loop, [](const Endpoint&, std::span<const uint8_t>) {},
        [](const Endpoint&, std::string_view) {});
    links.set_ref(true);
    const std::vector<uint8_t> request(28, 0);
    REQUIRE(links.send(server.address, request) == 0);
    // Connected and the request written: the server's side then accepts and closes.
    const int accepted = ::accept(server.fd, nullptr, nullptr);
    REQUIRE(accepted >= 0);
    run_until(loop, 200, [] { return false; });
    uint8_t got[28];
    REQUIRE(::recv(accepted, got, sizeof(got), MSG_WAITALL) == 28);
    ::close(accepted);  // Read first: a FIN, not a reset.
    // Without the loop running the link has not seen the close: the next request goes on
    // the same connection (and is answered by a reset), the one after it into the reset.
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    CHECK(links.send(server.address, request) == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
    (void)links.send(server.address, request);
    // Still alive: the write failed, and the connection is closed.
    CHECK(run_until(loop, 2000, [&] { return links.size() == 0; }));
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace turnscout::client
