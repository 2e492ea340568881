// One shared Client running hundreds of discoveries, kConcurrent at a time, against fake
// servers that announce a small bucket and drop what it refuses, as turnscout-server does.
// The client's mirror of each bucket holds requests back, so discoveries wait for tokens,
// compete for them and give up when none comes in time; whatever happens, each callback
// must run by the discovery's timeout plus kSlack. Every server sits behind an impairment
// proxy that delays both ways, so replies arrive in loop iterations of their own and only
// the driver's timer wakes held-back requests and deadlines. Timeouts are mixed (150 ms to
// 2 s) so deadlines interleave with refills and keep each case to a few seconds.
#include <uv.h>

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "tests/client_io/fake_responder.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace turnscout::test {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const Endpoint kLoopback = Endpoint::v4(127, 0, 0, 1, 0);

// Small buckets, one token per Probe or Binding: 8 discoveries at once need several tokens
// each from the same servers, so most of them wait. With 20 tokens/s something happens
// every few milliseconds; with 2 tokens/s the client's timer often waits hundreds.
const proto::FlowControl kBusyBucket{3, 20'000, 1, 1, 0};
const proto::FlowControl kSlowBucket{3, 2'000, 1, 1, 0};
constexpr size_t kConcurrent = 8;
// How late a callback may run after its timeout: the loop's own latency on a loaded
// 2-core machine under ASan (a few milliseconds seen). A wake-up the driver misses shows
// as hundreds of milliseconds (a token interval of a slow bucket, a retransmission
// timeout) or as a callback that never comes.
constexpr milliseconds kSlack{100};
constexpr milliseconds kOneWay{5};
constexpr auto kRunLimit = std::chrono::seconds{15};

double ms_of(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

struct Outcome {
  milliseconds timeout{};
  Clock::duration elapsed{};  // From discover() to the callback.
  DiscoveryResult result;
};

// A loop with fake servers behind delaying proxies, and one Client on it.
class World {
 public:
  explicit World(proto::FlowControl flow) : flow_(flow) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    uv_timer_init(&loop_, &watchdog_);
  }
  ~World() {
    client_.reset();
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog_), nullptr);
    for (auto& proxy : proxies_)
      proxy->stop();
    proxies_.clear();
    for (FakeResponder* r : responders_)
      r->close();
    uv_run(&loop_, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop_) == 0);
  }
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // A server announcing the world's bucket and enforcing it; returns its proxy's address.
  Endpoint add(std::string name, std::vector<Endpoint> children = {}, bool silent = false) {
    auto r = FakeResponder::open(&loop_, kLoopback,
                                 {.name = std::move(name),
                                  .children = std::move(children),
                                  .silent = silent,
                                  .flow = flow_,
                                  .enforce_flow = true});
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
    responders_.push_back(*r);
    impair::ProxyOptions options;
    options.listen = kLoopback;
    options.upstream = (*r)->address();
    for (impair::Direction d : impair::kDirections)
      options.impair[d].delay = kOneWay;
    proxies_.push_back(std::make_unique<impair::UdpImpairProxy>(&loop_, std::move(options)));
    auto started = proxies_.back()->start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error()));
    return proxies_.back()->local();
  }
  // A leaf whose TURN service is its proxy's address (it answers Binding too).
  Endpoint add_leaf(std::string name, bool silent = false) {
    const Endpoint at = add(std::move(name), {}, silent);
    responders_.back()->config.services = {fmt::format("turn:{}?transport=udp", at)};
    return at;
  }

  // Runs `total` discoveries on one Client, kConcurrent at a time. Every other callback
  // starts the next discovery itself; the others leave it to the code that runs the loop,
  // as an application's own event would, so discoveries also start while the client's
  // timer waits for something later. Bounded by kRunLimit.
  std::vector<Outcome> run(size_t total, const std::function<DiscoverOptions(size_t)>& options) {
    client_ = std::make_unique<Client>(&loop_);
    std::vector<Outcome> outcomes;
    size_t started = 0;
    std::function<void()> start_next = [&] {
      const DiscoverOptions o = options(started++);
      const auto at = Clock::now();
      client_->discover(o, [&, at, timeout = o.timeout](DiscoveryResult r) {
        outcomes.push_back(Outcome{timeout, Clock::now() - at, std::move(r)});
        if (outcomes.size() % 2 == 0 && started < total) start_next();
      });
    };
    // The proxies keep the loop alive; the watchdog ends a run whose callbacks never come.
    bool expired = false;
    watchdog_.data = &expired;
    uv_timer_start(
        &watchdog_, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        static_cast<uint64_t>(std::chrono::milliseconds{kRunLimit}.count()), 0);
    while (outcomes.size() < total && !expired) {
      while (started < total && started - outcomes.size() < kConcurrent)
        start_next();
      uv_run(&loop_, UV_RUN_ONCE);
    }
    uv_timer_stop(&watchdog_);
    CHECK_MESSAGE(outcomes.size() == total,
                  outcomes.size() << " of " << total << " callbacks, " << client_->pending()
                                  << " discoveries pending after " << kRunLimit.count() << " s");
    CHECK(client_->pending() == 0);
    client_.reset();
    return outcomes;
  }

  uint64_t requests_dropped() const {
    uint64_t n = 0;
    for (const FakeResponder* r : responders_)
      n += r->dropped_by_flow;
    return n;
  }
  uint64_t requests_received() const {
    uint64_t n = 0;
    for (const FakeResponder* r : responders_)
      n += r->probes + r->bindings;
    return n;
  }

 private:
  proto::FlowControl flow_;
  uv_loop_t loop_{};
  uv_timer_t watchdog_{};
  std::vector<FakeResponder*> responders_;
  std::vector<std::unique_ptr<impair::UdpImpairProxy>> proxies_;
  std::unique_ptr<Client> client_;
};

