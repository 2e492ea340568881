// A Client on a private loop, for the blocking calls: turnscout::discover() and the C API.
// discover() runs the loop until the result comes; between calls the loop does not run, so
// a background refresh simply continues during the next call.
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

 private:
  BlockingClient() = default;

  uv_loop_t loop_{};
  std::unique_ptr<turnscout::Client> client_;
};

}  // namespace turnscout::client
