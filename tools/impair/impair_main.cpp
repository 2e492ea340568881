// turnscout-impair: a UDP forwarder that puts delay, jitter, loss and chosen drops between
// clients and one server, for loopback tests (the kernel gives them no netem).
#include <signal.h>
#include <uv.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "common/format.hpp"
#include "common/logging.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace {

using namespace turnscout;
using namespace turnscout::impair;

constexpr const char* kExamples = R"(Examples:
  turnscout-impair --listen 127.0.0.1:0 --upstream 127.0.0.1:3479 --delay 40ms --jitter 5ms --loss 0.1 --ready-file impair.addr
  turnscout-impair --listen 127.0.0.1:4000 --upstream 127.0.0.1:3479 --to-server-delay 10ms --to-client-delay 30ms --drop-nth 1 --seed 7

--delay, --jitter, --loss and --duplicate apply to both directions; a --to-server-* or
--to-client-* option overrides them for its direction. --drop-nth and --duplicate-nth count
each client's datagrams to the server from 1; their --to-client-* forms count the replies.
Each datagram leaves at arrival + delay + a uniform draw from [0, jitter]; with jitter,
datagrams may overtake each other unless --fifo is given.
The ready file receives the bound address ("127.0.0.1:40321") once the proxy forwards.
SIGTERM or SIGINT logs the counters and exits 0.)";

// Values of the options that exist once per direction; empty means "use the common one".
struct DirectionFlags {
  std::string delay;
  std::string jitter;
  std::optional<double> loss;
  std::optional<double> duplicate;
  std::vector<uint64_t> drop_nth;
  std::vector<uint64_t> duplicate_nth;
  std::vector<std::string> drop_prefix;
};

struct Flags {
  std::string listen;
  std::string upstream;
  std::string delay = "0";
  std::string jitter = "0";
  double loss = 0.0;
  double duplicate = 0.0;
  std::array<DirectionFlags, kDirectionCount> direction;
  bool fifo = false;
  uint64_t seed = 1;
  size_t max_queue = 1024;
  size_t max_queue_bytes = size_t{4} << 20;
  size_t max_clients = 4096;
  std::string client_idle = "60s";
  std::string ready_file;
  std::string log_level = "info";
};

// The value names --help shows, with the checks' own descriptions left out.
CLI::Option* duration(CLI::Option* option) {
  return option->type_name("DURATION");
}

CLI::Option* probability(CLI::Option* option) {
  return option->type_name("P")->check(CLI::Range(0.0, 1.0).description(""));
}

CLI::Option* positive(CLI::Option* option) {
  return option->type_name("N")->check(CLI::PositiveNumber.description(""));
}

void add_direction_options(CLI::App& app, Direction d, DirectionFlags& flags) {
  const std::string p = fmt::format("--{}-", to_string(d));
  const std::string what = d == Direction::kToServer ? "datagrams to the server" : "replies";
  duration(app.add_option(p + "delay", flags.delay, "Delay of " + what));
  duration(app.add_option(p + "jitter", flags.jitter, "Jitter of " + what));
  probability(app.add_option(p + "loss", flags.loss, "Loss probability of " + what));
  probability(app.add_option(p + "duplicate", flags.duplicate, "Duplicate probability of " + what));
  if (d == Direction::kToServer) {
    positive(app.add_option("--drop-nth", flags.drop_nth,
                            "Drop each client's Nth datagram to the server (repeatable)"));
    positive(app.add_option("--duplicate-nth", flags.duplicate_nth,
                            "Duplicate each client's Nth datagram to the server (repeatable)"));
    app.add_option("--drop-prefix", flags.drop_prefix,
                   "Drop every datagram to the server that starts with these hex bytes, "
                   "e.g. 0001 (repeatable)")
        ->type_name("HEX");
  } else {
    positive(app.add_option("--to-client-drop-nth", flags.drop_nth,
                            "Drop the Nth reply to each client (repeatable)"));
    positive(app.add_option("--to-client-duplicate-nth", flags.duplicate_nth,
                            "Duplicate the Nth reply to each client (repeatable)"));
    app.add_option("--to-client-drop-prefix", flags.drop_prefix,
                   "Drop every reply that starts with these hex bytes (repeatable)")
        ->type_name("HEX");
  }
}

