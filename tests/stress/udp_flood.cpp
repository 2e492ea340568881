// udp_flood: an open-loop flood of hostile datagrams at one server, as fast as one core sends
// them (or at --rate per second), for a fixed time. It counts what it sent and every reply
// that came back to its own socket: a server must not answer garbage or strangers' forged
// heartbeats at all.
//
//   udp_flood TARGET --mode garbage|mutated|heartbeat|probe [--duration SECONDS] [--rate N]
//             [--spoof-range N | --spoof-from IP:PORT] [--name NODE] [--seed N]
//
//   garbage    random bytes, 1 to 1500 of them; a fifth start with a valid STUN header
//   mutated    a valid 1200-byte Probe with 1 to 4 bytes (at distinct places) changed
//   heartbeat  a Heartbeat for child --name signed with a random key (a forger without the
//              cluster key), fresh transaction id and TIMESTAMP each time
//   probe      a valid 1200-byte Probe: with --spoof-range, from that many source addresses
//
// --spoof-range N sends from N IPv4 source addresses 127.100.0.0 upwards (N up to 1,000,000)
// and --spoof-from from one chosen address (a real child's, say); both write their own IPv4
// and UDP headers on a raw socket, so they need CAP_NET_RAW (root) and an IPv4 TARGET on
// loopback. Replies to spoofed sources go to those addresses, not to us.
//
// The last line is "result sent=N sent_bytes=N replies=N reply_bytes=N binding_replies=N
// rate_per_s=N". binding_replies counts Binding success responses: the due answer to a
// datagram that a mutation turned into a valid Binding request (it needs no FINGERPRINT).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "proto/byte_order.hpp"
#include "proto/constants.hpp"
#include "proto/crypto.hpp"
#include "proto/heartbeat.hpp"
#include "proto/probe.hpp"

namespace turnscout::stress {
namespace {

enum class Mode { kGarbage, kMutated, kHeartbeat, kProbe };

struct Options {
  Endpoint target;
  Mode mode = Mode::kGarbage;
  double duration_s = 10;
  double rate = 0;  // 0: as fast as the socket takes them.
  uint32_t spoof_range = 0;
  std::optional<Endpoint> spoof_from;
  std::string name = "leaf";
  uint64_t seed = 1;
};

constexpr size_t kBatch = 64;
constexpr size_t kMaxDatagram = 1500;
constexpr size_t kProbeSize = 1200;
constexpr size_t kHeaders = sizeof(iphdr) + sizeof(udphdr);
constexpr uint32_t kSpoofBase = (127u << 24) | (100u << 16);  // 127.100.0.0

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

class Payloads {
 public:
  Payloads(const Options& o) : options_(o), rng_(o.seed), forged_key_(32) {
    for (auto& b : forged_key_)
      b = static_cast<uint8_t>(rng_());
    probe_.resize(proto::kMaxMessageSize);
    proto::ProbeRequest r;
    r.pad_to = kProbeSize;
    probe_.resize(proto::encode_probe_request(r, probe_).value());
  }

  // The next datagram's payload into `out`; returns its size.
  size_t next(std::span<uint8_t> out) {
    switch (options_.mode) {
      case Mode::kGarbage:
        return garbage(out);
      case Mode::kMutated:
        return mutated(out);
      case Mode::kHeartbeat:
        return heartbeat(out);
      case Mode::kProbe:
        return probe(out);
    }
    return 0;
  }

 private:
  size_t garbage(std::span<uint8_t> out) {
    const size_t n = 1 + rng_() % kMaxDatagram;
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<uint8_t>(rng_());
    if (n >= proto::kHeaderSize && rng_() % 5 == 0) {
      // A STUN header that passes the first checks: type, length, magic cookie.
      proto::store_u16(out.data(), static_cast<uint16_t>(rng_() & 0x3eef));
      proto::store_u16(out.data() + 2, static_cast<uint16_t>((n - proto::kHeaderSize) & ~3u));
      proto::store_u32(out.data() + 4, proto::kMagicCookie);
    }
    return n;
  }

  size_t mutated(std::span<uint8_t> out) {
    const size_t n = probe(out);
    // Distinct positions: two changes of one byte could cancel out and leave a valid Probe
    // (the first runs got a few answers that way).
    std::array<size_t, 4> at{};
    const size_t changes = 1 + rng_() % at.size();
    for (size_t i = 0; i < changes; ++i) {
      do {
        at[i] = rng_() % n;
      } while (std::find(at.begin(), at.begin() + static_cast<ptrdiff_t>(i), at[i]) !=
               at.begin() + static_cast<ptrdiff_t>(i));
      out[at[i]] ^= static_cast<uint8_t>(1 + rng_() % 255);
    }
    return n;
  }

