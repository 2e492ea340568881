// turnscout-server under a service manager: the sd_notify messages systemd would get, read
// from a datagram socket the test owns (these machines do not run systemd as PID 1).
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/server/process/server_process.hpp"
#include "tests/support/wait.hpp"

namespace turnscout::test {
namespace {

// A bound AF_UNIX datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof address.sun_path);
    std::memcpy(address.sun_path, path.data(), path.size());
    REQUIRE(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  ~NotifySocket() { close(fd_); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // The next message, or nullopt when none comes within `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = timeout.count() / 1000;
    tv.tv_usec = (timeout.count() % 1000) * 1000;
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }
  // Skips keep-alives (WATCHDOG=1) up to the next other message.
  std::optional<std::string> next_state(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      auto m = next(std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now() + std::chrono::milliseconds{1}));
      if (!m) return std::nullopt;
      if (*m != "WATCHDOG=1") return m;
    }
    return std::nullopt;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool starts_with(const std::optional<std::string>& s, const std::string& prefix) {
  return s && s->rfind(prefix, 0) == 0;
}

}  // namespace

TEST_CASE("service: READY once serving, RELOADING and READY on SIGHUP, STOPPING, watchdog") {
  TempDir dir("turnscout-notify");
  NotifySocket notify(dir.file("notify.sock"));
  const std::string config =
      dir.write("node.yaml", node_yaml(NodeOptions{.name = "svc", .leaf = true}));
  const std::string ready = dir.file("node.ready");
  // WATCHDOG_USEC as systemd sets it for WatchdogSec=200ms: a keep-alive every 100 ms.
  auto child =
      ChildProcess::spawn("/usr/bin/env",
                          {"NOTIFY_SOCKET=" + dir.file("notify.sock"), "WATCHDOG_USEC=200000",
                           server_binary(), "--config", config, "--ready-file", ready},
                          dir.file("server.out"));
  REQUIRE_MESSAGE(child.ok(), (child.ok() ? "" : child.error()));
  INFO(child->output());

  const auto first = notify.next_state(std::chrono::seconds{10});
  REQUIRE(first);
  CHECK(starts_with(first, "READY=1\nSTATUS=svc: serving on UDP 127.0.0.1:"));
  // Ready means serving: the ready file (written before) has the bound address.
  std::error_code ignored;
  CHECK(std::filesystem::exists(ready, ignored));

  // Keep-alives, at about 100 ms: 4 to 15 in one second.
  int keepalives = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds{1};
  while (std::chrono::steady_clock::now() < until) {
    if (notify.next(std::chrono::milliseconds{50}) == std::optional<std::string>("WATCHDOG=1")) {
      ++keepalives;
    }
  }
  CHECK(keepalives >= 4);
  CHECK(keepalives <= 15);

  REQUIRE(child->send_signal(SIGHUP));
  const auto reloading = notify.next_state(std::chrono::seconds{5});
  CHECK(starts_with(reloading, "RELOADING=1\nMONOTONIC_USEC="));
  CHECK(starts_with(notify.next_state(std::chrono::seconds{5}), "READY=1\nSTATUS=svc: serving"));

  REQUIRE(child->send_signal(SIGTERM));
  CHECK(starts_with(notify.next_state(std::chrono::seconds{5}), "STOPPING=1\nSTATUS=svc:"));
  const auto status = child->wait(std::chrono::seconds{5});
  REQUIRE(status);
  CHECK(*status == ExitStatus{true, 0});
}

TEST_CASE("service: without NOTIFY_SOCKET nothing is sent and the server runs as usual") {
  TempDir dir("turnscout-notify");
  auto server = ServerProcess::start(dir, NodeOptions{.name = "plain", .leaf = true});
  REQUIRE_MESSAGE(server.ok(), (server.ok() ? "" : server.error()));
  CHECK((*server)->output().find("watchdog") == std::string::npos);
}

TEST_CASE("logs: JSON lines on request, --log-level wins, a reload says what changed") {
  TempDir dir("turnscout-logs");
  auto yaml = [](const std::string& strategy) {
    std::string text = node_yaml(NodeOptions{.name = "logged", .leaf = true});
    auto replace = [&](const std::string& from, const std::string& to) {
      const size_t at = text.find(from);
      REQUIRE(at != std::string::npos);
      text.replace(at, from.size(), to);
    };
    replace("log: {level: debug}", "log: {level: warn, format: json}");
    replace("strategy: least-load", "strategy: " + strategy);
    return text;
  };
  const std::string config = dir.write("node.yaml", yaml("least-load"));
  auto child = ChildProcess::spawn(
      server_binary(),
      {"--config", config, "--ready-file", dir.file("node.ready"), "--log-level", "info"},
      dir.file("server.out"));
  REQUIRE_MESSAGE(child.ok(), (child.ok() ? "" : child.error()));
  INFO(child->output());
  auto output_has = [&](const std::string& needle) {
    return wait_until(std::chrono::seconds{10}, std::chrono::milliseconds{20},
                      [&] { return child->output().find(needle) != std::string::npos; });
  };
  // Info lines although the config says warn: the command line wins.
  REQUIRE(output_has("\"message\":\"node logged listening on UDP"));
  dir.write("node.yaml", yaml("weighted"));
  REQUIRE(child->send_signal(SIGHUP));
  REQUIRE(output_has("\"message\":\"reload applied: 1 change\""));
  CHECK(output_has("\"message\":\"reload: listing: least-load, "));
  CHECK(output_has(" → weighted, "));
  REQUIRE(child->send_signal(SIGTERM));
  REQUIRE(child->wait(std::chrono::seconds{5}).has_value());
  // Every line is one JSON object with the stable fields.
  const std::string out = child->output();
  size_t lines = 0;
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    const std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    ++lines;
    INFO(line);
    CHECK(line.rfind("{\"time\":\"", 0) == 0);
    CHECK(line.find("\",\"level\":\"") != std::string::npos);
    CHECK(line.find("\",\"logger\":\"turnscout\",\"message\":\"") != std::string::npos);
    CHECK(line.back() == '}');
  }
  CHECK(lines >= 5);
}

}  // namespace turnscout::test
