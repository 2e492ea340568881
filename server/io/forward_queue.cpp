#include "server/io/forward_queue.hpp"

#include <algorithm>

namespace turnscout::server {

ForwardQueue::ForwardQueue(size_t known_capacity, size_t stranger_capacity) {
  lanes_[0].pending.resize(known_capacity);
  lanes_[0].draining.resize(known_capacity);
  lanes_[1].pending.resize(stranger_capacity);
  lanes_[1].draining.resize(stranger_capacity);
}

bool ForwardQueue::push(const Endpoint& local, const Endpoint& remote,
                        std::span<const uint8_t> bytes, bool known) {
  if (bytes.size() > kMaxDatagram) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  Lane& lane = lanes_[known ? 0 : 1];
  if (lane.count == lane.pending.size()) return false;
  Slot& s = lane.pending[lane.count++];
  s.local = local;
  s.remote = remote;
  s.size = bytes.size();
  std::copy(bytes.begin(), bytes.end(), s.bytes.begin());
  return true;
}

}  // namespace turnscout::server
