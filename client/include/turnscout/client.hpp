// The turnscout client SDK: find the nearest TURN server with room by probing a tree of
// turnscout balance servers.
//
//   turnscout::DiscoverOptions options;
//   options.roots = {"scout.example.org:3478"};
//   turnscout::DiscoveryResult result = turnscout::discover(options);  // Blocking.
//   if (result.ok()) use(result.services.front().uri);
//
// Or asynchronously on a libuv loop the caller owns and runs:
//
//   turnscout::Client client(loop);
//   client.discover(options, [](turnscout::DiscoveryResult result) { ... });
//
// Self-contained: includes only the standard library. The loop is passed as libuv's
// `uv_loop_t*` (a `struct uv_loop_s*`); this header does not include uv.h.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include <turnscout/export.h>
#include <turnscout/types.hpp>

struct uv_loop_s;

namespace turnscout {

// Bounds of what one Client keeps.
struct ClientConfig {
  size_t max_discoveries = 64;  // Running at once; more are refused (kInvalidOptions).
  size_t max_peers = 1024;      // Servers remembered (RTT, health); least recently used go first.
};

using DiscoveryId = uint64_t;

// Runs discoveries on a caller's libuv loop and remembers, across them, each server's RTT
// and health and the last good path: a warm discovery on the same Client costs one round
// trip. UDP sockets (one per address family) are opened on first use.
//
// Threading: not thread-safe. Create, use and destroy a Client on the thread that runs its
// loop; its callbacks run on that thread. Clients on different loops are independent.
//
// Lifetimes:
// - `loop` must outlive the Client. The SDK never runs, stops or closes it.
// - The Client's handles keep the loop alive only while a discovery is pending; a
//   background refresh after a warm answer does not.
// - Destroying the Client cancels every pending discovery (no callback runs after that)
//   and closes its handles. Their close callbacks, and name lookups already running in
//   libuv's thread pool, complete on the loop: run it (uv_run) after destroying the
//   Client and before uv_loop_close().
// - A Client may be destroyed from inside one of its callbacks.
class TURNSCOUT_API Client {
 public:
  // Called exactly once per discovery, on the loop, never from inside discover() itself;
  // not at all when the discovery was cancelled or the Client destroyed first. Must not
  // throw. It may call discover() and cancel(), and destroy the Client.
  using Callback = std::function<void(DiscoveryResult result)>;
  // Called on the loop with each hop as the walk wins its level, root first, before the
  // result (like traceroute printing each line as it comes). The walk may back out of a
  // hop (its subtree failed): the next hop then has the same or a smaller depth.
  using HopCallback = std::function<void(const Hop& hop)>;

  explicit Client(uv_loop_s* loop, ClientConfig config = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Starts a discovery. Invalid options are reported through the callback
  // (Status::kInvalidOptions), like every other outcome.
  DiscoveryId discover(const DiscoverOptions& options, Callback callback);
  // The same, with `on_hop` told of each hop as it is won.
  DiscoveryId discover(const DiscoverOptions& options, Callback callback, HopCallback on_hop);
  // Stops a discovery: its callback will not run. False when it is unknown or its callback
  // has already run.
  bool cancel(DiscoveryId id);
  // Ends a discovery now, keeping what it found: its callback runs from the loop with
  // Status::kCancelled, the path so far and the errors met. False when it is unknown or its
  // result is already on its way.
  bool stop(DiscoveryId id);
  // Discoveries whose callback has not run yet.
  size_t pending() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs one discovery to its end on a private loop and returns its result; bounded by
// options.timeout (a system name lookup already under way is waited for). Safe to call
// from several threads at once. Nothing is remembered between calls: use a Client for
// warm discoveries.
TURNSCOUT_API DiscoveryResult discover(const DiscoverOptions& options);

// What a blocking discover() may be given besides its options.
struct DiscoverHooks {
  // Called on the calling thread with each hop as it is won (see Client::HopCallback).
  std::function<void(const Hop& hop)> on_hop;
  // When it becomes true (from any thread, or a signal handler: a lock-free atomic store
  // is async-signal-safe), the discovery ends within about 10 ms and returns
  // Status::kCancelled with what it found so far.
  const std::atomic<bool>* stop = nullptr;
};
TURNSCOUT_API DiscoveryResult discover(const DiscoverOptions& options, const DiscoverHooks& hooks);

}  // namespace turnscout
