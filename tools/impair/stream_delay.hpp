// The decisions of the TCP delay proxy, with no sockets and no clock: when each chunk of a
// stream may leave. A stream keeps its order, so a chunk leaves `delay` after it arrived
// but never before the chunk ahead of it; the first chunk of a connection also waits one
// round trip more (2 x delay), the handshake a client across that distance would have
// made before it could send anything. Bounded: past `max_bytes` queued, push() refuses (the
// adapter then closes the connection).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "base/clock.hpp"

namespace turnscout::impair {

class StreamDelay {
 public:
  StreamDelay(Duration delay, bool handshake, size_t max_bytes);

  // Queues `bytes` arrived at `now`; false (nothing queued) when over max_bytes.
  bool push(TimePoint now, std::span<const uint8_t> bytes);
  // The next chunk due at or before `now`, in order.
  std::optional<std::vector<uint8_t>> pop_due(TimePoint now);
  // When the next chunk is due; kNever when none is queued.
  TimePoint next_due() const;
  size_t queued_bytes() const { return queued_bytes_; }
  bool has_room(size_t more) const { return queued_bytes_ + more <= max_bytes_; }

 private:
  struct Chunk {
    TimePoint due;
    std::vector<uint8_t> bytes;
  };
  Duration delay_;
  bool first_ = true;  // The next chunk is the connection's first (with `handshake`).
  bool handshake_;
  size_t max_bytes_;
  size_t queued_bytes_ = 0;
  TimePoint last_due_{};
  std::deque<Chunk> queue_;
};

}  // namespace turnscout::impair
