#include "server/io/control_plane.hpp"

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"
#include "common/uv_cast.hpp"
#include "server/config/config_yaml.hpp"
#include "server/core/metrics.hpp"
#include "server/io/bound_config.hpp"
#include "server/io/io_metrics.hpp"
#include "server/io/log_events.hpp"
#include "server/io/process_metrics.hpp"
#include "server/io/service_notify.hpp"

namespace turnscout::server {
namespace {

// Children's heartbeats and parents' answers; strangers' (new dynamic children, forgeries),
// which each worker already holds to admission.unknown_control_rate.
constexpr size_t kForwardQueueKnown = 256;
constexpr size_t kForwardQueueStrangers = 64;
constexpr Duration kMinLoadRefresh = std::chrono::milliseconds{10};

const char* signal_name(int signum) {
  return signum == SIGTERM ? "SIGTERM" : "SIGINT";
}

uint64_t to_millis_ceil(Duration d) {
  if (d <= Duration::zero()) return 0;
  return static_cast<uint64_t>(std::chrono::ceil<std::chrono::milliseconds>(d).count());
}

}  // namespace

ControlPlane::ControlPlane(ServerConfig config, ServerOptions options)
    : options_(std::move(options)),
      loaded_(std::move(config)),
      forward_queue_(kForwardQueueKnown, kForwardQueueStrangers),
      load_sampler_(loaded_.load) {
  start_time_seconds_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

ControlPlane::~ControlPlane() {
  if (!loop_open_) return;
  shutdown();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

Result<void, std::string> ControlPlane::start() {
  if (const int rc = uv_loop_init(&loop_); rc != 0) {
    return unexpected(fmt::format("uv_loop_init: {}", uv_strerror(rc)));
  }
  loop_open_ = true;
  for (uv_timer_t* t : {&load_timer_, &drain_timer_, &watchdog_timer_}) {
    uv_timer_init(&loop_, t);
    t->data = this;
  }
  for (uv_signal_t* s : {&sighup_, &sigterm_, &sigint_}) {
    uv_signal_init(&loop_, s);
    s->data = this;
  }
  uv_async_init(&loop_, &forward_async_, &ControlPlane::on_forwarded);
  forward_async_.data = this;
  queue_sink_ = std::make_unique<QueueSink>(forward_queue_, forward_async_);

  auto started = start_worker0();
  if (started) started = start_workers();
  if (started) started = start_metrics();
  if (!started) return started;  // The destructor closes what was opened.
  start_timers_and_signals();
  sample_load();
  if (auto ready = write_ready_file(); !ready) return ready;
  log_started();
  after_core();
  notify_service("READY=1\nSTATUS=" + status_line());
  return {};
}

std::string ControlPlane::status_line() const {
  const ServerConfig& c = core().config();
  return fmt::format("{}: serving on UDP {}{}", c.name, fmt::join(bound_, ", "),
                     draining_ ? " (draining)" : "");
}

Result<void, std::string> ControlPlane::start_worker0() {
  // Claimed before binding, so a second server with the same config never joins the
  // first's SO_REUSEPORT group, not even for a moment; ports the kernel picks, once bound.
  if (auto claimed = claims_.claim(loaded_.listen); !claimed) return claimed;
  node_ = std::make_unique<ServerNode>(&loop_, clock_, log_events());
  auto bound =
      node_->bind(loaded_.listen, UdpSocketOptions{loaded_.workers > 1}, loaded_.streams.tcp);
  if (!bound) return unexpected(bound.error());
  bound_ = *bound;
  std::vector<Endpoint> picked;
  for (size_t i = 0; i < bound_.size() && i < loaded_.listen.size(); ++i) {
    if (loaded_.listen[i].port == 0) picked.push_back(bound_[i]);
  }
  if (auto claimed = claims_.claim(picked); !claimed) return claimed;
  node_->set_on_publish([this](const SnapshotPtr& snapshot) {
    for (auto& w : workers_)
      w->publish(snapshot);
  });
  // However the core learnt that its parents acknowledged the Leave (a datagram on this
  // loop, one forwarded by a worker, its timer), the drain ends here.
  node_->set_after_core([this] {
    if (draining_ && !stopping_ && core().drained()) {
      logger().info("drain complete");
      shutdown();
    }
  });
  return node_->start(loaded_, SystemRandom().next_u64());
}

Result<void, std::string> ControlPlane::start_workers() {
  SystemRandom random;
  for (uint32_t index = 1; index < loaded_.workers; ++index) {
    auto sockets = open_udp_sockets(bound_, UdpSocketOptions{true});
    if (!sockets) return unexpected(fmt::format("worker {}: {}", index, sockets.error()));
    auto worker = std::make_unique<WorkerThread>(index, core().config(), core().snapshot(),
                                                 *queue_sink_, random.next_u64());
    if (auto started = worker->start(std::move(*sockets), bound_); !started) return started;
    workers_.push_back(std::move(worker));
  }
  return {};
}

Result<void, std::string> ControlPlane::start_metrics() {
  if (!loaded_.metrics_listen) return {};
  metrics_ = std::make_unique<MetricsHttpServer>(
      &loop_, [this] { return render_metrics(); }, [this] { return !draining_; });
  auto bound = metrics_->listen(*loaded_.metrics_listen);
  if (!bound) return unexpected(bound.error());
  metrics_bound_ = *bound;
  return {};
}

void ControlPlane::start_timers_and_signals() {
  uv_signal_start(&sighup_, &ControlPlane::on_signal, SIGHUP);
  uv_signal_start(&sigterm_, &ControlPlane::on_signal, SIGTERM);
  uv_signal_start(&sigint_, &ControlPlane::on_signal, SIGINT);
  const uint64_t refresh = to_millis_ceil(std::max(loaded_.load.refresh, kMinLoadRefresh));
  uv_timer_start(&load_timer_, &ControlPlane::on_load_timer, refresh, refresh);
  // Sent from this loop, so a loop that stops turning stops the keep-alives too.
  if (const auto every = watchdog_keepalive_interval()) {
    const uint64_t ms = std::max<uint64_t>(1, to_millis_ceil(*every));
    uv_timer_start(&watchdog_timer_, &ControlPlane::on_watchdog_timer, ms, ms);
    logger().info("systemd watchdog: a keep-alive every {} ms", ms);
  }
}

void ControlPlane::on_watchdog_timer(uv_timer_t* timer) {
  (void)timer;
  notify_service("WATCHDOG=1");
}

Result<void, std::string> ControlPlane::write_ready_file() const {
  if (options_.ready_file.empty()) return {};
  std::string text;
  for (const Endpoint& e : bound_)
    text += fmt::format("udp {}\n", e);
  for (const Endpoint& e : node_->tcp_bound())
    text += fmt::format("tcp {}\n", e);
  for (const Endpoint& e : node_->tls_bound())
    text += fmt::format("tls {}\n", e);
  if (metrics_bound_) text += fmt::format("metrics {}\n", *metrics_bound_);
  const std::string staging = options_.ready_file + ".tmp";
  {
    std::ofstream out(staging, std::ios::trunc);
    out << text;
    if (!out.flush()) return unexpected(fmt::format("cannot write {}", staging));
  }
  std::error_code error;
  std::filesystem::rename(staging, options_.ready_file, error);
  if (error) {
    return unexpected(fmt::format("cannot write {}: {}", options_.ready_file, error.message()));
  }
  return {};
}

void ControlPlane::log_started() const {
  const ServerConfig& c = core().config();
  logger().info("node {} listening on UDP {} with {} worker{}", c.name, fmt::join(bound_, ", "),
                c.workers, c.workers == 1 ? "" : "s");
  if (!node_->tcp_bound().empty()) {
    logger().info("TCP on {}", fmt::join(node_->tcp_bound(), ", "));
  }
  if (!node_->tls_bound().empty()) {
    logger().info("TLS on {}", fmt::join(node_->tls_bound(), ", "));
  }
  if (metrics_bound_) logger().info("metrics on http://{}{}", *metrics_bound_, "/metrics");
}

int ControlPlane::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  loop_open_ = false;
  if (const int rc = uv_loop_close(&loop_); rc != 0) {
    logger().error("event loop closed with handles still open: {}", uv_strerror(rc));
    return 1;
  }
  logger().info("stopped");
  return 0;
}

void ControlPlane::on_forwarded(uv_async_t* async) {
  auto& self = *static_cast<ControlPlane*>(async->data);
  if (self.stopping_) return;
  const TimePoint now = self.clock_.now();
  self.forward_queue_.drain(
      [&](const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> bytes) {
        self.core().on_control_datagram(now, local, remote, bytes);
      });
  self.after_core();
}

void ControlPlane::after_core() {
  if (!stopping_) node_->after_core();
}

void ControlPlane::on_signal(uv_signal_t* signal, int signum) {
  auto& self = *static_cast<ControlPlane*>(signal->data);
  if (signum == SIGHUP) {
    self.reload();
  } else if (self.draining_) {
    logger().warn("{} again: stopping without waiting for the drain", signal_name(signum));
    self.shutdown();
  } else {
    logger().info("{}: draining", signal_name(signum));
    self.begin_drain();
  }
}

void ControlPlane::reload() {
  if (draining_) {
    logger().warn("SIGHUP ignored: the node is draining");
    return;
  }
  logger().info("SIGHUP: reloading {}", options_.config_path);
  notify_service(reloading_state());
  apply_reload();
  notify_service("READY=1\nSTATUS=" + status_line());
}

void ControlPlane::apply_reload() {
  auto loaded = load_server_config(options_.config_path);
  if (!loaded) {
    for (const std::string& line : loaded.error())
      logger().error("{}", line);
    logger().error("reload failed; the running config stays in force");
    return;
  }
  ServerConfig next = std::move(*loaded);
  for (const std::string& setting : keep_restart_only_settings(loaded_, next)) {
    logger().warn("reload: {} takes a restart; keeping the running value", setting);
  }
  ServerConfig applied = with_bound_ports(next, bound_);
  if (auto ok = core().reload(clock_.now(), applied); !ok) {
    logger().error("reload refused: {}; the running config stays in force", ok.error());
    return;
  }
  const std::vector<std::string> changes = describe_changes(loaded_, next);
  loaded_ = std::move(next);
  for (auto& w : workers_)
    w->reconfigure(applied.admission);
  node_->reconfigure_streams(applied.streams, applied.admission.ipv6_prefix);
  load_sampler_.reconfigure(applied.load);
  const uint64_t refresh = to_millis_ceil(std::max(applied.load.refresh, kMinLoadRefresh));
  uv_timer_start(&load_timer_, &ControlPlane::on_load_timer, refresh, refresh);
  const std::string& level = options_.log_level.empty() ? applied.log_level : options_.log_level;
  if (auto parsed = parse_log_level(level)) logger().set_level(*parsed);
  if (changes.empty()) {
    logger().info("reload applied: nothing changed");
  } else {
    logger().info("reload applied: {} change{}", changes.size(), changes.size() == 1 ? "" : "s");
    for (const std::string& change : changes)
      logger().info("reload: {}", change);
  }
  after_core();
}

void ControlPlane::begin_drain() {
  draining_ = true;
  notify_service("STOPPING=1\nSTATUS=" + status_line());
  core().start_drain(clock_.now());
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(kDrainTimeout);
  uv_timer_start(&drain_timer_, &ControlPlane::on_drain_timer,
                 static_cast<uint64_t>(timeout.count()), 0);
  after_core();
}

void ControlPlane::on_drain_timer(uv_timer_t* timer) {
  auto& self = *static_cast<ControlPlane*>(timer->data);
  logger().warn("drain timed out: not every parent acknowledged the Leave");
  self.shutdown();
}

void ControlPlane::on_load_timer(uv_timer_t* timer) {
  auto& self = *static_cast<ControlPlane*>(timer->data);
  self.sample_load();
  self.after_core();
}

void ControlPlane::sample_load() {
  const TimePoint now = clock_.now();
  core().set_wall_time(now, clock_.wall_now());
  auto load = load_sampler_.sample(now);
  if (!load) {
    if (load.error() != last_load_error_) logger().warn("load: {}", load.error());
    last_load_error_ = load.error();
    return;
  }
  if (!*load) return;
  if (!last_load_error_.empty()) logger().info("load: source readable again");
  last_load_error_.clear();
  core().set_own_load(now, **load);
}

void ControlPlane::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  for (uv_timer_t* t : {&load_timer_, &drain_timer_, &watchdog_timer_})
    uv_close(as_handle(t), nullptr);
  for (uv_signal_t* s : {&sighup_, &sigterm_, &sigint_})
    uv_close(as_handle(s), nullptr);
  // Workers first: once joined, none can wake the forward queue's async any more.
  for (auto& w : workers_)
    w->stop();
  uv_close(as_handle(&forward_async_), nullptr);
  if (node_) node_->close();
  if (metrics_) metrics_->close();
}

// Runs on worker 0's thread; the other workers' counters are relaxed atomics.
std::string ControlPlane::render_metrics() const {
  std::vector<const WorkerCounters*> others;
  std::vector<const IoCounters*> io{&node_->io_counters()};
  for (const auto& w : workers_) {
    others.push_back(&w->counters());
    io.push_back(&w->io_counters());
  }
  MetricsSources sources;
  sources.other_workers = others;
  for (const IoCounters* c : io) {
    sources.admission_clients += c->admission_clients.load(std::memory_order_relaxed);
  }
  std::string streams;
  if (const StreamTable* table = node_->streams())
    streams = render_stream_metrics(table->counters());
  return server::render_metrics(core(), sources) + render_io_metrics(io) + streams +
         render_process_metrics(read_process_stats(start_time_seconds_));
}

}  // namespace turnscout::server
