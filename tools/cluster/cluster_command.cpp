#include "tools/cluster/cluster_command.hpp"

#include <unistd.h>
#include <uv.h>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <system_error>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"
#include "tools/cluster/cluster.hpp"
#include "tools/cluster/topology.hpp"

namespace turnscout::cluster {
namespace {

constexpr const char* kFooter = R"(Two ways to run the nodes:
  virtual (default)  every node is a server core inside this process, on one event loop:
                     light enough for thousands of nodes.
  --processes        every node is a turnscout-server process with its own config file,
                     log and metrics endpoint (in --work-dir, or a temporary directory
                     removed on exit), so single nodes can be killed (kill -9 PID),
                     restarted and inspected. The table and the state file show each
                     node's pid, config and command.
Either way each node listens on its own loopback address behind a proxy in this process
that simulates its distance from the client, for UDP and for TCP. With --block-udp the
proxies drop every datagram, as a network that blocks UDP would: clients get through
over TCP only (turnscout probe falls back to it by itself).

Examples:
  turnscout cluster configs/demo.yaml --state-file /tmp/demo-state.json &
  turnscout probe 127.2.0.1:PORT      # a root address from the table or the state file
  kill -TERM %1
  turnscout cluster configs/demo.yaml --processes --work-dir /tmp/demo-nodes
  turnscout cluster configs/demo.yaml --block-udp    # then probe: it finds its way over TCP
  turnscout cluster configs/demo.yaml --ipv6         # the same tree on [::1]

The topology format is described in configs/README.md, section "Topology files".)";

constexpr size_t kPendingShown = 20;

// Writes `content` to `path` through a temporary file and a rename, so a reader never
// sees half of it.
bool write_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << content;
    if (!out.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

// The loop's handles besides the cluster's; all closed by shut_down().
struct Runner {
  uv_loop_t loop{};
  uv_signal_t sigint{};
  uv_signal_t sigterm{};
  uv_timer_t deadline{};
  std::unique_ptr<Cluster> cluster;
  const ClusterArgs* args = nullptr;
  int exit_code = kClusterOk;
  bool shutting_down = false;
  TimePoint started{};

  void shut_down(int code) {
    if (shutting_down) return;
    shutting_down = true;
    exit_code = code;
    cluster->stop();
    for (uv_handle_t* h :
         {reinterpret_cast<uv_handle_t*>(&sigint), reinterpret_cast<uv_handle_t*>(&sigterm),
          reinterpret_cast<uv_handle_t*>(&deadline)}) {
      uv_close(h, nullptr);
    }
  }

  void converged() {
    uv_timer_stop(&deadline);
    const auto took = steady_now() - started;
    std::string roots;
    for (const Endpoint& e : cluster->root_addresses())
      roots += (roots.empty() ? "" : " ") + to_string(e);
    std::fputs(cluster->table().c_str(), stdout);
    std::printf(
        "\nconverged in %s: %zu nodes; roots: %s\n",
        format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(took)).c_str(),
        cluster->topology().nodes.size(), roots.c_str());
    if (cluster->process_mode()) {
      std::printf("node configs and logs: %s\n", cluster->work_dir().c_str());
    }
    std::printf("try: turnscout probe %s\nstop with Ctrl-C or SIGTERM (pid %d)\n", roots.c_str(),
                static_cast<int>(getpid()));
    std::fflush(stdout);
    write_state();
    // From now on the file follows the nodes (one killed from outside shows as exited).
    cluster->set_on_change([this] { write_state(); });
  }

  void write_state() {
    if (!args->state_file.empty() && !write_atomically(args->state_file, cluster->state_json())) {
      std::fprintf(stderr, "turnscout cluster: cannot write %s\n", args->state_file.c_str());
      shut_down(kClusterFailed);
    }
  }

  void timed_out() {
    const std::vector<std::string> pending = cluster->pending_links();
    std::fprintf(stderr, "turnscout cluster: not converged after %s; %zu links missing:\n",
                 args->timeout.c_str(), pending.size());
    for (size_t i = 0; i < pending.size() && i < kPendingShown; ++i)
      std::fprintf(stderr, "  %s\n", pending[i].c_str());
    shut_down(kClusterFailed);
  }
};

void on_signal(uv_signal_t* handle, int signum) {
  auto* runner = static_cast<Runner*>(handle->data);
  logger().info("signal {}: stopping the cluster", signum);
  runner->shut_down(kClusterOk);
}

void on_deadline(uv_timer_t* handle) {
  static_cast<Runner*>(handle->data)->timed_out();
}

int run_loop(Runner& runner, Topology topology, Duration timeout, std::string server_binary) {
  ClusterOptions options;
  options.seed = runner.args->seed;
  options.block_udp = runner.args->block_udp;
  // Absolute: process mode writes the nodes' configs into another folder.
  if (!runner.args->tls_cert.empty()) {
    options.tls_cert_file = std::filesystem::absolute(runner.args->tls_cert).string();
    options.tls_key_file = std::filesystem::absolute(runner.args->tls_key).string();
  }
  options.server_binary = std::move(server_binary);
  options.work_dir = runner.args->work_dir;
  runner.cluster = std::make_unique<Cluster>(&runner.loop, std::move(topology), options);
  runner.sigint.data = runner.sigterm.data = runner.deadline.data = &runner;
  uv_signal_init(&runner.loop, &runner.sigint);
  uv_signal_init(&runner.loop, &runner.sigterm);
  uv_timer_init(&runner.loop, &runner.deadline);
  uv_signal_start(&runner.sigint, on_signal, SIGINT);
  uv_signal_start(&runner.sigterm, on_signal, SIGTERM);
  runner.started = steady_now();
  auto started = runner.cluster->start([&runner] { runner.converged(); });
  if (!started) {
    std::fprintf(stderr, "turnscout cluster: %s\n", started.error().c_str());
    runner.shut_down(kClusterFailed);
  } else {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    uv_timer_start(&runner.deadline, on_deadline, static_cast<uint64_t>(ms), 0);
  }
  uv_run(&runner.loop, UV_RUN_DEFAULT);
  runner.cluster.reset();
  uv_run(&runner.loop, UV_RUN_DEFAULT);  // Close callbacks of whatever the reset closed.
  return runner.exit_code;
}

std::string executable_path() {
  std::array<char, 4096> buffer{};
  size_t size = buffer.size();
  if (uv_exepath(buffer.data(), &size) != 0) return {};
  return std::string(buffer.data(), size);
}

bool is_executable_file(const std::filesystem::path& path) {
  std::error_code ignored;
  return std::filesystem::is_regular_file(path, ignored) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string, std::string> default_server_binary(const std::string& executable) {
  const std::filesystem::path dir = std::filesystem::path(executable).parent_path();
  const std::filesystem::path candidates[] = {
      dir / "turnscout-server",
      dir / ".." / "sbin" / "turnscout-server",  // Installed: bin/turnscout, sbin/turnscout-server.
      dir / ".." / ".." / "server" / "io" / "turnscout-server",
  };
  for (const std::filesystem::path& c : candidates) {
    if (is_executable_file(c)) return c.lexically_normal().string();
  }
  return unexpected(fmt::format(
      "no turnscout-server found at {}, {} or {}; pass --server-binary PATH",
      candidates[0].lexically_normal().string(), candidates[1].lexically_normal().string(),
      candidates[2].lexically_normal().string()));
}

int run_cluster(const ClusterArgs& args) {
  if (auto logging = init_logging(args.log_level); !logging) {
    std::fprintf(stderr, "turnscout cluster: --log-level: %s\n", logging.error().c_str());
    return kClusterUsage;
  }
  auto timeout = parse_duration(args.timeout);
  if (!timeout || *timeout <= Duration::zero()) {
    std::fprintf(stderr, "turnscout cluster: --timeout: expected a duration such as 30s, got %s\n",
                 args.timeout.c_str());
    return kClusterUsage;
  }
  auto topology = load_topology_file(args.topology);
  if (!topology) {
    for (const std::string& line : topology.error())
      std::fprintf(stderr, "%s\n", line.c_str());
    return kClusterUsage;
  }
  if (args.ipv6) {
    topology->node_base = *parse_endpoint("[::1]:0");
    topology->proxy_base = topology->node_base;
  }
  if (args.check) {
    size_t roots = 0;
    for (const TopologyNode& n : topology->nodes)
      roots += n.depth == 0 ? 1 : 0;
    std::printf("%s: OK, %zu nodes, %zu roots\n", args.topology.c_str(), topology->nodes.size(),
                roots);
    return kClusterOk;
  }
  std::string server_binary = args.server_binary;
  if (args.processes && server_binary.empty()) {
    auto found = default_server_binary(executable_path());
    if (!found) {
      std::fprintf(stderr, "turnscout cluster: %s\n", found.error().c_str());
      return kClusterUsage;
    }
    server_binary = std::move(*found);
  }
  if (auto limit = raise_fd_limit(); !limit) {
    logger().warn("{}; many nodes may not fit", limit.error());
  }
  Runner runner;
  runner.args = &args;
  if (const int rc = uv_loop_init(&runner.loop); rc != 0) {
    std::fprintf(stderr, "turnscout cluster: uv_loop_init: %s\n", uv_strerror(rc));
    return kClusterFailed;
  }
  int code = run_loop(runner, std::move(*topology), *timeout, std::move(server_binary));
  if (const int rc = uv_loop_close(&runner.loop); rc != 0) {
    std::fprintf(stderr, "turnscout cluster: handles left open: %s\n", uv_strerror(rc));
    code = kClusterFailed;
  }
  if (!args.state_file.empty()) std::remove(args.state_file.c_str());
  return code;
}

CLI::App* add_cluster_command(CLI::App& app, ClusterArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "cluster",
      "Run a whole tree of balance servers on this machine from a topology file: virtual "
      "nodes (or, with --processes, turnscout-server processes) on loopback, each behind a "
      "proxy that simulates its distance from the client");
  cmd->add_option("topology", args.topology, "Topology file (YAML)")->type_name("FILE")->required();
  cmd->add_option("--state-file", args.state_file,
                  "Write the nodes and root addresses as JSON here once converged, and again "
                  "whenever a node's process ends (removed on exit)")
      ->type_name("PATH");
  cmd->add_option("--timeout", args.timeout, "Give up when not converged by then")
      ->type_name("DURATION")
      ->capture_default_str();
  cmd->add_option("--log-level", args.log_level,
                  "trace, debug, info, warn, error, critical, off (info logs every node's "
                  "state changes)")
      ->type_name("LEVEL")
      ->capture_default_str();
  cmd->add_option("--seed", args.seed, "Seed of the simulated loss and jitter")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_flag("--check", args.check, "Only load the topology and print a summary");
  cmd->add_flag("--block-udp", args.block_udp,
                "Every proxy drops every UDP datagram, as a network that blocks UDP: clients "
                "reach the nodes over TCP only (heartbeats are not affected)");
  cmd->add_flag("--ipv6", args.ipv6,
                "Every node and proxy on [::1] (each on a port of its own) instead of the "
                "topology's IPv4 addresses");
  CLI::Option* tls_cert =
      cmd->add_option("--tls-cert", args.tls_cert,
                      "Every node serves TLS on its TCP port with this PEM certificate (for the "
                      "proxies' addresses), so `turnscout probe --transport tls` walks the tree")
          ->type_name("FILE")
          ->check(CLI::Validator(CLI::ExistingFile).description(""));
  cmd->add_option("--tls-key", args.tls_key, "The private key of --tls-cert (PEM)")
      ->type_name("FILE")
      ->check(CLI::Validator(CLI::ExistingFile).description(""))
      ->needs(tls_cert);
  tls_cert->needs("--tls-key");
  CLI::Option* processes =
      cmd->add_flag("--processes", args.processes,
                    "Run every node as a turnscout-server process instead of a virtual node");
  cmd->add_option("--server-binary", args.server_binary,
                  "The turnscout-server to run (default: the one next to this turnscout, or "
                  "in its build tree)")
      ->type_name("PATH")
      ->needs(processes);
  cmd->add_option("--work-dir", args.work_dir,
                  "Where the node configs and logs go, kept on exit (default: a temporary "
                  "directory, removed on exit)")
      ->type_name("DIR")
      ->needs(processes);
  cmd->footer(kFooter);
  return cmd;
}

}  // namespace turnscout::cluster
