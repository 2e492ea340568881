#include "tools/cluster/cluster.hpp"

#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "common/format.hpp"
#include "server/io/log_events.hpp"

namespace turnscout::cluster {
namespace {

std::string format_link(const Link& link) {
  std::string text = format_duration(link.delay);
  if (link.jitter > Duration::zero()) text += " ±" + format_duration(link.jitter);
  if (link.loss > 0) text += fmt::format(" {:g}% loss", link.loss * 100);
  return text;
}

std::string format_load(uint16_t permille) {
  return fmt::format("{:.2f}", permille / 1000.0);
}

double to_ms(Duration d) {
  return static_cast<double>(d.count()) / 1000.0;
}

// Closes `timer` when open and frees it in its close callback, which then runs `done`.
void close_timer(uv_timer_t*& timer, std::function<void()> done) {
  uv_timer_t* t = std::exchange(timer, nullptr);
  if (t == nullptr) return;
  struct Box {
    std::function<void()> done;
  };
  t->data = new Box{std::move(done)};
  uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
    auto* box = static_cast<Box*>(h->data);
    auto finish = std::move(box->done);
    delete box;
    delete reinterpret_cast<uv_timer_t*>(h);
    if (finish) finish();
  });
}

impair::ImpairConfig impair_config(const Link& link) {
  impair::ImpairConfig config;
  for (impair::Direction d : impair::kDirections) {
    config[d].delay = link.delay;
    config[d].jitter = link.jitter;
    config[d].loss = link.loss;
  }
  return config;
}

}  // namespace

Cluster::Cluster(uv_loop_s* loop, Topology topology, ClusterOptions options)
    : loop_(loop), topology_(std::move(topology)), options_(options) {}

Cluster::~Cluster() {
  stop();
  // A stop still waiting for node processes ends here: NodeProcess kills (SIGKILL) what
  // still runs, and the loop reaps it.
  after_exits_.clear();
  close_timer(kill_timer_, nullptr);
  close_timer(check_timer_, nullptr);
  remove_work_dir();
}

Result<void, std::string> Cluster::open_sockets() {
  nodes_.resize(topology_.nodes.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const TopologyNode& t = topology_.nodes[i];
    auto node_at = nth_address(topology_.node_base, i);
    auto proxy_at = nth_address(topology_.proxy_base, i);
    if (!node_at || !proxy_at) return unexpected(std::string("out of loopback addresses"));
    Running& r = nodes_[i];
    auto bound = Result<Endpoint, std::string>(unexpected(std::string()));
    if (process_mode()) {
      bound = reserve_ports(i, *node_at);
    } else {
      r.node = std::make_unique<VirtualNode>(loop_, clock_);
      bound = r.node->bind(*node_at);
    }
    if (!bound) return unexpected(fmt::format("node {}: {}", t.name, bound.error()));
    r.address = *bound;
    impair::ProxyOptions proxy;
    proxy.listen = *proxy_at;
    proxy.upstream = *bound;
    proxy.impair = impair_config(t.link);
    if (options_.block_udp) {
      // A network that lets no UDP through: every datagram, both ways, into a black hole.
      for (impair::Direction d : impair::kDirections)
        proxy.impair[d].rules.push_back(impair::PacketRule{});
    }
    proxy.seed = options_.seed * 1'000'003u + i;
    r.proxy = std::make_unique<impair::UdpImpairProxy>(loop_, proxy);
    if (auto started = r.proxy->start(); !started) {
      return unexpected(fmt::format("proxy of {}: {}", t.name, started.error()));
    }
    // TCP at the same address and port, to the node's TCP listener, with the link's delay.
    r.tcp_proxy =
        std::make_unique<impair::TcpDelayProxy>(loop_, r.proxy->local(), *bound, t.link.delay);
    if (auto started = r.tcp_proxy->start(); !started) {
      return unexpected(fmt::format("TCP proxy of {}: {}", t.name, started.error()));
    }
  }
  return {};
}

