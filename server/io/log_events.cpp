#include "server/io/log_events.hpp"

#include "common/logging.hpp"

namespace turnscout::server {
namespace {

spdlog::level::level_enum to_spdlog(Severity severity) {
  switch (severity) {
    case Severity::kDebug:
      return spdlog::level::debug;
    case Severity::kInfo:
      return spdlog::level::info;
    case Severity::kWarning:
      return spdlog::level::warn;
    case Severity::kError:
      return spdlog::level::err;
  }
  return spdlog::level::err;
}

class LogEvents final : public EventLog {
 public:
  bool enabled(Severity severity) const override {
    return logger().should_log(to_spdlog(severity));
  }
  void record(Severity severity, std::string_view line) override {
    logger().log(to_spdlog(severity), line);
  }
};

}  // namespace

EventLog& log_events() {
  static LogEvents events;
  return events;
}

}  // namespace turnscout::server
