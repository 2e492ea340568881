// `turnscout cluster configs/demo.yaml --state-file` as a real process: it writes the state
// once converged, and SIGTERM (sent by PID) stops it with exit code 0 and the file removed;
// with --processes (turnscout-server found in the build tree next to turnscout) the state
// names every node's process, and SIGTERM ends all of them.
#include <signal.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <vector>

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/child_process.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

TEST_CASE("turnscout cluster runs the demo until SIGTERM") {
  TempDir dir("turnscout-cluster");
  const std::string state = dir.file("state.json");
  auto process = ChildProcess::spawn(
      TURNSCOUT_CLI_BIN,
      {"cluster", TURNSCOUT_SOURCE_DIR "/configs/demo.yaml", "--state-file", state},
      dir.file("output.txt"));
  REQUIRE_MESSAGE(bool(process), (process ? "" : process.error()));
  const bool written = wait_until(20s, 20ms, [&] { return !read_file(state).empty(); });
  INFO(process->output());
  REQUIRE(written);
  auto json = nlohmann::json::parse(read_file(state));
  CHECK(json["converged"] == true);
  CHECK(json["pid"] == process->pid());
  CHECK(json["nodes"].size() == 15);
  REQUIRE(json["roots"].size() == 1);
  CHECK(json["roots"][0].get<std::string>().starts_with("127.2.0.1:"));
  CHECK(process->output().find("eu-west-1") != std::string::npos);

  REQUIRE(process->send_signal(SIGTERM));
  auto status = process->wait(10s);
  REQUIRE(status.has_value());
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(read_file(state).empty());  // Removed on exit.
}

TEST_CASE("turnscout cluster --processes runs every node as a process until SIGTERM") {
  TempDir dir("turnscout-cluster");
  const std::string state = dir.file("state.json");
  auto process = ChildProcess::spawn(
      TURNSCOUT_CLI_BIN,
      {"cluster", TURNSCOUT_SOURCE_DIR "/configs/demo.yaml", "--processes", "--state-file", state},
      dir.file("output.txt"));
  REQUIRE_MESSAGE(bool(process), (process ? "" : process.error()));
  const bool written = wait_until(30s, 20ms, [&] { return !read_file(state).empty(); });
  INFO(process->output());
  REQUIRE(written);
  auto json = nlohmann::json::parse(read_file(state));
  CHECK(json["converged"] == true);
  REQUIRE(json["nodes"].size() == 15);
  std::vector<int> pids;
  std::string work_dir;
  for (const auto& n : json["nodes"]) {
    INFO(n.dump());
    REQUIRE(n["command"].is_array());
    CHECK(n["command"][0].get<std::string>().ends_with("/server/io/turnscout-server"));
    work_dir = std::filesystem::path(n["config"].get<std::string>()).parent_path().string();
    if (n["name"] == "eu-west-3") {
      CHECK(n["state"] == "drained");
      continue;
    }
    REQUIRE(n["pid"].is_number_integer());
    pids.push_back(n["pid"].get<int>());
  }
  CHECK(pids.size() == 14);
  CHECK(process->output().find("node configs and logs: " + work_dir) != std::string::npos);

  // A node killed from outside shows in the state file as exited, not as active.
  int killed = 0;
  for (const auto& n : json["nodes"]) {
    if (n["name"] == "eu-west-1") killed = n["pid"].get<int>();
  }
  REQUIRE(killed > 0);
  REQUIRE(::kill(killed, SIGKILL) == 0);
  nlohmann::json node;
  const bool shown = wait_until(5s, 20ms, [&] {
    const auto now = nlohmann::json::parse(read_file(state));
    for (const auto& n : now["nodes"]) {
      if (n["name"] == "eu-west-1") node = n;
    }
    return node["state"] == "exited";
  });
  INFO(node.dump());
  CHECK(shown);
  CHECK(node["pid"].is_null());
  CHECK(node["exit"] == "signal 9 (Killed)");

  REQUIRE(process->send_signal(SIGTERM));
  auto status = process->wait(15s);
  REQUIRE(status.has_value());
  CHECK(status->exited);
  CHECK(status->code == 0);
  for (int pid : pids)  // Reaped by the runner: not even a zombie is left.
    CHECK_MESSAGE((::kill(pid, 0) == -1 && errno == ESRCH), "pid " << pid << " is still there");
  CHECK_FALSE(std::filesystem::exists(work_dir));
}

// A process that is gone, or a zombie nobody has reaped yet (it no longer runs).
bool ended(int pid) {
  if (::kill(pid, 0) == -1) return errno == ESRCH;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

TEST_CASE("turnscout cluster --processes killed with SIGKILL: its nodes end too") {
  TempDir dir("turnscout-cluster");
  const std::string state = dir.file("state.json");
  auto process =
      ChildProcess::spawn(TURNSCOUT_CLI_BIN,
                          {"cluster", TURNSCOUT_SOURCE_DIR "/configs/demo.yaml", "--processes",
                           "--state-file", state, "--work-dir", dir.file("nodes")},
                          dir.file("output.txt"));
  REQUIRE_MESSAGE(bool(process), (process ? "" : process.error()));
  const bool written = wait_until(30s, 20ms, [&] { return !read_file(state).empty(); });
  INFO(process->output());
  REQUIRE(written);
  const auto json = nlohmann::json::parse(read_file(state));
  std::vector<int> pids;
  for (const auto& n : json["nodes"]) {
    if (n["pid"].is_number_integer()) pids.push_back(n["pid"].get<int>());
  }
  REQUIRE(pids.size() == 14);
  for (int pid : pids)
    REQUIRE_FALSE(ended(pid));

  const ExitStatus status = process->kill_and_reap();
  CHECK(status.signal == SIGKILL);
  // Each node gets SIGTERM from the kernel, sends Leave and exits within its 2 s.
  const bool all_ended = wait_until(10s, 20ms, [&] {
    for (int pid : pids)
      if (!ended(pid)) return false;
    return true;
  });
  std::vector<int> left;
  for (int pid : pids) {
    if (ended(pid)) continue;
    left.push_back(pid);
    ::kill(pid, SIGKILL);  // Leave nothing behind, even when the check fails.
  }
  CHECK_MESSAGE(all_ended, left.size() << " node processes still run after the runner died");
}

TEST_CASE("turnscout cluster --server-binary needs --processes") {
  TempDir dir("turnscout-cluster");
  auto result = run_command(
      TURNSCOUT_CLI_BIN,
      {"cluster", TURNSCOUT_SOURCE_DIR "/configs/demo.yaml", "--server-binary", "/bin/true"},
      dir.file("output.txt"), 10s);
  REQUIRE(bool(result));
  CHECK(result->status.exited);
  CHECK(result->status.code == 2);
  CHECK(result->output.find("--processes") != std::string::npos);
}

TEST_CASE("turnscout cluster refuses a broken topology with its position") {
  TempDir dir("turnscout-cluster");
  const std::string file = dir.write("bad.yaml", "roots:\n  - name: r\n    lod: 1\n");
  auto result = run_command(TURNSCOUT_CLI_BIN, {"cluster", file}, dir.file("output.txt"), 10s);
  REQUIRE(bool(result));
  CHECK(result->status.exited);
  CHECK(result->status.code == 2);
  CHECK(result->output.find(file + ":3:5: unknown key \"lod\"") != std::string::npos);
}

}  // namespace
}  // namespace turnscout::test
