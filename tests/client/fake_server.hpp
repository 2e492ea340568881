// A stand-in balance server for scenario tests: answers Probes (and Bindings) with what the
// test configured, and can misbehave on purpose (stay silent, drop the first probes, answer
// with a wrong transaction id, answer with an error, enforce the bucket it announces).
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/sans_io.hpp"
#include "base/token_bucket.hpp"
#include "proto/binding.hpp"
#include "proto/error_response.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"

namespace turnscout::client::testing {

// A child's own child, as a server passes it on to a Probe asking for depth 2.
struct FakeGrandchild {
  size_t parent = 0;  // Index into FakeServerConfig::children.
  Endpoint address;
  uint16_t load = 100;
  bool leaf = true;
};

struct FakeServerConfig {
  std::string name = "node";
  proto::Load load{100, 900};
  std::vector<Endpoint> children;
  std::vector<FakeGrandchild> grandchildren;  // Sent only when the Probe asks for depth 2.
  std::vector<std::string> services;
  proto::FlowControl flow{};
  bool enforce_flow = false;         // Drop probes the announced bucket would refuse.
  bool silent = false;               // Answer nothing.
  uint32_t drop_first = 0;           // Ignore the first N probes.
  uint32_t corrupt_tid_replies = 0;  // The first N replies carry a wrong transaction id.
  uint16_t error_code = 0;           // Answer probes with this error instead.
  bool malformed = false;            // Answer with a Probe success that lacks its attributes.
  bool answer_bindings = true;
};

class FakeServer final : public SansIoNode {
 public:
  explicit FakeServer(FakeServerConfig c) : config(std::move(c)) {}

  void on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                   std::span<const uint8_t> bytes) override {
    auto view = proto::parse_message(bytes);
    if (!view) return;
    if (view->method() == proto::Method::kBinding) {
      bindings.push_back(now);
      if (config.silent || !config.answer_bindings) return;
      proto::BindingResponse response{view->transaction_id(), remote, true};
      send(local, remote,
           [&](std::span<uint8_t> out) { return proto::encode_binding_response(response, out); });
      return;
    }
    auto request = proto::decode_probe_request(*view);
    if (!request) return;
    probes.push_back(now);
    if (config.silent || probes.size() <= config.drop_first) return;
    if (config.enforce_flow && !admit(now)) {
      ++dropped_by_flow;
      return;
    }
    if (config.error_code != 0) {
      send(local, remote, [&](std::span<uint8_t> out) {
        return proto::make_error_response(*view, config.error_code, "no", bytes.size(), out);
      });
      return;
    }
    if (config.malformed) {
      send(local, remote, [&](std::span<uint8_t> out) {
        proto::MessageBuilder b(out);
        b.start(proto::Method::kProbe, proto::MessageClass::kSuccess, view->transaction_id());
        b.add_fingerprint();
        return b.finish();
      });
      return;
    }
    proto::TransactionId tid = request->transaction_id;
    if (replies < config.corrupt_tid_replies) tid[0] ^= 0xff;
    ++replies;
    std::vector<proto::ChildEntry> entries;
    for (const Endpoint& child : config.children)
      entries.push_back({child, false, 100, 1});
    std::vector<proto::Grandchild> grand;
    if (request->depth >= 2) {
      for (const FakeGrandchild& g : config.grandchildren)
        grand.push_back({static_cast<uint32_t>(g.parent), {g.address, g.leaf, g.load, 1}});
    }
    const proto::ProbeReply reply{tid, remote,  config.name,     config.load, config.flow,
                                  0,   entries, config.services, grand};
    send(local, remote, [&](std::span<uint8_t> out) -> Result<size_t, proto::EncodeError> {
      const size_t room = reply_via_ == Transport::kUdp ? bytes.size() : out.size();
      auto size = proto::encode_probe_reply(reply, room, out);
      if (!size) return unexpected(size.error());
      return size->size;
    });
  }
  // Over a stream the answer goes back the same way, and is not held to the request's size
  // (as the real server does).
  void on_stream_message(TimePoint now, Transport via, const Endpoint& local,
                         const Endpoint& remote, std::span<const uint8_t> bytes) override {
    ++stream_requests;
    reply_via_ = via;
    on_datagram(now, local, remote, bytes);
    reply_via_ = Transport::kUdp;
  }
  void on_timeout(TimePoint) override {}
  TimePoint next_timeout() const override { return kNever; }
  void poll_transmit(std::vector<Datagram>& out) override { move_datagrams(outbox_, out); }

  FakeServerConfig config;
  std::vector<TimePoint> probes;  // Arrival times of every probe.
  std::vector<TimePoint> bindings;
  uint32_t replies = 0;
  uint32_t dropped_by_flow = 0;
  uint32_t stream_requests = 0;  // Requests that came over TCP.

 private:
  bool admit(TimePoint now) {
    const double rate = config.flow.refill_millitokens_per_s / 1000.0;
    if (!bucket_) bucket_.emplace(config.flow.burst_tokens, rate, now);
    return bucket_->try_take(now, config.flow.probe_cost);
  }

  template <typename Encode>
  void send(const Endpoint& local, const Endpoint& remote, Encode encode) {
    std::vector<uint8_t> out(2048);
    auto size = encode(std::span<uint8_t>(out));
    if (!size) return;
    out.resize(*size);
    outbox_.push_back(Datagram{local, remote, std::move(out), reply_via_});
  }

  Transport reply_via_ = Transport::kUdp;
  std::optional<TokenBucket> bucket_;
  std::vector<Datagram> outbox_;
};

}  // namespace turnscout::client::testing
