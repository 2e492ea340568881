// How the server core says what happened (a child went suspect, a parent came back, a reload
// was refused) without knowing where it goes: the core formats one line per state change and
// hands it to an EventLog it was given. The I/O layer's EventLog writes to the process log
// (server/io/log_events.hpp); tests may record or discard. Never called per Probe.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace turnscout::server {

enum class Severity : uint8_t { kDebug, kInfo, kWarning, kError };

class EventLog {
 public:
  virtual ~EventLog() = default;

  // False when lines of this severity would be thrown away: the core then skips formatting.
  virtual bool enabled(Severity severity) const = 0;
  virtual void record(Severity severity, std::string_view line) = 0;

  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) {
    emit(Severity::kDebug, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) {
    emit(Severity::kInfo, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) {
    emit(Severity::kWarning, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) {
    emit(Severity::kError, format, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void emit(Severity severity, fmt::format_string<Args...> format, Args&&... args) {
    if (!enabled(severity)) return;
    fmt::memory_buffer line;
    fmt::format_to(std::back_inserter(line), format, std::forward<Args>(args)...);
    record(severity, std::string_view(line.data(), line.size()));
  }
};

// An EventLog that keeps nothing (benchmarks, tools that only want the state).
EventLog& discard_events();

}  // namespace turnscout::server
