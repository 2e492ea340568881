// client_footprint: what the SDK costs the program that links it, measured in a process
// that holds nothing else (the tree it probes runs in another process).
//
//   client_footprint ROOT... [--discoveries N] [--idle-ms MS]
//
// Baseline, in the same run: the same process with a bare libuv loop and no Client. Then:
// the RSS a Client adds once constructed, once it has discovered (sockets open, tables
// filled), and after N more discoveries (its tables are bounded: it must not grow with
// N); the main thread's CPU per discovery, cold (every hop probed) and warm (the last good
// leaf first); and the CPU an idle Client costs per second next to an idle bare loop.
#include <time.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <turnscout/client.hpp>

namespace {

double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) * 1e-3;
}

// VmRSS of this process, in KiB.
long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
    status.ignore(1 << 16, '\n');
  }
  return -1;
}

// Runs `loop` for `ms` with nothing else to do; the main thread's CPU meanwhile, in µs.
double idle_cpu_us(uv_loop_t* loop, uint64_t ms) {
  uv_timer_t timer{};
  uv_timer_init(loop, &timer);
  bool done = false;
  timer.data = &done;
  uv_timer_start(
      &timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, ms, 0);
  const double start = thread_cpu_us();
  while (!done)
    uv_run(loop, UV_RUN_ONCE);
  const double used = thread_cpu_us() - start;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), nullptr);
  uv_run(loop, UV_RUN_NOWAIT);
  return used;
}

// One discovery to its callback; its result.
turnscout::DiscoveryResult discover(uv_loop_t* loop, turnscout::Client& client,
                                    const turnscout::DiscoverOptions& options) {
  std::optional<turnscout::DiscoveryResult> result;
  client.discover(options, [&](turnscout::DiscoveryResult r) { result = std::move(r); });
  while (!result)
    uv_run(loop, UV_RUN_ONCE);
  return std::move(*result);
}

struct Phase {
  const char* name;
  size_t ok = 0;
  double cpu_us = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> roots;
  size_t discoveries = 1000;
  uint64_t idle_ms = 2000;
  CLI::App app("client_footprint: the SDK's memory and CPU in a program of its own");
  app.add_option("roots", roots, "Root balance servers (IP:PORT) of a running tree")
      ->required()
      ->type_name("ROOT");
  app.add_option("--discoveries", discoveries, "Discoveries per phase (cold, warm)")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--idle-ms", idle_ms, "How long the idle loops run")
      ->check(CLI::Range(uint64_t{100}, uint64_t{60'000}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  uv_loop_t loop{};
  uv_loop_init(&loop);
  const double bare_idle = idle_cpu_us(&loop, idle_ms);
  const long rss_bare = rss_kib();

  long rss_client = 0;
  long rss_first = 0;
  long rss_after = 0;
  double client_idle = 0;
  std::vector<Phase> phases{{"cold"}, {"warm"}};
  std::string failure;
  {
    turnscout::Client client(&loop);
    rss_client = rss_kib();
    turnscout::DiscoverOptions options;
    options.roots = roots;
    options.verify = false;  // The walk alone; a Binding is one more exchange.
    options.use_last_path = false;
    const turnscout::DiscoveryResult first = discover(&loop, client, options);
    if (!first.ok()) failure = first.failure;
    rss_first = rss_kib();
    for (Phase& phase : phases) {
      options.use_last_path = std::string(phase.name) == "warm";
      const double start = thread_cpu_us();
      for (size_t i = 0; i < discoveries; ++i) {
        const turnscout::DiscoveryResult r = discover(&loop, client, options);
        if (r.ok()) {
          ++phase.ok;
        } else if (failure.empty()) {
          failure = r.failure;
        }
      }
      // A warm discovery's background refresh ends on the loop after its result.
      idle_cpu_us(&loop, 50);
      phase.cpu_us = thread_cpu_us() - start;
    }
    rss_after = rss_kib();
    client_idle = idle_cpu_us(&loop, idle_ms);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  const double seconds = static_cast<double>(idle_ms) / 1000.0;
  std::printf(
      "client footprint: one turnscout::Client in a process of its own, %zu discoveries "
      "per phase, verify off\n\n",
      discoveries);
  std::printf("%-44s %10s %12s\n", "", "RSS KiB", "vs bare loop");
  std::printf("%-44s %10ld %12s\n", "bare libuv loop (baseline)", rss_bare, "");
  std::printf("%-44s %10ld %+12ld\n", "Client constructed", rss_client, rss_client - rss_bare);
  std::printf("%-44s %10ld %+12ld\n", "after its first discovery", rss_first, rss_first - rss_bare);
  std::printf("%-44s %10ld %+12ld\n", "after every phase", rss_after, rss_after - rss_bare);
  std::printf("%-44s %10s %+12ld  (a leak grows with the discoveries)\n",
              "  growth since the first discovery", "", rss_after - rss_first);
  std::printf("\n%-44s %10s %12s\n", "", "CPU us", "per");
  std::printf("%-44s %10.1f %12s\n", "idle, bare loop (baseline)", bare_idle / seconds, "second");
  std::printf("%-44s %10.1f %12s\n", "idle, Client after its discoveries", client_idle / seconds,
              "second");
  for (const Phase& p : phases) {
    std::printf("%-44s %10.1f %12s  (%zu of %zu found)\n",
                (std::string("discovery, ") + p.name).c_str(),
                p.cpu_us / static_cast<double>(discoveries), "discovery", p.ok, discoveries);
  }
  std::printf(
      "\nresult client_rss_kib=%ld client_growth_kib=%ld cold_cpu_us=%.1f "
      "warm_cpu_us=%.1f idle_cpu_us_per_s=%.1f bare_idle_cpu_us_per_s=%.1f\n",
      rss_first - rss_bare, rss_after - rss_first,
      phases[0].cpu_us / static_cast<double>(discoveries),
      phases[1].cpu_us / static_cast<double>(discoveries), client_idle / seconds,
      bare_idle / seconds);
  if (!failure.empty()) {
    std::fprintf(stderr, "client_footprint: a discovery failed: %s\n", failure.c_str());
    return 1;
  }
  return 0;
}
