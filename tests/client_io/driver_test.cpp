// The SDK's libuv driver on loopback, through the public turnscout::Client: fake servers
// on the same loop, callbacks counted, and every test ends with uv_loop_close() == 0 (the
// Client closed everything it opened).
#include <uv.h>

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <turnscout/client.hpp>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "tests/client_io/fake_responder.hpp"

namespace turnscout::test {
namespace {

using std::chrono::milliseconds;

const Endpoint kLoopback = Endpoint::v4(127, 0, 0, 1, 0);

std::string service_at(const Endpoint& address) {
  return fmt::format("turn:{}?transport=udp", address);
}

// A loop, fake servers on it, and a Client; the destructor checks that everything closed.
struct Fixture {
  Fixture() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~Fixture() {
    client.reset();
    for (FakeResponder* r : responders)
      r->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
  }

  FakeResponder& add(FakeResponderConfig config, const Endpoint& address = kLoopback) {
    auto r = FakeResponder::open(&loop, address, std::move(config));
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error()));
    responders.push_back(*r);
    return **r;
  }
  // A leaf whose TURN service is its own address (it answers Binding too).
  FakeResponder& add_leaf(std::string name, const Endpoint& address = kLoopback) {
    FakeResponder& leaf = add({.name = std::move(name)}, address);
    leaf.config.services = {service_at(leaf.address())};
    return leaf;
  }

  Client& make_client() {
    client = std::make_unique<Client>(&loop);
    return *client;
  }

  // Starts a discovery, runs the loop until it stops (the client keeps it alive exactly
  // while the discovery is pending) and returns the result.
  DiscoveryResult run(DiscoverOptions options) {
    if (!client) make_client();
    std::optional<DiscoveryResult> result;
    bool inside_discover = true;
    client->discover(options, [&](DiscoveryResult r) {
      CHECK_FALSE(inside_discover);
      CHECK_FALSE(result.has_value());
      ++callbacks;
      result = std::move(r);
    });
    inside_discover = false;
    uv_run(&loop, UV_RUN_DEFAULT);
    REQUIRE(result.has_value());
    CHECK(client->pending() == 0);
    return std::move(*result);
  }

  uv_loop_t loop{};
  std::vector<FakeResponder*> responders;
  std::unique_ptr<Client> client;
  int callbacks = 0;
};

DiscoverOptions options_for(std::vector<Endpoint> roots,
                            milliseconds timeout = milliseconds{2000}) {
  DiscoverOptions o;
  for (const Endpoint& r : roots)
    o.roots.push_back(to_string(r));
  o.timeout = timeout;
  return o;
}

}  // namespace

TEST_CASE("driver: a two-level descent on loopback, verified, one callback") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  FakeResponder& root = f.add({.name = "root", .children = {leaf.address()}});
  DiscoverOptions options = options_for({root.address()});
  options.verify = true;
  const DiscoveryResult r = f.run(options);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(f.callbacks == 1);
  REQUIRE(r.path.size() == 2);
  CHECK(r.path[0].name == "root");
  CHECK(r.path[0].address.to_string() == to_string(root.address()));
  CHECK(r.path[1].name == "leaf-1");
  CHECK(r.path[1].siblings_answered == 1);
  REQUIRE(r.services.size() == 1);
  CHECK(r.services[0].uri == service_at(leaf.address()));
  CHECK(r.services[0].transport == "udp");
  CHECK(r.services[0].port == leaf.address().port);
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(r.verification.mapped == r.reflexive);
  CHECK(r.reflexive.ip == "127.0.0.1");
  CHECK(r.errors.empty());
  CHECK(root.probes == 1);
  CHECK(leaf.probes == 1);
  CHECK(leaf.bindings == 1);
}

