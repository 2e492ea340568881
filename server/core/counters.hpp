// Counters one thread increments and the metrics endpoint reads from another. Relaxed
// atomics: each counter is written by a single thread, so this costs no more than a plain
// increment and keeps the reader free of data races.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/counter.hpp"

namespace turnscout::server {

enum class RequestKind : uint8_t { kProbe, kBinding, kHeartbeat, kLeave, kOther, kCount };
enum class DropReason : uint8_t {
  kMalformed,      // Did not decode (never answered).
  kRateLimited,    // Admission control.
  kAuth,           // Heartbeat/Leave failed integrity, timestamp or acceptance checks.
  kAmplification,  // The answer would have been larger than the request.
  kNotReady,       // Probe or Binding before the node has its first snapshot.
  kUnexpected,     // Decoded, but not something this node answers (e.g. a stray response).
  kCount
};

const char* to_string(RequestKind kind);
const char* to_string(DropReason reason);

// Reply size buckets (bytes, upper bounds) for the reply-size histogram. Each counter holds
// the replies of its own bucket only (size in (previous bound, bound]); the exporter sums
// them into Prometheus' cumulative `le` buckets.
inline constexpr std::array<uint32_t, 6> kReplySizeBuckets = {64, 128, 256, 512, 1024, 1500};

struct WorkerCounters {
  std::array<Counter, static_cast<size_t>(RequestKind::kCount)> requests;
  std::array<Counter, static_cast<size_t>(DropReason::kCount)> drops;
  Counter replies;
  std::array<Counter, kReplySizeBuckets.size() + 1> reply_size_buckets;  // Last: +Inf.
  Counter reply_bytes;
  Counter truncated_replies;

  void request(RequestKind k) { requests[static_cast<size_t>(k)].add(); }
  void drop(DropReason r) { drops[static_cast<size_t>(r)].add(); }
  void reply(size_t bytes);
};

}  // namespace turnscout::server
