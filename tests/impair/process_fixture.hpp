// What the binary's tests need besides a loop: a blocking UDP socket, a private folder, and
// a child process stopped and reaped by PID.
#pragma once

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"

namespace turnscout::impair::test {

// A blocking UDP socket bound to 127.0.0.1 on a free port.
class BlockingSocket {
 public:
  BlockingSocket();
  ~BlockingSocket();
  BlockingSocket(const BlockingSocket&) = delete;
  BlockingSocket& operator=(const BlockingSocket&) = delete;

  const Endpoint& local() const { return local_; }
  bool send(const Endpoint& to, std::span<const uint8_t> bytes);
  // The next datagram and its sender, or nullopt after `timeout`.
  std::optional<std::pair<Endpoint, std::vector<uint8_t>>> receive(Duration timeout);

 private:
  int fd_ = -1;
  Endpoint local_;
};

// A folder under $TMPDIR (or /tmp), removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

struct ExitStatus {
  bool exited = false;  // Normal exit with `code`; otherwise killed by `signal`.
  int code = 0;
  int signal = 0;
};

// A process with stdout and stderr in `output_file`. The destructor kills (SIGKILL) and
// reaps one still running, so a failed test leaves none behind.
class ChildProcess {
 public:
  ChildProcess(const std::string& program, const std::vector<std::string>& args,
               const std::string& output_file);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  bool started() const { return pid_ > 0; }
  bool send_signal(int signal);
  // How it ended, or nullopt if it still runs after `timeout`.
  std::optional<ExitStatus> wait(Duration timeout);

 private:
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
};

}  // namespace turnscout::impair::test
