#include "tests/impair/process_fixture.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"

extern char** environ;

namespace turnscout::impair::test {
namespace {

[[noreturn]] void fail(const char* what) {
  std::perror(what);
  std::abort();  // A fixture that cannot be built leaves nothing to test.
}

}  // namespace

BlockingSocket::BlockingSocket() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) fail("socket");
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(Endpoint::v4(127, 0, 0, 1, 0), addr);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) fail("bind");
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    fail("getsockname");
  }
  local_ = from_sockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len).value();
}

BlockingSocket::~BlockingSocket() {
  ::close(fd_);
}

bool BlockingSocket::send(const Endpoint& to, std::span<const uint8_t> bytes) {
  sockaddr_storage addr{};
  const socklen_t len = to_sockaddr(to, addr);
  return ::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&addr),
                  len) == static_cast<ssize_t>(bytes.size());
}

std::optional<std::pair<Endpoint, std::vector<uint8_t>>> BlockingSocket::receive(Duration timeout) {
  pollfd pfd{fd_, POLLIN, 0};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
  if (::poll(&pfd, 1, static_cast<int>(ms)) != 1) return std::nullopt;
  std::vector<uint8_t> buffer(65536);
  sockaddr_storage from{};
  socklen_t from_len = sizeof(from);
  const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0,
                               reinterpret_cast<sockaddr*>(&from), &from_len);
  if (n < 0) return std::nullopt;
  auto sender = from_sockaddr(reinterpret_cast<const sockaddr*>(&from), from_len);
  if (!sender) return std::nullopt;
  buffer.resize(static_cast<size_t>(n));
  return std::make_pair(*sender, std::move(buffer));
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/turnscout-impair-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

ChildProcess::ChildProcess(const std::string& program, const std::vector<std::string>& args,
                           const std::string& output_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_file.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  if (posix_spawn(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
}

bool ChildProcess::send_signal(int signal) {
  return pid_ > 0 && !status_ && ::kill(pid_, signal) == 0;
}

std::optional<ExitStatus> ChildProcess::wait(Duration timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!status_) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      ExitStatus s;
      s.exited = WIFEXITED(status);
      s.code = s.exited ? WEXITSTATUS(status) : 0;
      s.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      status_ = s;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return status_;
}

}  // namespace turnscout::impair::test
