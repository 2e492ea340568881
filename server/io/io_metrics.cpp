#include "server/io/io_metrics.hpp"

#include <fmt/format.h>

namespace turnscout::server {
namespace {

struct Family {
  const char* name;
  const char* help;
  const Counter& (*counter)(const IoCounters&);
};

constexpr Family kFamilies[] = {
    {"turnscout_io_datagrams_received_total", "UDP datagrams read from the listen sockets.",
     [](const IoCounters& c) -> const Counter& { return c.udp.received; }},
    {"turnscout_io_receive_errors_total", "Receive errors and truncated datagrams.",
     [](const IoCounters& c) -> const Counter& { return c.udp.receive_errors; }},
    {"turnscout_io_send_dropped_total", "Datagrams the kernel refused to send (not retried).",
     [](const IoCounters& c) -> const Counter& { return c.udp.send_dropped; }},
    {"turnscout_io_forward_dropped_total",
     "Control datagrams dropped because the queue to worker 0 was full.",
     [](const IoCounters& c) -> const Counter& { return c.forward_dropped; }},
};

}  // namespace

std::string render_io_metrics(std::span<const IoCounters* const> workers) {
  std::string out;
  for (const Family& f : kFamilies) {
    out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", f.name, f.help, f.name);
    for (size_t i = 0; i < workers.size(); ++i) {
      out += fmt::format("{}{{worker=\"{}\"}} {}\n", f.name, i, f.counter(*workers[i]).get());
    }
  }
  return out;
}

std::string render_stream_metrics(const StreamCounters& s) {
  std::string out = fmt::format(
      "# HELP turnscout_stream_connections TCP and TLS connections open now.\n"
      "# TYPE turnscout_stream_connections gauge\n"
      "turnscout_stream_connections {}\n"
      "# HELP turnscout_stream_accepted_total TCP and TLS connections accepted.\n"
      "# TYPE turnscout_stream_accepted_total counter\n"
      "turnscout_stream_accepted_total {}\n"
      "# HELP turnscout_stream_requests_total Complete requests read from TCP and TLS.\n"
      "# TYPE turnscout_stream_requests_total counter\n"
      "turnscout_stream_requests_total {}\n",
      s.open.load(std::memory_order_relaxed), s.accepted.get(), s.requests.get());
  out +=
      "# HELP turnscout_stream_refused_total Connections closed at once, by the limit they hit.\n"
      "# TYPE turnscout_stream_refused_total counter\n";
  for (size_t i = 0; i < s.refused.size(); ++i) {
    out += fmt::format("turnscout_stream_refused_total{{limit=\"{}\"}} {}\n",
                       stream_refusal_name(static_cast<StreamRefusal>(i)), s.refused[i].get());
  }
  out +=
      "# HELP turnscout_stream_closed_total Connections closed, by reason.\n"
      "# TYPE turnscout_stream_closed_total counter\n";
  for (size_t i = 0; i < s.closed.size(); ++i) {
    out += fmt::format("turnscout_stream_closed_total{{reason=\"{}\"}} {}\n",
                       stream_end_name(static_cast<StreamEnd>(i)), s.closed[i].get());
  }
  return out;
}

}  // namespace turnscout::server
