// The server's StreamTable fed what hostile TCP clients send: connections opened from a few
// addresses, bytes in chunks of any size, closes, and time passing as the fuzzer says.
// Besides "no crash, no UB, no leak" it checks what stream_table.hpp promises:
// - every request handed on is one whole STUN-framed message of at most max_request_size
//   bytes, and the requests of a connection are exactly its bytes, in order, up to where
//   it was closed;
// - never more than max_connections open, nor max_per_source from one address;
// - no deadline is in the past after expire(), and every connection ends, counted once.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "proto/stream_framing.hpp"
#include "server/core/stream_table.hpp"

namespace {

using namespace std::chrono_literals;
using turnscout::Endpoint;
using turnscout::TimePoint;
using namespace turnscout::server;

struct Open {
  Endpoint from;
  std::vector<uint8_t> sent;       // Every byte the client sent.
  std::vector<uint8_t> requested;  // Every byte handed on as requests, in order.
  bool tls = false;                // Opened as TLS, or started it.
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  StreamConfig config;
  config.max_connections = in.ConsumeIntegralInRange<uint32_t>(1, 8);
  config.max_per_source = in.ConsumeIntegralInRange<uint32_t>(1, 4);
  config.max_request_size = in.ConsumeIntegralInRange<uint32_t>(20, 600);
  config.first_request_timeout = 2s;
  config.idle_timeout = 5s;
  config.handshake_timeout = 1s;
  StreamTable table(config, 64);
  TimePoint now = TimePoint{} + 100s;
  std::map<StreamId, Open> open;
  size_t ended = 0;

  auto end = [&](StreamId id, StreamEnd why) {
    table.close(id, why);
    // What was handed on is a prefix of what was sent (the rest was partial or refused).
    const Open& o = open.at(id);
    REQUIRE(o.requested.size() <= o.sent.size());
    REQUIRE(std::equal(o.requested.begin(), o.requested.end(), o.sent.begin()));
    open.erase(id);
    ++ended;
  };

  for (int step = 0; step < 200 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<int>(0, 5)) {
      case 0: {
        const Endpoint from = Endpoint::v4(198, 51, 100, in.ConsumeIntegralInRange<uint8_t>(1, 3),
                                           in.ConsumeIntegral<uint16_t>());
        const bool tls = in.ConsumeBool();
        std::optional<StreamId> evicted;
        auto id = table.open(now, from, tls, &evicted);
        if (evicted) {  // Forgotten by the table already: it was quiet, and the table full.
          REQUIRE(id.ok());
          REQUIRE(open.count(*evicted) == 1);
          open.erase(*evicted);
          ++ended;
        }
        if (id) {
          REQUIRE(open.count(*id) == 0);
          open[*id] = Open{from, {}, {}, tls};
          if (tls && in.ConsumeBool()) table.handshake_done(now, *id);
          // A TCP connection whose first byte starts TLS, on a port that serves both.
          if (!tls && in.ConsumeBool()) {
            REQUIRE(table.start_tls(*id));
            open[*id].tls = true;
            if (in.ConsumeBool()) table.handshake_done(now, *id);
          }
        }
        break;
      }
      case 1:
      case 2:
      case 3: {
        if (open.empty()) break;
        auto it = open.begin();
        std::advance(it, in.ConsumeIntegralInRange<size_t>(0, open.size() - 1));
        const StreamId id = it->first;
        const std::vector<uint8_t> chunk =
            in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 700));
        it->second.sent.insert(it->second.sent.end(), chunk.begin(), chunk.end());
        const auto why = table.receive(now, id, chunk, [&](std::span<const uint8_t> request) {
          const auto frame = turnscout::proto::next_frame(request, config.max_request_size);
          REQUIRE(frame.status == turnscout::proto::FrameStatus::kComplete);
          REQUIRE(frame.size == request.size());
          REQUIRE(request.size() <= config.max_request_size);
          Open& o = open.at(id);
          o.requested.insert(o.requested.end(), request.begin(), request.end());
          return std::optional<StreamEnd>{};
        });
        if (why) {
          end(id, *why);
        } else {
          // Without an end, everything sent is requests or a partial one shorter than the
          // limit: nothing is lost.
          const Open& o = open.at(id);
          REQUIRE(o.sent.size() - o.requested.size() < config.max_request_size);
        }
        break;
      }
      case 4: {
        if (open.empty()) break;
        auto it = open.begin();
        std::advance(it, in.ConsumeIntegralInRange<size_t>(0, open.size() - 1));
        if (in.ConsumeBool()) {
          // TLS may start only on a TCP connection that has sent nothing: never twice, so a
          // slow drip cannot push its handshake deadline on.
          const bool fresh = !it->second.tls && it->second.sent.empty();
          REQUIRE(table.start_tls(it->first) == fresh);
          if (fresh) it->second.tls = true;
          break;
        }
        end(it->first, StreamEnd::kPeerClosed);
        break;
      }
      default: {
        now += std::chrono::milliseconds{in.ConsumeIntegralInRange<int64_t>(0, 3000)};
        std::vector<std::pair<StreamId, StreamEnd>> expired;
        table.expire(now, expired);
        for (const auto& [id, why] : expired) {
          REQUIRE(open.count(id) == 1);
          REQUIRE(why == StreamEnd::kFirstRequestTimeout || why == StreamEnd::kIdleTimeout ||
                  why == StreamEnd::kHandshakeTimeout);
          const Open& o = open.at(id);
          REQUIRE(std::equal(o.requested.begin(), o.requested.end(), o.sent.begin()));
          open.erase(id);
          ++ended;
        }
        REQUIRE(table.next_timeout() > now);
        break;
      }
    }
    REQUIRE(table.size() == open.size());
    REQUIRE(table.size() <= config.max_connections);
    std::map<uint8_t, uint32_t> per_source;
    for (const auto& [id, o] : open)
      REQUIRE(++per_source[o.from.ip[3]] <= config.max_per_source);
  }
  for (auto it = open.begin(); it != open.end(); it = open.begin())
    end(it->first, StreamEnd::kShutdown);
  REQUIRE(table.size() == 0);
  REQUIRE(table.next_timeout() == turnscout::kNever);
  uint64_t closed = 0;
  for (const auto& c : table.counters().closed)
    closed += c.get();
  REQUIRE(closed == ended);
  return 0;
}
