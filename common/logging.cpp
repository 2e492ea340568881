#include "common/logging.hpp"

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
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

std::string_view level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warning";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "off";
  }
}

// Length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
size_t utf8_length(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = byte(0);
  const size_t n = lead >= 0xc2 && lead <= 0xdf   ? 2
                   : lead >= 0xe0 && lead <= 0xef ? 3
                   : lead >= 0xf0 && lead <= 0xf4 ? 4
                                                  : 0;
  if (n == 0 || i + n > text.size()) return 0;
  // The second byte's range depends on the lead (Table 3-7 of the Unicode standard).
  const unsigned char low = lead == 0xe0 ? 0xa0 : lead == 0xf0 ? 0x90 : 0x80;
  const unsigned char high = lead == 0xed ? 0x9f : lead == 0xf4 ? 0x8f : 0xbf;
  if (byte(1) < low || byte(1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if ((byte(k) & 0xc0) != 0x80) return 0;
  }
  return n;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      const size_t n = utf8_length(text, i);
      if (n == 0) {
        out += "\\ufffd";  // Not UTF-8: the line stays valid JSON.
      } else {
        out.append(text.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\u{:04x}", u);
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// JSON lines to stderr, one write per record.
class JsonStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    std::string line = format_json_log_line(
        ms, msg.level, std::string_view(msg.logger_name.data(), msg.logger_name.size()),
        std::string_view(msg.payload.data(), msg.payload.size()));
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

}  // namespace

std::string format_json_log_line(int64_t unix_ms, spdlog::level::level_enum level,
                                 std::string_view logger_name, std::string_view message) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::string out = fmt::format(
      "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"level\":\"{}\",\"logger\":",
      utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
      unix_ms % 1000, level_name(level));
  append_json_string(out, logger_name);
  out += ",\"message\":";
  append_json_string(out, message);
  out += '}';
  return out;
}

Result<void, std::string> set_log_format(std::string_view format) {
  if (format == "text") {
    logger().sinks() = {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
    logger().set_pattern(std::string(kDefaultLogPattern));
    return {};
  }
  if (format == "json") {
    logger().sinks() = {std::make_shared<JsonStderrSink>()};
    return {};
  }
  return unexpected(
      fmt::format("unknown log format {} (expected text or json)", turnscout::quoted(format)));
}

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
