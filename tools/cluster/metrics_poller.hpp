// How the cluster watches node processes: their metrics endpoints, read over HTTP on a
// helper thread so the loop (which also runs the proxies) never waits on a socket. Each
// round's answers come back on the loop through a uv_async handle.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/core/child_registry.hpp"

struct uv_loop_s;
struct uv_async_s;

namespace turnscout::cluster {

// What the runner needs from one node's metrics.
struct NodeMetrics {
  // turnscout_child_state: each child by name, in the order served.
  std::vector<std::pair<std::string, server::ChildLiveness>> children;
  uint32_t live_leaves = 0;  // turnscout_subtree_live_leaves.
};

// Reads the Prometheus text a turnscout-server serves; an error names what is missing or
// malformed.
Result<NodeMetrics, std::string> parse_node_metrics(std::string_view text);

class MetricsPoller {
 public:
  // One per endpoint of a round: the parsed metrics, or why there are none.
  using Answers = std::vector<Result<NodeMetrics, std::string>>;
  using Done = std::function<void(Answers)>;

  // Bounds one request (connect, send, read to the end). The thread stops between requests,
  // so stop() waits at most this long.
  static constexpr Duration kRequestTimeout = std::chrono::milliseconds{500};

  // `loop` must outlive the poller; call everything on the loop's thread.
  explicit MetricsPoller(uv_loop_s* loop);
  ~MetricsPoller();  // stop().
  MetricsPoller(const MetricsPoller&) = delete;
  MetricsPoller& operator=(const MetricsPoller&) = delete;

  // Starts the thread. Once.
  Result<void, std::string> start();
  // Asks every endpoint's /metrics in turn; `done` runs on the loop with the answers in the
  // same order, unless stop() comes first. One round at a time: false while one runs.
  bool poll(std::vector<Endpoint> endpoints, Done done);
  bool busy() const { return static_cast<bool>(done_); }
  // Ends the thread (after the request under way) and closes the async handle, whose
  // memory is freed when the loop next runs. No `done` runs after this.
  void stop();

 private:
  void run();
  void deliver();

  uv_loop_s* loop_;
  uv_async_s* async_ = nullptr;  // Freed in its close callback.
  std::thread thread_;
  Done done_;  // Of the round under way; loop thread only.

  // Shared with the thread.
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<std::vector<Endpoint>> request_;
  std::optional<Answers> answers_;
};

}  // namespace turnscout::cluster
