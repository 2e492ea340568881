// Process mode of Cluster: each node a turnscout-server process (see cluster.hpp).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/server_yaml.hpp"

namespace turnscout::cluster {
namespace {

// Written owner-only: a config holds the cluster key.
Result<void, std::string> write_private_file(const std::string& path, std::string_view content) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unexpected(fmt::format("cannot write {}: {}", path, strerror(errno)));
  while (!content.empty()) {
    const ssize_t n = ::write(fd, content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      return unexpected(fmt::format("cannot write {}: {}", path, strerror(error)));
    }
    content.remove_prefix(static_cast<size_t>(n));
  }
  ::close(fd);
  return {};
}

// A path as given when it has no folder part (execvp looks it up in PATH), else absolute,
// so a command copied from the state file works from any working directory.
std::string command_path(const std::string& program) {
  if (program.find('/') == std::string::npos) return program;
  std::error_code ignored;
  const auto absolute = std::filesystem::absolute(program, ignored);
  return absolute.empty() ? program : absolute.lexically_normal().string();
}

}  // namespace

Result<void, std::string> Cluster::open_work_dir() {
  if (!options_.work_dir.empty()) {
    std::error_code error;
    std::filesystem::create_directories(options_.work_dir, error);
    if (error) {
      return unexpected(fmt::format("cannot create {}: {}", options_.work_dir, error.message()));
    }
    work_dir_ = std::filesystem::absolute(options_.work_dir, error).lexically_normal().string();
    if (error || work_dir_.empty()) work_dir_ = options_.work_dir;
    return {};
  }
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/turnscout-cluster-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return unexpected(fmt::format("cannot create {}: {}", pattern, strerror(errno)));
  }
  work_dir_ = command_path(pattern);
  own_work_dir_ = true;
  return {};
}

void Cluster::remove_work_dir() {
  if (!own_work_dir_) return;
  own_work_dir_ = false;
  std::error_code error;
  std::filesystem::remove_all(work_dir_, error);
  if (error) logger().warn("cannot remove {}: {}", work_dir_, error.message());
}

Result<Endpoint, std::string> Cluster::reserve_ports(size_t index, const Endpoint& ip) {
  Running& r = nodes_[index];
  auto metrics = free_port(ip, true);
  if (!metrics) return unexpected(metrics.error());
  r.metrics = ip;
  r.metrics.port = *metrics;
  // A base address with a port gives every node that port, as in virtual mode.
  if (ip.port != 0) return ip;
  auto udp = free_port(ip, false);
  if (!udp) return unexpected(udp.error());
  Endpoint at = ip;
  at.port = *udp;
  return at;
}

Result<void, std::string> Cluster::start_process(size_t index) {
  Running& r = nodes_[index];
  const std::string& name = topology_.nodes[index].name;
  server::ServerConfig config = node_config(index);
  config.metrics_listen = r.metrics;
  r.config_path = work_dir_ + "/" + name + ".yaml";
  auto yaml = server_config_yaml(config, r.config_path);
  if (!yaml) {
    return unexpected(fmt::format("node {}: invalid server config:\n{}", name, yaml.error()));
  }
  if (auto written = write_private_file(r.config_path, *yaml); !written) return written;
  // --exit-with-parent: the kernel stops the node when the thread that spawned it ends, so
  // no node outlives a runner killed by SIGKILL (it cannot run stop() then).
  r.command = {command_path(options_.server_binary), "--config", r.config_path,
               "--exit-with-parent"};
  r.process = std::make_unique<NodeProcess>(loop_);
  auto spawned =
      r.process->spawn(r.command, work_dir_ + "/" + name + ".log",
                       [this, index](const ProcessExit& exit) { process_exited(index, exit); });
  if (!spawned) return unexpected(fmt::format("node {}: {}", name, spawned.error()));
  logger().info("node {}: pid {}, {}", name, r.process->pid(), r.config_path);
  return {};
}

void Cluster::poll_metrics() {
  if (poller_->busy()) return;
  const TimePoint now = steady_now();
  if (converged_ && now - last_poll_ < topology_.defaults.heartbeat) return;
  last_poll_ = now;
  // Only parents know about links; a parent whose process is gone knows nothing.
  std::vector<size_t> polled;
  std::vector<Endpoint> endpoints;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Running& r = nodes_[i];
    if (topology_.nodes[i].children.empty()) continue;
    if (!r.process->running()) {
      r.seen.reset();
      continue;
    }
    polled.push_back(i);
    endpoints.push_back(r.metrics);
  }
  if (polled.empty()) {
    take_metrics(polled, {});
    return;
  }
  poller_->poll(std::move(endpoints), [this, polled](MetricsPoller::Answers answers) {
    take_metrics(polled, std::move(answers));
  });
}

