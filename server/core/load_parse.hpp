// The arithmetic behind the host and file load sources, as pure functions over text and
// numbers. The I/O layer reads /proc/stat, /proc/net/dev or the operator's load file,
// keeps the previous sample, and calls these; errors are one-line messages it prefixes
// with the file name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::server {

// Per-mille values above this are clamped: ten times the capacity is "overloaded" enough.
inline constexpr uint16_t kMaxLoadPermille = 10000;

// CPU time of the whole machine, in jiffies, from the aggregate "cpu" line of /proc/stat.
// Idle is idle + iowait; guest time is already part of user and nice, so it is not added.
struct CpuSample {
  uint64_t busy = 0;
  uint64_t total = 0;
  friend bool operator==(const CpuSample&, const CpuSample&) = default;
};

// Needs the "cpu " line with at least 4 counters (user nice system idle); counters that an
// older kernel does not print count as 0.
Result<CpuSample, std::string> parse_proc_stat(std::string_view text);

// The busy share of the CPU time between two samples, in [0, 1]. An error when no time
// passed or a counter went backwards (the caller keeps its previous load and resamples).
Result<double, std::string> cpu_busy_fraction(const CpuSample& before, const CpuSample& after);

struct InterfaceBytes {
  std::string name;
  uint64_t rx_bytes = 0;
  uint64_t tx_bytes = 0;
  friend bool operator==(const InterfaceBytes&, const InterfaceBytes&) = default;
};

// Every interface of /proc/net/dev in file order, loopback ("lo") left out: traffic to
// itself uses no network capacity.
Result<std::vector<InterfaceBytes>, std::string> parse_proc_net_dev(std::string_view text);

// (rx + tx) bits per second over all interfaces present in both samples, as a fraction of
// `capacity_mbps` (10^6 bits/s, both directions together). An interface whose counters
// went backwards (reset, re-created) counts as idle. Errors: `elapsed` not positive,
// capacity 0.
Result<double, std::string> net_use_fraction(const std::vector<InterfaceBytes>& before,
                                             const std::vector<InterfaceBytes>& after,
                                             Duration elapsed, uint64_t capacity_mbps);

// Rounded to the nearest per-mille and clamped to [0, kMaxLoadPermille]; NaN reads as 0.
uint16_t fraction_to_permille(double fraction);

// The host load: the busier of CPU and network, in per-mille.
uint16_t host_load_permille(double cpu_fraction, double net_fraction);

// A load file holds one number: a fraction of capacity ("0.42", "1", "1.5") or a percentage
// ("42%", "150%"), optionally surrounded by spaces and newlines. Plain per-mille integers
// are not accepted: "1" would be ambiguous. At most kMaxLoadPermille after rounding.
// Errors quote the content, e.g. `expected a load like 0.42 or 42%, got "busy"`.
Result<uint16_t, std::string> parse_load_file(std::string_view text);

}  // namespace turnscout::server
