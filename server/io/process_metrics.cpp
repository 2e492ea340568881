#include "server/io/process_metrics.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace turnscout::server {
namespace {

double seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

std::optional<uint64_t> count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  uint64_t count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // The directory's own descriptor.
}

void gauge(std::string& out, const char* name, const char* help, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, value);
}

}  // namespace

ProcessStats read_process_stats(double start_time_seconds) {
  ProcessStats stats;
  stats.start_time_seconds = start_time_seconds;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    stats.cpu_seconds = seconds(usage.ru_utime) + seconds(usage.ru_stime);
  }
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0;
    unsigned long long resident = 0;
    if (std::fscanf(statm, "%llu %llu", &size, &resident) == 2) {
      const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
      stats.virtual_bytes = size * page;
      stats.resident_bytes = resident * page;
    }
    std::fclose(statm);
  }
  stats.open_fds = count_open_fds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) stats.max_fds = limit.rlim_cur;
  return stats;
}

std::string render_process_metrics(const ProcessStats& s) {
  std::string out;
  out += fmt::format(
      "# HELP process_cpu_seconds_total User and system CPU time spent, in seconds.\n"
      "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {}\n",
      s.cpu_seconds);
  auto optional = [&](const char* name, const char* help, const std::optional<uint64_t>& v) {
    if (v) gauge(out, name, help, static_cast<double>(*v));
  };
  optional("process_resident_memory_bytes", "Resident memory size in bytes.", s.resident_bytes);
  optional("process_virtual_memory_bytes", "Virtual memory size in bytes.", s.virtual_bytes);
  optional("process_open_fds", "Open file descriptors.", s.open_fds);
  optional("process_max_fds", "The limit on open file descriptors.", s.max_fds);
  gauge(out, "process_start_time_seconds", "Start time of the process since the Unix epoch.",
        s.start_time_seconds);
  return out;
}

}  // namespace turnscout::server
