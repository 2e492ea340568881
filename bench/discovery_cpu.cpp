// discovery_cpu: what a discovery costs the client, in wall time and in CPU time, next to
// the bare round trips it cannot avoid, measured in the same run.
//
//   discovery_cpu [--discoveries N] [--gap-ms MS] [--raw-rounds N] [--client-cpu N]
//                 [--server-cpu N] [--delay-ms MS] [--loss P] [--in-flight N]
//
// Phases: cold (every hop probed), tcp (cold, every Probe on a TCP connection, as where UDP
// is blocked: DiscoverOptions::transport = kTcp), tls (the same inside TLS, every server's
// certificate checked against a CA file: kTls) and warm (the last good leaf first). For tls
// the bench makes a certificate for the proxies' addresses with `openssl req` in a
// temporary folder, which it removes.
//
// A 3-level tree (a root, 3 regions, 9 leaves) runs as in-process virtual nodes
// (cluster/) with zero link delay (or --delay-ms each way on every link, and --loss of
// every datagram each way), on its own loop and thread. --in-flight N runs N discoveries
// at once on the one Client (one after another by default). The client, the SDK's
// turnscout::Client, runs on the main thread's loop, so CLOCK_THREAD_CPUTIME_ID of the main
// thread is the client's CPU alone: its prober, its libuv loop and its socket syscalls. On
// loopback a send also delivers the datagram to the receiving socket within the sender's
// system call, so each side pays that for what it sends; the bare round trips below pay it
// alike. The servers' CPU is on the other thread and is not counted.
//
// Baseline: a Probe padded like the client's, sent from a plain blocking socket to each
// node and read back, one at a time. Its p50 per node is "the round trip" of that hop, and
// a discovery's own time is its wall time minus the bare round trips on its path (all
// three hops cold; only the leaf warm). DESIGN.md's budget: own time at most 1 ms (p50),
// and a warm discovery one round trip.
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "common/logging.hpp"
#include "common/sockaddr.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::bench {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

// The tree: a root, 3 regions, 3 leaves each; every node's link `link` (a YAML flow map, or
// empty for none).
std::string topology_yaml(const std::string& link) {
  const std::string l = link.empty() ? "" : ", link: " + link;
  std::string y = "defaults: {heartbeat: 100ms, missed: 3, admission: false}\nroots:\n";
  y += "  - {name: root" + l + ",\n     children: [\n";
  const char* loads[3][3] = {
      {"0.30", "0.50", "0.70"}, {"0.20", "0.40", "0.60"}, {"0.25", "0.45", "0.65"}};
  for (int r = 0; r < 3; ++r) {
    const char region = static_cast<char>('a' + r);
    y += fmt::format("       {{name: region-{}{}, children: [\n", region, l);
    for (int i = 0; i < 3; ++i) {
      y += fmt::format(
          "         {{name: leaf-{}{}, load: {}, services: "
          "[\"turn:${{proxy}}?transport=udp\"]{}}}{}\n",
          region, i + 1, loads[r][i], l, i < 2 ? "," : "");
    }
    y += fmt::format("       ]}}{}\n", r < 2 ? "," : "");
  }
  y += "     ]}\n";
  return y;
}

struct Options {
  size_t discoveries = 2000;
  double delay_ms = 0;   // Of every link, each way.
  double loss = 0;       // Of every link, each way (UDP; TCP is lossless).
  size_t in_flight = 1;  // Discoveries running at once (warm ones: one at a time).
  std::vector<std::string> phases{"cold", "tcp", "tls", "warm"};
  uint64_t gap_ms = 1;  // Idle time between discoveries: a warm one's refresh ends in it.
  size_t raw_rounds = 300;
  int client_cpu = -1;
  int server_cpu = -1;
};

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

