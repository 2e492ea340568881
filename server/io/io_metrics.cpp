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

}  // namespace turnscout::server