server::ServerConfig Cluster::node_config(size_t index) const {
  const TopologyNode& t = topology_.nodes[index];
  const Running& r = nodes_[index];
  server::ServerConfig c;
  c.source_file = topology_.source;
  c.name = t.name;
  c.listen = {r.address};
  c.advertise = {r.proxy->local()};
  for (size_t p : t.parents)
    c.parents.push_back({nodes_[p].address});
  for (size_t child : t.children) {
    c.children.push_back(
        {topology_.nodes[child].name, nodes_[child].address, topology_.nodes[child].weight});
  }
  c.heartbeat.interval = topology_.defaults.heartbeat;
  c.heartbeat.missed = topology_.defaults.missed;
  c.load.source = server::LoadSourceKind::kStatic;
  c.load.static_permille = t.load_permille;
  c.listing = t.listing;
  c.admission.enabled = topology_.defaults.admission;
  c.cluster.key = key_;
  for (const std::string& s : t.services)
    c.services.push_back(expand_service(s, r.proxy->local(), r.address));
  c.weight = t.weight;
  c.streams.tls_cert_file = options_.tls_cert_file;
  c.streams.tls_key_file = options_.tls_key_file;
  return c;
}

Result<void, std::string> Cluster::start(std::function<void()> on_converged) {
  if (!nodes_.empty() || stopping_) return unexpected(std::string("start() runs once"));
  on_converged_ = std::move(on_converged);
  std::array<uint8_t, 24> key{};
  SystemRandom().fill(key);
  key_ = fmt::format("{:02x}", fmt::join(key, ""));
  auto fail = [this](std::string error) -> Result<void, std::string> {
    stop();
    return unexpected(std::move(error));
  };
  if (process_mode()) {
    if (auto opened = open_work_dir(); !opened) return fail(opened.error());
    poller_ = std::make_unique<MetricsPoller>(loop_);
    if (auto polling = poller_->start(); !polling) return fail(polling.error());
    expected_leaves_ = expected_live_leaves(topology_);
  }
  if (auto opened = open_sockets(); !opened) return fail(opened.error());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (process_mode()) {
      if (auto started = start_process(i); !started) return fail(started.error());
      continue;
    }
    if (auto started = nodes_[i].node->start(node_config(i), options_.seed * 7'919u + i);
        !started) {
      return fail(fmt::format("node {}: {}", topology_.nodes[i].name, started.error()));
    }
  }
  check_timer_ = new uv_timer_t{};
  uv_timer_init(loop_, check_timer_);
  check_timer_->data = this;
  const auto every = static_cast<uint64_t>(std::max<int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(options_.check_interval).count()));
  uv_timer_start(
      check_timer_, [](uv_timer_t* t) { static_cast<Cluster*>(t->data)->check(); }, every, every);
  return {};
}

void Cluster::stop(std::function<void()> on_closed) {
  stopping_ = true;
  if (check_timer_ != nullptr) uv_timer_stop(check_timer_);
  if (poller_) poller_->stop();
  if (processes_running() == 0) {
    close_all(std::move(on_closed));
    return;
  }
  stop_processes(
      [this, on_closed = std::move(on_closed)]() mutable { close_all(std::move(on_closed)); });
}

void Cluster::close_all(std::function<void()> on_closed) {
  remove_work_dir();
  // Shared by the close callbacks; the last one out calls `on_closed`.
  auto pending = std::make_shared<size_t>(1);
  auto done = [pending, on_closed = std::move(on_closed)]() {
    if (--*pending == 0 && on_closed) on_closed();
  };
  for (uv_timer_t** timer : {&check_timer_, &kill_timer_}) {
    if (*timer == nullptr) continue;
    ++*pending;
    close_timer(*timer, done);
  }
  for (Running& r : nodes_) {
    if (r.node) {
      ++*pending;
      r.node->close(done);
    }
    if (r.proxy && r.proxy->running()) {
      ++*pending;
      r.proxy->stop(done);
    }
    if (r.tcp_proxy) {
      ++*pending;
      r.tcp_proxy->stop(done);
    }
  }
  done();
}

std::vector<Cluster::ChildTable> Cluster::child_tables() const {
  std::vector<ChildTable> tables(nodes_.size());
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Running& r = nodes_[i];
    // A parent whose process is gone knows nothing, whatever it said last.
    if (r.seen && (!r.process || r.process->running())) {
      for (const auto& [name, liveness] : r.seen->children) {
        server::ChildStatus c;
        c.name = name;
        c.liveness = liveness;
        c.heard = true;  // The metrics show a never-heard child as dead.
        tables[i].emplace(name, std::move(c));
      }
    }
    if (!r.node || !r.node->started()) continue;
    for (server::ChildStatus& c : r.node->core().children())
      tables[i].emplace(c.name, std::move(c));
  }
  return tables;
}

