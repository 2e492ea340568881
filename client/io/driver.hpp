// The libuv driver of the client's Prober. It moves bytes, time and names between a loop
// and the core, and decides nothing about the protocol:
// - one UDP socket per address family, opened on first use; every datagram received goes
//   to Prober::on_datagram, every datagram the core queues leaves from the socket of its
//   remote's family; a send the kernel refuses as unreachable becomes on_unreachable;
// - one timer, re-armed after every core call to the earliest of Prober::next_timeout(),
//   the name-lookup deadlines and "now" when results wait; time is uv_hrtime() (the
//   monotonic clock) as a TimePoint;
// - root host names are resolved (uv_getaddrinfo) before the discovery starts, and the
//   core's poll_resolve() requests are answered with on_resolved();
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
#include <vector>

#include "base/random.hpp"
#include "client/core/prober.hpp"
#include "client/io/name_lookup.hpp"
#include "client/io/udp_channel.hpp"

namespace turnscout::client {

using RequestId = uint64_t;

// A discovery as the driver takes it: the roots as text (resolved here), and everything
// else as the core takes it (options.roots is filled in by the driver).
struct DriverRequest {
  // "IP:PORT", "[IPv6]:PORT", "IP", "[IPv6]", "HOST" or "HOST:PORT".
  std::vector<std::string> roots;
  uint16_t default_port = 3478;
  DiscoverOptions options;
};

struct DriverCounters {
  uint64_t send_errors = 0;  // Refused by the kernel for a reason other than unreachable.
  uint64_t unreachable = 0;  // Reported to the core as unreachable.
  uint64_t lookups = 0;
  uint64_t timer_wakeups = 0;
};

class Driver {
 public:
  // `refused` is true when the request was turned down before anything was sent (bad
  // options); the result then only carries `failure`.
  using Callback = std::function<void(DiscoveryResult result, bool refused)>;

  Driver(uv_loop_t* loop, ProberConfig config);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  RequestId discover(DriverRequest request, Callback callback);
  // Answers `callback` with a refusal, on the loop like any result: for requests the layer
  // above found invalid before they reached the driver.
  RequestId reject(std::string failure, Callback callback);
  bool cancel(RequestId id);
  // Requests whose callback has not run.
  size_t pending() const { return pending_.size() + ready_.size(); }

  const Prober& prober() const { return prober_; }
  const DriverCounters& counters() const { return counters_; }

 private:
  friend struct DriverCallbacks;
  struct Pending;
  struct Ready {
    RequestId id = 0;
    Callback callback;
    DiscoveryResult result;
    bool refused = false;
  };
  // What a name lookup is for: a root of a pending request, or a verification.
  struct Lookup {
    RequestId request = 0;  // Root lookups.
    size_t root = 0;
    std::optional<DiscoveryId> discovery;  // Verification lookups.
  };

  TimePoint now() const;
  void start_core(Pending& pending, TimePoint now);
  void refuse(RequestId id, Callback callback, std::string failure);
  void fail(Pending& pending, std::string failure, DiscoveryResult base);
  void on_lookup(LookupId lookup, const std::string& host, LookupResult result);
  void on_datagram(const Endpoint& local, const Endpoint& from, std::span<const uint8_t> bytes);
  void on_send_error(const Endpoint& to, int status);
  void on_timer();
  void pump(TimePoint now);
  bool transmit(TimePoint now);
  bool answer_resolves(TimePoint now);
  void collect(TimePoint now);
  void deliver();
  void arm(TimePoint now);
  void update_refs();
  UdpChannel* channel_for(Family family, int& error);
  Pending* find(RequestId id);
  Pending* find_core(DiscoveryId id);
  void erase(RequestId id);

  uv_loop_t* loop_;
  SystemRandom random_;
  Prober prober_;
  struct Timer;
  Timer* timer_;  // Freed by its close callback.
  std::unique_ptr<UdpChannel> v4_;
  std::unique_ptr<UdpChannel> v6_;
  NameLookups lookups_;
  std::vector<std::pair<LookupId, Lookup>> lookup_purposes_;
  std::vector<std::unique_ptr<Pending>> pending_;
  std::deque<Ready> ready_;
  std::vector<Datagram> outbox_;  // Reused for poll_transmit.
  RequestId next_id_ = 1;
  bool refs_ = false;
  bool* destroyed_ = nullptr;  // Set while callbacks run, so deliver() notices `delete this`.
  DriverCounters counters_;
};

}  // namespace turnscout::client
