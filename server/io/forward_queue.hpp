// Control datagrams (Heartbeat, Leave, answers to our heartbeats) that a worker thread
// received, on their way to worker 0, which owns the ServerCore. Two bounded lanes: one for
// datagrams from this node's children (and answers from its parents), one for strangers',
// so a flood of forged heartbeats fills only its own lane and the children's are never
// refused because of it; the children's lane is drained first. When a lane is full, or for
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
#include "server/core/responder.hpp"

namespace turnscout::server {

class ForwardQueue {
 public:
  // Larger than any heartbeat or Leave this protocol produces (a few hundred bytes).
  static constexpr size_t kMaxDatagram = kMaxControlDatagram;

  ForwardQueue(size_t known_capacity, size_t stranger_capacity);
  ForwardQueue(const ForwardQueue&) = delete;
  ForwardQueue& operator=(const ForwardQueue&) = delete;

  // Any thread. False when the datagram's lane (`known` or the strangers') is full or the
  // datagram does not fit a slot.
  bool push(const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> bytes,
            bool known);

  // The consumer thread only: calls `fn(local, remote, bytes)` for every datagram queued so
  // far, the known lane first, each in order, outside the lock (producers are never blocked
  // by the consumer's work).
  template <typename Fn>
  void drain(Fn&& fn) {
    size_t counts[2] = {0, 0};
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (size_t lane = 0; lane < 2; ++lane) {
        lanes_[lane].pending.swap(lanes_[lane].draining);
        counts[lane] = lanes_[lane].count;
        lanes_[lane].count = 0;
      }
    }
    for (size_t lane = 0; lane < 2; ++lane) {
      for (size_t i = 0; i < counts[lane]; ++i) {
        const Slot& s = lanes_[lane].draining[i];
        fn(s.local, s.remote, std::span<const uint8_t>(s.bytes.data(), s.size));
      }
    }
  }

 private:
  struct Slot {
    Endpoint local;
    Endpoint remote;
    size_t size = 0;
    std::array<uint8_t, kMaxDatagram> bytes;
  };
  struct Lane {
    std::vector<Slot> pending;
    std::vector<Slot> draining;
    size_t count = 0;  // Of `pending`.
  };

  std::mutex mutex_;
  Lane lanes_[2];  // [0]: known, [1]: strangers.
};

}  // namespace turnscout::server