TEST_CASE("driver: a warm discovery on the same client is answered by the last leaf") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  FakeResponder& region = f.add({.name = "region", .children = {leaf.address()}});
  FakeResponder& root = f.add({.name = "root", .children = {region.address()}});
  const DiscoveryResult cold = f.run(options_for({root.address()}));
  REQUIRE_MESSAGE(cold.ok(), cold.failure);
  CHECK_FALSE(cold.warm);
  CHECK(cold.path.size() == 3);
  // The last leaf is probed with the root and answers before the region could: one round
  // trip, and the path as remembered.
  const DiscoveryResult warm = f.run(options_for({root.address()}));
  REQUIRE_MESSAGE(warm.ok(), warm.failure);
  CHECK(warm.warm);
  CHECK(f.callbacks == 2);
  REQUIRE(warm.path.size() == 3);
  CHECK(warm.path.back().name == "leaf-1");
  CHECK(warm.services.at(0).uri == service_at(leaf.address()));
  CHECK(root.probes == 2);
}

TEST_CASE("driver: invalid options come back through the callback, on the loop") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  SUBCASE("no roots") {
    const DiscoveryResult r = f.run(DiscoverOptions{});
    CHECK(r.status == Status::kInvalidOptions);
    CHECK(r.failure.find("no roots") != std::string::npos);
  }
  SUBCASE("a root that is neither an address nor a host name") {
    DiscoverOptions o;
    o.roots = {"not a root!"};
    const DiscoveryResult r = f.run(o);
    CHECK(r.status == Status::kInvalidOptions);
    CHECK(r.failure.find("not a root!") != std::string::npos);
  }
  SUBCASE("a bad blacklist token") {
    DiscoverOptions o = options_for({leaf.address()});
    o.blacklist = {"index:1"};
    const DiscoveryResult r = f.run(o);
    CHECK(r.status == Status::kInvalidOptions);
    CHECK(r.failure.find("index:1") != std::string::npos);
  }
  SUBCASE("a timeout of zero") {
    const DiscoveryResult r = f.run(options_for({leaf.address()}, milliseconds{0}));
    CHECK(r.status == Status::kInvalidOptions);
  }
  SUBCASE("a capacity token that is not base64url") {
    DiscoverOptions o = options_for({leaf.address()});
    o.capacity_token = "not base64!";
    const DiscoveryResult r = f.run(o);
    CHECK(r.status == Status::kInvalidOptions);
  }
  CHECK(f.callbacks == 1);
  CHECK(leaf.probes == 0);
}

TEST_CASE("driver: a silent root fails within the timeout with its error") {
  Fixture f;
  FakeResponder& silent = f.add({.name = "silent", .silent = true});
  const auto start = std::chrono::steady_clock::now();
  const DiscoveryResult r = f.run(options_for({silent.address()}, milliseconds{300}));
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(r.status == Status::kNotFound);
  CHECK_FALSE(r.failure.empty());
  CHECK(took >= milliseconds{290});
  CHECK(took < milliseconds{1500});
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kTimeout);
  CHECK(r.errors[0].address.to_string() == to_string(silent.address()));
  CHECK(silent.probes >= 2);  // Retransmitted within the timeout.
  CHECK(silent.probes <= 5);
}

TEST_CASE("driver: the first of several roots to answer wins; a blacklisted one is not probed") {
  Fixture f;
  FakeResponder& silent = f.add({.name = "silent", .silent = true});
  FakeResponder& leaf = f.add_leaf("leaf-1");
  FakeResponder& other = f.add_leaf("leaf-2");
  DiscoverOptions o = options_for({silent.address(), leaf.address(), other.address()});
  o.blacklist = {"index:2"};
  const DiscoveryResult r = f.run(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.path.at(0).name == "leaf-1");
  CHECK(other.probes == 0);
  bool blacklisted = false;
  for (const PeerError& e : r.errors)
    blacklisted = blacklisted || e.kind == PeerErrorKind::kBlacklisted;
  CHECK(blacklisted);
}

TEST_CASE("driver: root host names are resolved (localhost), unknown names are peer errors") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  DiscoverOptions o;
  o.roots = {fmt::format("localhost:{}", leaf.address().port), "no-such-host.invalid"};
  const DiscoveryResult r = f.run(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.path.at(0).name == "leaf-1");
  bool unresolved = false;
  for (const PeerError& e : r.errors) {
    if (e.name == "no-such-host.invalid" && e.kind == PeerErrorKind::kUnreachable) {
      unresolved = true;
      CHECK(e.address.empty());
    }
  }
  CHECK(unresolved);
}

