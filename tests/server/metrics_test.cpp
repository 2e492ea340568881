#include "server/core/metrics.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/server/cluster_fixture.hpp"

namespace turnscout::server {
namespace {

using namespace testing;

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

bool promtool_available() {
  return std::system("command -v promtool >/dev/null 2>&1") == 0;
}

struct CheckResult {
  int status = -1;
  std::string output;
};

// Runs `promtool check metrics` on `text`; the output names the problems, if any.
CheckResult promtool_check(const std::string& text) {
  std::string path = (std::filesystem::temp_directory_path() / "turnscout-metrics-XXXXXX").string();
  const int fd = mkstemp(path.data());
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  CheckResult result;
  const std::string command = "promtool check metrics < " + path + " 2>&1";
  if (FILE* p = popen(command.c_str(), "r")) {
    char buffer[512];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof buffer, p)) > 0)
      result.output.append(buffer, n);
    const int raw = pclose(p);
    result.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  }
  unlink(path.c_str());
  return result;
}

TEST_CASE("metrics of a converged region: requests, children, parents, replies") {
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  REQUIRE(c.probe(kR1).has_value());
  const std::string text = render_metrics(c["r1"], {.other_workers = {}, .admission_clients = 1});
  CAPTURE(text);

  CHECK(has_line(text, "# TYPE turnscout_requests_total counter"));
  CHECK(has_line(text, "turnscout_requests_total{type=\"probe\"} 1"));
  // Heartbeats from l11, l12, l13 sent at 0, 1, 2 and 3 s, each answered.
  CHECK(has_line(text, "turnscout_requests_total{type=\"heartbeat\"} 12"));
  CHECK(has_line(text, "turnscout_children{state=\"alive\"} 3"));
  CHECK(has_line(text, "turnscout_children{state=\"dead\"} 0"));
  CHECK(has_line(text, "turnscout_parent_up{parent=\"10.0.0.1:3479\"} 1"));
  CHECK(has_line(text, "turnscout_parent_heartbeat_rtt_seconds{parent=\"10.0.0.1:3479\"} 0.02"));
  CHECK(has_line(text, "turnscout_parent_heartbeats_sent_total{parent=\"10.0.0.1:3479\"} 4"));
  CHECK(has_line(text, "turnscout_drops_total{reason=\"rate_limited\"} 0"));
  CHECK(has_line(text, "turnscout_drops_total{reason=\"auth\"} 0"));
  CHECK(has_line(text, "# TYPE turnscout_reply_size_bytes histogram"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_bucket{le=\"+Inf\"} 13"));  // 12 + 1 probe.
  CHECK(has_line(text, "turnscout_reply_size_bytes_count 13"));
  CHECK(has_line(text, "turnscout_replies_total 13"));
  CHECK(has_line(text, "turnscout_admission_clients 1"));
  CHECK(has_line(text, "turnscout_subtree_live_leaves 3"));
  CHECK(has_line(text, "turnscout_draining 0"));
  CHECK(text.find("turnscout_build_info{version=\"") != std::string::npos);
  CHECK(text.find(",node=\"r1\"} 1\n") != std::string::npos);
  CHECK(
      has_line(text, "turnscout_snapshot_version " + std::to_string(c["r1"].snapshot()->version)));
}

TEST_CASE("metrics name each child with its liveness state") {
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  c.net.set_node_down(c.id("l11"), true);
  c.net.run_for(10s);
  const std::string text = render_metrics(c["r1"]);
  CAPTURE(text);
  CHECK(has_line(text, "# TYPE turnscout_child_state gauge"));
  CHECK(has_line(text, "turnscout_child_state{child=\"l11\",state=\"dead\"} 1"));
  CHECK(has_line(text, "turnscout_child_state{child=\"l12\",state=\"alive\"} 1"));
  CHECK(has_line(text, "turnscout_child_state{child=\"l13\",state=\"alive\"} 1"));
  CHECK(has_line(text, "turnscout_children{state=\"dead\"} 1"));
  // A leaf has no children: the family is announced with no samples.
  CHECK(render_metrics(c["l12"]).find("turnscout_child_state{") == std::string::npos);
}

TEST_CASE("metrics add the other workers' counters and build a cumulative histogram") {
  Cluster c;
  c.add(node_config("solo", kRoot, {}));
  WorkerCounters w1;
  w1.request(RequestKind::kProbe);
  w1.request(RequestKind::kProbe);
  w1.reply(100);   // le=128
  w1.reply(2000);  // +Inf
  w1.drop(DropReason::kRateLimited);
  WorkerCounters w2;
  w2.reply(64);  // le=64
  const std::vector<const WorkerCounters*> workers = {&w1, &w2};
  const std::string text = render_metrics(c["solo"], {.other_workers = workers});
  CAPTURE(text);
  CHECK(has_line(text, "turnscout_requests_total{type=\"probe\"} 2"));
  CHECK(has_line(text, "turnscout_drops_total{reason=\"rate_limited\"} 1"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_bucket{le=\"64\"} 1"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_bucket{le=\"128\"} 2"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_bucket{le=\"1500\"} 2"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_bucket{le=\"+Inf\"} 3"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_sum 2164"));
  CHECK(has_line(text, "turnscout_reply_size_bytes_count 3"));
  // No parents: no per-parent families at all.
  CHECK(text.find("turnscout_parent_up") == std::string::npos);
}

TEST_CASE("label values are escaped") {
  CHECK(escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
  CHECK(escape_label_value("[2001:db8::1]:3479") == "[2001:db8::1]:3479");
}

TEST_CASE("promtool check metrics accepts the output") {
  if (!promtool_available()) {
    MESSAGE("promtool not installed: skipping the promtool check (apt-get install prometheus)");
    return;
  }
  Cluster c;
  build_tree(c);
  c.net.run_until(kStart + 3s);
  c.net.set_node_down(c.id("l11"), true);
  c.net.set_node_down(c.id("root"), true);
  c.net.run_for(10s);
  REQUIRE(c.probe(kR1).has_value());
  for (const std::string node : {"r1", "root", "l12"}) {
    CAPTURE(node);
    const std::string text = render_metrics(c[node]);
    const CheckResult result = promtool_check(text);
    CAPTURE(text);
    CAPTURE(result.output);
    CHECK(result.status == 0);
    CHECK(result.output.empty());
  }
}

}  // namespace
}  // namespace turnscout::server