Result<std::vector<uint8_t>, std::string> parse_hex(const std::string& text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> bytes;
  bool ok = !text.empty() && text.size() % 2 == 0;
  for (size_t i = 0; ok && i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    ok = hi >= 0 && lo >= 0;
    bytes.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  if (!ok)
    return unexpected(fmt::format("expected hex bytes like 0001, got {}", turnscout::quoted(text)));
  return bytes;
}

Result<Duration, std::string> duration_flag(const std::string& own, const std::string& common,
                                            const std::string& name) {
  auto parsed = parse_duration(own.empty() ? common : own);
  if (!parsed) return unexpected(fmt::format("{}: {}", name, parsed.error()));
  return *parsed;
}

Result<void, std::string> fill_direction(const Flags& flags, Direction d, DirectionParams& out) {
  const DirectionFlags& own = flags.direction[index_of(d)];
  const std::string prefix = fmt::format("--{}-", to_string(d));
  auto delay = duration_flag(own.delay, flags.delay, prefix + "delay");
  if (!delay) return unexpected(delay.error());
  auto jitter = duration_flag(own.jitter, flags.jitter, prefix + "jitter");
  if (!jitter) return unexpected(jitter.error());
  out.delay = *delay;
  out.jitter = *jitter;
  out.loss = own.loss.value_or(flags.loss);
  out.duplicate = own.duplicate.value_or(flags.duplicate);
  out.reorder = !flags.fifo;
  out.max_queued_packets = flags.max_queue;
  out.max_queued_bytes = flags.max_queue_bytes;
  for (uint64_t nth : own.drop_nth)
    out.rules.push_back(PacketRule::drop_nth(nth));
  for (uint64_t nth : own.duplicate_nth)
    out.rules.push_back(PacketRule::duplicate_nth(nth));
  for (const std::string& hex : own.drop_prefix) {
    auto bytes = parse_hex(hex);
    if (!bytes) return unexpected(bytes.error());
    out.rules.push_back(PacketRule::drop_prefix(std::move(*bytes)));
  }
  return {};
}

Result<ProxyOptions, std::string> to_options(const Flags& flags) {
  ProxyOptions options;
  auto listen = parse_endpoint(flags.listen);
  if (!listen) return unexpected("--listen: " + listen.error());
  auto upstream = parse_endpoint(flags.upstream);
  if (!upstream) return unexpected("--upstream: " + upstream.error());
  options.listen = *listen;
  options.upstream = *upstream;
  options.seed = flags.seed;
  for (Direction d : kDirections) {
    if (auto filled = fill_direction(flags, d, options.impair[d]); !filled) {
      return unexpected(filled.error());
    }
  }
  auto idle = parse_duration(flags.client_idle);
  if (!idle) return unexpected("--client-idle: " + idle.error());
  options.impair.max_clients = flags.max_clients;
  options.impair.client_idle_timeout = *idle;
  if (auto valid = validate(options.impair); !valid) return unexpected(valid.error());
  return options;
}

// Written under a temporary name and renamed, so a reader never sees half of it.
Result<void, std::string> write_ready_file(const std::string& path, const Endpoint& local) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << format_endpoint(local).view() << '\n';
    if (!out.flush()) return unexpected(fmt::format("cannot write {}", temporary));
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return unexpected(fmt::format("cannot rename {} to {}", temporary, path));
  }
  return {};
}

void log_counters(const UdpImpairProxy& proxy) {
  const std::string text = proxy.describe_counters();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    logger().info("{}", std::string_view(text).substr(start, end - start));
    start = end + 1;
  }
}

struct Shutdown {
  UdpImpairProxy* proxy = nullptr;
  std::array<uv_signal_t, 2> signals{};
};

