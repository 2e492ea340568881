// Small SansIoNode implementations that exercise SimNetwork in its own tests; also handy as
// stand-ins (an echo server, a pinger) in other scenario tests.
#pragma once

#include <cstdint>
#include <iterator>
#include <span>
#include <utility>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/sans_io.hpp"

namespace turnscout::sim {

// Eight bytes, big-endian: the payload of a ping with index `index`.
inline std::vector<uint8_t> ping_bytes(uint64_t index) {
  std::vector<uint8_t> out(8);
  for (size_t i = 0; i < 8; ++i)
    out[i] = static_cast<uint8_t>(index >> (56 - 8 * i));
  return out;
}

// The index of a ping payload; payloads of another size decode as UINT64_MAX.
inline uint64_t ping_index(std::span<const uint8_t> bytes) {
  if (bytes.size() != 8) return UINT64_MAX;
  uint64_t index = 0;
  for (uint8_t b : bytes)
    index = (index << 8) | b;
  return index;
}

struct Received {
  TimePoint at;
  Endpoint local;
  Endpoint remote;
  std::vector<uint8_t> bytes;
};

// Records every datagram and answers it with the same bytes from the address it came in on.
// send() queues a datagram of the test's choosing, as a core method called directly would.
class EchoNode final : public SansIoNode {
 public:
  void on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                   std::span<const uint8_t> bytes) override {
    received.push_back({now, local, remote, {bytes.begin(), bytes.end()}});
    outbox_.push_back({local, remote, {bytes.begin(), bytes.end()}});
  }
  void on_timeout(TimePoint) override {}
  TimePoint next_timeout() const override { return kNever; }
  void poll_transmit(std::vector<Datagram>& out) override { move_datagrams(outbox_, out); }

  void send(Datagram datagram) { outbox_.push_back(std::move(datagram)); }

  std::vector<Received> received;

 private:
  std::vector<Datagram> outbox_;
};

// Sends `count` pings from `local` to `target`, ping i due at first + i * interval, one per
// on_timeout call (overdue pings go out on successive calls). Records when each ping left,
// when on_timeout ran, and every reply (duplicates included).
class Pinger final : public SansIoNode {
 public:
  struct Reply {
    uint64_t index;
    TimePoint at;
    Duration rtt;
  };

  Pinger(Endpoint local, Endpoint target, uint64_t count, Duration interval, TimePoint first)
      : local_(local), target_(target), count_(count), interval_(interval), first_(first) {}

  void on_datagram(TimePoint now, const Endpoint&, const Endpoint&,
                   std::span<const uint8_t> bytes) override {
    const uint64_t index = ping_index(bytes);
    if (index < sent_at.size()) replies.push_back({index, now, now - sent_at[index]});
  }
  void on_timeout(TimePoint now) override {
    timeouts.push_back(now);
    if (sent_at.size() >= count_ || now < next_timeout()) return;
    outbox_.push_back({local_, target_, ping_bytes(sent_at.size())});
    sent_at.push_back(now);
  }
  TimePoint next_timeout() const override {
    if (sent_at.size() >= count_) return kNever;
    return first_ + interval_ * static_cast<Duration::rep>(sent_at.size());
  }
  void poll_transmit(std::vector<Datagram>& out) override { move_datagrams(outbox_, out); }

  std::vector<TimePoint> sent_at;
  std::vector<TimePoint> timeouts;
  std::vector<Reply> replies;

 private:
  Endpoint local_;
  Endpoint target_;
  uint64_t count_;
  Duration interval_;
  TimePoint first_;
  std::vector<Datagram> outbox_;
};

// Wants on_timeout at each of `deadlines` (ascending) in turn and records when it came.
class AlarmNode final : public SansIoNode {
 public:
  explicit AlarmNode(std::vector<TimePoint> deadlines) : deadlines_(std::move(deadlines)) {}

  void on_datagram(TimePoint, const Endpoint&, const Endpoint&, std::span<const uint8_t>) override {
  }
  void on_timeout(TimePoint now) override {
    fired.push_back(now);
    if (next_ < deadlines_.size() && deadlines_[next_] <= now) ++next_;
  }
  TimePoint next_timeout() const override {
    return next_ < deadlines_.size() ? deadlines_[next_] : kNever;
  }
  void poll_transmit(std::vector<Datagram>&) override {}

  std::vector<TimePoint> fired;

 private:
  std::vector<TimePoint> deadlines_;
  size_t next_ = 0;
};

// A broken core: its deadline is always in the past, so it would be called forever.
class SpinNode final : public SansIoNode {
 public:
  void on_datagram(TimePoint, const Endpoint&, const Endpoint&, std::span<const uint8_t>) override {
  }
  void on_timeout(TimePoint) override { ++calls; }
  TimePoint next_timeout() const override { return TimePoint{}; }
  void poll_transmit(std::vector<Datagram>&) override {}

  uint64_t calls = 0;
};

}  // namespace turnscout::sim
