// A libuv loop for the proxy's loopback tests, with UDP sockets on it that record what they
// receive (and, for an echo server, send it back).
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"

namespace turnscout::impair::test {

struct Received {
  Endpoint from;
  std::vector<uint8_t> bytes;
  TimePoint at;  // steady_now() in the receive callback.
};

inline const Endpoint kLoopbackV4 = Endpoint::v4(127, 0, 0, 1, 0);
inline const Endpoint kLoopbackV6 =
    Endpoint::v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 0);

// A socket bound to `at` (port 0: a free one). Owned by a LoopFixture, which closes it.
class LoopSocket {
 public:
  LoopSocket(uv_loop_t* loop, bool echo, const Endpoint& at);
  LoopSocket(const LoopSocket&) = delete;
  LoopSocket& operator=(const LoopSocket&) = delete;

  const Endpoint& local() const { return local_; }
  // False when the kernel refused the datagram.
  bool send(const Endpoint& to, std::span<const uint8_t> bytes);
  const std::vector<Received>& received() const { return received_; }
  // Distinct source addresses seen, in order of first appearance.
  std::vector<Endpoint> senders() const;
  uv_handle_t* handle() { return reinterpret_cast<uv_handle_t*>(&udp_); }

 private:
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags);

  uv_udp_t udp_{};
  bool echo_;
  Endpoint local_;
  std::vector<Received> received_;
  std::vector<char> buffer_ = std::vector<char>(65536);
};

class LoopFixture {
 public:
  LoopFixture();
  // Runs finish() when the test did not.
  ~LoopFixture();
  LoopFixture(const LoopFixture&) = delete;
  LoopFixture& operator=(const LoopFixture&) = delete;

  uv_loop_t* loop() { return &loop_; }
  LoopSocket& open_socket(bool echo = false, const Endpoint& at = kLoopbackV4);

  // Runs the loop until `done()` holds (true) or `timeout` has passed (false).
  template <typename Done>
  bool run_until(Duration timeout, Done&& done) {
    const TimePoint deadline = now() + timeout;
    while (!done()) {
      if (now() >= deadline) return false;
      uv_run(&loop_, UV_RUN_ONCE);
    }
    return true;
  }
  void run_for(Duration d) {
    run_until(d, [] { return false; });
  }

  // Closes the fixture's handles, runs the loop for at most 2 s until nothing is left, and
  // returns whether uv_loop_close() succeeded: false means someone left a handle open.
  bool finish();

 private:
  static TimePoint now();

  uv_loop_t loop_{};
  // Wakes the loop every few milliseconds so run_until() checks its condition.
  uv_timer_t tick_{};
  std::vector<std::unique_ptr<LoopSocket>> sockets_;
  bool finished_ = false;
};

// The median of `values`, which must not be empty.
Duration median(std::vector<Duration> values);

}  // namespace turnscout::impair::test