  size_t heartbeat(std::span<uint8_t> out) {
    proto::HeartbeatRequest h;
    fresh_id(h.transaction_id);
    h.node_name = options_.name;
    h.advertised = {Endpoint::v4(127, 9, 9, 9, 9999)};
    h.load.load_permille = 0;
    h.capacity = 1000;
    h.subtree.live_leaves = 1000000;
    h.timestamp_ms = unix_ms();
    return proto::encode_heartbeat_request(h, forged_key_, out).value();
  }

  size_t probe(std::span<uint8_t> out) {
    std::copy(probe_.begin(), probe_.end(), out.begin());
    proto::TransactionId id;
    fresh_id(id);
    std::copy(id.begin(), id.end(), out.begin() + 8);
    const size_t covered = probe_.size() - 8;
    proto::store_u32(out.data() + covered + 4,
                     proto::crc32(out.first(covered)) ^ proto::kFingerprintXor);
    return probe_.size();
  }

  void fresh_id(proto::TransactionId& id) {
    for (auto& b : id)
      b = static_cast<uint8_t>(rng_());
  }

  const Options& options_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> forged_key_;
  std::vector<uint8_t> probe_;
};

uint16_t ip_checksum(const uint8_t* data, size_t size) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < size; i += 2)
    sum += static_cast<uint32_t>(data[i] << 8 | data[i + 1]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// IPv4 + UDP headers in front of `payload_size` bytes. The UDP checksum is 0 (none), which
// IPv4 allows.
void write_headers(uint8_t* at, uint32_t source_ip, uint16_t source_port, const Endpoint& to,
                   size_t payload_size) {
  iphdr ip{};
  ip.version = 4;
  ip.ihl = 5;
  ip.ttl = 64;
  ip.protocol = IPPROTO_UDP;
  ip.tot_len = htons(static_cast<uint16_t>(kHeaders + payload_size));
  ip.saddr = htonl(source_ip);
  std::memcpy(&ip.daddr, to.ip.data(), 4);
  ip.check = ip_checksum(reinterpret_cast<const uint8_t*>(&ip), sizeof(ip));
  udphdr udp{};
  udp.source = htons(source_port);
  udp.dest = htons(to.port);
  udp.len = htons(static_cast<uint16_t>(sizeof(udphdr) + payload_size));
  std::memcpy(at, &ip, sizeof(ip));
  std::memcpy(at + sizeof(ip), &udp, sizeof(udp));
}

int run(const Options& o) {
  const bool raw = o.spoof_range > 0 || o.spoof_from.has_value();
  if (raw && o.target.family != Family::kV4) {
    std::fprintf(stderr, "udp_flood: spoofing needs an IPv4 target\n");
    return 2;
  }
  const int fd = raw ? ::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_RAW)
                     : ::socket(o.target.family == Family::kV4 ? AF_INET : AF_INET6,
                                SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    std::fprintf(stderr, "udp_flood: socket: %s%s\n", std::strerror(errno),
                 raw ? " (spoofing needs CAP_NET_RAW)" : "");
    return 2;
  }
  // On a raw socket the kernel routes by the IPv4 header we write and ignores the port.
  sockaddr_storage to{};
  const socklen_t to_len = to_sockaddr(o.target, to);
  Payloads payloads(o);
  std::vector<uint8_t> storage(kBatch * (kHeaders + proto::kMaxMessageSize));
  std::array<mmsghdr, kBatch> headers{};
  std::array<iovec, kBatch> iov{};
  std::array<uint8_t, 2048> reply{};
  uint64_t sent = 0, sent_bytes = 0, replies = 0, reply_bytes = 0, binding_replies = 0;
  uint64_t spoof_index = 0;
  std::vector<uint64_t> reply_types(0x4000);  // By STUN message type, for the summary.
  auto count_reply = [&](ssize_t size) {
    ++replies;
    reply_bytes += static_cast<uint64_t>(size);
    if (size >= 2 && reply[0] == 0x01 && reply[1] == 0x01) ++binding_replies;
    if (size >= 2) ++reply_types[static_cast<size_t>(proto::load_u16(reply.data()) & 0x3FFF)];
  };
  uint32_t spoof_from_ip = 0;
  if (o.spoof_from) spoof_from_ip = proto::load_u32(o.spoof_from->ip.data());

  const double start = now_s();
  const double end = start + o.duration_s;
  double now = start;
  while (now < end) {
    size_t batch = kBatch;
    if (o.rate > 0) {
      const double due = (now - start) * o.rate - static_cast<double>(sent);
      batch = static_cast<size_t>(std::clamp(due, 0.0, static_cast<double>(kBatch)));
      if (batch == 0) {
        ::usleep(200);
        now = now_s();
        continue;
      }
    }
    for (size_t i = 0; i < batch; ++i) {
      uint8_t* slot = storage.data() + i * (kHeaders + proto::kMaxMessageSize);
      const size_t offset = raw ? kHeaders : 0;
      const size_t n = payloads.next({slot + offset, proto::kMaxMessageSize});
      if (raw) {
        const uint32_t ip = o.spoof_from
                                ? spoof_from_ip
                                : kSpoofBase + static_cast<uint32_t>(spoof_index++ % o.spoof_range);
        const uint16_t port = o.spoof_from ? o.spoof_from->port : 40000;
        write_headers(slot, ip, port, o.target, n);
      }
      iov[i] = {slot, offset + n};
      headers[i] = {};
      headers[i].msg_hdr.msg_iov = &iov[i];
      headers[i].msg_hdr.msg_iovlen = 1;
      headers[i].msg_hdr.msg_name = &to;
      headers[i].msg_hdr.msg_namelen = to_len;
    }
    const int done = ::sendmmsg(fd, headers.data(), static_cast<unsigned>(batch), 0);
    if (done > 0) {
      sent += static_cast<uint64_t>(done);
      for (int i = 0; i < done; ++i)
        sent_bytes += iov[static_cast<size_t>(i)].iov_len - (raw ? kHeaders : 0);
    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS) {
      std::fprintf(stderr, "udp_flood: sendmmsg: %s\n", std::strerror(errno));
      return 1;
    }
    if (!raw) {
      for (;;) {
        const ssize_t r = ::recv(fd, reply.data(), reply.size(), 0);
        if (r < 0) break;
        count_reply(r);
      }
    }
    now = now_s();
  }
  // Replies still on their way.
  if (!raw) {
    const double drain_end = now_s() + 0.5;
    while (now_s() < drain_end) {
      const ssize_t r = ::recv(fd, reply.data(), reply.size(), 0);
      if (r < 0) {
        ::usleep(1000);
        continue;
      }
      count_reply(r);
    }
  }
  ::close(fd);
  for (size_t type = 0; type < reply_types.size(); ++type) {
    if (reply_types[type] > 0) {
      std::fprintf(stderr, "udp_flood: %llu replies of type 0x%04zx\n",
                   static_cast<unsigned long long>(reply_types[type]), type);
    }
  }
  const double elapsed = now - start;
  std::printf(
      "result sent=%llu sent_bytes=%llu replies=%llu reply_bytes=%llu binding_replies=%llu "
      "rate_per_s=%.0f\n",
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(sent_bytes),
      static_cast<unsigned long long>(replies), static_cast<unsigned long long>(reply_bytes),
      static_cast<unsigned long long>(binding_replies),
      elapsed > 0 ? static_cast<double>(sent) / elapsed : 0.0);
  return 0;
}

}  // namespace
}  // namespace turnscout::stress

