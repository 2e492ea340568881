// The turnscout command's output on synthetic inputs: the traceroute-like report, the JSON
// form of a result, and the metrics reader behind `stats`.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "client/cli/probe_command.hpp"
#include "client/cli/result_json.hpp"
#include "client/cli/stats_command.hpp"
#include "tools/http/prometheus.hpp"

namespace turnscout::cli {
namespace {

using std::chrono::microseconds;

DiscoveryResult found() {
  DiscoveryResult r;
  r.status = Status::kOk;
  r.path = {{0, "root", {"192.0.2.1", 3478}, microseconds{1500}, 120, 900, 1, 1},
            {1, "eu-west", {"2001:db8::2", 3478}, microseconds{800}, 305, 900, 3, 2}};
  Service s;
  s.uri = "turn:192.0.2.10:3478?transport=udp";
  s.scheme = "turn";
  s.host = "192.0.2.10";
  s.port = 3478;
  s.transport = "udp";
  s.node_name = "eu-west";
  s.node_address = {"2001:db8::2", 3478};
  s.node_rtt = microseconds{800};
  r.services = {s};
  s.uri = "turn:192.0.2.11:3478?transport=udp";
  s.node_name = "eu-west-b";
  r.backups = {s};
  r.reflexive = {"198.51.100.23", 40000};
  r.verification.state = VerifyState::kVerified;
  r.verification.rtt = microseconds{700};
  r.verification.service = r.services[0].uri;
  r.errors = {{{"192.0.2.3", 3478}, "eu-west-c", 1, PeerErrorKind::kTimeout, 0, "5 attempts"}};
  r.total_time = microseconds{3210};
  r.probes_sent = 5;
  r.round_trips = 2;
  return r;
}

}  // namespace

TEST_CASE("cli format: the names of the public enums, for logs, the CLI and JSON") {
  CHECK(std::string(to_string(Selection::kFirst)) == "first");
  CHECK(std::string(to_string(Selection::kLoadAware)) == "load-aware");
  CHECK(std::string(to_string(PeerErrorKind::kTimeout)) == "timeout");
  CHECK(std::string(to_string(PeerErrorKind::kRateLimited)) == "rate-limited");
  CHECK(std::string(to_string(PeerErrorKind::kErrorResponse)) == "error-response");
  CHECK(std::string(to_string(PeerErrorKind::kUnreachable)) == "unreachable");
  CHECK(std::string(to_string(PeerErrorKind::kSkipped)) == "skipped");
  CHECK(std::string(to_string(PeerErrorKind::kNotVerified)) == "not-verified");
  CHECK(std::string(to_string(VerifyState::kVerified)) == "verified");
  CHECK(std::string(to_string(Status::kInvalidOptions)) == "invalid-options");
}

TEST_CASE("cli format: the report lists hops like traceroute, then services and errors") {
  const std::string report = format_report(found());
  CHECK(report.find(" 1  root     192.0.2.1:3478        1.500 ms  subtree load  12.0%  only one "
                    "probed\n") != std::string::npos);
  CHECK(report.find(" 2  eu-west  [2001:db8::2]:3478    0.800 ms  subtree load  30.5%  first of 3, "
                    "1 more answered\n") != std::string::npos);
  CHECK(report.find("TURN       turn:192.0.2.10:3478?transport=udp  (verified: STUN Binding "
                    "answered in 0.700 ms)\n") != std::string::npos);
  CHECK(report.find("backups    turn:192.0.2.11:3478?transport=udp  (eu-west-b, 0.800 ms)\n") !=
        std::string::npos);
  CHECK(report.find("reflexive  198.51.100.23:40000\n") != std::string::npos);
  CHECK(report.find("errors     1\n  192.0.2.3:3478 eu-west-c (depth 1): timeout: 5 attempts\n") !=
        std::string::npos);
  CHECK(report.find("found in 3.210 ms with 5 probes in 2 round trips\n") != std::string::npos);
  CHECK(exit_code(found()) == 0);
  CHECK(failure_line(found()).empty());
}

TEST_CASE("cli format: a failure gives one reason line and a non-zero exit code") {
  DiscoveryResult r;
  r.status = Status::kNotFound;
  r.failure = "deadline of 2s passed while probing depth 0";
  CHECK(failure_line(r) == "no TURN server found: deadline of 2s passed while probing depth 0");
  CHECK(exit_code(r) == 1);
  CHECK(format_report(r).empty());
  r.status = Status::kInvalidOptions;
  CHECK(exit_code(r) == 2);
}

TEST_CASE("cli format: a failed verification shows the path and every attempt") {
  DiscoveryResult r = found();
  r.status = Status::kNotFound;
  r.failure = "no TURN server answered a STUN Binding (2 tried)";
  r.verification.state = VerifyState::kFailed;
  r.verification.tried = {
      {"turn:192.0.2.10:3478?transport=udp", {"192.0.2.10", 3478}, "3 attempts, no reply"},
      {"turns:turn.example.org:5349", {}, "not checked: needs TCP or TLS"}};
  const std::string report = format_report(r);
  CHECK(report.find(" 2  eu-west  [2001:db8::2]:3478    0.800 ms") != std::string::npos);
  CHECK(report.find("verify     turn:192.0.2.10:3478?transport=udp  192.0.2.10:3478: 3 attempts, "
                    "no reply\n"
                    "           turns:turn.example.org:5349         not checked: needs TCP or "
                    "TLS\n") != std::string::npos);
  CHECK(report.find("found in") == std::string::npos);
  CHECK(exit_code(r) == 1);
}

TEST_CASE("cli format: JSON carries every field") {
  const auto j = nlohmann::json::parse(to_json(found()).dump());
  CHECK(j.at("ok") == true);
  CHECK(j.at("ice_servers") ==
        nlohmann::json::parse(R"([{"urls": ["turn:192.0.2.10:3478?transport=udp",
                                             "turn:192.0.2.11:3478?transport=udp"]}])"));
  CHECK(j.at("path").size() == 2);
  CHECK(j.at("path")[1].at("address") == "[2001:db8::2]:3478");
  CHECK(j.at("path")[1].at("rtt_us") == 800);
  CHECK(j.at("services")[0].at("port") == 3478);
  CHECK(j.at("backups")[0].at("node") == "eu-west-b");
  CHECK(j.at("verification").at("state") == "verified");
  CHECK(j.at("verification").at("rtt_us") == 700);
  CHECK(j.at("errors")[0].at("kind") == "timeout");
  CHECK(j.at("reflexive") == "198.51.100.23:40000");
  DiscoveryResult failed;
  failed.status = Status::kNotFound;
  failed.failure = "no";
  const auto f = nlohmann::json::parse(to_json(failed).dump());
  CHECK(f.at("ice_servers").empty());
  CHECK(f.at("failure") == "no");
  CHECK(f.at("reflexive").is_null());
}

