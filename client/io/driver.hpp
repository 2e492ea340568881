// The libuv driver of the client's Prober. It moves bytes, time and names between a loop
// and the core, and decides nothing about the protocol:
// - one UDP socket per address family, opened on first use; every datagram received goes
//   to Prober::on_datagram, every datagram the core queues leaves from the socket of its
//   remote's family; a send the kernel refuses as unreachable becomes on_unreachable;
// - what the core queues with Transport::kTcp goes on a TCP connection to its remote
//   (tcp_links.hpp), and each message read back to Prober::on_stream_message; connections
//   close once answered, and all of them when no discovery is left; Transport::kTls the
//   same inside TLS, with a client context per trust setting (common/tls.hpp);
// - one timer, re-armed after every core call to Prober::next_timeout() (or "now" when
//   results wait); time is steady_now() (base/clock.hpp), the monotonic clock;
// - the core's poll_resolve() requests (root names, TURN server names) are looked up with
//   uv_getaddrinfo and answered with on_resolved();
// - results are queued and handed to the callbacks from the timer callback, outside any
//   core call and never from inside discover().
//
// Lifetime and threading: as turnscout::Client (client/include/turnscout/client.hpp), which
// is a thin wrapper around this class.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/random.hpp"
#include "client/core/prober.hpp"
#include "client/io/name_lookup.hpp"
#include "client/io/tcp_links.hpp"
#include "common/udp_port.hpp"

namespace turnscout::client {

using RequestId = uint64_t;

struct DriverCounters {
  uint64_t send_errors = 0;  // Refused by the kernel for a reason other than unreachable.
  uint64_t unreachable = 0;  // Reported to the core as unreachable.
  uint64_t lookups = 0;
  uint64_t timer_wakeups = 0;
};

class Driver final : private UdpPortHandler {
 public:
  // The core's result as it is. A request turned down before anything was sent (bad
  // options) is answered too, with Status::kInvalidOptions and the reason in `failure`.
  using Callback = std::function<void(DiscoveryResult result)>;
  // Each hop as its level is won, before the result (DiscoverOptions::report_hops).
  using HopCallback = std::function<void(const Hop& hop)>;

  Driver(uv_loop_t* loop, ProberConfig config);
  ~Driver() override;
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  RequestId discover(DiscoverOptions options, Callback callback, HopCallback on_hop = nullptr);
  bool cancel(RequestId id);
  // Ends a discovery now: its callback runs (from the loop) with Status::kCancelled and what
  // was found so far. False when unknown or its result is already on its way.
  bool stop(RequestId id);
  // Requests whose callback has not run.
  size_t pending() const;

  const Prober& prober() const { return prober_; }
  const DriverCounters& counters() const { return counters_; }

 private:
  friend struct DriverCallbacks;
  struct Pending {
    RequestId id = 0;
    DiscoveryId discovery = 0;
    Callback callback;
    HopCallback on_hop;
  };
  // A callback to run: a result (the request's last), or a hop before it.
  struct Ready {
    RequestId id = 0;
    Callback callback;
    DiscoveryResult result;
    HopCallback on_hop;  // Set for a hop.
    Hop hop;
  };

  TimePoint now() const;
  void refuse(RequestId id, Callback callback, StartError error);
  void abandon_lookups(DiscoveryId discovery);
  void on_lookup(LookupId lookup, const std::string& host, LookupResult result);
  // UdpPortHandler.
  void on_datagram(UdpPort& port, const Endpoint& from, std::span<const uint8_t> bytes) override;
  void on_send_failed(UdpPort& port, const Endpoint& to, int status) override;
  void on_send_error(const Endpoint& to, int status);
  void on_stream_message(Transport via, const Endpoint& remote, std::span<const uint8_t> bytes);
  void on_stream_failed(Transport via, const Endpoint& remote, std::string_view why);
  Result<std::shared_ptr<TlsContext>, std::string> tls_context(bool verify,
                                                               const std::string& ca_file);
  void on_timer();
  void pump(TimePoint now);
  bool transmit(TimePoint now);
  bool answer_resolves(TimePoint now);
  void collect();
  void deliver();
  void arm(TimePoint now);
  void update_refs();
  UdpPort* port_for(Family family, int& error);

  uv_loop_t* loop_;
  SystemRandom random_;
  Prober prober_;
  struct Timer;
  Timer* timer_;  // Freed by its close callback.
  // One socket per family, opened on first use; a full kernel buffer queues a few sends.
  static constexpr size_t kMaxQueuedSends = 256;
  UdpPortCounters udp_counters_;
  std::unique_ptr<UdpPort> v4_;
  std::unique_ptr<UdpPort> v6_;
  TcpLinks tcp_;  // Probes the core sends over TCP.
  TcpLinks tls_;  // And over TLS.
  // Client contexts by trust setting ("verify:CA-FILE" or "insecure"), built on first use.
  static constexpr size_t kMaxTlsContexts = 8;
  std::unordered_map<std::string, std::shared_ptr<TlsContext>> tls_contexts_;
  NameLookups lookups_;
  std::vector<std::pair<LookupId, DiscoveryId>> lookup_purposes_;
  std::vector<Pending> pending_;
  std::deque<Ready> ready_;
  std::vector<Datagram> outbox_;  // Reused for poll_transmit.
  RequestId next_id_ = 1;
  bool refs_ = false;
  bool* destroyed_ = nullptr;  // Set while callbacks run, so deliver() notices `delete this`.
  DriverCounters counters_;
};

}  // namespace turnscout::client
