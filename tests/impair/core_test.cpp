// ImpairCore on a fake clock: exact departure times, seeded statistics, chosen packets,
// bounded queues and the session table.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/random.hpp"
#include "tools/impair/impair_core.hpp"

namespace turnscout::impair {
namespace {

// Not zero, so a core that ignored `now` would be caught.
const TimePoint kStart = TimePoint{} + 1000s;
const Endpoint kAlice = Endpoint::v4(192, 0, 2, 1, 5000);
const Endpoint kBob = Endpoint::v4(192, 0, 2, 2, 5000);
const Endpoint kCarol =
    Endpoint::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3}, 5000);

constexpr Direction kUp = Direction::kToServer;
constexpr Direction kDown = Direction::kToClient;

std::vector<uint8_t> payload(uint32_t index, size_t size = 8) {
  std::vector<uint8_t> bytes(std::max<size_t>(size, 4), 0);
  for (size_t i = 0; i < 4; ++i)
    bytes[i] = static_cast<uint8_t>(index >> (8 * i));
  return bytes;
}

uint32_t index_of_payload(const std::vector<uint8_t>& bytes) {
  uint32_t index = 0;
  for (size_t i = 0; i < 4; ++i)
    index |= static_cast<uint32_t>(bytes[i]) << (8 * i);
  return index;
}

// A core with its random source, a fake clock, and the usual driving steps.
struct Harness {
  explicit Harness(ImpairConfig config, uint64_t seed = 1) : random(seed), core(config, random) {}

  int send(Direction d, const Endpoint& client, uint32_t index, size_t size = 8) {
    return core.on_datagram(clock.now(), d, client, payload(index, size));
  }

  // Everything that leaves up to `until`, jumping the clock from one timeout to the next
  // as a driver would, and checking nothing leaves before it is due.
  std::vector<Departure> run_until(TimePoint until) {
    std::vector<Departure> out;
    for (;;) {
      const TimePoint next = core.next_timeout();
      if (next == kNever || next > until) break;
      clock.set(next);
      const size_t before = out.size();
      core.poll_due(clock.now(), out);
      for (size_t i = before; i < out.size(); ++i)
        CHECK(out[i].due <= clock.now());
    }
    clock.set(until);
    return out;
  }

  bool balanced(Direction d) const {
    const DirectionCounters& c = core.counters(d);
    return c.received + c.duplicated == c.forwarded + c.dropped() + core.queued_packets(d);
  }

  std::vector<ClientEvent> events() {
    std::vector<ClientEvent> out;
    core.poll_client_events(out);
    return out;
  }

  SeededRandom random;
  FakeClock clock;
  ImpairCore core;
};

ImpairConfig with_delays(Duration up, Duration down) {
  ImpairConfig config;
  config[kUp].delay = up;
  config[kDown].delay = down;
  return config;
}

TEST_CASE("a fixed delay is exact, separately per direction") {
  Harness h(with_delays(20ms, 35ms));
  h.clock.set(kStart);
  CHECK(h.core.next_timeout() == kNever);

  CHECK(h.send(kUp, kAlice, 1) == 1);
  h.clock.advance(3ms);
  CHECK(h.send(kDown, kAlice, 2) == 1);
  CHECK(h.core.next_timeout() == kStart + 20ms);

  std::vector<Departure> out;
  h.core.poll_due(kStart + 20ms - 1us, out);
  CHECK(out.empty());
  h.core.poll_due(kStart + 20ms, out);
  REQUIRE(out.size() == 1);
  CHECK(out[0].due == kStart + 20ms);
  CHECK(out[0].direction == kUp);
  CHECK(out[0].client == kAlice);
  CHECK(out[0].bytes == payload(1));
  CHECK(h.core.next_timeout() == kStart + 38ms);

  out.clear();
  h.core.poll_due(kStart + 50ms, out);  // Late polls hand out the scheduled time.
  REQUIRE(out.size() == 1);
  CHECK(out[0].due == kStart + 38ms);
  CHECK(out[0].direction == kDown);
  CHECK(h.core.counters(kUp).forwarded == 1);
  CHECK(h.core.counters(kDown).forwarded == 1);
  CHECK(h.balanced(kUp));
  CHECK(h.balanced(kDown));
}

