// A discovery result as JSON for `turnscout probe --json`: every field of the public
// result, durations in microseconds (`*_us`), addresses as "IP:PORT" text.
#pragma once

#include <nlohmann/json.hpp>

#include <turnscout/types.hpp>

namespace turnscout::cli {

nlohmann::ordered_json to_json(const DiscoveryResult& result);

}  // namespace turnscout::cli