TEST_CASE("driver: a TURN server named by a host name is resolved for verification") {
  Fixture f;
  FakeResponder& leaf = f.add({.name = "leaf-1"});
  leaf.config.services = {fmt::format("turn:localhost:{}?transport=udp", leaf.address().port)};
  DiscoverOptions o = options_for({leaf.address()});
  o.verify = true;
  const DiscoveryResult r = f.run(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.verification.state == VerifyState::kVerified);
  CHECK(r.verification.address.to_string() == to_string(leaf.address()));
  CHECK(leaf.bindings == 1);
}

TEST_CASE("driver: a destination the kernel refuses fails at once, not at the timeout") {
  Fixture f;
  // Broadcast without SO_BROADCAST: sendto fails with EACCES.
  const auto start = std::chrono::steady_clock::now();
  const DiscoveryResult r = f.run(options_for({Endpoint::v4(255, 255, 255, 255, 3478)}));
  CHECK(std::chrono::steady_clock::now() - start < milliseconds{1000});
  CHECK(r.status == Status::kNotFound);
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].kind == PeerErrorKind::kUnreachable);
}

TEST_CASE("driver: only unresolvable roots fail with a reason") {
  Fixture f;
  DiscoverOptions o;
  o.roots = {"no-such-host.invalid:3478"};
  const DiscoveryResult r = f.run(o);
  CHECK(r.status == Status::kNotFound);
  CHECK(r.failure.find("no-such-host.invalid") != std::string::npos);
  CHECK(f.callbacks == 1);
}

TEST_CASE("driver: IPv6 on loopback uses a socket of its own") {
  std::array<uint8_t, 16> ip{};
  ip[15] = 1;
  const Endpoint v6_loopback = Endpoint::v6(ip, 0);
  Fixture f;
  auto probe = FakeResponder::open(&f.loop, v6_loopback, {});
  if (!probe) {
    MESSAGE("no IPv6 loopback here: " << probe.error());
    return;
  }
  f.responders.push_back(*probe);
  FakeResponder& v4_leaf = f.add_leaf("leaf-v4");
  FakeResponder& v6_leaf = f.add_leaf("leaf-v6", v6_loopback);
  FakeResponder& root = f.add({.name = "root", .children = {v6_leaf.address()}}, v6_loopback);
  DiscoverOptions o = options_for({root.address()});
  o.verify = true;
  const DiscoveryResult r = f.run(o);
  REQUIRE_MESSAGE(r.ok(), r.failure);
  REQUIRE(r.path.size() == 2);
  CHECK(r.path[0].address.ip == "::1");
  CHECK(r.path[1].address.to_string() == to_string(v6_leaf.address()));
  CHECK(r.reflexive.ip == "::1");
  CHECK(r.verification.state == VerifyState::kVerified);
  // Then an IPv4 discovery on the same client.
  const DiscoveryResult v4 = f.run(options_for({v4_leaf.address()}));
  REQUIRE_MESSAGE(v4.ok(), v4.failure);
  CHECK(v4.reflexive.ip == "127.0.0.1");
}

TEST_CASE("driver: a cancelled discovery has no callback and does not hold the loop") {
  Fixture f;
  FakeResponder& silent = f.add({.name = "silent", .silent = true});
  Client& client = f.make_client();
  const DiscoveryId id =
      client.discover(options_for({silent.address()}), [&](DiscoveryResult) { ++f.callbacks; });
  CHECK(client.pending() == 1);
  CHECK(client.cancel(id));
  CHECK_FALSE(client.cancel(id));
  CHECK(client.pending() == 0);
  const auto start = std::chrono::steady_clock::now();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(std::chrono::steady_clock::now() - start < milliseconds{500});
  CHECK(f.callbacks == 0);
}