double us_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool pin_thread(int cpu) {
  if (cpu < 0) return true;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// The tree on its own loop and thread. start() returns once it has converged.
class ServerThread {
 public:
  ~ServerThread() { stop(); }

  Result<void, std::string> start(cluster::Topology topology, int cpu,
                                  cluster::ClusterOptions options) {
    std::future<std::string> ready = ready_.get_future();
    thread_ = std::thread([this, t = std::move(topology), cpu, o = std::move(options)]() mutable {
      run(std::move(t), cpu, std::move(o));
    });
    const std::string error = ready.get();
    if (!error.empty()) {
      stop();
      return unexpected(error);
    }
    return {};
  }

  // Closes the tree on its own thread and joins it.
  void stop() {
    if (!thread_.joinable()) return;
    uv_async_send(&stop_);
    thread_.join();
  }

  // Datagrams and TCP connections the proxies have received from clients so far, read on
  // the tree's thread: every probe a client sent (over TCP one connection each here),
  // whether it was reported in a result or not.
  uint64_t client_datagrams() {
    std::promise<uint64_t> answer;
    std::future<uint64_t> count = answer.get_future();
    count_request_.store(&answer);
    uv_async_send(&count_);
    return count.get();
  }

  std::vector<cluster::NodeView> nodes;  // Written before start() returns.
  std::vector<std::string> roots;

 private:
  void run(cluster::Topology topology, int cpu, cluster::ClusterOptions options) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &stop_, &ServerThread::on_stop);
    stop_.data = this;
    uv_async_init(&loop_, &count_, &ServerThread::on_count);
    count_.data = this;
    if (!pin_thread(cpu)) std::fprintf(stderr, "cannot pin the servers to CPU %d\n", cpu);
    cluster_ = std::make_unique<cluster::Cluster>(&loop_, std::move(topology), std::move(options));
    auto started = cluster_->start([this] { converged(); });
    if (!started) {
      ready_.set_value(started.error());
      answered_ = true;
    }
    uv_timer_init(&loop_, &timeout_);
    timeout_.data = this;
    uv_timer_start(&timeout_, &ServerThread::on_timeout, 20'000, 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
    cluster_.reset();
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
  }

  void converged() {
    uv_timer_stop(&timeout_);
    nodes = cluster_->nodes();
    for (const Endpoint& e : cluster_->root_addresses())
      roots.push_back(to_string(e));
    answered_ = true;
    ready_.set_value("");
  }

  static void on_timeout(uv_timer_t* timer) {
    auto* self = static_cast<ServerThread*>(timer->data);
    if (self->answered_) return;
    std::string error = "the tree did not converge in 20 s:";
    for (const std::string& link : self->cluster_->pending_links())
      error += " " + link + ";";
    self->answered_ = true;
    self->ready_.set_value(error);
  }

  static void on_stop(uv_async_t* async) {
    auto* self = static_cast<ServerThread*>(async->data);
    self->cluster_->stop();
    uv_close(reinterpret_cast<uv_handle_t*>(&self->timeout_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->stop_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->count_), nullptr);
  }

  static void on_count(uv_async_t* async) {
    auto* self = static_cast<ServerThread*>(async->data);
    std::promise<uint64_t>* request = self->count_request_.exchange(nullptr);
    if (request == nullptr) return;
    uint64_t sum = 0;
    for (size_t i = 0; i < self->nodes.size(); ++i) {
      sum += self->cluster_->proxy(i).core().counters(impair::Direction::kToServer).received;
      sum += self->cluster_->tcp_proxy(i).accepted();
    }
    request->set_value(sum);
  }

  uv_loop_t loop_{};
  uv_async_t stop_{};
  uv_async_t count_{};
  std::atomic<std::promise<uint64_t>*> count_request_{nullptr};
  uv_timer_t timeout_{};
  std::unique_ptr<cluster::Cluster> cluster_;
  std::promise<std::string> ready_;
  bool answered_ = false;
  std::thread thread_;
};

// A self-signed certificate for every proxy's address (what clients dial), made by
// `openssl req` in a temporary folder that goes with the object.
class TempCertificate {
 public:
  static Result<std::unique_ptr<TempCertificate>, std::string> make(
      const cluster::Topology& topology) {
    std::string folder = (std::filesystem::temp_directory_path() / "discovery-cpu-XXXXXX");
    if (mkdtemp(folder.data()) == nullptr) return unexpected(std::string("mkdtemp failed"));
    auto out = std::unique_ptr<TempCertificate>(new TempCertificate(folder));
    std::string names;
    for (size_t i = 0; i < topology.nodes.size(); ++i) {
      const auto at = cluster::nth_address(topology.proxy_base, i);
      if (!at) return unexpected(std::string("out of loopback addresses"));
      names += (names.empty() ? "IP:" : ",IP:") + ip_to_string(*at);
    }
    const std::string command = fmt::format(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=discovery-cpu -addext subjectAltName={} -keyout '{}' -out '{}' "
        ">'{}/openssl.log' 2>&1",
        names, out->key_file(), out->cert_file(), folder);
    if (std::system(command.c_str()) != 0) {
      std::ifstream log(folder + "/openssl.log");
      const std::string said((std::istreambuf_iterator<char>(log)), {});
      return unexpected("openssl req failed (is openssl installed?): " + said);
    }
    return out;
  }
  ~TempCertificate() {
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }
  std::string cert_file() const { return folder_ + "/cert.pem"; }
  std::string key_file() const { return folder_ + "/key.pem"; }