// Timeouts cycle through long and short ones, so deadlines interleave with refills and a
// later discovery often ends before earlier ones.
milliseconds timeout_of(size_t i) {
  constexpr milliseconds kTimeouts[] = {milliseconds{2000}, milliseconds{300}, milliseconds{1000},
                                        milliseconds{150}};
  return kTimeouts[i % std::size(kTimeouts)];
}

bool held_back(const DiscoveryResult& r) {
  return std::any_of(r.errors.begin(), r.errors.end(),
                     [](const PeerError& e) { return e.kind == PeerErrorKind::kRateLimited; });
}

bool ended_by_deadline(const DiscoveryResult& r) {
  return r.failure.starts_with("deadline of");
}

// Every callback by its timeout plus kSlack, measured outside the client and as the client
// reports it; and a summary of the run.
void check_on_time(const std::vector<Outcome>& outcomes) {
  std::vector<double> over;  // Milliseconds past the timeout (negative: before it).
  size_t ok = 0;
  for (const Outcome& o : outcomes) {
    INFO("timeout " << o.timeout.count() << " ms, status "
                    << std::string(to_string(o.result.status)) << ": " << o.result.failure);
    CHECK(o.elapsed <= o.timeout + kSlack);
    CHECK(o.result.total_time <= o.timeout + kSlack);
    if (o.result.ok()) {
      ++ok;
    } else {
      CHECK_FALSE(o.result.failure.empty());
    }
    over.push_back(ms_of(o.elapsed - o.timeout));
  }
  std::sort(over.begin(), over.end());
  if (over.empty()) return;
  auto at = [&](double q) {
    return over[static_cast<size_t>(q * static_cast<double>(over.size() - 1))];
  };
  MESSAGE(outcomes.size() << " callbacks, " << ok << " found; ms past the timeout: median "
                          << at(0.5) << ", p99 " << at(0.99) << ", max " << over.back());
}

}  // namespace

// What a run's discoveries came to, printed with what the servers saw.
struct Tally {
  size_t found = 0;        // Found a leaf.
  size_t held = 0;         // Carry a rate-limited error.
  size_t by_deadline = 0;  // Ended by their deadline.
};

Tally tally(const World& w, const std::vector<Outcome>& outcomes, Clock::time_point start) {
  MESSAGE("in " << ms_of(Clock::now() - start) << " ms; servers got " << w.requests_received()
                << " requests and dropped " << w.requests_dropped());
  Tally t;
  for (const Outcome& o : outcomes) {
    t.found += o.result.ok() ? 1 : 0;
    t.held += held_back(o.result) ? 1 : 0;
    t.by_deadline += ended_by_deadline(o.result) ? 1 : 0;
  }
  return t;
}

