#include "server/core/stream_table.hpp"

#include <algorithm>

#include "proto/stream_framing.hpp"
#include "server/core/admission.hpp"

namespace turnscout::server {
namespace {

constexpr size_t index(StreamEnd e) {
  return static_cast<size_t>(e);
}

// The header's first four bytes hold the length: until they are in, ask for them only.
size_t wanted_size(std::span<const uint8_t> buffered) {
  if (buffered.size() < 4) return 4;
  return 20 + ((size_t{buffered[2]} << 8) | buffered[3]);
}

// A complete request's size, 0 if it needs more bytes, or the reason to close.
Result<size_t, StreamEnd> frame(std::span<const uint8_t> bytes, size_t max_request_size) {
  const proto::Frame f = proto::next_frame(bytes, max_request_size);
  switch (f.status) {
    case proto::FrameStatus::kComplete:
      return f.size;
    case proto::FrameStatus::kNeedMore:
      return size_t{0};
    case proto::FrameStatus::kTooLarge:
      return unexpected(StreamEnd::kTooLarge);
    case proto::FrameStatus::kInvalid:
      break;
  }
  return unexpected(StreamEnd::kBadFrame);
}

}  // namespace

const char* stream_refusal_name(StreamRefusal r) {
  switch (r) {
    case StreamRefusal::kTotal:
      return "max_connections";
    case StreamRefusal::kPerSource:
      return "max_per_source";
    case StreamRefusal::kCount:
      break;
  }
  return "unknown";
}

const char* stream_end_name(StreamEnd e) {
  switch (e) {
    case StreamEnd::kPeerClosed:
      return "peer_closed";
    case StreamEnd::kFirstRequestTimeout:
      return "first_request_timeout";
    case StreamEnd::kIdleTimeout:
      return "idle_timeout";
    case StreamEnd::kHandshakeTimeout:
      return "handshake_timeout";
    case StreamEnd::kHandshakeFailed:
      return "handshake_failed";
    case StreamEnd::kBadFrame:
      return "bad_frame";
    case StreamEnd::kTooLarge:
      return "too_large";
    case StreamEnd::kWriteQueueFull:
      return "write_queue_full";
    case StreamEnd::kShutdown:
      return "shutdown";
    case StreamEnd::kEvicted:
      return "evicted";
    case StreamEnd::kCount:
      break;
  }
  return "unknown";
}

StreamTable::StreamTable(const StreamConfig& config, uint8_t ipv6_prefix)
    : config_(config), ipv6_prefix_(ipv6_prefix) {}

void StreamTable::reconfigure(const StreamConfig& config, uint8_t ipv6_prefix) {
  config_ = config;
  if (ipv6_prefix == ipv6_prefix_) return;
  ipv6_prefix_ = ipv6_prefix;
  // Group the open connections by the new prefix, so closing them balances the counts.
  per_network_.clear();
  for (auto& [id, c] : connections_) {
    c.network = client_network(c.remote, ipv6_prefix_);
    ++per_network_[c.network];
  }
}

Result<StreamId, StreamRefusal> StreamTable::open(TimePoint now, const Endpoint& remote, bool tls,
                                                  std::optional<StreamId>* evicted) {
  const Endpoint network = client_network(remote, ipv6_prefix_);
  if (const auto n = per_network_.find(network);
      n != per_network_.end() && n->second >= config_.max_per_source) {
    counters_.refused[static_cast<size_t>(StreamRefusal::kPerSource)].add();
    return unexpected(StreamRefusal::kPerSource);
  }
  if (connections_.size() >= config_.max_connections) {
    // Full: the connection quiet longest gives way, if it has been quiet long enough. One
    // address cannot do this to more than max_per_source of its own at a time, and what it
    // evicts are idle holders, never an exchange in progress.
    auto quietest = connections_.end();
    for (auto it = connections_.begin(); it != connections_.end(); ++it) {
      if (quietest == connections_.end() || it->second.active < quietest->second.active) {
        quietest = it;
      }
    }
    if (quietest == connections_.end() || now - quietest->second.active < kMinQuietToEvict) {
      counters_.refused[static_cast<size_t>(StreamRefusal::kTotal)].add();
      return unexpected(StreamRefusal::kTotal);
    }
    if (evicted != nullptr) *evicted = quietest->first;
    forget(quietest, StreamEnd::kEvicted);
  }
  ++per_network_[network];
  const StreamId id = next_id_++;
  Connection& c = connections_[id];
  c.remote = remote;
  c.network = network;
  c.active = now;
  c.tls = tls;
  if (tls) {
    c.deadline = now + config_.handshake_timeout;
    c.deadline_reason = StreamEnd::kHandshakeTimeout;
  } else {
    c.deadline = now + config_.first_request_timeout;
    c.deadline_reason = StreamEnd::kFirstRequestTimeout;
  }
  counters_.accepted.add();
  counters_.open.store(connections_.size(), std::memory_order_relaxed);
  return id;
}

void StreamTable::handshake_done(TimePoint now, StreamId id) {
  const auto it = connections_.find(id);
  if (it == connections_.end() || it->second.deadline_reason != StreamEnd::kHandshakeTimeout) {
    return;
  }
  it->second.deadline = now + config_.first_request_timeout;
  it->second.deadline_reason = StreamEnd::kFirstRequestTimeout;
}

bool StreamTable::start_tls(StreamId id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return false;
  Connection& c = it->second;
  if (c.tls || c.heard || !c.buffer.empty()) return false;
  c.tls = true;
  // From the accept, as on a TLS port: waiting to send the first byte buys no time.
  c.deadline = c.active + config_.handshake_timeout;
  c.deadline_reason = StreamEnd::kHandshakeTimeout;
  return true;
}

void StreamTable::received_request(TimePoint now, Connection& c) {
  counters_.requests.add();
  c.heard = true;
  c.active = now;
  c.deadline = now + config_.idle_timeout;
  c.deadline_reason = StreamEnd::kIdleTimeout;
}

std::optional<StreamEnd> StreamTable::receive(TimePoint now, StreamId id,
                                              std::span<const uint8_t> bytes,
                                              const OnRequest& on_request) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return StreamEnd::kShutdown;
  Connection& c = it->second;
  // A TLS connection sends requests only once its handshake is done.
  if (c.deadline_reason == StreamEnd::kHandshakeTimeout) return StreamEnd::kBadFrame;
  const size_t limit = config_.max_request_size;
  for (;;) {
    if (c.buffer.empty()) {
      // Requests that arrive whole are handled where they lie.
      const auto size = frame(bytes, limit);
      if (!size) return size.error();
      if (*size == 0) {
        // Less than one request, so less than `limit` bytes (or its header said too much).
        c.buffer.assign(bytes.begin(), bytes.end());
        return std::nullopt;
      }
      received_request(now, c);
      if (auto end = on_request(bytes.first(*size))) return end;
      bytes = bytes.subspan(*size);
      if (bytes.empty()) return std::nullopt;
      continue;
    }
    if (bytes.empty()) return std::nullopt;
    // Top the partial request up with no more than it still needs.
    const size_t want = wanted_size(c.buffer) - c.buffer.size();
    const size_t take = std::min(want, bytes.size());
    c.buffer.insert(c.buffer.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(take));
    bytes = bytes.subspan(take);
    const auto size = frame(c.buffer, limit);
    if (!size) return size.error();
    if (*size == 0) continue;
    received_request(now, c);
    const std::vector<uint8_t> request = std::exchange(c.buffer, {});
    if (auto end = on_request(request)) return end;
  }
}

bool StreamTable::may_queue(size_t queued, size_t more) const {
  return queued + more <= config_.max_write_queue;
}

void StreamTable::close(StreamId id, StreamEnd why) {
  const auto it = connections_.find(id);
  if (it != connections_.end()) forget(it, why);
}

void StreamTable::forget(std::unordered_map<StreamId, Connection>::iterator it, StreamEnd why) {
  const auto n = per_network_.find(it->second.network);
  if (n != per_network_.end() && --n->second == 0) per_network_.erase(n);
  connections_.erase(it);
  counters_.closed[index(why)].add();
  counters_.open.store(connections_.size(), std::memory_order_relaxed);
}

TimePoint StreamTable::next_timeout() const {
  TimePoint next = kNever;
  for (const auto& [id, c] : connections_)
    next = std::min(next, c.deadline);
  return next;
}

void StreamTable::expire(TimePoint now, std::vector<std::pair<StreamId, StreamEnd>>& out) {
  for (auto it = connections_.begin(); it != connections_.end();) {
    const auto next = std::next(it);
    if (it->second.deadline <= now) {
      out.emplace_back(it->first, it->second.deadline_reason);
      forget(it, it->second.deadline_reason);
    }
    it = next;
  }
}

}  // namespace turnscout::server