std::vector<Cluster::LinkStatus> Cluster::link_states() const {
  const std::vector<ChildTable> tables = child_tables();
  std::vector<LinkStatus> out;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const TopologyNode& t = topology_.nodes[i];
    for (size_t p : t.parents) {
      // A draining process exits once its Leave is out: links to it are gone, not pending.
      if (process_mode() && nodes_[p].drain_started) continue;
      LinkStatus s{i, p, false, server::ChildLiveness::kDead, false};
      auto it = tables[p].find(t.name);
      if (it != tables[p].end() && it->second.heard) {
        s.heard = true;
        s.liveness = it->second.liveness;
        // A process's view of its children's summaries is not in its metrics; its own
        // live-leaf count is, and it is complete only once every summary below is current.
        s.current = process_mode()
                        ? nodes_[p].seen && nodes_[p].seen->live_leaves == expected_leaves_[p]
                        : it->second.subtree == nodes_[i].node->core().subtree();
      }
      out.push_back(s);
    }
  }
  return out;
}

bool Cluster::settled(const LinkStatus& link) const {
  if (topology_.nodes[link.child].state == NodeState::kActive) {
    return link.heard && link.liveness == server::ChildLiveness::kAlive && link.current;
  }
  const Running& r = nodes_[link.child];
  // A node process that sent Leave exits after its parents answer; until it has, the
  // tree is still changing (and its state file would show it running).
  const bool gone = !r.process || r.process->exit().has_value();
  return r.drain_started && gone && link.heard && link.liveness == server::ChildLiveness::kLeft;
}

std::vector<std::string> Cluster::pending_links() const {
  std::vector<std::string> out;
  for (const LinkStatus& link : link_states()) {
    if (settled(link)) continue;
    const TopologyNode& t = topology_.nodes[link.child];
    const char* note = "";
    if (t.state == NodeState::kDraining) {
      const Running& r = nodes_[link.child];
      if (!r.drain_started) {
        note = " (drains once alive)";
      } else if (link.liveness != server::ChildLiveness::kLeft) {
        note = " (Leave sent)";
      } else {
        note = " (left; its process has not exited)";
      }
    }
    if (link.heard && link.liveness == server::ChildLiveness::kAlive && !link.current) {
      note = " (subtree summary not yet current)";
    }
    out.push_back(fmt::format("{} at {}: {}{}", t.name, topology_.nodes[link.parent].name,
                              link.heard ? server::to_string(link.liveness) : "never heard", note));
  }
  return out;
}

bool Cluster::converged() const {
  return !nodes_.empty() && pending_links().empty();
}

void Cluster::check() {
  if (stopping_) return;
  if (process_mode()) {
    poll_metrics();
  } else if (!converged_) {
    evaluate();
  }
}

void Cluster::evaluate() {
  std::vector<LinkStatus> links = link_states();
  // A draining node first joins, then leaves: drain it once every parent has it alive.
  std::vector<bool> joined(nodes_.size(), true);
  for (const LinkStatus& link : links) {
    if (!link.heard || link.liveness != server::ChildLiveness::kAlive) joined[link.child] = false;
  }
  bool drained_any = false;
  const TimePoint now = steady_now();
  for (size_t i = 0; i < nodes_.size(); ++i) {
    Running& r = nodes_[i];
    if (topology_.nodes[i].state != NodeState::kDraining || r.drain_started || !joined[i]) continue;
    r.drain_started = true;
    if (process_mode()) {
      drain_process(i);
    } else {
      r.node->core().start_drain(now);
      r.node->flush();
    }
    drained_any = true;
  }
  if (drained_any) return;
  for (const LinkStatus& link : links) {
    if (!settled(link)) return;
  }
  converged_ = true;
  // Process mode keeps reading the parents' metrics (at the heartbeat interval), so the
  // views stay current when processes are killed or restarted.
  if (!process_mode()) uv_timer_stop(check_timer_);
  if (on_converged_) on_converged_();
}

std::string Cluster::state_of(size_t index) const {
  const TopologyNode& t = topology_.nodes[index];
  const Running& r = nodes_[index];
  if (r.process && r.process->exit() && !r.drain_started) return "exited";
  if (t.state == NodeState::kDraining) {
    const bool drained =
        process_mode() ? r.drained : r.node && r.node->started() && r.node->core().drained();
    return drained ? "drained" : "draining";
  }
  if (t.listing.overload_permille != 0 && t.load_permille >= t.listing.overload_permille) {
    return "overloaded";
  }
  return "active";
}