void on_signal(uv_signal_t* handle, int signum) {
  auto* shutdown = static_cast<Shutdown*>(handle->data);
  logger().info("{}: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  log_counters(*shutdown->proxy);
  shutdown->proxy->stop();
  for (uv_signal_t& s : shutdown->signals)
    uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
}

int run(const ProxyOptions& options, const std::string& ready_file) {
  uv_loop_t loop;
  if (int rc = uv_loop_init(&loop); rc != 0) {
    logger().error("cannot create the event loop: {}", uv_strerror(rc));
    return 1;
  }
  int status = 0;
  {
    UdpImpairProxy proxy(&loop, options);
    Shutdown shutdown{&proxy, {}};
    const std::array<int, 2> signums = {SIGTERM, SIGINT};
    for (size_t i = 0; i < signums.size(); ++i) {
      uv_signal_init(&loop, &shutdown.signals[i]);
      shutdown.signals[i].data = &shutdown;
      uv_signal_start(&shutdown.signals[i], on_signal, signums[i]);
    }
    auto started = proxy.start();
    if (started && !ready_file.empty()) started = write_ready_file(ready_file, proxy.local());
    if (started) {
      logger().info("forwarding {} -> {}", proxy.local(), proxy.upstream());
      uv_run(&loop, UV_RUN_DEFAULT);
    } else {
      logger().error("{}", started.error());
      status = 1;
      proxy.stop();
      for (uv_signal_t& s : shutdown.signals)
        uv_close(reinterpret_cast<uv_handle_t*>(&s), nullptr);
      uv_run(&loop, UV_RUN_DEFAULT);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0) logger().warn("the event loop still had open handles");
  return status;
}

std::string describe(const ProxyOptions& options) {
  std::string out;
  for (Direction d : kDirections) {
    const DirectionParams& p = options.impair[d];
    out += fmt::format("{}{}: delay {}, jitter {}, loss {}, duplicate {}, {} rules",
                       out.empty() ? "" : "; ", to_string(d), format_duration(p.delay),
                       format_duration(p.jitter), p.loss, p.duplicate, p.rules.size());
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"UDP forwarder that adds delay, jitter and loss in front of a server",
               "turnscout-impair"};
  app.footer(kExamples);
  Flags flags;
  app.add_option("--listen", flags.listen,
                 "Address clients send to, IP:PORT (port 0: any free port)")
      ->type_name("ADDRESS")
      ->required();
  app.add_option("--upstream", flags.upstream, "The server to forward to, IP:PORT")
      ->type_name("ADDRESS")
      ->required();
  duration(app.add_option("--delay", flags.delay, "One-way delay in each direction, e.g. 40ms"))
      ->capture_default_str();
  duration(app.add_option("--jitter", flags.jitter, "Extra delay drawn uniformly from [0, jitter]"))
      ->capture_default_str();
  probability(app.add_option("--loss", flags.loss, "Probability of dropping each datagram, 0 to 1"))
      ->capture_default_str();
  probability(app.add_option("--duplicate", flags.duplicate,
                             "Probability of sending a datagram twice, 0 to 1"))
      ->capture_default_str();
  for (Direction d : kDirections)
    add_direction_options(app, d, flags.direction[index_of(d)]);
  app.add_flag("--fifo", flags.fifo, "Never reorder datagrams of one direction");
  app.add_option("--seed", flags.seed, "Seed of the loss, duplicate and jitter draws")
      ->type_name("N")
      ->capture_default_str();
  positive(app.add_option("--max-queue", flags.max_queue, "Datagrams queued per direction at most"))
      ->capture_default_str();
  positive(app.add_option("--max-queue-bytes", flags.max_queue_bytes,
                          "Bytes queued per direction at most"))
      ->capture_default_str();
  positive(app.add_option("--max-clients", flags.max_clients, "Client sessions at most"))
      ->capture_default_str();
  duration(
      app.add_option("--client-idle", flags.client_idle, "A silent client's session closes after"))
      ->capture_default_str();
  app.add_option("--ready-file", flags.ready_file, "File that receives the bound address")
      ->type_name("FILE");
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn or error")
      ->type_name("LEVEL")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (auto logging = init_logging(flags.log_level); !logging) {
    std::fprintf(stderr, "--log-level: %s\n", logging.error().c_str());
    return 1;
  }
  auto options = to_options(flags);
  if (!options) {
    std::fprintf(stderr, "%s\n", options.error().c_str());
    return 1;
  }
  logger().info("turnscout-impair: {}; seed {}", describe(*options), options->seed);
  return run(*options, flags.ready_file);
}
