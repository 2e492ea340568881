#include "server/core/load_parse.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "base/quote.hpp"

namespace turnscout::server {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && is_space(text.front()))
    text.remove_prefix(1);
  while (!text.empty() && is_space(text.back()))
    text.remove_suffix(1);
  return text;
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i]))
      ++i;
    const size_t start = i;
    while (i < line.size() && !is_space(line[i]))
      ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

// Calls `visit(line_number, line)` for every line; stops at the first false.
template <typename Visit>
void for_each_line(std::string_view text, Visit visit) {
  size_t number = 0;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (!visit(++number, line)) return;
  }
}

// The counters of one line, or an error naming the first one that is not a number.
Result<std::vector<uint64_t>, std::string> counters(size_t line_number,
                                                    const std::vector<std::string_view>& items) {
  std::vector<uint64_t> out;
  out.reserve(items.size());
  for (std::string_view item : items) {
    auto v = parse_u64(item);
    if (!v) {
      return unexpected(
          fmt::format("line {}: expected a counter, got {}", line_number, turnscout::quoted(item)));
    }
    out.push_back(*v);
  }
  return out;
}

uint64_t grown(uint64_t before, uint64_t after) {
  return after >= before ? after - before : 0;
}

}  // namespace

Result<CpuSample, std::string> parse_proc_stat(std::string_view text) {
  std::optional<Result<CpuSample, std::string>> found;
  for_each_line(text, [&found](size_t number, std::string_view line) {
    std::vector<std::string_view> items = fields(line);
    if (items.empty() || items.front() != "cpu") return true;
    items.erase(items.begin());
    auto values = counters(number, items);
    if (!values) {
      found.emplace(unexpected(values.error()));
    } else if (values->size() < 4) {
      found.emplace(unexpected(fmt::format(
          "line {}: expected at least 4 counters after \"cpu\", got {}", number, values->size())));
    } else {
      // user nice system idle iowait irq softirq steal; guest and guest_nice follow and are
      // already counted in user and nice.
      std::vector<uint64_t>& v = *values;
      v.resize(std::max<size_t>(v.size(), 8));
      CpuSample sample;
      for (size_t i = 0; i < 8; ++i) {
        sample.total += v[i];
      }
      sample.busy = sample.total - v[3] - v[4];
      found.emplace(sample);
    }
    return false;
  });
  if (!found) return unexpected(std::string("no \"cpu\" line"));
  return *found;
}

Result<double, std::string> cpu_busy_fraction(const CpuSample& before, const CpuSample& after) {
  if (after.total < before.total || after.busy < before.busy) {
    return unexpected(std::string("CPU counters went backwards"));
  }
  const uint64_t total = after.total - before.total;
  if (total == 0) return unexpected(std::string("no CPU time passed between the samples"));
  const uint64_t busy = std::min(after.busy - before.busy, total);
  return static_cast<double>(busy) / static_cast<double>(total);
}

Result<std::vector<InterfaceBytes>, std::string> parse_proc_net_dev(std::string_view text) {
  std::vector<InterfaceBytes> out;
  std::optional<std::string> error;
  for_each_line(text, [&](size_t number, std::string_view line) {
    // The two header lines are the ones with '|'; a name and its counters may touch
    // ("eth0:123") on old kernels.
    if (line.find('|') != std::string_view::npos || trim(line).empty()) return true;
    const size_t colon = line.find(':');
    const std::string_view name =
        colon == std::string_view::npos ? "" : trim(line.substr(0, colon));
    if (name.empty()) {
      error = fmt::format("line {}: expected \"NAME: counters\", got {}", number,
                          turnscout::quoted(line));
      return false;
    }
    auto values = counters(number, fields(line.substr(colon + 1)));
    if (!values || values->size() < 9) {
      error = values ? fmt::format("line {}: expected at least 9 counters after \"{}:\", got {}",
                                   number, name, values->size())
                     : values.error();
      return false;
    }
    if (name != "lo") out.push_back({std::string(name), (*values)[0], (*values)[8]});
    return true;
  });
  if (error) return unexpected(std::move(*error));
  return out;
}

Result<double, std::string> net_use_fraction(const std::vector<InterfaceBytes>& before,
                                             const std::vector<InterfaceBytes>& after,
                                             Duration elapsed, uint64_t capacity_mbps) {
  if (elapsed <= Duration::zero()) {
    return unexpected(std::string("no time passed between the samples"));
  }
  if (capacity_mbps == 0) return unexpected(std::string("network capacity is 0"));
  uint64_t bytes = 0;
  for (const InterfaceBytes& now : after) {
    auto same = [&now](const InterfaceBytes& b) { return b.name == now.name; };
    auto then = std::find_if(before.begin(), before.end(), same);
    if (then == before.end()) continue;
    bytes += grown(then->rx_bytes, now.rx_bytes) + grown(then->tx_bytes, now.tx_bytes);
  }
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double capacity_bits = static_cast<double>(capacity_mbps) * 1e6;
  return static_cast<double>(bytes) * 8.0 / seconds / capacity_bits;
}

uint16_t fraction_to_permille(double fraction) {
  if (!(fraction > 0)) return 0;  // Also NaN.
  const double permille = std::round(fraction * 1000.0);
  if (permille >= kMaxLoadPermille) return kMaxLoadPermille;
  return static_cast<uint16_t>(permille);
}

uint16_t host_load_permille(double cpu_fraction, double net_fraction) {
  return std::max(fraction_to_permille(cpu_fraction), fraction_to_permille(net_fraction));
}

Result<uint16_t, std::string> parse_load_file(std::string_view text) {
  const std::string_view content = trim(text);
  if (content.empty()) {
    return unexpected(std::string("empty load file; expected a load like 0.42 or 42%"));
  }
  std::string_view number = content;
  double scale = 1000.0;
  if (number.back() == '%') {
    number.remove_suffix(1);
    scale = 10.0;
  }
  // Digits with at most one '.', as from_chars alone would also take "inf", "1e3" or "-1".
  const bool digits_only = std::all_of(number.begin(), number.end(),
                                       [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
  const size_t dots = static_cast<size_t>(std::count(number.begin(), number.end(), '.'));
  double value = 0;
  const char* end = number.data() + number.size();
  auto [ptr, ec] = std::from_chars(number.data(), end, value);
  if (!digits_only || dots > 1 || number.size() == dots || ec != std::errc() || ptr != end) {
    return unexpected(
        fmt::format("expected a load like 0.42 or 42%, got {}", turnscout::quoted(content)));
  }
  const double permille = std::round(value * scale);
  if (permille > kMaxLoadPermille) {
    return unexpected(fmt::format("expected a load from 0 to 10 (or 0% to 1000%), got {}",
                                  turnscout::quoted(content)));
  }
  return static_cast<uint16_t>(permille);
}

}  // namespace turnscout::server
