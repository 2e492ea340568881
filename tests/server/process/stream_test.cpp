// A real turnscout-server over TCP and TLS on loopback: Probes answered over a stream, and
// every limit of tcp: and tls: met by the client that provokes it, while UDP and
// well-behaved TCP clients keep being answered and the server's file descriptors and
// memory return to where they were. Limits are read back from the metrics endpoint.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "common/tls.hpp"
#include "proto/proto.hpp"
#include "tests/server/process/server_process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/udp_client.hpp"
#include "tools/http/http_get.hpp"

namespace turnscout::test {
namespace {

using namespace std::chrono_literals;

// An open connection, closed (by its fd) when the object goes.
struct Tcp {
  int fd = -1;
  Tcp() = default;
  explicit Tcp(const Endpoint& to, int receive_buffer = 0) {
    sockaddr_storage addr{};
    const socklen_t len = to_sockaddr(to, addr);
    fd = socket(to.family == Family::kV6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  Tcp(Tcp&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Tcp& operator=(Tcp&&) = delete;
  ~Tcp() {
    if (fd >= 0) ::close(fd);
  }
  bool send(std::span<const uint8_t> bytes) const {
    return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Exactly `n` bytes, or nullopt on EOF, error or the 2 s receive timeout.
  std::optional<std::vector<uint8_t>> read_exactly(size_t n) const {
    std::vector<uint8_t> out(n);
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(fd, out.data() + got, n - got, 0);
      if (r <= 0) return std::nullopt;
      got += static_cast<size_t>(r);
    }
    return out;
  }
  std::optional<std::vector<uint8_t>> read_message() const {
    auto head = read_exactly(20);
    if (!head) return std::nullopt;
    const size_t length = (size_t{(*head)[2]} << 8) | (*head)[3];
    auto body = read_exactly(length);
    if (!body) return std::nullopt;
    head->insert(head->end(), body->begin(), body->end());
    return head;
  }
  // True once the server closed it: a read returns EOF or a reset within `within`.
  bool closed_by_peer(Duration within) const {
    pollfd p{fd, POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + within;
    while (std::chrono::steady_clock::now() < deadline) {
      if (poll(&p, 1, 50) > 0) {
        uint8_t b[4096];
        const ssize_t r = ::recv(fd, b, sizeof(b), MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN)) return true;
      }
    }
    return false;
  }
};

std::vector<uint8_t> probe(uint8_t id) {
  proto::ProbeRequest r;
  r.transaction_id = {id, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
  std::vector<uint8_t> out(512);
  const auto n = proto::encode_probe_request(r, out);
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

// The probe reply in `bytes`, checked to answer transaction `id`.
proto::ProbeResponse reply_to(const std::optional<std::vector<uint8_t>>& bytes, uint8_t id) {
  REQUIRE(bytes.has_value());
  const auto view = proto::parse_message(*bytes);
  REQUIRE(view.ok());
  CHECK(view->transaction_id()[0] == id);
  const auto reply = proto::decode_probe_response(*view);
  REQUIRE(reply.ok());
  return *reply;
}

uint64_t metric(const ServerProcess& server, const std::string& series) {
  auto scraped = cli::http_get(*server.metrics(), "/metrics", 2s);
  REQUIRE_MESSAGE(scraped.ok(), (scraped.ok() ? "" : scraped.error()));
  const std::string& body = scraped->body;
  const size_t at = body.find("\n" + series + " ");
  REQUIRE_MESSAGE(at != std::string::npos, series);
  return std::stoull(body.substr(at + series.size() + 2));
}

// Waits (bounded) until `series` reaches `value`.
bool metric_reaches(const ServerProcess& server, const std::string& series, uint64_t value,
                    Duration within = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric(server, series) >= value) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

size_t count_fds(pid_t pid) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(fmt::format("/proc/{}/fd", pid))) {
    ++n;
  }
  return n;
}

// The server's open files once the same count is seen twice 100 ms apart (a metrics scrape
// holds one until the server has closed it).
size_t open_fds(pid_t pid) {
  size_t last = count_fds(pid);
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(100ms);
    const size_t now = count_fds(pid);
    if (now == last) return now;
    last = now;
  }
  return last;
}

uint64_t rss_kib(pid_t pid) {
  const std::string status = read_file(fmt::format("/proc/{}/status", pid));
  const size_t at = status.find("VmRSS:");
  return at == std::string::npos ? 0 : std::stoull(status.substr(at + 6));
}

// The node under test: a leaf, tight limits so each can be reached quickly.
// `first_request`: tcp.first_request_timeout; `write_queue`: tcp.max_write_queue.
std::unique_ptr<ServerProcess> start_node(const TempDir& dir, const std::string& extra = "",
                                          const std::string& first_request = "400ms",
                                          const std::string& write_queue = "8192") {
  NodeOptions o;
  o.name = "stream-node";
  o.leaf = true;
  o.metrics = true;
  o.free_tier = "{burst: 1000000, refill: 1000000}";
  o.extra_yaml =
      "tcp:\n  max_connections: 1200\n  max_per_source: 2000\n"
      "  first_request_timeout: " +
      first_request + "\n  idle_timeout: 1s\n  max_write_queue: " + write_queue + "\n" + extra;
  auto server = ServerProcess::start(dir, o);
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  REQUIRE((*server)->tcp().size() == 1);
  CHECK((*server)->tcp().front() == (*server)->udp());  // Same address and port as UDP.
  return std::move(*server);
}

// A UDP Probe still gets its answer.
bool udp_answers(const ServerProcess& server) {
  auto client = UdpClient::open(Endpoint::v4(127, 0, 0, 1, 0));
  REQUIRE(client.ok());
  return listed_children(*client, server.udp()).has_value();
}

}  // namespace

TEST_CASE("over TCP Probes are answered in order, however the bytes are split") {
  TempDir dir;
  auto server = start_node(dir);
  Tcp c(server->tcp().front());
  REQUIRE(c.fd >= 0);
  std::vector<uint8_t> both = probe(1);
  const auto second = probe(2);
  both.insert(both.end(), second.begin(), second.end());
  // One byte at a time for the first 30, then the rest at once.
  for (size_t i = 0; i < 30; ++i)
    REQUIRE(c.send(std::span(both).subspan(i, 1)));
  REQUIRE(c.send(std::span(both).subspan(30)));
  const auto first = reply_to(c.read_message(), 1);
  CHECK(first.node_name == "stream-node");
  CHECK_FALSE(first.services.empty());
  reply_to(c.read_message(), 2);
  CHECK(metric(*server, "turnscout_stream_requests_total") == 2);

  SUBCASE("a client that stops sending gets what it asked for, then the connection closes") {
    REQUIRE(c.send(probe(3)));
    REQUIRE(shutdown(c.fd, SHUT_WR) == 0);
    reply_to(c.read_message(), 3);
    CHECK(c.closed_by_peer(2s));
    CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"peer_closed\"}", 1));
  }
  SUBCASE("a silent client is closed after idle_timeout") {
    CHECK(c.closed_by_peer(3s));
    CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"idle_timeout\"}", 1));
  }
}

