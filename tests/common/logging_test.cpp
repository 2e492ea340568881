#include "common/logging.hpp"

#include <doctest/doctest.h>

#include <sstream>

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

namespace turnscout {
namespace {

// Sends logger() output to a string for the duration of a test.
class StreamLogs {
 public:
  StreamLogs() : saved_(logger().sinks()) {
    logger().sinks() = {std::make_shared<spdlog::sinks::ostream_sink_st>(out_)};
  }
  ~StreamLogs() {
    logger().sinks() = saved_;
    (void)init_logging("info");
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::vector<spdlog::sink_ptr> saved_;
};

// True when `text` has the shape of `pattern`, where '#' stands for any digit.
bool has_shape(std::string_view text, std::string_view pattern) {
  if (text.size() != pattern.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (pattern[i] == '#' ? !digit : text[i] != pattern[i]) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("parse_log_level knows spdlog's levels and lists them when it does not") {
  CHECK(*parse_log_level("trace") == spdlog::level::trace);
  CHECK(*parse_log_level("debug") == spdlog::level::debug);
  CHECK(*parse_log_level("info") == spdlog::level::info);
  CHECK(*parse_log_level("warn") == spdlog::level::warn);
  CHECK(*parse_log_level("warning") == spdlog::level::warn);
  CHECK(*parse_log_level("error") == spdlog::level::err);
  CHECK(*parse_log_level("critical") == spdlog::level::critical);
  CHECK(*parse_log_level("off") == spdlog::level::off);
  CHECK(parse_log_level("verbose").error() ==
        "unknown log level \"verbose\" (expected one of: trace, debug, info, warn, error, "
        "critical, off)");
  CHECK_FALSE(parse_log_level("INFO").ok());
  // Found by the config fuzzer: the value was printed raw, line breaks and all.
  CHECK(parse_log_level("i\n\nfo").error().starts_with("unknown log level \"i\\n\\nfo\" ("));
  CHECK_FALSE(parse_log_level("").ok());
}

TEST_CASE("logger() is the registered turnscout logger") {
  CHECK(logger().name() == "turnscout");
  CHECK(spdlog::get("turnscout").get() == &logger());
}

TEST_CASE("init_logging sets level and pattern, and refuses bad input") {
  StreamLogs logs;
  REQUIRE(init_logging("warn", "%n %l %v").ok());
  CHECK(logger().level() == spdlog::level::warn);
  logger().info("dropped");
  logger().warn("child {} is now {}", "eu-1", "suspect");
  CHECK(logs.text() == "turnscout warning child eu-1 is now suspect\n");

  auto bad = init_logging("loud");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("unknown log level \"loud\"") == 0);
  CHECK(logger().level() == spdlog::level::warn);
  CHECK(init_logging("info", "").error() == "empty log pattern");
}

TEST_CASE("the default pattern has timestamp, logger name and level") {
  StreamLogs logs;
  REQUIRE(init_logging("info").ok());
  logger().info("hello");
  CAPTURE(logs.text());
  CHECK(has_shape(logs.text(), "[####-##-## ##:##:##.###] [turnscout] [info] hello\n"));
  CHECK_FALSE(has_shape("[2026-01-01 00:00:00.000] [turnscout] [warning] hello\n",
                        "[####-##-## ##:##:##.###] [turnscout] [info] hello\n"));
}

TEST_CASE("JSON log lines: stable fields, escaped, valid whatever the message holds") {
  // 2026-12-06T03:04:05.678Z
  const int64_t at = 1796526245678;
  CHECK(format_json_log_line(at, spdlog::level::warn, "turnscout", "child eu-1 is now dead") ==
        R"({"time":"2026-12-06T03:04:05.678Z","level":"warning","logger":"turnscout",)"
        R"("message":"child eu-1 is now dead"})");
  CHECK(format_json_log_line(at, spdlog::level::err, "t", "a \"b\" \\ c\nd\te\x01") ==
        R"({"time":"2026-12-06T03:04:05.678Z","level":"error","logger":"t",)"
        R"("message":"a \"b\" \\ c\nd\te\u0001"})");
  // UTF-8 passes through; bytes that are not UTF-8 become U+FFFD.
  CHECK(format_json_log_line(at, spdlog::level::info, "t", "caf\xc3\xa9 \xff\xc3") ==
        std::string(R"({"time":"2026-12-06T03:04:05.678Z","level":"info","logger":"t",)") +
            "\"message\":\"caf\xc3\xa9 " + R"(\ufffd\ufffd"})");
  // Overlong, surrogate and beyond U+10FFFF forms are not UTF-8 either.
  CHECK(
      format_json_log_line(at, spdlog::level::info, "t",
                           "\xe0\x80\x80|\xed\xa0\x80|\xf4\x90\x80\x80")
          .find(R"("message":"\ufffd\ufffd\ufffd|\ufffd\ufffd\ufffd|\ufffd\ufffd\ufffd\ufffd")") !=
      std::string::npos);
  CHECK(set_log_format("yaml").error() == "unknown log format \"yaml\" (expected text or json)");
}

TEST_CASE("LogCapture records what is logged while it lives") {
  REQUIRE(init_logging("info").ok());
  {
    LogCapture capture;
    CHECK(logger().level() == spdlog::level::trace);
    logger().debug("probe from {}", "192.0.2.1:5");
    logger().warn("child {} is now {}", "eu-1", "dead");
    REQUIRE(capture.records().size() == 2);
    CHECK(capture.records()[1].level == spdlog::level::warn);
    CHECK(capture.records()[1].text == "child eu-1 is now dead");
    CHECK(capture.lines() == std::vector<std::string>{"debug: probe from 192.0.2.1:5",
                                                      "warning: child eu-1 is now dead"});
    CHECK(capture.contains("eu-1 is now dead"));
    CHECK(capture.count("is now") == 1);
    CHECK_FALSE(capture.contains("eu-2"));
    capture.clear();
    CHECK(capture.records().empty());
  }
  CHECK(logger().level() == spdlog::level::info);
}

TEST_CASE("LogCapture filters by level and nests") {
  LogCapture outer(spdlog::level::info);
  logger().debug("not kept");
  logger().info("outer");
  {
    LogCapture inner(spdlog::level::trace);
    logger().debug("inner");
    CHECK(inner.lines() == std::vector<std::string>{"debug: inner"});
  }
  logger().info("outer again");
  CHECK(outer.lines() == std::vector<std::string>{"info: outer", "info: outer again"});
}

}  // namespace turnscout
