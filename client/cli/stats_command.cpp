#include "client/cli/stats_command.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/random.hpp"
#include "client/cli/exit_codes.hpp"
#include "common/sockaddr.hpp"
#include "proto/binding.hpp"
#include "proto/message_view.hpp"
#include "tools/http/http_get.hpp"

namespace turnscout::cli {
namespace {

constexpr const char* kExamples = R"(Examples:
  turnscout stats 127.0.0.1:9471
  turnscout stats metrics.scout-a.example.org:9471 --timeout 500ms
  turnscout stats [::1]:9471 --raw | grep turnscout_drops_total

ADDR is the server's metrics address (its `metrics.listen` setting), not its UDP port.)";

class Metrics {
 public:
  explicit Metrics(const std::vector<Sample>& samples) : samples_(samples) {}

  std::optional<double> value(std::string_view name) const {
    for (const Sample& s : samples_) {
      if (s.name == name) return s.value;
    }
    return std::nullopt;
  }
  // "key value, key value" over the samples of `name`, by the values of `label`.
  std::string by_label(std::string_view name, std::string_view label, bool skip_zero) const {
    std::string out;
    for (const Sample& s : samples_) {
      if (s.name != name || (skip_zero && s.value == 0)) continue;
      out += fmt::format("{}{} {}", out.empty() ? "" : ", ", s.label(label), number(s.value));
    }
    return out;
  }
  // Summed over every label set (e.g. over the worker threads).
  double sum(std::string_view name) const {
    double total = 0;
    for (const Sample& s : samples_) {
      if (s.name == name) total += s.value;
    }
    return total;
  }
  std::vector<const Sample*> all(std::string_view name) const {
    std::vector<const Sample*> out;
    for (const Sample& s : samples_) {
      if (s.name == name) out.push_back(&s);
    }
    return out;
  }
  static std::string number(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 1e15) {
      return fmt::format("{}", static_cast<int64_t>(v));
    }
    return fmt::format("{:g}", v);
  }

 private:
  const std::vector<Sample>& samples_;
};

void line(std::string& out, std::string_view key, std::string_view value) {
  out += fmt::format("{:<13}{}\n", key, value);
}

void append_parents(std::string& out, const Metrics& m) {
  const auto up = m.all("turnscout_parent_up");
  if (up.empty()) {
    line(out, "parents", "none (a root)");
    return;
  }
  for (size_t i = 0; i < up.size(); ++i) {
    const std::string parent = up[i]->label("parent");
    double rtt = 0;
    double sent = 0;
    double answered = 0;
    for (const Sample* s : m.all("turnscout_parent_heartbeat_rtt_seconds"))
      if (s->label("parent") == parent) rtt = s->value;
    for (const Sample* s : m.all("turnscout_parent_heartbeats_sent_total"))
      if (s->label("parent") == parent) sent = s->value;
    for (const Sample* s : m.all("turnscout_parent_heartbeats_answered_total"))
      if (s->label("parent") == parent) answered = s->value;
    line(out, i == 0 ? "parents" : "",
         fmt::format("{} {}, heartbeat rtt {:.3f} ms, {} of {} heartbeats answered", parent,
                     up[i]->value != 0 ? "up" : "DOWN", rtt * 1000, Metrics::number(answered),
                     Metrics::number(sent)));
  }
}

}  // namespace

CLI::App* add_stats_command(CLI::App& app, StatsArgs& args) {
  CLI::App* stats =
      app.add_subcommand("stats", "Print the important metrics of a turnscout-server");
  stats->footer(kExamples);
  stats->add_option("address", args.address, "Metrics address: IP:PORT, [IPv6]:PORT or HOST:PORT")
      ->type_name("ADDR")
      ->required();
  stats->add_option("--path", args.path, "HTTP path of the metrics")
      ->type_name("PATH")
      ->capture_default_str();
  stats->add_option("--timeout", args.timeout, "Time limit, e.g. 500ms, 2s")
      ->type_name("DURATION")
      ->capture_default_str();
  stats->add_flag("--raw", args.raw, "Print the metrics text as served");
  return stats;
}

