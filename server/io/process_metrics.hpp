// The standard process_* metrics of Prometheus client libraries (CPU, memory, descriptors,
// start time), read from the kernel when scraped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace turnscout::server {

struct ProcessStats {
  double cpu_seconds = 0;  // User + system.
  std::optional<uint64_t> resident_bytes;
  std::optional<uint64_t> virtual_bytes;
  std::optional<uint64_t> open_fds;
  std::optional<uint64_t> max_fds;
  double start_time_seconds = 0;  // Unix time.
};

// This process now; what cannot be read is left empty (and not rendered).
ProcessStats read_process_stats(double start_time_seconds);

std::string render_process_metrics(const ProcessStats& stats);

}  // namespace turnscout::server
