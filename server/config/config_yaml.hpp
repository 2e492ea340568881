// Loading the server's YAML configuration (the format is documented in configs/README.md).
// Every problem in a file is reported, not only the first, each as one line
// "FILE:LINE:COL: message" with 1-based positions; nothing here throws.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

using ConfigErrors = std::vector<std::string>;

// Reads and validates the file at `path`. A relative cluster.key_file or load.file is
// resolved against the folder that holds `path`.
Result<ServerConfig, ConfigErrors> load_server_config(const std::string& path);

// As load_server_config() for text already in memory: `display_name` starts every error
// line and becomes source_file; relative paths are resolved against `base_dir` (empty:
// the working directory).
Result<ServerConfig, ConfigErrors> parse_server_config(std::string_view yaml_text,
                                                       std::string display_name,
                                                       std::string base_dir);

// A key file as the loader reads cluster.key_file and admission.token_key_file: raw bytes
// without trailing line breaks, 16 to 4096 of them, not readable by other users, not a key
// printed in turnscout's documents. The error names the file and what is wrong.
Result<std::string, std::string> load_key_file(const std::string& path);

// A short multi-line summary for --check-config and the start-up log. Never shows the
// cluster key, only where it came from and its length.
std::string describe(const ServerConfig& config);

// What a reload changes, one entry per line of describe() that differs, as
// "listing: least-load, … → weighted, …" (the first line's label is "node"). Empty when
// nothing that describe() shows changed.
std::vector<std::string> describe_changes(const ServerConfig& before, const ServerConfig& after);

// The names the YAML file uses: "least-load", "host", ...
std::string_view strategy_name(Strategy strategy);
std::string_view load_source_name(LoadSourceKind source);

}  // namespace turnscout::server
