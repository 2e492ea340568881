// A child process for tests that run real binaries: started with posix_spawn, its stdout
// and stderr appended to a file, signalled and reaped by PID. The destructor kills
// (SIGKILL) and reaps a process that is still running, so no test leaves one behind.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace turnscout::test {

struct ExitStatus {
  bool exited = false;  // Normal exit; `code` is the exit code.
  int code = 0;
  int signal = 0;  // The terminating signal when !exited.
  friend bool operator==(const ExitStatus&, const ExitStatus&) = default;
};

std::string to_string(const ExitStatus& status);

class ChildProcess {
 public:
  // Runs `program` with `args` (argv[1..]); stdin reads `input_file`; stdout and stderr
  // are appended to `output_file`, which is created if needed.
  static Result<ChildProcess, std::string> spawn(const std::string& program,
                                                 const std::vector<std::string>& args,
                                                 const std::string& output_file,
                                                 const std::string& input_file = "/dev/null");

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !status_; }
  const std::string& output_file() const { return output_file_; }

  // Sends `signal` (SIGTERM, SIGHUP, SIGKILL, ...); false if the process was already reaped.
  bool send_signal(int signal);
  // Waits up to `timeout` for the process to end and reaps it; nullopt if still running.
  std::optional<ExitStatus> wait(Duration timeout);
  // SIGKILL, then reap. Returns how it ended (a process that had already ended keeps its
  // real status).
  ExitStatus kill_and_reap();
  // The output captured so far.
  std::string output() const;

 private:
  ChildProcess(pid_t pid, std::string output_file);
  bool try_reap();

  pid_t pid_ = -1;
  std::string output_file_;
  std::optional<ExitStatus> status_;
};

// One command run to completion (bounded by `timeout`, then killed), with its output.
struct CommandResult {
  ExitStatus status;
  bool timed_out = false;
  std::string output;  // stdout and stderr, interleaved.
};

Result<CommandResult, std::string> run_command(const std::string& program,
                                               const std::vector<std::string>& args,
                                               const std::string& output_file, Duration timeout,
                                               const std::string& input_file = "/dev/null");

// The absolute path of `name` found in PATH, or nullopt.
std::optional<std::string> find_in_path(const std::string& name);

}  // namespace turnscout::test