int main(int argc, char** argv) {
  using namespace turnscout;
  stress::Options o;
  CLI::App app{"udp_flood: a flood of hostile datagrams at one server, counting its replies"};
  std::string target, mode = "garbage", spoof_from;
  app.add_option("target", target, "Server IP:PORT")->required();
  app.add_option("--mode", mode, "garbage, mutated, heartbeat or probe")
      ->check(CLI::IsMember({"garbage", "mutated", "heartbeat", "probe"}));
  app.add_option("--duration", o.duration_s, "Seconds to send")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--rate", o.rate, "Datagrams per second; 0 = as fast as possible");
  app.add_option("--spoof-range", o.spoof_range,
                 "Send from this many IPv4 sources from 127.100.0.0 up (raw socket)")
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--spoof-from", spoof_from, "Send from this IPv4 IP:PORT (raw socket)");
  app.add_option("--name", o.name, "Child name in forged heartbeats");
  app.add_option("--seed", o.seed, "Random seed");
  CLI11_PARSE(app, argc, argv);
  auto ep = parse_endpoint(target);
  if (!ep) {
    std::fprintf(stderr, "udp_flood: target: %s\n", ep.error().c_str());
    return 2;
  }
  o.target = *ep;
  if (!spoof_from.empty()) {
    auto from = parse_endpoint(spoof_from);
    if (!from || from->family != Family::kV4) {
      std::fprintf(stderr, "udp_flood: --spoof-from needs an IPv4 IP:PORT\n");
      return 2;
    }
    o.spoof_from = *from;
  }
  o.mode = mode == "garbage"     ? stress::Mode::kGarbage
           : mode == "mutated"   ? stress::Mode::kMutated
           : mode == "heartbeat" ? stress::Mode::kHeartbeat
                                 : stress::Mode::kProbe;
  return stress::run(o);
}