void Cluster::take_metrics(const std::vector<size_t>& polled, MetricsPoller::Answers answers) {
  for (size_t k = 0; k < polled.size() && k < answers.size(); ++k) {
    Running& r = nodes_[polled[k]];
    if (answers[k]) {
      r.seen = std::move(*answers[k]);
    } else {
      // Expected while a process starts; later, the node is gone or hung.
      logger().debug("metrics of {}: {}", topology_.nodes[polled[k]].name, answers[k].error());
      r.seen.reset();
    }
  }
  // A drained node stays drained: its parents forget nothing, but one may be killed later.
  std::vector<bool> left(nodes_.size(), true);
  for (const LinkStatus& link : link_states()) {
    if (!link.heard || link.liveness != server::ChildLiveness::kLeft) left[link.child] = false;
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].drain_started && left[i]) nodes_[i].drained = true;
  }
  if (!converged_) evaluate();
}

void Cluster::drain_process(size_t index) {
  Running& r = nodes_[index];
  logger().info("node {}: draining (SIGTERM to pid {})", topology_.nodes[index].name,
                r.process->pid());
  r.terminated = true;
  if (!r.process->signal(SIGTERM)) {
    logger().warn("node {}: its process is not running", topology_.nodes[index].name);
  }
}

void Cluster::process_exited(size_t index, const ProcessExit& exit) {
  const Running& r = nodes_[index];
  const std::string& name = topology_.nodes[index].name;
  if (stopping_ || r.drain_started) {
    logger().info("node {} (pid {}) exited: {}", name, r.process->pid(), to_string(exit));
  } else {
    logger().warn("node {} (pid {}) exited: {}; its output is in {}/{}.log", name, r.process->pid(),
                  to_string(exit), work_dir_, name);
  }
  if (!stopping_) {
    // A draining node's exit may be the last thing convergence waits for.
    if (r.drain_started && !converged_) evaluate();
    if (converged_ && on_change_) on_change_();
    return;
  }
  if (processes_running() > 0) {
    terminate_deepest();
    return;
  }
  // The last one: stop() goes on with closing the proxies.
  std::vector<std::function<void()>> then = std::move(after_exits_);
  after_exits_.clear();
  for (std::function<void()>& f : then)
    f();
}

void Cluster::terminate_deepest() {
  std::optional<uint32_t> deepest;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i].process || !nodes_[i].process->running()) continue;
    deepest = std::max(deepest.value_or(0), topology_.nodes[i].depth);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Running& r = nodes_[i];
    if (!r.process || !r.process->running() || topology_.nodes[i].depth != deepest) continue;
    // A second SIGTERM would make the server exit without waiting for its Leave to be
    // acknowledged.
    if (std::exchange(r.terminated, true)) continue;
    r.process->signal(SIGTERM);
  }
}

size_t Cluster::processes_running() const {
  size_t running = 0;
  for (const Running& r : nodes_)
    running += r.process && r.process->running() ? 1 : 0;
  return running;
}

void Cluster::stop_processes(std::function<void()> then) {
  after_exits_.push_back(std::move(then));
  if (terminating_) return;
  terminating_ = true;
  terminate_deepest();
  kill_timer_ = new uv_timer_t{};
  uv_timer_init(loop_, kill_timer_);
  kill_timer_->data = this;
  const auto grace = std::chrono::duration_cast<std::chrono::milliseconds>(kStopGrace).count();
  uv_timer_start(
      kill_timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<Cluster*>(t->data);
        for (size_t i = 0; i < self->nodes_.size(); ++i) {
          NodeProcess* p = self->nodes_[i].process.get();
          if (p == nullptr || !p->running()) continue;
          logger().warn("node {} (pid {}) still runs {} after SIGTERM: SIGKILL",
                        self->topology_.nodes[i].name, p->pid(), format_duration(kStopGrace));
          p->signal(SIGKILL);
        }
      },
      static_cast<uint64_t>(grace), 0);
}

}  // namespace turnscout::cluster
