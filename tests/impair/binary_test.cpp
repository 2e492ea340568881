// The turnscout-impair binary: started as a process, stopped by PID.
#include <doctest/doctest.h>

#include <signal.h>

#include <string>
#include <vector>

#include "base/endpoint.hpp"
#include "tests/impair/process_fixture.hpp"
#include "tools/impair/udp_impair_proxy.hpp"

namespace turnscout::impair {
namespace {

using test::BlockingSocket;
using test::ChildProcess;
using test::ExitStatus;
using test::TempDir;

const std::string kBinary = TURNSCOUT_IMPAIR_BINARY;

std::vector<uint8_t> bytes_of(const std::string& text) {
  return {text.begin(), text.end()};
}

std::string text_of(const std::vector<uint8_t>& bytes) {
  return {bytes.begin(), bytes.end()};
}

// Runs the binary to completion (at most 5 s) and returns how it ended and its output.
std::pair<std::optional<ExitStatus>, std::string> run(const std::vector<std::string>& args) {
  TempDir dir;
  const std::string output = dir.file("output.txt");
  ChildProcess child(kBinary, args, output);
  REQUIRE(child.started());
  auto status = child.wait(5s);
  return {status, test::read_file(output)};
}

TEST_CASE("turnscout-impair --help exits 0 with an example") {
  auto [status, output] = run({"--help"});
  REQUIRE(status);
  CHECK(status->exited);
  CHECK(status->code == 0);
  CHECK(output.find("Examples:") != std::string::npos);
  CHECK(output.find("turnscout-impair --listen 127.0.0.1:0 --upstream") != std::string::npos);
  CHECK(output.find("--ready-file") != std::string::npos);
  // Every value is named for what it is (DURATION, P, N, ...), never by its C++ type.
  for (const char* vague : {" TEXT", "FLOAT", "UINT", "INT:", "POSITIVE"})
    CHECK_MESSAGE(output.find(vague) == std::string::npos, vague);
}

TEST_CASE("turnscout-impair refuses bad arguments with a message") {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"--listen", "127.0.0.1:0"},
           {"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--loss", "2"},
           {"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--delay", "soon"},
           {"--listen", "localhost:0", "--upstream", "127.0.0.1:9"},
           {"--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:9", "--drop-prefix", "0x1"},
       }) {
    CAPTURE(args.back());
    auto [status, output] = run(args);
    REQUIRE(status);
    CHECK(status->exited);
    CHECK(status->code != 0);
    CHECK(!output.empty());
  }
}

TEST_CASE("turnscout-impair writes its ready file, forwards with delay, exits 0 on SIGTERM") {
  TempDir dir;
  BlockingSocket server;
  BlockingSocket client;
  const std::string ready = dir.file("ready");
  ChildProcess child(kBinary,
                     {"--listen", "127.0.0.1:0", "--upstream", to_string(server.local()), "--delay",
                      "10ms", "--drop-nth", "2", "--seed", "3", "--ready-file", ready},
                     dir.file("output.txt"));
  REQUIRE(child.started());

  std::optional<Endpoint> proxy;
  for (int i = 0; i < 500 && !proxy; ++i) {
    std::string text = test::read_file(ready);
    if (!text.empty() && text.back() == '\n') {
      text.pop_back();
      auto parsed = parse_endpoint(text);
      REQUIRE(parsed.ok());
      proxy = *parsed;
    } else {
      REQUIRE(!child.wait(10ms));  // Still running.
    }
  }
  REQUIRE(proxy);
  CHECK(proxy->port != 0);

  auto exchange = [&](const std::string& text) -> std::optional<std::string> {
    const TimePoint start = steady_now();
    REQUIRE(client.send(*proxy, bytes_of(text)));
    auto request = server.receive(500ms);
    if (!request) return std::nullopt;
    CHECK(steady_now() - start >= 10ms);
    REQUIRE(server.send(request->first, bytes_of("re: " + text_of(request->second))));
    auto reply = client.receive(1s);
    REQUIRE(reply);
    CHECK(reply->first == *proxy);
    CHECK(steady_now() - start >= 20ms);
    return text_of(reply->second);
  };
  CHECK(exchange("one") == "re: one");
  CHECK(exchange("two") == std::nullopt);  // --drop-nth 2.
  CHECK(exchange("three") == "re: three");

  REQUIRE(child.send_signal(SIGTERM));
  auto status = child.wait(5s);
  REQUIRE(status);
  CHECK(status->exited);
  CHECK(status->code == 0);
  const std::string output = test::read_file(dir.file("output.txt"));
  CAPTURE(output);
  CHECK(
      output.find("to-server: received 3, forwarded 2, duplicated 0, dropped 1 (loss 0, rule 1") !=
      std::string::npos);
  CHECK(output.find("to-client: received 2, forwarded 2") != std::string::npos);
}

}  // namespace
}  // namespace turnscout::impair