TEST_CASE("no delay: due at once, in arrival order") {
  Harness h(ImpairConfig{});
  h.clock.set(kStart);
  for (uint32_t i = 0; i < 5; ++i)
    h.send(kUp, kAlice, i);
  CHECK(h.core.next_timeout() == kStart);
  std::vector<Departure> out;
  h.core.poll_due(kStart, out);
  REQUIRE(out.size() == 5);
  for (uint32_t i = 0; i < 5; ++i)
    CHECK(index_of_payload(out[i].bytes) == i);
}

TEST_CASE("jitter stays within [delay, delay + jitter] and covers it") {
  ImpairConfig config = with_delays(10ms, 10ms);
  config[kUp].jitter = 4ms;
  config[kUp].max_queued_packets = 10000;
  Harness h(config, 7);
  h.clock.set(kStart);
  constexpr int kCount = 2000;
  for (int i = 0; i < kCount; ++i)
    h.send(kUp, kAlice, static_cast<uint32_t>(i));
  const auto out = h.run_until(kStart + 1s);
  REQUIRE(out.size() == kCount);
  Duration low = Duration::max();
  Duration high = Duration::min();
  double sum = 0;
  for (const Departure& d : out) {
    const Duration extra = d.due - kStart - 10ms;
    low = std::min(low, extra);
    high = std::max(high, extra);
    sum += static_cast<double>(extra.count());
  }
  CHECK(low >= 0us);
  CHECK(high <= 4ms);
  // 2000 uniform draws over 4001 values: both ends come within 1% of the range.
  CHECK(low <= 40us);
  CHECK(high >= 3960us);
  // Mean 2000 us, standard error 1155 / sqrt(2000) = 26 us: a 5-sigma band.
  CHECK(std::abs(sum / kCount - 2000.0) < 130.0);
}

TEST_CASE("jitter reorders unless the direction is FIFO") {
  for (bool reorder : {true, false}) {
    CAPTURE(reorder);
    ImpairConfig config = with_delays(5ms, 5ms);
    config[kUp].jitter = 3ms;
    config[kUp].reorder = reorder;
    Harness h(config, 11);
    h.clock.set(kStart);
    for (uint32_t i = 0; i < 200; ++i) {
      h.send(kUp, kAlice, i);
      h.clock.advance(100us);
    }
    const auto out = h.run_until(kStart + 1s);
    REQUIRE(out.size() == 200);
    size_t overtaken = 0;
    for (size_t i = 1; i < out.size(); ++i) {
      CHECK(out[i].due >= out[i - 1].due);
      if (index_of_payload(out[i].bytes) < index_of_payload(out[i - 1].bytes)) ++overtaken;
    }
    if (reorder) {
      // Sent 100 us apart with up to 3 ms of jitter: most neighbours swap places.
      CHECK(overtaken > 50);
    } else {
      CHECK(overtaken == 0);
      // FIFO never makes a datagram early, and a held-back one leaves with the one ahead.
      for (const Departure& d : out)
        CHECK(d.due >= kStart + 5ms + std::chrono::microseconds(index_of_payload(d.bytes) * 100));
    }
  }
}

TEST_CASE("the same seed gives the same departures; another seed does not") {
  auto times = [](uint64_t seed) {
    ImpairConfig config = with_delays(1ms, 1ms);
    config[kUp].jitter = 10ms;
    config[kUp].loss = 0.2;
    Harness h(config, seed);
    h.clock.set(kStart);
    for (uint32_t i = 0; i < 100; ++i)
      h.send(kUp, kAlice, i);
    std::vector<TimePoint> out;
    for (const Departure& d : h.run_until(kStart + 1s))
      out.push_back(d.due);
    return out;
  };
  CHECK(times(5) == times(5));
  CHECK(times(5) != times(6));
}

TEST_CASE("loss drops a binomial share, per direction") {
  ImpairConfig config;
  config[kUp].loss = 0.1;
  config[kDown].loss = 0.5;
  config[kUp].max_queued_packets = 100000;
  config[kDown].max_queued_packets = 100000;
  Harness h(config, 3);
  h.clock.set(kStart);
  constexpr int kCount = 10000;
  for (int i = 0; i < kCount; ++i) {
    h.send(kUp, kAlice, static_cast<uint32_t>(i));
    h.send(kDown, kAlice, static_cast<uint32_t>(i));
  }
  // Binomial(10000, p) within 5 standard deviations: 30 for p = 0.1, 50 for p = 0.5.
  const auto up = h.core.counters(kUp);
  const auto down = h.core.counters(kDown);
  CHECK(up.received == kCount);
  CHECK(up.dropped_loss > 850);
  CHECK(up.dropped_loss < 1150);
  CHECK(down.dropped_loss > 4750);
  CHECK(down.dropped_loss < 5250);
  h.run_until(kStart + 1s);
  CHECK(h.core.counters(kUp).forwarded == kCount - up.dropped_loss);
  CHECK(h.balanced(kUp));
  CHECK(h.balanced(kDown));
}