TEST_CASE("driver: one client, 8 discoveries at a time behind busy buckets, each on time") {
  World w(kBusyBucket);
  std::vector<std::string> roots;
  for (const char* tree : {"a", "b"}) {
    const Endpoint leaf1 = w.add_leaf(fmt::format("leaf-{}1", tree));
    const Endpoint leaf2 = w.add_leaf(fmt::format("leaf-{}2", tree));
    roots.push_back(to_string(w.add(fmt::format("root-{}", tree), {leaf1, leaf2})));
  }
  constexpr size_t kTotal = 240;
  const auto start = Clock::now();
  const std::vector<Outcome> outcomes = w.run(kTotal, [&](size_t i) {
    DiscoverOptions o;
    o.roots = {roots[i % roots.size()]};
    o.timeout = timeout_of(i);
    // Bindings take tokens from the leaves' buckets too; use_last_path (the default) adds
    // warm discoveries and their background refreshes.
    o.verify = i % 3 == 0;
    return o;
  });
  REQUIRE(outcomes.size() == kTotal);
  check_on_time(outcomes);
  const Tally t = tally(w, outcomes, start);
  // The scenario did what it is for: some discoveries found a leaf, some waited in vain.
  CHECK(t.found > 0);
  CHECK(t.held > 0);
  // The mirror holds requests back instead of sending what the servers would drop; only
  // the first ones, sent before any reply announced a bucket, may overrun it.
  CHECK(w.requests_dropped() * 10 < w.requests_received());
}

TEST_CASE("driver: one client behind buckets, some servers silent: deadlines end them on time") {
  World w(kBusyBucket);
  // Tree a: one live leaf and one silent; tree b: its only leaf is silent; and a silent root.
  const Endpoint a1 = w.add_leaf("leaf-a1");
  const Endpoint a2 = w.add_leaf("leaf-a2", true);
  const std::string root_a = to_string(w.add("root-a", {a1, a2}));
  const Endpoint b1 = w.add_leaf("leaf-b1", true);
  const std::string root_b = to_string(w.add("root-b", {b1}));
  const std::string dead = to_string(w.add("dead-root", {}, true));
  const std::vector<std::vector<std::string>> root_sets = {
      {root_a}, {root_b}, {dead}, {root_a, dead}, {root_b, dead}};
  constexpr size_t kTotal = 120;
  const auto start = Clock::now();
  const std::vector<Outcome> outcomes = w.run(kTotal, [&](size_t i) {
    DiscoverOptions o;
    o.roots = root_sets[i % root_sets.size()];
    o.timeout = timeout_of(i / root_sets.size());
    o.verify = i % 2 == 0;
    return o;
  });
  REQUIRE(outcomes.size() == kTotal);
  check_on_time(outcomes);
  const Tally t = tally(w, outcomes, start);
  CHECK(t.by_deadline > 0);
  CHECK(t.found > 0);
}

// Tokens come every 500 ms, so the client's timer often waits that long while a new
// discovery needs to wake it sooner: for a deadline, or for a result the core produced at
// once (a probe its bucket cannot admit before the deadline).
TEST_CASE("driver: one client behind slow buckets: held-back discoveries end on time") {
  World w(kSlowBucket);
  const Endpoint leaf = w.add_leaf("leaf");
  const std::string root = to_string(w.add("root", {leaf}));
  constexpr size_t kTotal = 60;
  const auto start = Clock::now();
  const std::vector<Outcome> outcomes = w.run(kTotal, [&](size_t i) {
    DiscoverOptions o;
    o.roots = {root};
    o.timeout = timeout_of(i);
    o.verify = i % 2 == 0;
    return o;
  });
  REQUIRE(outcomes.size() == kTotal);
  check_on_time(outcomes);
  const Tally t = tally(w, outcomes, start);
  CHECK(t.found > 0);
  CHECK(t.held > 0);
}

}  // namespace turnscout::test
