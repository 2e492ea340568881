// One child process on a caller's libuv loop, for the cluster's process mode: started with
// uv_spawn (stdin from /dev/null, stdout and stderr appended to a log file) and reaped by
// libuv, which runs the exit callback. The process stays in the caller's process group.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"

struct uv_loop_s;

namespace turnscout::cluster {

// How a process ended.
struct ProcessExit {
  int64_t code = 0;  // The exit code when `signal` is 0.
  int signal = 0;    // The signal that ended it, or 0.
};

// "exit code 1", "signal 9 (Killed)".
std::string to_string(const ProcessExit& exit);

class NodeProcess {
 public:
  using OnExit = std::function<void(const ProcessExit&)>;

  // `loop` must outlive the object; everything runs on the loop's thread.
  explicit NodeProcess(uv_loop_s* loop);
  // A process still running gets SIGKILL; libuv reaps it when the loop next runs (the
  // handle keeps the loop alive until then). `on_exit` is not called after this.
  ~NodeProcess();
  NodeProcess(const NodeProcess&) = delete;
  NodeProcess& operator=(const NodeProcess&) = delete;

  // Starts `argv[0]` (a path, or a name looked up in PATH) with `argv`; output goes to
  // `log_file` (created 0600, appended). `on_exit` runs once, on the loop, when it ends.
  // Once per object.
  Result<void, std::string> spawn(const std::vector<std::string>& argv, const std::string& log_file,
                                  OnExit on_exit);

  bool running() const;
  // The process id once spawned (kept after the exit, for messages).
  int pid() const { return pid_; }
  // Set once the exit callback ran.
  const std::optional<ProcessExit>& exit() const { return exit_; }
  // Sends `signum` to a running process; false if it is not running or kill() failed.
  bool signal(int signum);

 private:
  struct Handle;
  struct Callbacks;
  friend struct Callbacks;

  uv_loop_s* loop_;
  Handle* handle_ = nullptr;  // Owned by the loop while open; see Handle.
  int pid_ = 0;
  std::optional<ProcessExit> exit_;
  OnExit on_exit_;
};

// A port that is free on `ip` at this moment, for UDP (`stream` false) or TCP: a socket
// bound to `ip` with port 0, its port read back, then closed. Race-free in practice when
// every node has an address of its own.
Result<uint16_t, std::string> free_port(const Endpoint& ip, bool stream);

}  // namespace turnscout::cluster
