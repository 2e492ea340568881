// The server's metrics in the Prometheus text exposition format (version 0.0.4), rendered
// from ServerCore's state and the workers' counters. Pure: the I/O layer serves the text
// over HTTP with kMetricsContentType.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "server/core/counters.hpp"
#include "server/core/server_core.hpp"

namespace turnscout::server {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

struct MetricsSources {
  // The responders of the other workers. The core's own responder and control-plane
  // counters are always included. Counters are relaxed atomics, so their threads may run.
  std::span<const WorkerCounters* const> other_workers;
  // Admission buckets tracked over all workers; only the I/O layer can sum them safely.
  uint64_t admission_clients = 0;
};

// Call on the thread that owns `core`. Families: turnscout_build_info,
// turnscout_requests_total{type}, turnscout_replies_total, turnscout_truncated_replies_total,
// turnscout_drops_total{reason}, turnscout_reply_size_bytes (histogram),
// turnscout_children{state}, turnscout_child_state{child,state}, turnscout_children_draining,
// turnscout_children_rejected_total, turnscout_parent_up{parent},
// turnscout_parent_heartbeat_rtt_seconds{parent},
// turnscout_parent_heartbeats_{sent,answered}_total{parent}, turnscout_load_ratio,
// turnscout_subtree_live_leaves, turnscout_admission_clients, turnscout_snapshot_version,
// turnscout_draining.
std::string render_metrics(const ServerCore& core, const MetricsSources& sources = {});

// A label value with \, " and newline escaped as the format requires.
std::string escape_label_value(std::string_view value);

}  // namespace turnscout::server
