#include "server/io/load_sampler.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include <fmt/format.h>

namespace turnscout::server {
namespace {

constexpr size_t kMaxProcFile = 1 << 20;
constexpr size_t kMaxLoadFile = 4096;

}  // namespace

Result<std::string, std::string> read_small_file(const std::string& path, size_t max_size) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return unexpected(fmt::format("cannot read {}: {}", path, strerror(errno)));
  std::string text(max_size + 1, '\0');
  const size_t n = std::fread(text.data(), 1, text.size(), file);
  const int error = std::ferror(file) ? errno : 0;
  std::fclose(file);
  if (error != 0) return unexpected(fmt::format("cannot read {}: {}", path, strerror(error)));
  if (n > max_size) {
    return unexpected(fmt::format("{} is larger than {} bytes", path, max_size));
  }
  text.resize(n);
  return text;
}

LoadSampler::LoadSampler(LoadConfig config, std::string proc_root)
    : config_(std::move(config)), proc_root_(std::move(proc_root)) {}

void LoadSampler::reconfigure(const LoadConfig& config) {
  if (config.source != config_.source) previous_.reset();
  config_ = config;
}

Result<std::optional<uint16_t>, std::string> LoadSampler::sample(TimePoint now) {
  switch (config_.source) {
    case LoadSourceKind::kHost:
      return sample_host(now);
    case LoadSourceKind::kFile:
      return sample_file();
    case LoadSourceKind::kStatic:
      break;
  }
  return std::optional<uint16_t>{};
}

Result<std::optional<uint16_t>, std::string> LoadSampler::sample_host(TimePoint now) {
  const std::string stat_path = proc_root_ + "/stat";
  const std::string dev_path = proc_root_ + "/net/dev";
  auto stat = read_small_file(stat_path, kMaxProcFile);
  if (!stat) return unexpected(stat.error());
  auto dev = read_small_file(dev_path, kMaxProcFile);
  if (!dev) return unexpected(dev.error());
  auto cpu = parse_proc_stat(*stat);
  if (!cpu) return unexpected(fmt::format("{}: {}", stat_path, cpu.error()));
  auto interfaces = parse_proc_net_dev(*dev);
  if (!interfaces) return unexpected(fmt::format("{}: {}", dev_path, interfaces.error()));

  HostReading reading{now, *cpu, std::move(*interfaces)};
  std::optional<HostReading> before = std::exchange(previous_, std::move(reading));
  if (!before) return std::optional<uint16_t>{};
  auto cpu_fraction = cpu_busy_fraction(before->cpu, previous_->cpu);
  if (!cpu_fraction) return unexpected(fmt::format("{}: {}", stat_path, cpu_fraction.error()));
  auto net_fraction = net_use_fraction(before->interfaces, previous_->interfaces, now - before->at,
                                       config_.capacity_mbps);
  if (!net_fraction) return unexpected(fmt::format("{}: {}", dev_path, net_fraction.error()));
  return std::optional<uint16_t>{host_load_permille(*cpu_fraction, *net_fraction)};
}

Result<std::optional<uint16_t>, std::string> LoadSampler::sample_file() {
  auto text = read_small_file(config_.file, kMaxLoadFile);
  if (!text) return unexpected(text.error());
  auto permille = parse_load_file(*text);
  if (!permille) return unexpected(fmt::format("{}: {}", config_.file, permille.error()));
  return std::optional<uint16_t>{*permille};
}

}  // namespace turnscout::server