 private:
  explicit TempCertificate(std::string folder) : folder_(std::move(folder)) {}
  std::string folder_;
};

// Bare round trips from one blocking socket: per node address, the wall time of each.
struct RawRtts {
  std::map<std::string, std::vector<double>> by_address;
  double cpu_us_per_round_trip = 0;
  size_t lost = 0;

  double p50(const std::string& address) const {
    const auto it = by_address.find(address);
    return it == by_address.end() ? 0 : percentile(it->second, 0.5);
  }
};

// Sends one padded Probe and waits up to 100 ms for its reply; the wall time in µs or -1.
double round_trip(int fd, const sockaddr_storage& to, socklen_t len, std::mt19937& random) {
  proto::ProbeRequest request;
  for (uint8_t& b : request.transaction_id)
    b = static_cast<uint8_t>(random());
  request.pad_to = proto::kRecommendedRequestSize;
  std::array<uint8_t, 2048> buf{};
  const auto size = proto::encode_probe_request(request, buf);
  if (!size) return -1;
  const auto start = SteadyClock::now();
  if (sendto(fd, buf.data(), *size, 0, reinterpret_cast<const sockaddr*>(&to), len) < 0) return -1;
  pollfd p{fd, POLLIN, 0};
  while (poll(&p, 1, 100) > 0) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n < 0) return -1;
    const auto view = proto::parse_message({buf.data(), static_cast<size_t>(n)});
    if (view && view->transaction_id() == request.transaction_id) return us_since(start);
  }
  return -1;
}

RawRtts measure_raw(const std::vector<cluster::NodeView>& nodes, size_t rounds) {
  RawRtts raw;
  std::mt19937 random(7);
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const double cpu_start = thread_cpu_us();
  size_t done = 0;
  for (size_t round = 0; round < rounds; ++round) {
    for (const cluster::NodeView& node : nodes) {
      sockaddr_storage to{};
      const socklen_t len = to_sockaddr(node.proxy, to);
      const double rtt = round_trip(fd, to, len, random);
      if (rtt < 0) {
        ++raw.lost;
        continue;
      }
      raw.by_address[to_string(node.proxy)].push_back(rtt);
      ++done;
    }
  }
  raw.cpu_us_per_round_trip = done ? (thread_cpu_us() - cpu_start) / static_cast<double>(done) : 0;
  ::close(fd);
  return raw;
}

struct Phase {
  std::string name;
  std::vector<double> wall_us;
  std::vector<double> own_us;   // Wall time minus the bare round trips it had to wait for.
  std::vector<double> bare_us;  // Those bare round trips.
  std::vector<double> hop_us;   // The same round trips as the client measured them (Hop::rtt).
  size_t ok = 0;
  size_t warm = 0;
  uint64_t probes = 0;  // Every datagram the client sent in the phase, refreshes included.
  double cpu_us = 0;    // Of the client thread over the whole phase.
  std::string first_failure;
};

// Runs `count` discoveries one after another on `client`, each followed by `gap_ms` of
// idle time (in which a warm discovery's refresh ends). `gap` is an initialised timer on
// `loop`, owned by the caller.
class PhaseRunner {
 public:
  PhaseRunner(uv_loop_t* loop, uv_timer_t& gap, ServerThread& servers, Client& client,
              DiscoverOptions options, const RawRtts& raw, size_t count, uint64_t gap_ms,
              size_t in_flight = 1)
      : loop_(loop),
        gap_(gap),
        servers_(servers),
        client_(client),
        options_(std::move(options)),
        raw_(raw),
        count_(count),
        gap_ms_(gap_ms),
        in_flight_(in_flight) {
    gap_.data = this;
  }

  Phase run(std::string name) {
    phase_ = Phase{std::move(name), {}, {}, {}, {}, 0, 0, 0, 0, {}};
    const uint64_t sent_before = servers_.client_datagrams();
    const double cpu_start = thread_cpu_us();
    for (size_t i = 0; i < std::min(in_flight_, count_); ++i)
      start_next();
    while (!done_)
      uv_run(loop_, UV_RUN_ONCE);
    phase_.cpu_us = thread_cpu_us() - cpu_start;
    phase_.probes = servers_.client_datagrams() - sent_before;
    return std::move(phase_);
  }

