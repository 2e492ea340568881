// A Client on a private loop, for the blocking calls: turnscout::discover() and the C API.
// discover() runs the loop until the result comes; between calls the loop does not run, so
// a background refresh simply continues during the next call. For callers with their own
// event loop, start() returns at once and run_nowait() moves every started discovery on
// without blocking: wait until fd() is readable or timeout_ms() has passed, then call it.
//
// Not thread-safe; different BlockingClients are independent.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include <turnscout/client.hpp>

namespace turnscout::client {

class BlockingClient {
 public:
  // Null when the loop cannot be created.
  static std::unique_ptr<BlockingClient> create(turnscout::ClientConfig config = {});
  // Destroys the Client, runs the loop until its handles are closed, closes the loop.
  ~BlockingClient();
  BlockingClient(const BlockingClient&) = delete;
  BlockingClient& operator=(const BlockingClient&) = delete;

  // `hooks.stop` is ignored: `stop_requested`, when given, is asked every 10 ms instead.
  turnscout::DiscoveryResult discover(const turnscout::DiscoverOptions& options,
                                      const turnscout::DiscoverHooks& hooks = {},
                                      std::function<bool()> stop_requested = nullptr);

  // Starts a discovery; `done` runs from run_nowait() or discover(), never from start().
  turnscout::DiscoveryId start(const turnscout::DiscoverOptions& options,
                               turnscout::Client::Callback done);
  // Runs what is due (I/O, timers, results) without blocking.
  void run_nowait();
  // As turnscout::Client.
  bool stop(turnscout::DiscoveryId id) { return client_->stop(id); }
  bool cancel(turnscout::DiscoveryId id) { return client_->cancel(id); }
  // The loop's backend descriptor (epoll): readable when run_nowait() has I/O to handle.
  int fd() const { return uv_backend_fd(&loop_); }
  // Milliseconds until run_nowait() has a timer to run, from the current time; 0 = now,
  // -1 = none.
  int timeout_ms() {
    uv_update_time(&loop_);
    return uv_backend_timeout(&loop_);
  }

 private:
  BlockingClient() = default;

  uv_loop_t loop_{};
  std::unique_ptr<turnscout::Client> client_;
};

}  // namespace turnscout::client
