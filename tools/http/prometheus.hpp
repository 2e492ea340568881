// Reading the Prometheus text exposition format (version 0.0.4) that turnscout-server
// serves, for `turnscout stats`. Comments and blank lines are skipped; timestamps ignored.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace turnscout::cli {

struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // Unescaped values.
  double value = 0;

  // The value of label `key`, or "".
  std::string label(std::string_view key) const;
};

// The error names the line: `line 12: expected a value after "turnscout_replies_total"`.
Result<std::vector<Sample>, std::string> parse_prometheus(std::string_view text);

}  // namespace turnscout::cli