TEST_CASE("loss 0 and 1 take no chances") {
  ImpairConfig config;
  config[kUp].loss = 1.0;
  Harness h(config);
  h.clock.set(kStart);
  for (uint32_t i = 0; i < 100; ++i) {
    CHECK(h.send(kUp, kAlice, i) == 0);
    CHECK(h.send(kDown, kAlice, i) == 1);
  }
  CHECK(h.core.counters(kUp).dropped_loss == 100);
  CHECK(h.core.counters(kDown).dropped() == 0);
}

TEST_CASE("random duplicates leave twice, each copy with its own jitter") {
  ImpairConfig config = with_delays(2ms, 2ms);
  config[kUp].duplicate = 0.25;
  config[kUp].jitter = 1ms;
  config[kUp].max_queued_packets = 10000;
  Harness h(config, 9);
  h.clock.set(kStart);
  constexpr int kCount = 4000;
  for (int i = 0; i < kCount; ++i)
    h.send(kUp, kAlice, static_cast<uint32_t>(i));
  const auto out = h.run_until(kStart + 1s);
  const uint64_t duplicated = h.core.counters(kUp).duplicated;
  // Binomial(4000, 0.25): standard deviation 27, a 5-sigma band.
  CHECK(duplicated > 865);
  CHECK(duplicated < 1135);
  CHECK(out.size() == kCount + duplicated);
  CHECK(h.core.counters(kUp).forwarded == kCount + duplicated);
  CHECK(h.balanced(kUp));
}

TEST_CASE("drop-nth drops exactly the Nth datagram of each client") {
  ImpairConfig config;
  config[kUp].rules.push_back(PacketRule::drop_nth(3));
  config[kDown].rules.push_back(PacketRule::drop_nth(1));
  Harness h(config);
  h.clock.set(kStart);
  for (uint32_t i = 1; i <= 5; ++i) {
    CHECK(h.send(kUp, kAlice, i) == (i == 3 ? 0 : 1));
    CHECK(h.send(kUp, kBob, 100 + i) == (i == 3 ? 0 : 1));
  }
  CHECK(h.send(kDown, kAlice, 1) == 0);
  CHECK(h.send(kDown, kAlice, 2) == 1);
  CHECK(h.send(kDown, kBob, 1) == 0);
  CHECK(h.core.counters(kUp).dropped_rule == 2);
  CHECK(h.core.counters(kDown).dropped_rule == 2);
  CHECK(h.core.counters(kUp).dropped_loss == 0);

  std::vector<uint32_t> alice;
  for (const Departure& d : h.run_until(kStart + 1s))
    if (d.direction == kUp && d.client == kAlice) alice.push_back(index_of_payload(d.bytes));
  CHECK(alice == std::vector<uint32_t>{1, 2, 4, 5});
}

TEST_CASE("drop-nth per direction counts all clients together") {
  ImpairConfig config;
  config[kUp].rules.push_back(PacketRule::drop_nth(2, Ordinal::kPerDirection));
  Harness h(config);
  h.clock.set(kStart);
  CHECK(h.send(kUp, kAlice, 1) == 1);
  CHECK(h.send(kUp, kBob, 1) == 0);  // The second datagram to the server overall.
  CHECK(h.send(kUp, kAlice, 2) == 1);
  CHECK(h.send(kUp, kBob, 2) == 1);
}

TEST_CASE("duplicate-nth duplicates exactly the Nth, even under total loss") {
  ImpairConfig config = with_delays(1ms, 1ms);
  config[kUp].rules.push_back(PacketRule::duplicate_nth(2));
  config[kUp].loss = 1.0;  // Chosen packets skip the random draws.
  Harness h(config);
  h.clock.set(kStart);
  CHECK(h.send(kUp, kAlice, 1) == 0);
  CHECK(h.send(kUp, kAlice, 2) == 2);
  CHECK(h.send(kUp, kAlice, 3) == 0);
  const auto out = h.run_until(kStart + 1s);
  REQUIRE(out.size() == 2);
  CHECK(out[0].bytes == payload(2));
  CHECK(out[1].bytes == payload(2));
  CHECK(out[0].due == kStart + 1ms);
  CHECK(h.core.counters(kUp).duplicated == 1);
  CHECK(h.balanced(kUp));
}

