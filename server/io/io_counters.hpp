// What the I/O layer itself counts, per worker: datagrams the kernel refused or that never
// reached a core. Written by the worker's thread, read by the metrics endpoint.
#pragma once

#include <atomic>
#include <cstdint>

#include "base/counter.hpp"
#include "common/udp_port.hpp"

namespace turnscout::server {

struct IoCounters {
  UdpPortCounters udp;      // Of all the worker's sockets together.
  Counter forward_dropped;  // Control datagrams lost because the queue to worker 0 was full.
  // Admission buckets this worker's responder tracks (a gauge: the responder's table is
  // only readable on its own thread, so the worker copies the size here).
  std::atomic<uint64_t> admission_clients{0};
};

}  // namespace turnscout::server
