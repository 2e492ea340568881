// Logging through spdlog: one named logger, "turnscout", set up once at start-up, and an
// in-memory capture so tests can assert what was logged.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include "base/result.hpp"

namespace turnscout {

inline constexpr std::string_view kLoggerName = "turnscout";
// Timestamp with milliseconds, logger name, level, message.
inline constexpr std::string_view kDefaultLogPattern = "[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v";

// trace, debug, info, warn (or warning), error, critical, off.
Result<spdlog::level::level_enum, std::string> parse_log_level(std::string_view name);

// Sets the level and the spdlog pattern (default kDefaultLogPattern) of logger(), which
// writes to stderr. Call it before other threads log: spdlog does not guard reconfiguration.
Result<void, std::string> init_logging(std::string_view level,
                                       std::optional<std::string> pattern = std::nullopt);

// "text" (kDefaultLogPattern, for people) or "json": one JSON object per line, with the
// stable fields "time" (UTC, RFC 3339 with milliseconds), "level" (trace, debug, info,
// warning, error, critical), "logger" and "message", for journald, Loki, jq and friends.
// Both go to stderr (under systemd, to the journal).
Result<void, std::string> set_log_format(std::string_view format);

// One JSON line for a record (without the newline); `unix_ms` is the record's time.
std::string format_json_log_line(int64_t unix_ms, spdlog::level::level_enum level,
                                 std::string_view logger_name, std::string_view message);

// The "turnscout" logger, also registered with spdlog. Usable before init_logging(): it
// then logs at info level with the default pattern.
spdlog::logger& logger();

struct LogRecord {
  spdlog::level::level_enum level;
  std::string text;  // The message alone, without timestamp or level.
};

// While alive, everything logger() logs at `level` or above goes to memory instead of
// stderr; the previous sinks and level come back on destruction. For single-threaded tests;
// captures nest.
class LogCapture {
 public:
  explicit LogCapture(spdlog::level::level_enum level = spdlog::level::trace);
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<LogRecord> records() const;
  // Records as "LEVEL: text", e.g. "warning: child eu-1 is now suspect".
  std::vector<std::string> lines() const;
  // Number of records whose text contains `needle`.
  size_t count(std::string_view needle) const;
  bool contains(std::string_view needle) const { return count(needle) > 0; }
  void clear();

 private:
  class Sink;
  std::shared_ptr<Sink> sink_;
  std::vector<spdlog::sink_ptr> saved_sinks_;
  spdlog::level::level_enum saved_level_;
};

}  // namespace turnscout
