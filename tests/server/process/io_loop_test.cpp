// The libuv adapters on a real loop over loopback: the metrics HTTP server (answers,
// bounds its connections) and a DataPlane port (answers a Binding, forwards a Heartbeat).
// Each test ends with uv_loop_close() == 0: nothing was left open.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "proto/heartbeat.hpp"
#include "server/io/data_plane.hpp"
#include "server/io/metrics_http_server.hpp"
#include "tests/support/udp_client.hpp"
#include "tools/http/http_get.hpp"

namespace turnscout::server {
namespace {

const Endpoint kLoopbackAny = Endpoint::v4(127, 0, 0, 1, 0);
constexpr size_t kBurst = 150;

// Runs `client` on its own thread while the loop runs here; when it returns, `on_done`
// (run on the loop's thread) closes whatever the test opened.
template <typename Client, typename OnDone>
void run_with_client(uv_loop_t& loop, Client&& client, OnDone&& on_done) {
  uv_async_t done{};
  done.data = &on_done;
  uv_async_init(&loop, &done, [](uv_async_t* a) {
    (*static_cast<std::remove_reference_t<OnDone>*>(a->data))();
    uv_close(reinterpret_cast<uv_handle_t*>(a), nullptr);
  });
  std::thread t([&] {
    client();
    uv_async_send(&done);
  });
  uv_run(&loop, UV_RUN_DEFAULT);
  t.join();
}

// An idle TCP connection, closed by the destructor.
struct IdleConnection {
  int fd = -1;
  explicit IdleConnection(const Endpoint& to) {
    sockaddr_storage addr{};
    const socklen_t len = to_sockaddr(to, addr);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ~IdleConnection() {
    if (fd >= 0) ::close(fd);
  }
};

class CountingSink final : public ControlSink {
 public:
  bool forward(const Endpoint&, const Endpoint& remote, std::span<const uint8_t>, bool) override {
    last_remote = remote;
    ++forwarded;
    return true;
  }
  std::atomic<int> forwarded{0};
  Endpoint last_remote;
};

}  // namespace

TEST_CASE("MetricsHttpServer answers GET /metrics, errors otherwise, and bounds connections") {
  // As in the server binary: a client that gave up must not kill the process.
  ::signal(SIGPIPE, SIG_IGN);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  std::atomic<int> renders{0};
  MetricsHttpServer server(
      &loop,
      [&] {
        ++renders;
        return std::string("up 1\n");
      },
      [] { return true; });
  auto bound = server.listen(kLoopbackAny);
  REQUIRE(bound.ok());
  const Endpoint at = *bound;

  Result<cli::HttpReply, std::string> metrics = unexpected(std::string("not run"));
  Result<cli::HttpReply, std::string> other = metrics, while_full = metrics, after = metrics;
  std::vector<Result<cli::HttpReply, std::string>> scrapes;
  Result<std::string, std::string> oversized = unexpected(std::string("not run"));
  run_with_client(
      loop,
      [&] {
        metrics = cli::http_get(at, "/metrics", std::chrono::seconds{5});
        other = cli::http_get(at, "/other", std::chrono::seconds{5});
        oversized = cli::http_raw(at, "GET /metrics HTTP/1.1\r\nX: " + std::string(9000, 'a'),
                                  std::chrono::seconds{5});
        std::vector<std::unique_ptr<IdleConnection>> idle;
        for (size_t i = 0; i < MetricsHttpServer::kMaxConnections; ++i) {
          idle.push_back(std::make_unique<IdleConnection>(at));
        }
        // Every slot is held by a connection that never asks: a scrape still gets its
        // answer at once (found by an attack run: it used to wait for the 5 s idle timeout).
        while_full = cli::http_get(at, "/metrics", std::chrono::milliseconds{300});
        // And again while the idle connections keep coming back.
        for (int round = 0; round < 3; ++round) {
          for (size_t i = 0; i < MetricsHttpServer::kMaxConnections; ++i) {
            idle.push_back(std::make_unique<IdleConnection>(at));
          }
          scrapes.push_back(cli::http_get(at, "/metrics", std::chrono::milliseconds{300}));
        }
        idle.clear();
        after = cli::http_get(at, "/metrics", std::chrono::seconds{5});
      },
      [&] { server.close(); });
  CHECK(uv_loop_close(&loop) == 0);

  REQUIRE_MESSAGE(metrics.ok(), (metrics.ok() ? "" : metrics.error()));
  CHECK(metrics->status == 200);
  CHECK(metrics->body == "up 1\n");
  CHECK(metrics->header("Connection") == "close");
  REQUIRE(other.ok());
  CHECK(other->status == 404);
  REQUIRE(oversized.ok());
  CHECK(oversized->rfind("HTTP/1.1 431 ", 0) == 0);
  REQUIRE_MESSAGE(while_full.ok(), (while_full.ok() ? "" : while_full.error()));
  CHECK(while_full->status == 200);
  for (const auto& scrape : scrapes) {
    REQUIRE_MESSAGE(scrape.ok(), (scrape.ok() ? "" : scrape.error()));
    CHECK(scrape->status == 200);
  }
  REQUIRE_MESSAGE(after.ok(), (after.ok() ? "" : after.error()));
  CHECK(after->status == 200);
  CHECK(renders.load() == 6);  // /other and the oversized request render nothing.
  // Each scrape while full closed one idle connection; the idle ones took the others.
  CHECK(server.evictions() >= 4);
  CHECK(server.open_connections() == 0);
}

TEST_CASE("DataPlane answers a Binding from its port and forwards a Heartbeat") {
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  AdmissionConfig admission;
  admission.tiers.push_back({"free", 0, 1000, 1000});
  ProbeResponder responder(admission, 7);
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->node_name = "io-test";
  snapshot->accepts_strangers = true;  // So a stranger's heartbeat is passed on.
  responder.set_snapshot(snapshot);
  CountingSink sink;
  IoCounters counters;
  SteadyClock clock;
  DataPlane plane(&loop, responder, sink, counters, clock);
  auto socket = open_udp_socket(kLoopbackAny, {});
  REQUIRE(socket.ok());
  const Endpoint at = socket->local;
  REQUIRE(plane.add_port(*socket, at).ok());
  CHECK(plane.port_for(at, Endpoint::v4(127, 0, 0, 9, 9)) == &plane.port(0));
  CHECK(plane.port(0).batched_receive());

  Result<proto::BindingResponse, std::string> binding = unexpected(std::string("not run"));
  Endpoint client_address;
  size_t burst_answers = 0;
  run_with_client(
      loop,
      [&] {
        auto client = test::UdpClient::open(kLoopbackAny);
        if (!client) return;
        client_address = client->local();
        binding = client->binding(at, std::chrono::seconds{2});
        proto::HeartbeatRequest hb;
        hb.transaction_id = client->next_transaction_id();
        hb.node_name = "child";
        hb.advertised = {client->local()};
        std::array<uint8_t, 512> out{};
        auto size = proto::encode_heartbeat_request(hb, {}, out);
        if (size) (void)client->send(at, std::span(out).first(*size));
        for (int i = 0; i < 200 && sink.forwarded.load() == 0; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
        // More requests at once than one receive batch and one send batch hold.
        for (size_t i = 0; i < kBurst; ++i) {
          proto::BindingRequest request{client->next_transaction_id(), true};
          auto n = proto::encode_binding_request(request, out);
          if (n) (void)client->send(at, std::span(out).first(*n));
        }
        while (burst_answers < kBurst && client->receive(std::chrono::seconds{2}))
          ++burst_answers;
      },
      [&] { plane.close(); });
  CHECK(uv_loop_close(&loop) == 0);

  REQUIRE_MESSAGE(binding.ok(), (binding.ok() ? "" : binding.error()));
  CHECK(binding->mapped == client_address);
  CHECK(sink.forwarded.load() == 1);
  CHECK(sink.last_remote == client_address);
  CHECK(burst_answers == kBurst);
  CHECK(counters.udp.received.get() == 2 + kBurst);
  CHECK(counters.udp.send_dropped.get() == 0);
}

}  // namespace turnscout::server
