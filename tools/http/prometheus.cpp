#include "tools/http/prometheus.hpp"

#include <cstdlib>

#include <fmt/format.h>

#include "base/quote.hpp"

namespace turnscout::cli {
namespace {

bool name_char(char c, bool first) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
         (!first && c >= '0' && c <= '9');
}

// Reads `{key="value",...}` starting at `pos` (on the brace); false when malformed.
bool read_labels(std::string_view line, size_t& pos, Sample& sample) {
  ++pos;
  for (;;) {
    if (pos < line.size() && line[pos] == '}') {
      ++pos;
      return true;
    }
    const size_t key_start = pos;
    while (pos < line.size() && name_char(line[pos], pos == key_start))
      ++pos;
    if (pos == key_start || pos + 1 >= line.size() || line[pos] != '=' || line[pos + 1] != '"') {
      return false;
    }
    std::string key(line.substr(key_start, pos - key_start));
    pos += 2;
    std::string value;
    for (; pos < line.size() && line[pos] != '"'; ++pos) {
      if (line[pos] == '\\' && pos + 1 < line.size()) {
        ++pos;
        value += line[pos] == 'n' ? '\n' : line[pos];
      } else {
        value += line[pos];
      }
    }
    if (pos >= line.size()) return false;
    ++pos;  // Closing quote.
    sample.labels.emplace_back(std::move(key), std::move(value));
    if (pos < line.size() && line[pos] == ',') ++pos;
  }
}

}  // namespace

std::string Sample::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return {};
}

Result<std::vector<Sample>, std::string> parse_prometheus(std::string_view text) {
  std::vector<Sample> out;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](std::string_view what) {
      return unexpected(fmt::format("line {}: {} in {}", line_number, what, quoted(line)));
    };
    Sample sample;
    size_t pos = 0;
    while (pos < line.size() && name_char(line[pos], pos == 0))
      ++pos;
    if (pos == 0) return fail("expected a metric name");
    sample.name = std::string(line.substr(0, pos));
    if (pos < line.size() && line[pos] == '{' && !read_labels(line, pos, sample)) {
      return fail("malformed labels");
    }
    while (pos < line.size() && line[pos] == ' ')
      ++pos;
    const std::string value(line.substr(pos, line.find(' ', pos) - pos));
    char* value_end = nullptr;
    sample.value = std::strtod(value.c_str(), &value_end);
    if (value.empty() || value_end != value.c_str() + value.size()) {
      return fail("expected a value");
    }
    out.push_back(std::move(sample));
  }
  return out;
}

}  // namespace turnscout::cli
