#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace turnscout::test {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds{5};

ExitStatus decode_status(int raw) {
  ExitStatus s;
  if (WIFEXITED(raw)) {
    s.exited = true;
    s.code = WEXITSTATUS(raw);
  } else if (WIFSIGNALED(raw)) {
    s.signal = WTERMSIG(raw);
  }
  return s;
}

// Owns the file actions so every exit path destroys them.
class SpawnActions {
 public:
  SpawnActions() { posix_spawn_file_actions_init(&actions_); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions_); }
  SpawnActions(const SpawnActions&) = delete;
  SpawnActions& operator=(const SpawnActions&) = delete;
  posix_spawn_file_actions_t* get() { return &actions_; }

 private:
  posix_spawn_file_actions_t actions_;
};

}  // namespace

std::string to_string(const ExitStatus& status) {
  if (status.exited) return fmt::format("exit code {}", status.code);
  return fmt::format("signal {} ({})", status.signal, strsignal(status.signal));
}

Result<ChildProcess, std::string> ChildProcess::spawn(const std::string& program,
                                                      const std::vector<std::string>& args,
                                                      const std::string& output_file,
                                                      const std::string& input_file) {
  SpawnActions actions;
  posix_spawn_file_actions_addopen(actions.get(), STDIN_FILENO, input_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(actions.get(), STDOUT_FILENO, output_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(actions.get(), STDOUT_FILENO, STDERR_FILENO);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), actions.get(), nullptr, argv.data(), environ);
  if (rc != 0) return unexpected(fmt::format("cannot start {}: {}", program, strerror(rc)));
  return ChildProcess(pid, output_file);
}

ChildProcess::ChildProcess(pid_t pid, std::string output_file)
    : pid_(pid), output_file_(std::move(output_file)) {}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), output_file_(std::move(other.output_file_)), status_(other.status_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (running()) kill_and_reap();
    pid_ = other.pid_;
    output_file_ = std::move(other.output_file_);
    status_ = other.status_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (running()) kill_and_reap();
}

bool ChildProcess::try_reap() {
  if (!running()) return true;
  int raw = 0;
  const pid_t r = waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    status_ = decode_status(raw);
    return true;
  }
  if (r < 0 && errno != EINTR) {
    status_ = ExitStatus{};  // Not our child any more: nothing left to reap.
    return true;
  }
  return false;
}

bool ChildProcess::send_signal(int signal) {
  if (!running() || try_reap()) return false;
  return ::kill(pid_, signal) == 0;
}

std::optional<ExitStatus> ChildProcess::wait(Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!try_reap()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return status_;
}

ExitStatus ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return ExitStatus{};
  if (running() && !try_reap()) {
    ::kill(pid_, SIGKILL);
    int raw = 0;
    pid_t r;
    do {
      r = waitpid(pid_, &raw, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode_status(raw) : ExitStatus{};
  }
  return *status_;
}

std::string ChildProcess::output() const {
  std::ifstream in(output_file_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<CommandResult, std::string> run_command(const std::string& program,
                                               const std::vector<std::string>& args,
                                               const std::string& output_file, Duration timeout,
                                               const std::string& input_file) {
  std::error_code ignored;
  std::filesystem::remove(output_file, ignored);
  auto child = ChildProcess::spawn(program, args, output_file, input_file);
  if (!child) return unexpected(child.error());
  CommandResult result;
  auto status = child->wait(timeout);
  if (!status) {
    result.timed_out = true;
    status = child->kill_and_reap();
  }
  result.status = *status;
  result.output = child->output();
  return result;
}

std::optional<std::string> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

}  // namespace turnscout::test
