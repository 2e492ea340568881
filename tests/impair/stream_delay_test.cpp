// StreamDelay on a fake clock: a stream's chunks leave `delay` after they came, in order,
// the first one a round trip later still (the handshake), and the queue is bounded.
#include <doctest/doctest.h>

#include <vector>

#include "tools/impair/stream_delay.hpp"

namespace turnscout::impair {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + 1000s;

std::vector<uint8_t> bytes(uint8_t tag, size_t n = 4) {
  return std::vector<uint8_t>(n, tag);
}

}  // namespace

TEST_CASE("StreamDelay: the first chunk waits a handshake more, the rest keep their order") {
  StreamDelay line(10ms, true, 1000);
  CHECK(line.next_due() == kNever);
  REQUIRE(line.push(kStart, bytes(1)));
  CHECK(line.next_due() == kStart + 30ms);  // 10 ms, plus the 20 ms round trip of the SYN.
  // A chunk right behind it would be due at 11 ms, but never overtakes the first.
  REQUIRE(line.push(kStart + 1ms, bytes(2)));
  REQUIRE(line.push(kStart + 40ms, bytes(3)));
  CHECK_FALSE(line.pop_due(kStart + 30ms - 1us));
  CHECK(line.pop_due(kStart + 30ms) == bytes(1));
  CHECK(line.pop_due(kStart + 30ms) == bytes(2));
  CHECK_FALSE(line.pop_due(kStart + 49ms));
  CHECK(line.pop_due(kStart + 50ms) == bytes(3));
  CHECK(line.next_due() == kNever);
  CHECK(line.queued_bytes() == 0);
}

TEST_CASE("StreamDelay: without a handshake every chunk takes the delay; the queue is bounded") {
  StreamDelay line(5ms, false, 10);
  REQUIRE(line.push(kStart, bytes(1, 6)));
  CHECK(line.next_due() == kStart + 5ms);
  CHECK_FALSE(line.push(kStart, bytes(2, 5)));  // 11 bytes would be over 10.
  CHECK(line.queued_bytes() == 6);
  REQUIRE(line.push(kStart, bytes(3, 4)));
  CHECK(line.pop_due(kStart + 5ms) == bytes(1, 6));
  CHECK(line.pop_due(kStart + 5ms) == bytes(3, 4));
}

}  // namespace turnscout::impair