TEST_CASE("prefix and predicate rules drop every match; drop wins over duplicate") {
  ImpairConfig config;
  config[kUp].rules.push_back(PacketRule::drop_prefix({0x00, 0x01}));
  config[kUp].rules.push_back(
      PacketRule::drop_if([](std::span<const uint8_t> b) { return b.size() > 100; }));
  config[kUp].rules.push_back(PacketRule::duplicate_nth(1));
  Harness h(config);
  h.clock.set(kStart);
  const std::vector<uint8_t> binding = {0x00, 0x01, 0x00, 0x00};
  const std::vector<uint8_t> other = {0x01, 0x01, 0x00, 0x00};
  const std::vector<uint8_t> short_prefix = {0x00};
  CHECK(h.core.on_datagram(kStart, kUp, kAlice, binding) == 0);  // First, but dropped.
  CHECK(h.core.on_datagram(kStart, kUp, kAlice, other) == 1);
  CHECK(h.core.on_datagram(kStart, kUp, kAlice, short_prefix) == 1);
  CHECK(h.core.on_datagram(kStart, kUp, kAlice, std::vector<uint8_t>(101)) == 0);
  CHECK(h.core.on_datagram(kStart, kUp, kAlice, std::vector<uint8_t>(100)) == 1);
  CHECK(h.core.counters(kUp).dropped_rule == 2);
  CHECK(h.core.counters(kUp).duplicated == 0);
}

TEST_CASE("a full queue drops and counts; it is bounded in packets and in bytes") {
  ImpairConfig config = with_delays(10ms, 10ms);
  config[kUp].max_queued_packets = 3;
  config[kDown].max_queued_bytes = 250;
  Harness h(config);
  h.clock.set(kStart);
  for (uint32_t i = 0; i < 5; ++i)
    h.send(kUp, kAlice, i);
  CHECK(h.core.queued_packets(kUp) == 3);
  CHECK(h.core.counters(kUp).dropped_overflow == 2);

  CHECK(h.send(kDown, kAlice, 0, 100) == 1);
  CHECK(h.send(kDown, kAlice, 1, 100) == 1);
  CHECK(h.send(kDown, kAlice, 2, 100) == 0);  // 300 bytes would not fit.
  CHECK(h.send(kDown, kAlice, 3, 50) == 1);   // 250 does.
  CHECK(h.core.queued_bytes(kDown) == 250);
  CHECK(h.core.counters(kDown).dropped_overflow == 1);

  // Room comes back as the queue drains.
  h.run_until(kStart + 10ms);
  CHECK(h.core.queued_packets(kUp) == 0);
  CHECK(h.core.queued_bytes(kDown) == 0);
  CHECK(h.send(kUp, kAlice, 9) == 1);
  CHECK(h.balanced(kUp));
  CHECK(h.balanced(kDown));
}

TEST_CASE("a duplicate that does not fit is counted as overflow") {
  ImpairConfig config = with_delays(1ms, 1ms);
  config[kUp].max_queued_packets = 1;
  config[kUp].rules.push_back(PacketRule::duplicate_nth(1));
  Harness h(config);
  h.clock.set(kStart);
  CHECK(h.send(kUp, kAlice, 1) == 1);
  CHECK(h.core.counters(kUp).duplicated == 1);
  CHECK(h.core.counters(kUp).dropped_overflow == 1);
  CHECK(h.balanced(kUp));
}

TEST_CASE("sessions open on the first datagram to the server") {
  Harness h(with_delays(5ms, 5ms));
  h.clock.set(kStart);
  CHECK(h.send(kDown, kAlice, 1) == 0);  // Nobody asked: stale.
  CHECK(h.core.counters(kDown).dropped_stale == 1);
  CHECK(h.events().empty());

  h.send(kUp, kAlice, 1);
  h.send(kUp, kAlice, 2);
  h.send(kUp, kCarol, 1);
  CHECK(h.events() == std::vector<ClientEvent>{{ClientEvent::Kind::kOpened, kAlice},
                                               {ClientEvent::Kind::kOpened, kCarol}});
  CHECK(h.events().empty());
  CHECK(h.core.client_count() == 2);
  CHECK(h.send(kDown, kCarol, 1) == 1);
  CHECK(h.core.client_counters().opened == 2);
}

