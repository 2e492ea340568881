#include "tools/cluster/node_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "common/sockaddr.hpp"

namespace turnscout::cluster {

// The handle lives apart from the object: libuv needs its memory until the close callback,
// which for a process that is still running comes only after its exit. `owner` is cleared
// when the object goes, so a late exit only closes the handle.
struct NodeProcess::Handle {
  uv_process_t process{};
  NodeProcess* owner = nullptr;
};

struct NodeProcess::Callbacks {
  static void exited(uv_process_t* process, int64_t status, int term_signal) {
    auto* h = static_cast<Handle*>(process->data);
    uv_close(reinterpret_cast<uv_handle_t*>(process), &Callbacks::closed);
    NodeProcess* owner = std::exchange(h->owner, nullptr);
    if (owner == nullptr) return;
    owner->handle_ = nullptr;
    owner->exit_ = ProcessExit{status, term_signal};
    if (owner->on_exit_) owner->on_exit_(*owner->exit_);
  }

  static void closed(uv_handle_t* handle) { delete static_cast<Handle*>(handle->data); }
};

std::string to_string(const ProcessExit& exit) {
  if (exit.signal == 0) return fmt::format("exit code {}", exit.code);
  return fmt::format("signal {} ({})", exit.signal, strsignal(exit.signal));
}

NodeProcess::NodeProcess(uv_loop_s* loop) : loop_(loop) {}

NodeProcess::~NodeProcess() {
  Handle* h = std::exchange(handle_, nullptr);
  if (h == nullptr) return;
  h->owner = nullptr;
  uv_process_kill(&h->process, SIGKILL);
}

Result<void, std::string> NodeProcess::spawn(const std::vector<std::string>& argv,
                                             const std::string& log_file, OnExit on_exit) {
  if (pid_ != 0 || argv.empty()) return unexpected(std::string("spawn() needs argv, once"));
  const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return unexpected(fmt::format("cannot open {}: {}", log_file, strerror(errno)));
  std::vector<char*> args;
  for (const std::string& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  for (int fd : {1, 2}) {
    stdio[fd].flags = UV_INHERIT_FD;
    stdio[fd].data.fd = log;
  }
  uv_process_options_t options{};
  options.file = args[0];
  options.args = args.data();
  options.stdio = stdio;
  options.stdio_count = 3;
  options.exit_cb = &Callbacks::exited;

  auto* h = new Handle;
  h->process.data = h;
  const int rc = uv_spawn(loop_, &h->process, &options);
  ::close(log);
  if (rc != 0) {
    // The handle was initialised all the same and must be closed.
    uv_close(reinterpret_cast<uv_handle_t*>(&h->process), &Callbacks::closed);
    return unexpected(fmt::format("cannot start {}: {}", argv[0], uv_strerror(rc)));
  }
  h->owner = this;
  handle_ = h;
  pid_ = h->process.pid;
  on_exit_ = std::move(on_exit);
  return {};
}

bool NodeProcess::running() const {
  return handle_ != nullptr;
}

bool NodeProcess::signal(int signum) {
  return handle_ != nullptr && uv_process_kill(&handle_->process, signum) == 0;
}

Result<uint16_t, std::string> free_port(const Endpoint& ip, bool stream) {
  sockaddr_storage addr{};
  Endpoint any_port = ip;
  any_port.port = 0;
  socklen_t len = to_sockaddr(any_port, addr);
  if (len == 0) return unexpected(fmt::format("{} is not a usable address", ip));
  const int fd = ::socket(addr.ss_family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return unexpected(fmt::format("socket: {}", strerror(errno)));
  std::string error;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    error = fmt::format("cannot bind {}: {}", any_port, strerror(errno));
  } else if (len = sizeof addr; ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    error = fmt::format("getsockname: {}", strerror(errno));
  }
  ::close(fd);
  if (!error.empty()) return unexpected(std::move(error));
  auto bound = from_sockaddr(reinterpret_cast<const sockaddr*>(&addr), len);
  if (!bound) return unexpected(bound.error());
  return bound->port;
}

}  // namespace turnscout::cluster
