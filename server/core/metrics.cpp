#include "server/core/metrics.hpp"

#include <array>
#include <chrono>
#include <iterator>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"

#ifndef TURNSCOUT_VERSION
#define TURNSCOUT_VERSION "unknown"
#endif

namespace turnscout::server {
namespace {

// Sums of every counter over the core and the workers.
struct Totals {
  std::array<uint64_t, static_cast<size_t>(RequestKind::kCount)> requests{};
  std::array<uint64_t, static_cast<size_t>(DropReason::kCount)> drops{};
  std::array<uint64_t, kReplySizeBuckets.size() + 1> sizes{};
  uint64_t replies = 0;
  uint64_t reply_bytes = 0;
  uint64_t truncated = 0;

  void add(const WorkerCounters& c) {
    for (size_t i = 0; i < requests.size(); ++i)
      requests[i] += c.requests[i].get();
    for (size_t i = 0; i < drops.size(); ++i)
      drops[i] += c.drops[i].get();
    for (size_t i = 0; i < sizes.size(); ++i)
      sizes[i] += c.reply_size_buckets[i].get();
    replies += c.replies.get();
    reply_bytes += c.reply_bytes.get();
    truncated += c.truncated_replies.get();
  }
};

class Writer {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  template <typename V>
  void sample(std::string_view name, V value) {
    fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
  }
  template <typename V>
  void sample(std::string_view name, std::string_view label, std::string_view label_value,
              V value) {
    fmt::format_to(std::back_inserter(out_), "{}{{{}=\"{}\"}} {}\n", name, label,
                   escape_label_value(label_value), value);
  }
  template <typename... Args>
  void line(fmt::format_string<Args...> format, Args&&... args) {
    fmt::format_to(std::back_inserter(out_), format, std::forward<Args>(args)...);
    out_ += '\n';
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

void render_traffic(Writer& w, const Totals& t) {
  w.family("turnscout_requests_total", "counter", "Requests received, by type.");
  for (size_t i = 0; i < t.requests.size(); ++i) {
    w.sample("turnscout_requests_total", "type", to_string(static_cast<RequestKind>(i)),
             t.requests[i]);
  }
  w.family("turnscout_replies_total", "counter", "Replies sent.");
  w.sample("turnscout_replies_total", t.replies);
  w.family("turnscout_truncated_replies_total", "counter",
           "Probe replies whose child list was cut to stay within the request size.");
  w.sample("turnscout_truncated_replies_total", t.truncated);
  w.family("turnscout_drops_total", "counter", "Datagrams dropped without an answer, by reason.");
  for (size_t i = 0; i < t.drops.size(); ++i) {
    w.sample("turnscout_drops_total", "reason", to_string(static_cast<DropReason>(i)), t.drops[i]);
  }
  w.family("turnscout_reply_size_bytes", "histogram", "Size of the replies sent, in bytes.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < t.sizes.size(); ++i) {
    cumulative += t.sizes[i];
    const std::string le = i < kReplySizeBuckets.size() ? fmt::format("{}", kReplySizeBuckets[i])
                                                        : std::string("+Inf");
    w.sample("turnscout_reply_size_bytes_bucket", "le", le, cumulative);
  }
  w.sample("turnscout_reply_size_bytes_sum", t.reply_bytes);
  w.sample("turnscout_reply_size_bytes_count", cumulative);
}

void render_children(Writer& w, const ServerCore& core) {
  const std::vector<ChildStatus> children = core.children();
  std::array<uint64_t, 4> by_state{};
  uint64_t draining = 0;
  for (const ChildStatus& c : children) {
    ++by_state[static_cast<size_t>(c.liveness)];
    if (c.draining && c.liveness != ChildLiveness::kDead && c.liveness != ChildLiveness::kLeft) {
      ++draining;
    }
  }
  w.family("turnscout_children", "gauge", "Children known to this node, by liveness state.");
  for (size_t i = 0; i < by_state.size(); ++i) {
    w.sample("turnscout_children", "state", to_string(static_cast<ChildLiveness>(i)), by_state[i]);
  }
  // Which child is in which state, so that a supervisor (an operator, the cluster runner)
  // can tell which one is dead. One line per child: bounded as the child table is (static
  // children plus at most RegistryPolicy::max_dynamic).
  w.family("turnscout_child_state", "gauge",
           "Each child by name, with its liveness state as a label; always 1.");
  for (const ChildStatus& c : children) {
    w.line("turnscout_child_state{{child=\"{}\",state=\"{}\"}} 1", escape_label_value(c.name),
           to_string(c.liveness));
  }
  w.family("turnscout_children_draining", "gauge",
           "Alive or suspect children that announced they are draining.");
  w.sample("turnscout_children_draining", draining);
  w.family("turnscout_children_rejected_total", "counter",
           "Dynamic children turned away because the children table was full.");
  w.sample("turnscout_children_rejected_total", core.dynamic_children_rejected());
}

void render_parents(Writer& w, const ServerCore& core) {
  const std::vector<ParentStatus> parents = core.parents();
  if (parents.empty()) return;
  std::vector<std::string> names;
  for (const ParentStatus& p : parents)
    names.push_back(to_string(p.address));
  w.family("turnscout_parent_up", "gauge", "1 if the parent answers our heartbeats.");
  for (size_t i = 0; i < parents.size(); ++i) {
    w.sample("turnscout_parent_up", "parent", names[i], parents[i].up ? 1 : 0);
  }
  w.family("turnscout_parent_heartbeat_rtt_seconds", "gauge",
           "Round-trip time of the last answered heartbeat to the parent.");
  for (size_t i = 0; i < parents.size(); ++i) {
    const double rtt = std::chrono::duration<double>(parents[i].last_rtt).count();
    w.sample("turnscout_parent_heartbeat_rtt_seconds", "parent", names[i], rtt);
  }
  w.family("turnscout_parent_heartbeats_sent_total", "counter", "Heartbeats sent to the parent.");
  for (size_t i = 0; i < parents.size(); ++i) {
    w.sample("turnscout_parent_heartbeats_sent_total", "parent", names[i],
             parents[i].heartbeats_sent);
  }
  w.family("turnscout_parent_heartbeats_answered_total", "counter",
           "Heartbeats the parent answered with success.");
  for (size_t i = 0; i < parents.size(); ++i) {
    w.sample("turnscout_parent_heartbeats_answered_total", "parent", names[i],
             parents[i].heartbeats_answered);
  }
}

void render_node(Writer& w, const ServerCore& core, const MetricsSources& sources) {
  const SnapshotPtr& snapshot = core.snapshot();
  w.family("turnscout_load_ratio", "gauge", "Own load as a fraction of capacity (1 = full).");
  w.sample("turnscout_load_ratio", static_cast<double>(core.own_load()) / 1000.0);
  w.family("turnscout_subtree_live_leaves", "gauge",
           "Live leaves in this node's subtree, itself included.");
  w.sample("turnscout_subtree_live_leaves", core.subtree().live_leaves);
  w.family("turnscout_admission_clients", "gauge", "Clients tracked by admission control.");
  w.sample("turnscout_admission_clients", sources.admission_clients);
  w.family("turnscout_snapshot_version", "gauge", "Version of the published snapshot.");
  w.sample("turnscout_snapshot_version", snapshot ? snapshot->version : 0);
  w.family("turnscout_draining", "gauge", "1 while this node drains before exiting.");
  w.sample("turnscout_draining", snapshot && snapshot->draining ? 1 : 0);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_metrics(const ServerCore& core, const MetricsSources& sources) {
  Totals totals;
  totals.add(core.control_counters());
  totals.add(core.responder().counters());
  for (const WorkerCounters* c : sources.other_workers) {
    if (c != nullptr) totals.add(*c);
  }
  Writer w;
  w.family("turnscout_build_info", "gauge", "Build and node information; always 1.");
  w.line("turnscout_build_info{{version=\"{}\",node=\"{}\"}} 1",
         escape_label_value(TURNSCOUT_VERSION), escape_label_value(core.config().name));
  render_traffic(w, totals);
  render_children(w, core);
  render_parents(w, core);
  render_node(w, core, sources);
  return w.take();
}

}  // namespace turnscout::server