TEST_CASE("a stream that breaks a limit is closed, and the server keeps serving") {
  TempDir dir;
  auto server = start_node(dir);
  const Endpoint at = server->tcp().front();

  SUBCASE("a slow drip: part of a request, never the rest") {
    Tcp c(at);
    const auto p = probe(1);
    REQUIRE(c.send(std::span(p).first(10)));
    std::this_thread::sleep_for(100ms);
    REQUIRE(c.send(std::span(p).subspan(10, 10)));
    CHECK(c.closed_by_peer(2s));
    CHECK(metric(*server, "turnscout_stream_closed_total{reason=\"first_request_timeout\"}") == 1);
  }
  SUBCASE("a length field over max_request_size is refused from the header") {
    Tcp c(at);
    std::vector<uint8_t> head = probe(1);
    head.resize(20);
    head[2] = 0xFF;
    head[3] = 0xF0;
    REQUIRE(c.send(head));
    CHECK(c.closed_by_peer(1s));
    CHECK(metric(*server, "turnscout_stream_closed_total{reason=\"too_large\"}") == 1);
  }
  SUBCASE("HTTP on the STUN port") {
    Tcp c(at);
    const std::string get = "GET / HTTP/1.1\r\n\r\n";
    REQUIRE(c.send(std::span(reinterpret_cast<const uint8_t*>(get.data()), get.size())));
    CHECK(c.closed_by_peer(1s));
    CHECK(metric(*server, "turnscout_stream_closed_total{reason=\"bad_frame\"}") == 1);
  }
  SUBCASE("a client that sends and never reads is dropped, not buffered") {
    Tcp c(at, 4096);
    std::vector<uint8_t> burst;
    for (int i = 0; i < 100; ++i) {
      const auto p = probe(static_cast<uint8_t>(i));
      burst.insert(burst.end(), p.begin(), p.end());
    }
    // Replies pile up in the kernel's buffers, then in the server's queue, until it drops
    // the connection; the sends themselves then fail.
    bool dropped = false;
    for (int i = 0; i < 2000 && !dropped; ++i) {
      dropped = !c.send(burst) ||
                metric(*server, "turnscout_stream_closed_total{reason=\"write_queue_full\"}") > 0;
    }
    CHECK(dropped);
    CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"write_queue_full\"}", 1));
  }
  CHECK(udp_answers(*server));
  Tcp good(at);
  REQUIRE(good.send(probe(9)));
  reply_to(good.read_message(), 9);
}

