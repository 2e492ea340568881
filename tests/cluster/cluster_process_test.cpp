// `turnscout cluster configs/demo.yaml --state-file` as a real process: it writes the state
// once converged, and SIGTERM (sent by PID) stops it with exit code 0 and the file removed.
#include <csignal>

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
