#include "server/core/counters.hpp"

namespace turnscout::server {

const char* to_string(RequestKind kind) {
  switch (kind) {
    case RequestKind::kProbe:
      return "probe";
    case RequestKind::kBinding:
      return "binding";
    case RequestKind::kHeartbeat:
      return "heartbeat";
    case RequestKind::kLeave:
      return "leave";
    case RequestKind::kOther:
      return "other";
    case RequestKind::kCount:
      break;
  }
  return "unknown";
}

const char* to_string(DropReason reason) {
  switch (reason) {
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kRateLimited:
      return "rate_limited";
    case DropReason::kAuth:
      return "auth";
    case DropReason::kAmplification:
      return "amplification";
    case DropReason::kNotReady:
      return "not_ready";
    case DropReason::kUnexpected:
      return "unexpected";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

void WorkerCounters::reply(size_t bytes) {
  replies.add();
  reply_bytes.add(bytes);
  size_t bucket = 0;
  while (bucket < kReplySizeBuckets.size() && bytes > kReplySizeBuckets[bucket])
    ++bucket;
  reply_size_buckets[bucket].add();
}

}  // namespace turnscout::server