std::vector<NodeView> Cluster::nodes() const {
  std::vector<NodeView> out;
  const std::vector<ChildTable> tables = child_tables();
  for (size_t i = 0; i < topology_.nodes.size(); ++i) {
    const TopologyNode& t = topology_.nodes[i];
    NodeView v;
    v.name = t.name;
    v.depth = t.depth;
    for (size_t p : t.parents) {
      v.parents.push_back(topology_.nodes[p].name);
      if (p >= tables.size()) continue;
      auto it = tables[p].find(t.name);
      if (it != tables[p].end() && it->second.heard &&
          it->second.liveness == server::ChildLiveness::kAlive) {
        ++v.parents_seeing;
      }
    }
    if (i < nodes_.size()) {
      const Running& r = nodes_[i];
      v.node = r.address;
      if (r.proxy) v.proxy = r.proxy->local();
      if (r.process && r.process->running()) v.pid = r.process->pid();
      if (r.process && r.process->exit()) v.exit = to_string(*r.process->exit());
      v.config = r.config_path;
      v.command = r.command;
    }
    v.link = t.link;
    v.load_permille = t.load_permille;
    v.overload_permille = t.listing.overload_permille;
    v.configured = t.state;
    v.state = i < nodes_.size() ? state_of(i) : to_string(t.state);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<Endpoint> Cluster::root_addresses() const {
  std::vector<Endpoint> out;
  for (size_t i = 0; i < topology_.nodes.size() && i < nodes_.size(); ++i) {
    if (topology_.nodes[i].depth == 0 && nodes_[i].proxy) out.push_back(nodes_[i].proxy->local());
  }
  return out;
}

std::string Cluster::table() const {
  const std::vector<NodeView> views = nodes();
  // Process mode adds a PID column ("-" once the process ended).
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"NAME", "NODE", "PROXY (clients)", "DELAY (each way)", "LOAD", "STATE"});
  if (process_mode()) rows.back().push_back("PID");
  rows.back().push_back("PARENTS");
  for (const NodeView& v : views) {
    std::string parents;
    for (const std::string& p : v.parents)
      parents += (parents.empty() ? "" : ",") + p;
    rows.push_back({std::string(2 * v.depth, ' ') + v.name, to_string(v.node), to_string(v.proxy),
                    format_link(v.link), format_load(v.load_permille), v.state});
    if (process_mode()) rows.back().push_back(v.pid ? std::to_string(*v.pid) : "-");
    rows.back().push_back(parents.empty() ? "-" : parents);
  }
  std::vector<size_t> width(rows.front().size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  }
  constexpr size_t kLoadColumn = 4;  // Numbers align right.
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      if (c + 1 == row.size()) {
        out += row[c] + "\n";
      } else if (c == kLoadColumn) {
        out += fmt::format("{:>{}}  ", row[c], width[c]);
      } else {
        out += fmt::format("{:<{}}  ", row[c], width[c]);
      }
    }
  }
  return out;
}

std::string Cluster::state_json() const {
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeView& v : this->nodes()) {
    nodes.push_back({
        {"name", v.name},
        {"depth", v.depth},
        {"parents", v.parents},
        {"node", to_string(v.node)},
        {"proxy", to_string(v.proxy)},
        {"delay_ms", to_ms(v.link.delay)},
        {"jitter_ms", to_ms(v.link.jitter)},
        {"loss", v.link.loss},
        {"load", v.load_permille / 1000.0},
        {"overload", v.overload_permille / 1000.0},
        {"state", v.state},
        {"pid", v.pid ? nlohmann::json(*v.pid) : nlohmann::json(nullptr)},
        {"config", v.config.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.config)},
        {"command", v.command.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.command)},
        {"exit", v.exit.empty() ? nlohmann::json(nullptr) : nlohmann::json(v.exit)},
    });
  }
  nlohmann::json roots = nlohmann::json::array();
  for (const Endpoint& e : root_addresses())
    roots.push_back(to_string(e));
  nlohmann::json doc = {{"converged", converged_},
                        {"pid", static_cast<int64_t>(getpid())},
                        {"roots", roots},
                        {"nodes", nodes}};
  return doc.dump(2) + "\n";
}

Result<uint64_t, std::string> raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return unexpected(fmt::format("getrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
  }
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return unexpected(fmt::format("setrlimit(RLIMIT_NOFILE): {}", std::strerror(errno)));
    }
  }
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace turnscout::cluster
