// bench_responder: the cost of ProbeResponder::handle per probe on one core, next to the
// floor of any STUN answer measured in the same run (parse the same request, write a
// minimal Binding response), and the number of heap allocations per probe.
//
//   bench_responder [iterations per round, default 100000] [rounds, default 9]
//
// Times are the thread's CPU time. Cases run interleaved, one batch of each per round, and
// each keeps its fastest round: on a shared machine a disturbance then hits one round of
// every case alike instead of every round of one case.
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/binding.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"
#include "server/config/config_yaml.hpp"
#include "server/core/responder.hpp"
#include "tests/server/alloc_counter.hpp"

namespace turnscout::server {
namespace {

constexpr uint32_t kClients = 256;  // Rotated so admission looks up a realistic table.
constexpr uint64_t kWall = 1'800'000'000;

struct Case {
  std::string name;
  std::function<size_t(uint64_t)> op;  // Answers datagram number i; returns the reply size.
  double best_ns = 1e300;
  uint64_t allocations = 0;
  uint64_t runs = 0;
};

std::vector<uint8_t> padded_probe() {
  std::vector<uint8_t> buf(2048);
  proto::ProbeRequest r;
  r.transaction_id.fill(0x5A);
  r.pad_to = proto::kRecommendedRequestSize;
  const auto size = proto::encode_probe_request(r, buf);
  if (!size) std::abort();
  buf.resize(*size);
  return buf;
}

std::vector<uint8_t> binding_request() {
  std::vector<uint8_t> buf(64);
  const auto size = proto::encode_binding_request({{}, true}, buf);
  if (!size) std::abort();
  buf.resize(*size);
  return buf;
}

SnapshotPtr snapshot(int children, Strategy strategy) {
  Snapshot s;
  s.version = 1;
  s.node_name = "bench-node";
  s.load = proto::Load{350, 900};
  s.listing = ListingConfig{strategy, 0, 900};
  for (int i = 0; i < children; ++i) {
    SnapshotChild c;
    c.name = "child-" + std::to_string(i);
    c.v4 = Endpoint::v4(10, 2, 0, static_cast<uint8_t>(i), 3479);
    c.load_permille = static_cast<uint16_t>((i * 37) % 800);
    c.weight = static_cast<uint16_t>(1 + i % 4);
    c.id_hash = child_id_hash(c.name);
    s.children.push_back(c);
  }
  return std::make_shared<const Snapshot>(std::move(s));
}

Endpoint client(uint64_t i) {
  return Endpoint::v4(198, 51, static_cast<uint8_t>(i % kClients), 7, 40000);
}

// The floor: what any STUN server does for this datagram, without policy.
Case floor_case(const std::vector<uint8_t>& request) {
  auto out = std::make_shared<std::array<uint8_t, 1500>>();
  return Case{"floor: parse + Binding response", [&request, out](uint64_t i) -> size_t {
                const auto view = proto::parse_message(request);
                if (!view) return 0;
                const proto::BindingResponse r{view->transaction_id(), client(i), true};
                const auto size = proto::encode_binding_response(r, *out);
                return size ? *size : 0;
              }};
}

Case responder_case(std::string name, const std::vector<uint8_t>& request, int children,
                    Strategy strategy) {
  AdmissionConfig admission;
  admission.tiers = {TierConfig{"free", 0, 1e12, 1e12}};  // Charged, never refused.
  auto responder = std::make_shared<ProbeResponder>(admission, 1);
  responder->set_snapshot(snapshot(children, strategy));
  auto out = std::make_shared<std::array<uint8_t, 1500>>();
  return Case{std::move(name), [&request, responder, out](uint64_t i) -> size_t {
                const Outcome o = responder->handle(TimePoint{}, kWall, client(i), request, *out);
                return o.what == Disposition::kReply ? o.size : 0;
              }};
}

// CPU time of this thread: time the scheduler gives to other processes is not counted.
double thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

size_t run_batch(Case& c, uint64_t iterations) {
  size_t sink = 0;
  const uint64_t allocations = test::allocation_count();
  const double start = thread_cpu_ns();
  for (uint64_t i = 0; i < iterations; ++i)
    sink += c.op(i);
  const double elapsed = thread_cpu_ns() - start;
  c.allocations += test::allocation_count() - allocations;
  c.runs += iterations;
  c.best_ns = std::min(c.best_ns, elapsed / static_cast<double>(iterations));
  return sink;
}

int run(uint64_t iterations, int rounds) {
  const auto probe = padded_probe();
  const auto binding = binding_request();
  std::vector<Case> cases;
  cases.push_back(floor_case(probe));
  cases.push_back(
      responder_case("Binding via responder (28 B req)", binding, 8, Strategy::kLeastLoad));
  for (const int children : {8, 32}) {
    for (const Strategy s :
         {Strategy::kLeastLoad, Strategy::kAll, Strategy::kRoundRobin, Strategy::kWeighted,
          Strategy::kRandom, Strategy::kTwoChoice, Strategy::kIpHash}) {
      cases.push_back(responder_case(
          "probe, " + std::to_string(children) + " children, " + std::string(strategy_name(s)),
          probe, children, s));
    }
  }
  size_t sink = 0;
  for (Case& c : cases) {  // Warm-up: caches, admission tables, scratch vectors.
    for (uint64_t i = 0; i < kClients * 4; ++i)
      sink += c.op(i);
  }
  for (int round = 0; round < rounds; ++round) {
    for (Case& c : cases)
      sink += run_batch(c, iterations);
  }

  std::printf(
      "request: Probe padded to %zu bytes; %llu datagrams x %d rounds, best round of thread CPU "
      "time\n\n",
      probe.size(), static_cast<unsigned long long>(iterations), rounds);
  std::printf("%-34s %9s %12s %9s %8s %10s\n", "case", "ns/op", "ops/s", "vs floor", "reply B",
              "allocs/op");
  const double floor_ns = cases.front().best_ns;
  for (Case& c : cases) {
    std::printf("%-34s %9.1f %12.0f %8.2fx %8zu %10.3f\n", c.name.c_str(), c.best_ns,
                1e9 / c.best_ns, c.best_ns / floor_ns, c.op(0),
                static_cast<double>(c.allocations) / static_cast<double>(c.runs));
  }
  return sink == 0 ? 1 : 0;
}

}  // namespace
}  // namespace turnscout::server

int main(int argc, char** argv) {
  const uint64_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  const long rounds = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 9;
  if (iterations == 0 || rounds <= 0 || rounds > 1000) {
    std::fprintf(stderr, "usage: bench_responder [iterations per round] [rounds]\n");
    return 2;
  }
  return turnscout::server::run(iterations, static_cast<int>(rounds));
}