 private:
  void start_next() {
    ++started_;
    const auto start = SteadyClock::now();
    client_.discover(options_, [this, start](DiscoveryResult r) { finished(r, us_since(start)); });
  }

  void finished(const DiscoveryResult& r, double wall_us) {
    phase_.wall_us.push_back(wall_us);
    if (r.ok()) {
      ++phase_.ok;
      double bare = 0;
      double measured = 0;
      if (r.warm) {
        ++phase_.warm;
        bare = raw_.p50(r.path.back().address.to_string());
        measured = static_cast<double>(r.path.back().rtt.count());
      } else {
        // A hop probed with the next one (speculative descent) was not waited for.
        for (const Hop& hop : r.path) {
          if (hop.speculative) continue;
          bare += raw_.p50(hop.address.to_string());
          measured += static_cast<double>(hop.rtt.count());
        }
      }
      phase_.bare_us.push_back(bare);
      phase_.hop_us.push_back(measured);
      phase_.own_us.push_back(wall_us - bare);
    } else if (phase_.first_failure.empty()) {
      phase_.first_failure = r.failure;
    }
    if (in_flight_ > 1) {
      // Several at once: the next starts as one ends, without a gap.
      if (started_ < count_) start_next();
      if (phase_.wall_us.size() == count_) done_ = true;
      return;
    }
    uv_timer_start(&gap_, &PhaseRunner::on_gap, gap_ms_, 0);
  }

  static void on_gap(uv_timer_t* timer) {
    auto* self = static_cast<PhaseRunner*>(timer->data);
    if (self->phase_.wall_us.size() < self->count_) {
      self->start_next();
    } else {
      self->done_ = true;
    }
  }

  uv_loop_t* loop_;
  uv_timer_t& gap_;
  ServerThread& servers_;
  Client& client_;
  DiscoverOptions options_;
  const RawRtts& raw_;
  size_t count_;
  uint64_t gap_ms_;
  size_t in_flight_;
  size_t started_ = 0;
  Phase phase_;
  bool done_ = false;
};

void print_baseline(const ServerThread& servers, const RawRtts& raw, size_t rounds) {
  std::printf(
      "baseline: bare round trips, a Probe padded to %zu B from a plain blocking socket, "
      "%zu per node (%zu lost)\n",
      proto::kRecommendedRequestSize, rounds, raw.lost);
  for (uint32_t depth = 0; depth < 3; ++depth) {
    std::vector<double> pooled;
    for (const cluster::NodeView& n : servers.nodes) {
      if (n.depth != depth) continue;
      const auto it = raw.by_address.find(to_string(n.proxy));
      if (it != raw.by_address.end())
        pooled.insert(pooled.end(), it->second.begin(), it->second.end());
    }
    std::printf("  depth %u  round trip p50 %7.1f us  p99 %7.1f us\n", depth,
                percentile(pooled, 0.5), percentile(pooled, 0.99));
  }
  std::printf("  client CPU per bare round trip: %.1f us\n\n", raw.cpu_us_per_round_trip);
}

void print_phases(const std::vector<Phase>& phases, const RawRtts& raw) {
  std::printf("%-5s %5s %5s %5s %6s %8s %8s %9s %8s %8s %8s %8s %8s\n", "", "n", "ok", "warm",
              "probes", "wall p50", "wall p99", "bare RTTs", "hop RTTs", "own p50", "own p99",
              "CPU/disc", "bare CPU");
  for (const Phase& p : phases) {
    const double n = static_cast<double>(p.wall_us.size());
    const double probes = static_cast<double>(p.probes) / n;
    std::printf("%-5s %5zu %5zu %5zu %6.1f %8.1f %8.1f %9.1f %8.1f %8.1f %8.1f %8.1f %8.1f\n",
                p.name.c_str(), p.wall_us.size(), p.ok, p.warm, probes, percentile(p.wall_us, 0.5),
                percentile(p.wall_us, 0.99), percentile(p.bare_us, 0.5), percentile(p.hop_us, 0.5),
                percentile(p.own_us, 0.5), percentile(p.own_us, 0.99), p.cpu_us / n,
                probes * raw.cpu_us_per_round_trip);
    if (!p.first_failure.empty()) std::printf("      first failure: %s\n", p.first_failure.c_str());
  }
  std::printf(
      "(times in us, p50 unless marked. probes: datagrams the client sent per discovery, counted\n"
      " by the proxies; bare RTTs: the bare round trips waited for on the path (a hop probed\n"
      " with the next one, speculative descent, is not), every hop cold, the leaf's\n"
      " alone warm; hop RTTs: the same round trips as the client measured them in the discovery;\n"
      " own = wall - bare RTTs; CPU/disc: client thread CPU per discovery; bare CPU: probes x\n"
      " client CPU per bare round trip. Both count a warm discovery's background refresh.)\n\n");
}