TEST_CASE("driver: hops come before the result; stop() ends the walk and keeps them") {
  Fixture f;
  FakeResponder& silent = f.add({.name = "silent", .silent = true});
  FakeResponder& root = f.add({.name = "root", .children = {silent.address()}});
  Client& client = f.make_client();
  std::vector<Hop> hops;
  std::optional<DiscoveryResult> result;
  DiscoveryId id = 0;
  id = client.discover(
      options_for({root.address()}), [&](DiscoveryResult r) { result = std::move(r); },
      [&](const Hop& hop) {
        hops.push_back(hop);
        CHECK_FALSE(result.has_value());
        CHECK(client.stop(id));  // From inside a callback, as a UI's Cancel button would.
      });
  const auto start = std::chrono::steady_clock::now();
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(std::chrono::steady_clock::now() - start < milliseconds{1000});
  REQUIRE(hops.size() == 1);
  CHECK(hops[0].name == "root");
  REQUIRE(result.has_value());
  CHECK(result->status == Status::kCancelled);
  REQUIRE(result->path.size() == 1);
  CHECK(result->path[0].name == "root");
  CHECK(client.pending() == 0);
  CHECK_FALSE(client.stop(id));
}

TEST_CASE("driver: destroying the client with a discovery pending runs no callback") {
  Fixture f;
  FakeResponder& silent = f.add({.name = "silent", .silent = true});
  f.make_client().discover(options_for({silent.address()}),
                           [&](DiscoveryResult) { ++f.callbacks; });
  // A timer of the test destroys the client while its probes are unanswered.
  uv_timer_t timer;
  uv_timer_init(&f.loop, &timer);
  timer.data = &f;
  uv_timer_start(
      &timer, [](uv_timer_t* t) { static_cast<Fixture*>(t->data)->client.reset(); }, 50, 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.callbacks == 0);
  CHECK(silent.probes >= 1);
}

TEST_CASE("driver: a callback may destroy the client and start nothing more") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  Client& client = f.make_client();
  for (int i = 0; i < 2; ++i) {
    client.discover(options_for({leaf.address()}), [&](DiscoveryResult r) {
      CHECK(r.ok());
      ++f.callbacks;
      f.client.reset();  // The second discovery is cancelled with it.
    });
  }
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.callbacks == 1);
}

TEST_CASE("driver: a callback may start the next discovery") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  Client& client = f.make_client();
  std::vector<DiscoveryResult> results;
  client.discover(options_for({leaf.address()}), [&](DiscoveryResult first) {
    results.push_back(std::move(first));
    client.discover(options_for({leaf.address()}),
                    [&](DiscoveryResult second) { results.push_back(std::move(second)); });
  });
  uv_run(&f.loop, UV_RUN_DEFAULT);
  REQUIRE(results.size() == 2);
  CHECK(results[0].ok());
  CHECK(results[1].ok());
}

TEST_CASE("driver: many discoveries at once on one client each get one callback") {
  Fixture f;
  FakeResponder& leaf = f.add_leaf("leaf-1");
  Client& client = f.make_client();
  constexpr int kCount = 20;
  int ok = 0;
  for (int i = 0; i < kCount; ++i) {
    client.discover(options_for({leaf.address()}), [&](DiscoveryResult r) {
      ++f.callbacks;
      ok += r.ok() ? 1 : 0;
    });
  }
  CHECK(client.pending() == kCount);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(f.callbacks == kCount);
  CHECK(ok == kCount);
}

TEST_CASE("blocking discover: runs its own loop (the server runs on another thread)") {
  std::promise<Endpoint> bound;
  std::atomic<bool> stop{false};
  std::thread server([&] {
    uv_loop_t loop;
    uv_loop_init(&loop);
    auto leaf = FakeResponder::open(&loop, kLoopback, {.name = "leaf-t"});
    leaf.value()->config.services = {service_at(leaf.value()->address())};
    leaf.value()->hold_loop();
    bound.set_value(leaf.value()->address());
    while (!stop) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::microseconds{200});
    }
    leaf.value()->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  });
  const Endpoint leaf = bound.get_future().get();
  DiscoverOptions o = options_for({leaf});
  o.verify = true;
  const DiscoveryResult r = discover(o);
  stop = true;
  server.join();
  REQUIRE_MESSAGE(r.ok(), r.failure);
  CHECK(r.path.at(0).name == "leaf-t");
  CHECK(r.verification.state == VerifyState::kVerified);
}

TEST_CASE("blocking discover: bad options return at once") {
  const DiscoveryResult r = discover(DiscoverOptions{});
  CHECK(r.status == Status::kInvalidOptions);
  CHECK(std::string(to_string(r.status)) == "invalid-options");
}

}  // namespace turnscout::test
