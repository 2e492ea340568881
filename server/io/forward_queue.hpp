// Control datagrams (Heartbeat, Leave, answers to our heartbeats) that a worker thread
// received, on their way to worker 0, which owns the ServerCore. Bounded: when full, or for
// a datagram larger than a slot, push() refuses and the worker counts a drop. Slots are
// allocated once; neither side allocates per datagram. Many producers, one consumer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

#include "base/address.hpp"

namespace turnscout::server {

class ForwardQueue {
 public:
  // Larger than any heartbeat or Leave this protocol produces (a few hundred bytes).
  static constexpr size_t kMaxDatagram = 1500;

  explicit ForwardQueue(size_t capacity);
  ForwardQueue(const ForwardQueue&) = delete;
  ForwardQueue& operator=(const ForwardQueue&) = delete;

  // Any thread. False when the queue is full or the datagram does not fit a slot.
  bool push(const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> bytes);

  // The consumer thread only: calls `fn(local, remote, bytes)` for every datagram queued so
  // far, in order, outside the lock (producers are never blocked by the consumer's work).
  template <typename Fn>
  void drain(Fn&& fn) {
    size_t count = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      pending_.swap(draining_);
      count = pending_count_;
      pending_count_ = 0;
    }
    for (size_t i = 0; i < count; ++i) {
      const Slot& s = draining_[i];
      fn(s.local, s.remote, std::span<const uint8_t>(s.bytes.data(), s.size));
    }
  }

 private:
  struct Slot {
    Endpoint local;
    Endpoint remote;
    size_t size = 0;
    std::array<uint8_t, kMaxDatagram> bytes;
  };

  std::mutex mutex_;
  std::vector<Slot> pending_;
  std::vector<Slot> draining_;
  size_t pending_count_ = 0;
};

}  // namespace turnscout::server
