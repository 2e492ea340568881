// The I/O layer's own metric families, appended to server/core/metrics.hpp's output in the
// same Prometheus text format: one sample per worker, labelled worker="N".
#pragma once

#include <span>
#include <string>

#include "server/core/stream_table.hpp"
#include "server/io/io_counters.hpp"

namespace turnscout::server {

// turnscout_io_datagrams_received_total, turnscout_io_receive_errors_total,
// turnscout_io_send_dropped_total, turnscout_io_forward_dropped_total. `workers[i]` is
// worker i.
std::string render_io_metrics(std::span<const IoCounters* const> workers);

// turnscout_stream_connections (open now), turnscout_stream_accepted_total,
// turnscout_stream_refused_total{limit}, turnscout_stream_closed_total{reason},
// turnscout_stream_requests_total: the TCP and TLS listeners (worker 0's).
std::string render_stream_metrics(const StreamCounters& streams);

}  // namespace turnscout::server
