// The connections of the TCP and TLS listeners as pure state: who may connect, where each
// request ends in the bytes that arrive, and when a connection has had its time. The I/O
// layer (server/io/stream_listener.hpp) moves bytes in and replies out and closes what this
// tells it to; every limit and every reason to close is decided here, on the caller's clock.
//
// Limits (StreamConfig), each with its own counted reason:
//   max_connections open: the connection quiet longest   closed kEvicted, when it has
//     (no complete request since it opened or since its   been quiet at least
//     last one) makes room, so idle holders cannot lock   kMinQuietToEvict; otherwise
//     the port; a client's own exchange takes a round     the new one is refused kTotal
//     trip or two and is never cut short
//   more than max_per_source from one client network     refused kPerSource
//   TLS handshake not done within handshake_timeout      closed kHandshakeTimeout
//     of accept (a TLS port, or a first byte that starts TLS on a port that serves both)
//   no complete request within first_request_timeout     closed kFirstRequestTimeout
//     of accept (or of the handshake): a slow drip
//   no complete request for idle_timeout since the last  closed kIdleTimeout
//   a header that is not STUN                            closed kBadFrame
//   a header announcing over max_request_size            closed kTooLarge
//   replies queued beyond max_write_queue (a client      closed kWriteQueueFull
//     that does not read)
// Memory: at most max_connections entries, each buffering less than max_request_size.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/counter.hpp"
#include "base/result.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

using StreamId = uint64_t;

enum class StreamRefusal : uint8_t { kTotal, kPerSource, kCount };

enum class StreamEnd : uint8_t {
  kPeerClosed,           // The client closed or reset it, or a read or write failed.
  kFirstRequestTimeout,  // See the table above.
  kIdleTimeout,
  kHandshakeTimeout,
  kHandshakeFailed,  // TLS: the client's handshake was refused.
  kBadFrame,
  kTooLarge,
  kWriteQueueFull,
  kShutdown,  // The listener closed (the server stops).
  kEvicted,   // Quiet longest when the table was full and a new connection came.
  kCount,
};

// Label values for metrics and logs.
const char* stream_refusal_name(StreamRefusal r);
const char* stream_end_name(StreamEnd e);

// Read from the metrics endpoint's thread.
struct StreamCounters {
  Counter accepted;
  std::array<Counter, static_cast<size_t>(StreamRefusal::kCount)> refused;
  std::array<Counter, static_cast<size_t>(StreamEnd::kCount)> closed;
  Counter requests;               // Complete requests handed to the responder.
  std::atomic<uint64_t> open{0};  // A gauge.
};

// How long a connection must have gone without a complete request before a newcomer may
// take its place in a full table.
inline constexpr Duration kMinQuietToEvict = std::chrono::seconds{1};

class StreamTable {
 public:
  // `ipv6_prefix` groups IPv6 clients for max_per_source, as admission control does.
  StreamTable(const StreamConfig& config, uint8_t ipv6_prefix);

  // New limits for what comes next; open connections keep their deadlines until they next
  // move.
  void reconfigure(const StreamConfig& config, uint8_t ipv6_prefix);

  // A connection was accepted from `remote`: its id, or why it must be closed at once. When
  // it took the place of a quiet one, `evicted` names that one (already forgotten, counted
  // kEvicted); the caller closes it.
  Result<StreamId, StreamRefusal> open(TimePoint now, const Endpoint& remote, bool tls,
                                       std::optional<StreamId>* evicted = nullptr);
  // TLS: the handshake of `id` completed; the first request is due within
  // first_request_timeout from now.
  void handshake_done(TimePoint now, StreamId id);
  // A connection opened as TCP turned out to be TLS (its first byte, proto::starts_tls, on a
  // port that serves both): its handshake is due within handshake_timeout of the accept,
  // as on a TLS port. Only before anything else was received; false (and nothing changes)
  // otherwise.
  bool start_tls(StreamId id);

  // Takes bytes read from `id` (after TLS, plaintext) and calls `on_request(bytes)` for
  // each complete request, in order (the span is valid during the call); `on_request` may
  // return a reason to close, which ends the call. Returns why the connection must close,
  // if it must; the requests before a bad header were handled. Unknown ids: kShutdown.
  using OnRequest = std::function<std::optional<StreamEnd>(std::span<const uint8_t>)>;
  std::optional<StreamEnd> receive(TimePoint now, StreamId id, std::span<const uint8_t> bytes,
                                   const OnRequest& on_request);

  // Whether a reply of `more` bytes may be queued on `id` while `queued` bytes still wait
  // to be written; if not, the connection must close with kWriteQueueFull.
  bool may_queue(size_t queued, size_t more) const;

  // Forgets `id`, counting `why`. Unknown ids are ignored (closed twice, or expired).
  void close(StreamId id, StreamEnd why);

  // The earliest deadline of any open connection, kNever if none.
  TimePoint next_timeout() const;
  // Forgets every connection whose deadline is at or before `now` and appends it with its
  // reason to `out`; the caller closes them.
  void expire(TimePoint now, std::vector<std::pair<StreamId, StreamEnd>>& out);

  size_t size() const { return connections_.size(); }
  const StreamCounters& counters() const { return counters_; }
  const StreamConfig& config() const { return config_; }

 private:
  struct Connection {
    Endpoint remote;
    Endpoint network;  // client_network() of `remote`.
    TimePoint deadline;
    TimePoint active;    // Opened, or its last complete request.
    bool tls = false;    // Opened as TLS, or started it.
    bool heard = false;  // Has sent a complete request.
    StreamEnd deadline_reason = StreamEnd::kFirstRequestTimeout;
    std::vector<uint8_t> buffer;  // Bytes of a request not complete yet.
  };
  void received_request(TimePoint now, Connection& c);
  void forget(std::unordered_map<StreamId, Connection>::iterator it, StreamEnd why);

  StreamConfig config_;
  uint8_t ipv6_prefix_;
  StreamId next_id_ = 1;
  std::unordered_map<StreamId, Connection> connections_;
  std::unordered_map<Endpoint, uint32_t> per_network_;
  StreamCounters counters_;
};

}  // namespace turnscout::server
