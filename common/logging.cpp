#include "common/logging.hpp"

#include <array>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "base/quote.hpp"

namespace turnscout {
namespace {

struct LevelName {
  std::string_view name;
  spdlog::level::level_enum level;
};
constexpr std::array<LevelName, 8> kLevels{{
    {"trace", spdlog::level::trace},
    {"debug", spdlog::level::debug},
    {"info", spdlog::level::info},
    {"warn", spdlog::level::warn},
    {"warning", spdlog::level::warn},
    {"error", spdlog::level::err},
    {"critical", spdlog::level::critical},
    {"off", spdlog::level::off},
}};

std::shared_ptr<spdlog::logger> make_logger() {
  const std::string name(kLoggerName);
  if (auto existing = spdlog::get(name)) return existing;
  auto created = std::make_shared<spdlog::logger>(
      name, std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  created->set_pattern(std::string(kDefaultLogPattern));
  created->set_level(spdlog::level::info);
  spdlog::register_logger(created);
  return created;
}

}  // namespace

Result<spdlog::level::level_enum, std::string> parse_log_level(std::string_view name) {
  for (const LevelName& l : kLevels) {
    if (l.name == name) return l.level;
  }
  return unexpected(fmt::format(
      "unknown log level {} (expected one of: trace, debug, info, warn, error, critical, off)",
      turnscout::quoted(name)));
}

Result<void, std::string> init_logging(std::string_view level, std::optional<std::string> pattern) {
  auto parsed = parse_log_level(level);
  if (!parsed) return unexpected(parsed.error());
  if (pattern && pattern->empty()) return unexpected(std::string("empty log pattern"));
  spdlog::logger& log = logger();
  log.set_level(*parsed);
  log.set_pattern(pattern ? *pattern : std::string(kDefaultLogPattern));
  log.flush_on(spdlog::level::warn);
  return {};
}

spdlog::logger& logger() {
  static const std::shared_ptr<spdlog::logger> instance = make_logger();
  return *instance;
}

// ---- LogCapture ----

class LogCapture::Sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<LogRecord> records() {
    std::lock_guard<std::mutex> lock(mutex_);
    return records_;
  }
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    records_.clear();
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    records_.push_back({msg.level, std::string(msg.payload.data(), msg.payload.size())});
  }
  void flush_() override {}

 private:
  std::vector<LogRecord> records_;
};

LogCapture::LogCapture(spdlog::level::level_enum level)
    : sink_(std::make_shared<Sink>()),
      saved_sinks_(logger().sinks()),
      saved_level_(logger().level()) {
  logger().sinks() = {sink_};
  logger().set_level(level);
}

LogCapture::~LogCapture() {
  logger().sinks() = saved_sinks_;
  logger().set_level(saved_level_);
}

std::vector<LogRecord> LogCapture::records() const {
  return sink_->records();
}

std::vector<std::string> LogCapture::lines() const {
  std::vector<std::string> out;
  for (const LogRecord& r : sink_->records()) {
    out.push_back(fmt::format("{}: {}", spdlog::level::to_string_view(r.level), r.text));
  }
  return out;
}

size_t LogCapture::count(std::string_view needle) const {
  size_t n = 0;
  for (const LogRecord& r : sink_->records()) {
    if (r.text.find(needle) != std::string::npos) ++n;
  }
  return n;
}

void LogCapture::clear() {
  sink_->clear();
}

}  // namespace turnscout
