// A stand-in balance server on a libuv loop for the driver tests: it answers Probe
// requests with a configured node name, children, services and flow control, and STUN
// Binding requests like a TURN server would, or stays silent. Like a real server it may
// enforce the bucket it announces, per client address. Its handle does not keep the loop
// alive, so a test's uv_run() ends exactly when the client under test stops waiting.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"
#include "base/token_bucket.hpp"
#include "proto/attributes.hpp"

namespace turnscout::test {

struct FakeResponderConfig {
  std::string name = "fake";
  std::vector<Endpoint> children{};
  std::vector<std::string> services{};
  bool silent = false;
  proto::FlowControl flow{};  // Announced in every Probe reply; burst 0 = no limit.
  bool enforce_flow = false;  // Drop requests (Probe and Binding) the bucket refuses.
};

class FakeResponder {
 public:
  // Bound to `address` (port 0 = any) on `loop`; the error is libuv's.
  static Result<FakeResponder*, std::string> open(uv_loop_t* loop, const Endpoint& address,
                                                  FakeResponderConfig config);
  // Closes the handle; the loop frees the responder in the close callback.
  void close();
  // Makes the handle keep its loop alive after all (a loop that serves only this responder).
  void hold_loop() { uv_ref(reinterpret_cast<uv_handle_t*>(&handle_)); }

  const Endpoint& address() const { return address_; }
  FakeResponderConfig config;
  uint32_t probes = 0;
  uint32_t bindings = 0;
  uint32_t dropped_by_flow = 0;

 private:
  FakeResponder() = default;
  static void on_receive(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                         unsigned flags);
  void answer(const Endpoint& from, const uint8_t* data, size_t size);
  bool admit(const Endpoint& from, uint16_t cost);

  uv_udp_t handle_{};
  Endpoint address_;
  std::unordered_map<Endpoint, TokenBucket> buckets_;  // Per client address.
  char buffer_[4096];
};

}  // namespace turnscout::test