namespace {

// 1,000 idle connections (and 250 more, past max_connections) held until the server closes
// them for want of a request; meanwhile UDP and a well-behaved TCP client are answered.
void idle_round(const ServerProcess& server, uint64_t round) {
  const Endpoint at = server.tcp().front();
  std::vector<Tcp> idle;
  for (int i = 0; i < 1000; ++i)
    idle.emplace_back(at);
  CHECK(metric_reaches(server, "turnscout_stream_connections", 1000, 10s));
  CHECK(udp_answers(server));
  Tcp good(at);
  REQUIRE(good.send(probe(1)));
  reply_to(good.read_message(), 1);
  // Past max_connections (1,200), new connections are closed at once.
  std::vector<Tcp> over;
  for (int i = 0; i < 250; ++i)
    over.emplace_back(at);
  CHECK(metric_reaches(server, "turnscout_stream_refused_total{limit=\"max_connections\"}", round));
  // Every idle one is closed by the server after first_request_timeout.
  CHECK(metric_reaches(server, "turnscout_stream_closed_total{reason=\"first_request_timeout\"}",
                       1000 * round, 15s));
  CHECK(idle.front().closed_by_peer(1s));
  CHECK(idle.back().closed_by_peer(1s));
}

}  // namespace

TEST_CASE("1,000 idle connections, then 10,000 connect/close cycles: resources come back") {
  // Under ASan, freed memory would sit in its quarantine and look like a leak here.
  std::string asan = std::getenv("ASAN_OPTIONS") != nullptr ? std::getenv("ASAN_OPTIONS") : "";
  setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=0").c_str(), 1);
  TempDir dir;
  // Long enough that, under a sanitizer, all 1,000 are open before the first expires.
  auto server = start_node(dir, "", "5s");
  setenv("ASAN_OPTIONS", asan.c_str(), 1);
  const Endpoint at = server->tcp().front();
  const pid_t pid = server->process().pid();

  // The first round takes the server to its peak; the second must not go past it.
  idle_round(*server, 1);
  const size_t fds_before = open_fds(pid);
  const uint64_t rss_before = rss_kib(pid);
  for (int i = 0; i < 10'000; ++i) {
    Tcp c(at);
    REQUIRE(c.fd >= 0);
  }
  // A slow (sanitized) server still has closed connections in its accept queue; the kernel
  // drops what overflows it. Let it drain, so the next round's connections reach it.
  uint64_t accepted = 0;
  for (int i = 0; i < 200; ++i) {
    std::this_thread::sleep_for(50ms);
    const uint64_t now = metric(*server, "turnscout_stream_accepted_total");
    if (now == accepted && metric(*server, "turnscout_stream_connections") == 0) break;
    accepted = now;
  }
  idle_round(*server, 2);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metric(*server, "turnscout_stream_connections") != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(metric(*server, "turnscout_stream_connections") == 0);
  // Every idle connection of both rounds was accepted (of the 10,000 cycles, those the
  // kernel dropped from a full accept queue never reached the server).
  CHECK(metric(*server, "turnscout_stream_accepted_total") >= 2'000);
  const size_t fds_after = open_fds(pid);
  const uint64_t rss_after = rss_kib(pid);
  MESSAGE("after 1,000 idle connections: server fds " << fds_before << ", RSS " << rss_before
                                                      << " KiB; after 10,000 connect/close "
                                                         "cycles and 1,000 idle more: fds "
                                                      << fds_after << ", RSS " << rss_after
                                                      << " KiB");
  CHECK(fds_after == fds_before);
  CHECK(rss_after < rss_before + 4096);  // Within 4 MiB: allocator slack, no per-connection leak.
  CHECK(udp_answers(*server));
}

TEST_CASE("over TLS a Probe is answered; a client that checks the certificate refuses it") {
  TempDir dir;
  const std::string cert = dir.path() + "/cert.pem";
  const std::string key = dir.path() + "/key.pem";
  // A certificate with 200 names: its handshake (over 6 kB) is larger than the smallest
  // max_write_queue, which bounds replies, not the handshake.
  std::string names = "subjectAltName=IP:127.0.0.1";
  for (int i = 0; i < 200; ++i)
    names += fmt::format(",DNS:node-{:03}.stream-test.example.org", i);
  auto openssl = ChildProcess::spawn(
      "/usr/bin/openssl",
      {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days",
       "1", "-subj", "/CN=stream-node", "-addext", names, "-keyout", key, "-out", cert},
      dir.path() + "/openssl.log");
  REQUIRE(openssl.ok());
  const auto status = openssl->wait(10s);
  REQUIRE(status.has_value());
  REQUIRE_MESSAGE(status->exited, openssl->output());
  REQUIRE_MESSAGE(status->code == 0, openssl->output());
  REQUIRE(std::filesystem::file_size(cert) > 4096);
  auto server = start_node(dir,
                           fmt::format("tls:\n  listen: [\"127.0.0.1:0\"]\n  cert_file: {}\n"
                                       "  key_file: {}\n  handshake_timeout: 500ms\n",
                                       cert, key),
                           "400ms", "4096");
  REQUIRE(server->tls().size() == 1);
  const Endpoint at = server->tls().front();

  // A TLS client over a blocking socket: the session's bytes moved by hand.
  // With `close_after`, the client's close_notify follows its request in the same segment,
  // as `openssl s_client` sends it at the end of its input.
  auto exchange = [&](bool verify, const std::vector<uint8_t>& request, bool close_after = false,
                      std::optional<Endpoint> to =
                          std::nullopt) -> Result<std::vector<uint8_t>, std::string> {
    auto context = TlsContext::client(verify, verify ? cert : "");
    REQUIRE(context.ok());
    TlsSession tls(*context, "127.0.0.2");
    Tcp c(to.value_or(at));
    REQUIRE(c.fd >= 0);
    REQUIRE(tls.start().ok());
    REQUIRE(tls.write(request).ok());
    std::vector<uint8_t> plain;
    bool closed = false;
    for (int round = 0; round < 20; ++round) {
      if (close_after && !closed && tls.handshake_done()) {
        tls.close();
        closed = true;
      }
      const auto out = tls.take_output();
      if (!out.empty()) REQUIRE(c.send(out));
      if (plain.size() >= 20 && plain.size() >= 20 + ((size_t{plain[2]} << 8) | plain[3])) {
        return plain;
      }
      uint8_t buf[16384];
      const ssize_t n = ::recv(c.fd, buf, sizeof(buf), 0);
      if (n <= 0) return unexpected(std::string("closed"));
      if (auto fed = tls.feed(std::span(buf, static_cast<size_t>(n)), plain); !fed) {
        return unexpected(fed.error());
      }
    }
    return unexpected(std::string("no reply"));
  };

  // Without verification (the certificate is self-signed for another name).
  const auto reply = exchange(false, probe(5));
  REQUIRE_MESSAGE(reply.ok(), (reply.ok() ? "" : reply.error()));
  CHECK(reply_to(*reply, 5).node_name == "stream-node");
  // The request and the client's close_notify together: answered all the same.
  const auto closing = exchange(false, probe(8), true);
  REQUIRE_MESSAGE(closing.ok(), (closing.ok() ? "" : closing.error()));
  reply_to(*closing, 8);
  // Verified against the certificate itself, but for the wrong address: refused.
  const auto refused = exchange(true, probe(6));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().find("certificate") != std::string::npos);

  // A client that connects and never says hello is closed after handshake_timeout.
  Tcp silent(at);
  CHECK(silent.closed_by_peer(2s));
  CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"handshake_timeout\"}", 1));
  // Plain TCP to the TLS port: the handshake fails.
  Tcp plain(at);
  REQUIRE(plain.send(probe(7)));
  CHECK(plain.closed_by_peer(2s));
  CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"handshake_failed\"}", 1));

  // The TCP port serves TLS as well, to a client that starts it, so a walk over TLS can
  // follow the addresses parents list; STUN over plain TCP is answered there as before.
  REQUIRE(server->tcp().size() == 1);
  const Endpoint tcp_port = server->tcp().front();
  const auto on_tcp_port = exchange(false, probe(9), false, tcp_port);
  REQUIRE_MESSAGE(on_tcp_port.ok(), (on_tcp_port.ok() ? "" : on_tcp_port.error()));
  CHECK(reply_to(*on_tcp_port, 9).node_name == "stream-node");
  Tcp stun(tcp_port);
  REQUIRE(stun.send(probe(10)));
  CHECK(reply_to(stun.read_message(), 10).node_name == "stream-node");
  // A TLS start that never finishes is closed after handshake_timeout there too.
  Tcp stalled(tcp_port);
  const uint8_t hello_start[] = {0x16, 0x03, 0x01};
  REQUIRE(stalled.send(hello_start));
  CHECK(stalled.closed_by_peer(2s));
  CHECK(metric_reaches(*server, "turnscout_stream_closed_total{reason=\"handshake_timeout\"}", 2));
  CHECK(udp_answers(*server));
}

}  // namespace turnscout::test
