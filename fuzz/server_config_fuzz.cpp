// The YAML config loader on arbitrary text. Besides "no crash, no UB, no leak, no
// exception" it checks what configs/README.md promises: a config either loads, or every
// problem is one line "fuzz.yaml:LINE:COL: message" (or "fuzz.yaml: message"), and a config
// that loads is described without failing.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "server/config/config_yaml.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace turnscout::server;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Relative key and load files are looked for in a folder that does not exist.
  auto cfg = parse_server_config(text, "fuzz.yaml", "/nonexistent-turnscout-fuzz");
  if (cfg.ok()) {
    REQUIRE(!describe(*cfg).empty());
    return 0;
  }
  REQUIRE(!cfg.error().empty());
  for (const std::string& line : cfg.error()) {
    REQUIRE(line.starts_with("fuzz.yaml"));
    REQUIRE(line.find('\n') == std::string::npos);
  }
  return 0;
}