TEST_CASE("a full table closes the least recently active session") {
  ImpairConfig config;
  config.max_clients = 2;
  Harness h(config);
  h.clock.set(kStart);
  h.send(kUp, kAlice, 1);
  h.clock.advance(1ms);
  h.send(kUp, kBob, 1);
  h.clock.advance(1ms);
  h.send(kDown, kAlice, 1);  // Alice is now more recent than Bob.
  h.events();
  h.send(kUp, kCarol, 1);
  CHECK(h.events() == std::vector<ClientEvent>{{ClientEvent::Kind::kClosed, kBob},
                                               {ClientEvent::Kind::kOpened, kCarol}});
  CHECK(h.core.has_client(kAlice));
  CHECK(!h.core.has_client(kBob));
  CHECK(h.core.client_counters().closed_full == 1);
  // Bob's queued datagram belongs to a closed session: stale, not sent.
  const auto out = h.run_until(kStart + 1s);
  CHECK(std::none_of(out.begin(), out.end(), [](const Departure& d) { return d.client == kBob; }));
  CHECK(h.core.counters(kUp).dropped_stale == 1);
  CHECK(h.balanced(kUp));
}

TEST_CASE("an idle session closes exactly at the idle timeout; traffic keeps it open") {
  ImpairConfig config = with_delays(10ms, 10ms);
  config.client_idle_timeout = 500ms;
  Harness h(config);
  h.clock.set(kStart);
  h.send(kUp, kAlice, 1);
  h.run_until(kStart + 100ms);
  h.send(kUp, kBob, 1);
  h.events();
  // Alice's datagram left at +10 ms, which counts as activity: she idles out at +510 ms.
  h.run_until(kStart + 510ms - 1us);
  CHECK(h.core.has_client(kAlice));
  CHECK(h.core.next_timeout() == kStart + 510ms);
  h.run_until(kStart + 510ms);
  CHECK(!h.core.has_client(kAlice));
  CHECK(h.core.has_client(kBob));
  CHECK(h.events() == std::vector<ClientEvent>{{ClientEvent::Kind::kClosed, kAlice}});

  h.send(kDown, kBob, 2);  // A reply at +510 ms leaves at +520 ms.
  h.run_until(kStart + 1019ms);
  CHECK(h.core.has_client(kBob));
  h.run_until(kStart + 1020ms);
  CHECK(h.core.client_count() == 0);
  CHECK(h.core.client_counters().closed_idle == 2);
  CHECK(h.core.next_timeout() == kNever);
}

TEST_CASE("a reopened session restarts per-client numbering and drops the old queue") {
  ImpairConfig config = with_delays(10ms, 10ms);
  config[kUp].rules.push_back(PacketRule::drop_nth(1));
  Harness h(config);
  h.clock.set(kStart);
  CHECK(h.send(kUp, kAlice, 1) == 0);
  CHECK(h.send(kUp, kAlice, 2) == 1);
  h.core.forget_client(kAlice);
  CHECK(h.events() == std::vector<ClientEvent>{{ClientEvent::Kind::kOpened, kAlice}});
  CHECK(h.send(kUp, kAlice, 3) == 0);  // First of the new session.
  CHECK(h.send(kUp, kAlice, 4) == 1);
  const auto out = h.run_until(kStart + 1s);
  REQUIRE(out.size() == 1);
  CHECK(out[0].bytes == payload(4));
  CHECK(h.core.counters(kUp).dropped_stale == 1);
  CHECK(h.core.client_counters().forgotten == 1);
  CHECK(h.balanced(kUp));
}

TEST_CASE("validate names the first bad field") {
  CHECK(validate(ImpairConfig{}).ok());
  ImpairConfig config;
  config[kDown].loss = 1.5;
  auto result = validate(config);
  REQUIRE(!result.ok());
  CHECK(result.error() == "to-client loss must be in [0, 1], got 1.5");

  config = ImpairConfig{};
  config[kUp].duplicate = std::nan("");
  CHECK(!validate(config).ok());
  config = ImpairConfig{};
  config[kUp].jitter = -1us;
  CHECK(!validate(config).ok());
  config = ImpairConfig{};
  config[kUp].max_queued_bytes = 0;
  CHECK(!validate(config).ok());
  config = ImpairConfig{};
  config.max_clients = 0;
  CHECK(!validate(config).ok());
  config = ImpairConfig{};
  config.client_idle_timeout = 1s;
  config[kUp].delay = 600ms;
  config[kUp].jitter = 400ms;
  result = validate(config);
  REQUIRE(!result.ok());
  CHECK(result.error() == "client idle timeout 1s must exceed to-server delay + jitter 1s");
}

}  // namespace
}  // namespace turnscout::impair