// `lossy`: the links drop datagrams, so retransmissions make up the time beyond the round
// trips; what counts is how many were found, and how fast.
void print_budget(const std::vector<Phase>& phases, bool lossy) {
  if (lossy) {
    std::printf(
        "budget (DESIGN.md): with 10 %% loss each way on every link, >= 99.9 %% found "
        "within the 2 s timeout\n");
    for (const Phase& p : phases) {
      const double share =
          100.0 * static_cast<double>(p.ok) / static_cast<double>(p.wall_us.size());
      std::printf("  %-5s found %zu of %zu (%.2f %%) %s; wall p50 %.1f ms, p99 %.1f ms\n",
                  p.name.c_str(), p.ok, p.wall_us.size(), share,
                  share >= 99.9 ? "within budget" : "UNDER TARGET",
                  percentile(p.wall_us, 0.5) / 1000, percentile(p.wall_us, 0.99) / 1000);
    }
    return;
  }
  std::printf(
      "budget (DESIGN.md): own time p50 <= 1000 us and p99 <= 3000 us; a warm discovery costs "
      "one round trip and 500 us at most (p50); with 10 %% loss, >= 99.9 %% found\n");
  const auto cold_it =
      std::find_if(phases.begin(), phases.end(), [](const Phase& p) { return p.name == "cold"; });
  const Phase* cold = cold_it == phases.end() ? nullptr : &*cold_it;
  for (const Phase& p : phases) {
    std::printf("  %-5s found %zu of %zu (%.2f %%) within the timeout\n", p.name.c_str(), p.ok,
                p.wall_us.size(),
                100.0 * static_cast<double>(p.ok) / static_cast<double>(p.wall_us.size()));
  }
  for (const Phase& p : phases) {
    const double own = percentile(p.own_us, 0.5);
    if (p.name == "tcp" || p.name == "tls") {
      // Each hop opens a connection (a round trip of its own, and TLS's handshake): the UDP
      // budget does not apply.
      std::printf(
          "  %-5s own p50 %7.1f us  (each hop a %s and a request; %.2f x cold)\n", p.name.c_str(),
          own, p.name == "tcp" ? "TCP connect" : "TCP connect, a TLS handshake",
          cold == nullptr ? 0.0 : percentile(p.wall_us, 0.5) / percentile(cold->wall_us, 0.5));
      continue;
    }
    const double own99 = percentile(p.own_us, 0.99);
    std::printf("  %-5s own p50 %7.1f us, p99 %7.1f us  %s\n", p.name.c_str(), own, own99,
                p.ok == p.wall_us.size() && own <= 1000.0 && own99 <= 3000.0 ? "within budget"
                                                                             : "OVER BUDGET");
  }
  const auto warm_it =
      std::find_if(phases.begin(), phases.end(), [](const Phase& p) { return p.name == "warm"; });
  if (warm_it == phases.end()) return;
  const Phase& warm = *warm_it;
  const double ratio = percentile(warm.wall_us, 0.5) / percentile(warm.bare_us, 0.5);
  const double over = percentile(warm.wall_us, 0.5) - percentile(warm.bare_us, 0.5);
  std::printf(
      "  warm  %zu of %zu answered warm; wall p50 = %.2f x the leaf's bare round trip, %+.1f us "
      "%s\n",
      warm.warm, warm.wall_us.size(), ratio, over,
      warm.warm == warm.wall_us.size() && over <= 500.0 ? "within budget" : "OVER BUDGET");
}

