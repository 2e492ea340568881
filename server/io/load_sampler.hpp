// Reads the node's own load from its configured source: the host's CPU and network use
// (/proc/stat and /proc/net/dev, compared with the previous reading) or a file an operator
// or agent writes. The arithmetic is in server/core/load_parse.hpp; this only reads files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/core/config.hpp"
#include "server/core/load_parse.hpp"

namespace turnscout::server {

class LoadSampler {
 public:
  // `proc_root` replaces "/proc" in tests.
  explicit LoadSampler(LoadConfig config, std::string proc_root = "/proc");

  // Keeps the previous host readings when the source stays the same.
  void reconfigure(const LoadConfig& config);

  // The load now, in per-mille; nullopt when there is nothing new to report (a static
  // source, or the first host reading, which only sets the baseline). An error names the
  // file and the problem; the caller keeps the previous load.
  Result<std::optional<uint16_t>, std::string> sample(TimePoint now);

  const LoadConfig& config() const { return config_; }

 private:
  Result<std::optional<uint16_t>, std::string> sample_host(TimePoint now);
  Result<std::optional<uint16_t>, std::string> sample_file();

  struct HostReading {
    TimePoint at;
    CpuSample cpu;
    std::vector<InterfaceBytes> interfaces;
  };

  LoadConfig config_;
  std::string proc_root_;
  std::optional<HostReading> previous_;
};

// The whole file, or an error naming it. Reads at most `max_size` bytes (an error beyond).
Result<std::string, std::string> read_small_file(const std::string& path, size_t max_size);

}  // namespace turnscout::server
