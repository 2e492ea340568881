// A UDP forwarder in front of one server that adds the delay, jitter, loss and chosen drops
// of an ImpairCore in each direction, on a caller's libuv loop. Each client address gets
// its own upstream socket, so the server sees one address per client and its replies map
// back; the core decides when sessions open and close.
//
// Cheap enough for thousands of instances on one loop: no thread; per proxy a listening
// socket and one timer (a timerfd, for microsecond precision) re-armed to the earliest due
// datagram, plus one socket per client.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/random.hpp"
#include "base/result.hpp"
#include "common/udp_port.hpp"
#include "tools/impair/impair_core.hpp"

struct uv_loop_s;

namespace turnscout::impair {

struct ProxyOptions {
  Endpoint listen;    // Where clients send; port 0 picks a free port (see local()).
  Endpoint upstream;  // The real server.
  ImpairConfig impair;
  uint64_t seed = 1;  // Of the SeededRandom behind every loss, duplicate and jitter draw.
};

// Failures of the sockets themselves; what the impairments did is in core().counters().
struct ProxyIoCounters {
  // A socket reported an error (e.g. ICMP port unreachable) or a datagram was truncated.
  uint64_t receive_errors = 0;
  uint64_t send_errors = 0;      // The kernel refused a datagram (full buffer, unreachable).
  uint64_t upstream_errors = 0;  // No upstream socket could be opened for a new client.
  friend bool operator==(const ProxyIoCounters&, const ProxyIoCounters&) = default;
};

class UdpImpairProxy {
 public:
  // `loop` must outlive the proxy; everything runs on the loop's thread.
  UdpImpairProxy(uv_loop_s* loop, ProxyOptions options);
  // Safe at any time: handles still open are closed, and their memory is freed when the
  // loop next runs (run it before uv_loop_close()).
  ~UdpImpairProxy();
  UdpImpairProxy(const UdpImpairProxy&) = delete;
  UdpImpairProxy& operator=(const UdpImpairProxy&) = delete;

  // Checks the config, binds the listening socket and starts forwarding; once per proxy.
  // On an error nothing forwards; whatever was opened is closed as by stop().
  Result<void, std::string> start();
  // Stops forwarding at once (queued datagrams are dropped) and closes every handle;
  // `on_closed` runs on the loop when the last one is closed (at once if none was open).
  void stop(std::function<void()> on_closed = nullptr);
  bool running() const { return running_; }

  // The bound listening address (the real port when the options said 0); valid once started.
  const Endpoint& local() const { return local_; }
  const Endpoint& upstream() const { return options_.upstream; }
  // Valid once start() succeeded.
  const ImpairCore& core() const { return *core_; }
  ProxyIoCounters io_counters() const;
  // Open upstream sockets: one per client session.
  size_t upstream_count() const { return upstreams_.size(); }
  // Counters in a few lines, for logs.
  std::string describe_counters() const;

 private:
  struct Front;
  struct Upstream;
  struct Timer;
  struct Closing;

  Result<void, std::string> open_front();
  Result<void, std::string> open_timer();
  bool open_upstream(const Endpoint& client);
  // Closes a port; the proxy's stop() callback waits for it.
  void close_port(std::unique_ptr<UdpPort> port);

  // Where time and bytes enter the core; what the core wants done is carried out in
  // apply_events(), send_due() and rearm().
  void receive(Direction direction, const Endpoint& client, std::span<const uint8_t> bytes);
  void timer_fired();
  void apply_events();
  void send_due();
  void rearm();

  uv_loop_s* loop_;
  ProxyOptions options_;
  SeededRandom random_;
  std::optional<ImpairCore> core_;
  bool running_ = false;
  Endpoint local_;
  UdpPortCounters udp_;
  uint64_t upstream_errors_ = 0;

  std::unique_ptr<Front> front_;
  Timer* timer_ = nullptr;  // Freed by its close callback.
  TimePoint armed_ = kNever;
  std::unordered_map<Endpoint, std::unique_ptr<Upstream>> upstreams_;
  // Handles closing and the callback of stop(); shared with the close callbacks, which may
  // run after the proxy is gone.
  std::shared_ptr<Closing> closing_;

  // Reused between calls so the steady state allocates nothing here.
  std::vector<Departure> due_;
  std::vector<ClientEvent> events_;
};

}  // namespace turnscout::impair