TEST_CASE("cli format: Prometheus text is read, labels unescaped, errors name the line") {
  auto samples = parse_prometheus(
      "# HELP x y\n# TYPE x counter\n"
      "turnscout_requests_total{type=\"probe\"} 12\n"
      "turnscout_build_info{version=\"0.1.0\",node=\"a\\\"b\\\\c\"} 1\n"
      "turnscout_load_ratio 0.25\n\n"
      "turnscout_reply_size_bytes_bucket{le=\"+Inf\"} 3 1700000000000\n");
  REQUIRE(samples.ok());
  REQUIRE(samples->size() == 4);
  CHECK((*samples)[0].label("type") == "probe");
  CHECK((*samples)[0].value == 12);
  CHECK((*samples)[1].label("node") == "a\"b\\c");
  CHECK((*samples)[2].value == 0.25);
  CHECK((*samples)[3].value == 3);
  auto bad = parse_prometheus("ok 1\nbroken{x=1} 2\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().find("line 2") != std::string::npos);
  CHECK_FALSE(parse_prometheus("name_only\n").ok());
}

TEST_CASE("cli format: stats summarises the metrics an operator reads first") {
  auto samples = parse_prometheus(
      "turnscout_build_info{version=\"0.1.0\",node=\"leaf-1\"} 1\n"
      "turnscout_requests_total{type=\"probe\"} 7\n"
      "turnscout_requests_total{type=\"binding\"} 2\n"
      "turnscout_replies_total 9\n"
      "turnscout_truncated_replies_total 1\n"
      "turnscout_drops_total{reason=\"malformed\"} 0\n"
      "turnscout_drops_total{reason=\"rate-limited\"} 4\n"
      "turnscout_children{state=\"alive\"} 2\n"
      "turnscout_parent_up{parent=\"127.0.0.1:4000\"} 1\n"
      "turnscout_parent_heartbeat_rtt_seconds{parent=\"127.0.0.1:4000\"} 0.0005\n"
      "turnscout_parent_heartbeats_sent_total{parent=\"127.0.0.1:4000\"} 10\n"
      "turnscout_parent_heartbeats_answered_total{parent=\"127.0.0.1:4000\"} 9\n"
      "turnscout_load_ratio 0.125\n"
      "turnscout_draining 0\n");
  REQUIRE(samples.ok());
  const std::string out = format_stats(*samples);
  CHECK(out.find("node         leaf-1 (turnscout-server 0.1.0)\n") != std::string::npos);
  CHECK(out.find("own load     12.5% (this machine; probe shows its subtree's)\n") !=
        std::string::npos);
  CHECK(out.find("requests     probe 7, binding 2\n") != std::string::npos);
  CHECK(out.find("replies      9 (1 truncated)\n") != std::string::npos);
  CHECK(out.find("drops        rate-limited 4\n") != std::string::npos);
  CHECK(out.find("parents      127.0.0.1:4000 up, heartbeat rtt 0.500 ms, 9 of 10 heartbeats "
                 "answered\n") != std::string::npos);
  CHECK(out.find("draining     no\n") != std::string::npos);
}

}  // namespace turnscout::cli
