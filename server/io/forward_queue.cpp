#include "server/io/forward_queue.hpp"

#include <algorithm>

namespace turnscout::server {

ForwardQueue::ForwardQueue(size_t capacity) : pending_(capacity), draining_(capacity) {}

bool ForwardQueue::push(const Endpoint& local, const Endpoint& remote,
                        std::span<const uint8_t> bytes) {
  if (bytes.size() > kMaxDatagram) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_count_ == pending_.size()) return false;
  Slot& s = pending_[pending_count_++];
  s.local = local;
  s.remote = remote;
  s.size = bytes.size();
  std::copy(bytes.begin(), bytes.end(), s.bytes.begin());
  return true;
}

}  // namespace turnscout::server
