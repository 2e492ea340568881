#include "tools/impair/stream_delay.hpp"

#include <algorithm>

namespace turnscout::impair {

StreamDelay::StreamDelay(Duration delay, bool handshake, size_t max_bytes)
    : delay_(delay), handshake_(handshake), max_bytes_(max_bytes) {}

bool StreamDelay::push(TimePoint now, std::span<const uint8_t> bytes) {
  if (!has_room(bytes.size())) return false;
  TimePoint due = now + delay_;
  if (first_ && handshake_) due += 2 * delay_;
  first_ = false;
  due = std::max(due, last_due_);
  last_due_ = due;
  queue_.push_back(Chunk{due, std::vector<uint8_t>(bytes.begin(), bytes.end())});
  queued_bytes_ += bytes.size();
  return true;
}

std::optional<std::vector<uint8_t>> StreamDelay::pop_due(TimePoint now) {
  if (queue_.empty() || queue_.front().due > now) return std::nullopt;
  std::vector<uint8_t> bytes = std::move(queue_.front().bytes);
  queue_.pop_front();
  queued_bytes_ -= bytes.size();
  return bytes;
}

TimePoint StreamDelay::next_due() const {
  return queue_.empty() ? kNever : queue_.front().due;
}

}  // namespace turnscout::impair