std::string format_stats(const std::vector<Sample>& samples) {
  const Metrics m(samples);
  std::string out;
  std::string node = "?";
  std::string version = "?";
  for (const Sample* s : m.all("turnscout_build_info")) {
    node = s->label("node");
    version = s->label("version");
  }
  line(out, "node", fmt::format("{} (turnscout-server {})", node, version));
  if (auto load = m.value("turnscout_load_ratio")) {
    line(out, "own load",
         fmt::format("{:.1f}% (this machine; probe shows its subtree's)", *load * 100));
  }
  if (auto leaves = m.value("turnscout_subtree_live_leaves")) {
    line(out, "live leaves", Metrics::number(*leaves));
  }
  const std::string children = m.by_label("turnscout_children", "state", false);
  line(out, "children",
       fmt::format("{}; draining {}; rejected {}", children.empty() ? "none" : children,
                   Metrics::number(m.value("turnscout_children_draining").value_or(0)),
                   Metrics::number(m.value("turnscout_children_rejected_total").value_or(0))));
  append_parents(out, m);
  const std::string requests = m.by_label("turnscout_requests_total", "type", false);
  line(out, "requests", requests.empty() ? "none" : requests);
  line(out, "replies",
       fmt::format("{} ({} truncated)",
                   Metrics::number(m.value("turnscout_replies_total").value_or(0)),
                   Metrics::number(m.value("turnscout_truncated_replies_total").value_or(0))));
  const std::string drops = m.by_label("turnscout_drops_total", "reason", true);
  line(out, "drops", drops.empty() ? "none" : drops);
  if (m.value("turnscout_io_datagrams_received_total")) {
    line(out, "sockets",
         fmt::format("{} datagrams received, {} receive errors, {} sends dropped",
                     Metrics::number(m.sum("turnscout_io_datagrams_received_total")),
                     Metrics::number(m.sum("turnscout_io_receive_errors_total")),
                     Metrics::number(m.sum("turnscout_io_send_dropped_total"))));
  }
  if (auto clients = m.value("turnscout_admission_clients")) {
    line(out, "admission", fmt::format("{} clients tracked", Metrics::number(*clients)));
  }
  if (auto version_of_snapshot = m.value("turnscout_snapshot_version")) {
    line(out, "snapshot", fmt::format("version {}", Metrics::number(*version_of_snapshot)));
  }
  line(out, "draining", m.value("turnscout_draining").value_or(0) != 0 ? "yes" : "no");
  return out;
}

// True when `address` answers a STUN Binding over UDP within `wait`: a balance server's
// (or a TURN server's) UDP address given where its metrics address was meant.
bool answers_stun(std::string_view address, Duration wait) {
  auto to = parse_endpoint(address);
  if (!to) return false;
  const int fd =
      socket(to->family == Family::kV4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  proto::BindingRequest request;
  SystemRandom().fill(request.transaction_id);
  std::array<uint8_t, 64> out{};
  auto size = proto::encode_binding_request(request, out);
  sockaddr_storage sa{};
  const socklen_t length = to_sockaddr(*to, sa);
  bool answered = false;
  if (size &&
      sendto(fd, out.data(), *size, 0, reinterpret_cast<const sockaddr*>(&sa), length) >= 0) {
    pollfd p{fd, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count();
    if (poll(&p, 1, static_cast<int>(ms)) == 1) {
      std::array<uint8_t, 1500> in{};
      const ssize_t n = recv(fd, in.data(), in.size(), 0);
      if (n > 0) {
        auto view = proto::parse_message(std::span(in.data(), static_cast<size_t>(n)));
        answered = view && view->transaction_id() == request.transaction_id;
      }
    }
  }
  close(fd);
  return answered;
}

int run_stats(const StatsArgs& args) {
  auto timeout = parse_duration(args.timeout);
  if (!timeout || *timeout <= Duration::zero()) {
    std::fprintf(stderr, "turnscout stats: --timeout: %s\n",
                 timeout ? "must be positive" : timeout.error().c_str());
    return kExitUsage;
  }
  auto reply = http_get(args.address, args.path, *timeout);
  if (!reply) {
    std::fprintf(stderr, "turnscout stats: %s\n", reply.error().c_str());
    if (answers_stun(args.address, std::min<Duration>(*timeout, std::chrono::milliseconds{500}))) {
      std::fprintf(stderr,
                   "turnscout stats: %s answers STUN over UDP: it is a server's UDP address, "
                   "not its metrics address (metrics.listen in its config; `turnscout-server "
                   "--check-config` prints it)\n",
                   args.address.c_str());
    }
    return kExitFailed;
  }
  if (reply->status != 200) {
    std::fprintf(stderr, "turnscout stats: %s%s answered HTTP %d\n", args.address.c_str(),
                 args.path.c_str(), reply->status);
    return kExitFailed;
  }
  if (args.raw) {
    std::fputs(reply->body.c_str(), stdout);
    return kExitOk;
  }
  auto samples = parse_prometheus(reply->body);
  if (!samples) {
    std::fprintf(stderr, "turnscout stats: not Prometheus text: %s\n", samples.error().c_str());
    return kExitFailed;
  }
  std::fputs(format_stats(*samples).c_str(), stdout);
  return kExitOk;
}

}  // namespace turnscout::cli