int run(const Options& options) {
  if (auto logging = init_logging("warn"); !logging) {
    std::fprintf(stderr, "%s\n", logging.error().c_str());
    return 2;
  }
  std::string link;
  if (options.delay_ms > 0 || options.loss > 0) {
    link = fmt::format("{{delay: {}ms, loss: {}}}", options.delay_ms, options.loss);
  }
  auto topology = cluster::parse_topology(topology_yaml(link), "discovery_cpu topology");
  if (!topology) {
    std::fprintf(stderr, "%s\n", topology.error().front().c_str());
    return 2;
  }
  auto certificate = TempCertificate::make(*topology);
  if (!certificate) {
    std::fprintf(stderr, "%s\n", certificate.error().c_str());
    return 1;
  }
  cluster::ClusterOptions cluster_options;
  cluster_options.tls_cert_file = (*certificate)->cert_file();
  cluster_options.tls_key_file = (*certificate)->key_file();
  ServerThread servers;
  if (auto started = servers.start(std::move(*topology), options.server_cpu, cluster_options);
      !started) {
    std::fprintf(stderr, "%s\n", started.error().c_str());
    return 1;
  }
  if (!pin_thread(options.client_cpu)) std::fprintf(stderr, "cannot pin the client\n");
  std::printf(
      "tree: %zu virtual nodes (a root, 3 regions, 9 leaves), links %s, on their own "
      "thread; the client on the main thread, %zu discoveries at once\n",
      servers.nodes.size(), link.empty() ? "without delay" : ("of " + link + " each way").c_str(),
      options.in_flight);
  const RawRtts raw = measure_raw(servers.nodes, options.raw_rounds);
  print_baseline(servers, raw, options.raw_rounds);

  uv_loop_t loop{};
  uv_loop_init(&loop);
  uv_timer_t gap{};
  uv_timer_init(&loop, &gap);
  std::vector<Phase> phases;
  {
    Client client(&loop);
    DiscoverOptions discover;
    discover.roots = servers.roots;
    discover.verify = false;  // The descent's cost alone, as before verify was the default.
    discover.use_last_path = false;
    // Not reported: the first discoveries open sockets and fill the client's tables.
    PhaseRunner(&loop, gap, servers, client, discover, raw, 20, options.gap_ms).run("warm-up");
    for (const std::string& name : options.phases) {
      discover.transport = name == "tcp"   ? TransportMode::kTcp
                           : name == "tls" ? TransportMode::kTls
                                           : TransportMode::kUdp;
      discover.tls_ca_file = name == "tls" ? (*certificate)->cert_file() : "";
      discover.use_last_path = name == "warm";
      // Warm ones one at a time: each leaves a refresh running after its result, and they
      // would pile up past the Client's bound on discoveries at once.
      const size_t in_flight = name == "warm" ? 1 : options.in_flight;
      phases.push_back(PhaseRunner(&loop, gap, servers, client, discover, raw, options.discoveries,
                                   options.gap_ms, in_flight)
                           .run(name));
    }
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&gap), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  servers.stop();

  print_phases(phases, raw);
  print_budget(phases, options.loss > 0);
  return 0;
}

}  // namespace
}  // namespace turnscout::bench

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // The tree's TCP and TLS listeners run in this process.
  turnscout::bench::Options options;
  CLI::App app("discovery_cpu: client wall and CPU time per discovery on a loopback tree");
  app.add_option("--discoveries", options.discoveries,
                 "Discoveries per phase (cold, tcp, tls, warm)")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--gap-ms", options.gap_ms, "Idle milliseconds between discoveries")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1000}))
      ->capture_default_str();
  app.add_option("--raw-rounds", options.raw_rounds, "Bare round trips per node (baseline)")
      ->check(CLI::Range(size_t{1}, size_t{100'000}))
      ->capture_default_str();
  app.add_option("--delay-ms", options.delay_ms, "One-way delay of every link, in ms")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
  app.add_option("--loss", options.loss, "Share of datagrams every link drops, each way")
      ->check(CLI::Range(0.0, 0.5))
      ->capture_default_str();
  app.add_option("--phases", options.phases, "Which phases, in order: cold, tcp, tls, warm")
      ->check(CLI::IsMember({"cold", "tcp", "tls", "warm"}))
      ->delimiter(',')
      ->type_name("NAME,...")
      ->capture_default_str();
  app.add_option("--in-flight", options.in_flight,
                 "Discoveries running at once (warm ones run one at a time)")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  app.add_option("--client-cpu", options.client_cpu, "Pin the client thread to this CPU");
  app.add_option("--server-cpu", options.server_cpu, "Pin the servers' thread to this CPU");
  CLI11_PARSE(app, argc, argv);
  return turnscout::bench::run(options);
}
