// Worker 0: the main thread's loop. Its ServerNode (server_node.hpp) answers probes like
// every worker and owns the ServerCore and its timer; around it, this adds what a process
// needs: the other worker threads (control datagrams they forward, snapshots published to
// them), signals (SIGHUP reload, SIGTERM/SIGINT drain and exit), the load source, the
// metrics endpoint and the ready file. Every libuv callback here only moves bytes and time
// into the core and out again.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "base/sans_io.hpp"
#include "server/core/config.hpp"
#include "server/core/server_core.hpp"
#include "server/io/address_claim.hpp"
#include "server/io/data_plane.hpp"
#include "server/io/forward_queue.hpp"
#include "server/io/io_counters.hpp"
#include "server/io/load_sampler.hpp"
#include "server/io/metrics_http_server.hpp"
#include "server/io/server_node.hpp"
#include "server/io/worker_thread.hpp"

namespace turnscout::server {

struct ServerOptions {
  std::string config_path;  // Re-read on SIGHUP.
  // When set, written once every socket listens: one "udp ADDRESS" line per listen
  // address (in config order, with the real port) and "metrics ADDRESS" if enabled.
  std::string ready_file;
  // --log-level: wins over the config's log.level, at start and on every reload.
  std::string log_level;
};

// How long a drain may take before the process exits anyway.
inline constexpr Duration kDrainTimeout = std::chrono::milliseconds{1500};

class ControlPlane {
 public:
  ControlPlane(ServerConfig config, ServerOptions options);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Binds, starts the workers and the timers. On error everything started is stopped.
  Result<void, std::string> start();
  // Runs until drained (or interrupted twice); returns the process exit code.
  int run();

 private:
  Result<void, std::string> start_worker0();
  Result<void, std::string> start_workers();
  Result<void, std::string> start_metrics();
  void start_timers_and_signals();
  Result<void, std::string> write_ready_file() const;
  void log_started() const;

  // After anything the core was given: the node's after_core(), then finish a drain that
  // is complete.
  void after_core();
  ServerCore& core() { return node_->core(); }
  const ServerCore& core() const { return node_->core(); }

  void reload();
  void apply_reload();
  void begin_drain();
  void sample_load();
  void shutdown();
  std::string render_metrics() const;

  static void on_load_timer(uv_timer_t* timer);
  static void on_drain_timer(uv_timer_t* timer);
  static void on_watchdog_timer(uv_timer_t* timer);
  std::string status_line() const;
  static void on_forwarded(uv_async_t* async);
  static void on_signal(uv_signal_t* signal, int signum);

  ServerOptions options_;
  ServerConfig loaded_;  // As read from the file (port 0 kept); reloads compare against it.
  std::vector<Endpoint> bound_;
  AddressClaims claims_;           // Held for the life of the process.
  double start_time_seconds_ = 0;  // process_start_time_seconds.
  SteadyClock clock_;
  uv_loop_t loop_{};
  bool loop_open_ = false;

  std::unique_ptr<ServerNode> node_;
  ForwardQueue forward_queue_;
  uv_async_t forward_async_{};
  std::unique_ptr<QueueSink> queue_sink_;
  std::vector<std::unique_ptr<WorkerThread>> workers_;

  uv_timer_t load_timer_{};
  uv_timer_t drain_timer_{};
  uv_timer_t watchdog_timer_{};  // WATCHDOG=1 to systemd, when it asked for them.
  uv_signal_t sighup_{};
  uv_signal_t sigterm_{};
  uv_signal_t sigint_{};

  LoadSampler load_sampler_;
  std::string last_load_error_;
  std::unique_ptr<MetricsHttpServer> metrics_;
  std::optional<Endpoint> metrics_bound_;

  bool draining_ = false;
  bool stopping_ = false;
};

}  // namespace turnscout::server
