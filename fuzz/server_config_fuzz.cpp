// The YAML config loader on arbitrary text. Besides "no crash, no UB, no leak, no
// exception" it checks what configs/README.md promises: a config either loads, or every
// problem is one line "fuzz.yaml:LINE:COL: message" (or "fuzz.yaml: message"), and a config
// that loads is described without failing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "server/config/config_yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turnscout::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative key and load files are looked for in a folder that does not exist.
  auto cfg = parse_server_config(text, "fuzz.yaml", "/nonexistent-turnscout-fuzz");
  if (cfg.ok()) {
    if (describe(*cfg).empty()) std::abort();
    return 0;
  }
  if (cfg.error().empty()) std::abort();
  for (const std::string& line : cfg.error()) {
    if (!line.starts_with("fuzz.yaml")) std::abort();
    if (line.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
