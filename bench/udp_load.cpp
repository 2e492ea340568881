// udp_load: a UDP load generator for whole-server throughput and latency. Closed loop (the
// default): one thread keeps a window of requests outstanding to one server: every reply
// frees its slot and the slot's next request leaves in the same sendmmsg batch; a request
// unanswered for --timeout is counted lost and its slot re-sent. It counts valid replies per
// second over a fixed time. Open loop (--rate N): requests leave at N per second whatever
// comes back, and each reply's latency is counted from the time its request was due to
// leave (so a stall of the generator or the server shows, rather than hides, as a queue:
// no coordinated omission); it reports p50, p99 and p99.9 and the requests lost.
//
//   udp_load TARGET [--request probe|binding] [--size BYTES] [--window N] [--sockets N]
//            [--cpu N] [--duration SECONDS] [--warmup SECONDS] [--timeout MS]
//            [--rate N] [--server-pid PID] [--inspect]
//
// Requests are real STUN messages with a valid FINGERPRINT: a turnscout Probe padded with
// PADDING, or a STUN Binding padded with SOFTWARE (comprehension-optional, so any STUN
// server answers it). Each carries a fresh transaction id (slot, generation, run nonce), so
// a late reply to an older request is never counted twice. --inspect sends one request,
// prints what came back and exits: scripts use it to wait until a server is ready.
//
// Over the measured interval it also reports its own CPU time and, given --server-pid, the
// server's (from /proc): CPU per reply is steadier than replies per second on a machine
// that is not idle, and a load generator near 100% of its core means it, not the server,
// set the pace. The last line is "result replies_per_s=N ..." for scripts.
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "proto/binding.hpp"
#include "proto/byte_order.hpp"
#include "proto/crypto.hpp"
#include "proto/message_builder.hpp"
#include "proto/message_view.hpp"
#include "proto/probe.hpp"

namespace turnscout::bench {
namespace {

enum class RequestKind { kProbe, kBinding };

struct Options {
  Endpoint target;
  RequestKind kind = RequestKind::kProbe;
  size_t size = 100;
  size_t window = 128;
  size_t sockets = 1;
  int cpu = -1;        // -1: not pinned.
  int server_pid = 0;  // 0: the server's CPU time is not reported.
  double duration_s = 3.0;
  double warmup_s = 0.5;
  double timeout_ms = 50.0;
  double rate = 0;  // Open loop: requests per second; 0 = closed loop.
  bool inspect = false;
};

constexpr size_t kBatch = 64;
constexpr size_t kMaxReply = 2048;
// Large enough that a full window of replies never overflows our own sockets.
constexpr int kSocketBuffer = 4 << 20;
constexpr size_t kFingerprintSize = 8;  // Attribute header + CRC-32.

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// The request every send starts from; only the transaction id and the FINGERPRINT change.
std::vector<uint8_t> request_template(RequestKind kind, size_t size) {
  std::vector<uint8_t> buf(proto::kMaxMessageSize);
  if (kind == RequestKind::kProbe) {
    proto::ProbeRequest r;
    r.pad_to = size;
    const auto n = proto::encode_probe_request(r, buf);
    if (!n) return {};
    buf.resize(*n);
    return buf;
  }
  // Header, SOFTWARE..., FINGERPRINT. One SOFTWARE holds at most kMaxSoftwareSize bytes, so
  // a large request repeats it; servers read the first and ignore the repeats.
  proto::MessageBuilder b(buf);
  b.start(proto::Method::kBinding, proto::MessageClass::kRequest, {});
  size_t left = size > proto::kHeaderSize + kFingerprintSize
                    ? size - proto::kHeaderSize - kFingerprintSize
                    : 0;
  while (left > 4) {
    const size_t value = std::min(left - 4, proto::kMaxSoftwareSize / 4 * 4);
    b.add_software(std::string(value, 'x'));
    left -= std::min(left, 4 + (value + 3) / 4 * 4);
  }
  b.add_fingerprint();
  const auto n = b.finish();
  if (!n) return {};
  buf.resize(*n);
  return buf;
}

// Writes a transaction id into a request built by request_template() and re-seals it.
void stamp(std::span<uint8_t> message, uint32_t slot, uint32_t generation, uint32_t nonce) {
  proto::store_u32(message.data() + 8, slot);
  proto::store_u32(message.data() + 12, generation);
  proto::store_u32(message.data() + 16, nonce);
  const size_t covered = message.size() - kFingerprintSize;
  const uint32_t crc = proto::crc32(message.first(covered)) ^ proto::kFingerprintXor;
  proto::store_u32(message.data() + covered + 4, crc);
}

// CPU time (user + system) of this process and, when known, of the server's, at `wall_s`.
struct CpuSample {
  double wall_s = 0;
  double own_cpu_s = 0;
  double server_cpu_s = -1;  // -1: no server pid, or its /proc entry could not be read.
};

// utime + stime of a process, from /proc/PID/stat (fields 14 and 15), in seconds.
double process_cpu_s(int pid) {
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return -1;
  char line[1024] = {};
  const bool read = std::fgets(line, sizeof(line), f) != nullptr;
  std::fclose(f);
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const char* rest = read ? std::strrchr(line, ')') : nullptr;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (rest == nullptr ||
      std::sscanf(rest + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    return -1;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

CpuSample sample_cpu(double wall_s, int server_pid) {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  CpuSample s;
  s.wall_s = wall_s;
  s.own_cpu_s = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  if (server_pid > 0) s.server_cpu_s = process_cpu_s(server_pid);
  return s;
}

struct Slot {
  uint32_t generation = 0;
  double sent_at = 0;
  bool outstanding = false;
};

struct Counters {
  uint64_t replies = 0;      // Valid replies in the measured interval.
  uint64_t all_replies = 0;  // Warm-up included.
  uint64_t lost = 0;         // Timed out and re-sent.
  uint64_t unexpected = 0;   // Not a success reply to an outstanding request.
  uint64_t send_failures = 0;
  uint64_t sent = 0;  // Open loop: requests due in the measured interval.
  size_t min_reply = SIZE_MAX;
  size_t max_reply = 0;
};

// One socket's batches: requests waiting to leave, replies just read.
struct Channel {
  int fd = -1;
  std::vector<uint8_t> send_storage;
  std::array<mmsghdr, kBatch> send_headers{};
  std::array<iovec, kBatch> send_iov{};
  size_t queued = 0;
  std::vector<uint8_t> receive_storage;
  std::array<mmsghdr, kBatch> receive_headers{};
  std::array<iovec, kBatch> receive_iov{};
};

class LoadGenerator {
 public:
  LoadGenerator(const Options& options, std::vector<uint8_t> request)
      : options_(options),
        request_(std::move(request)),
        slots_(options.window),
        reply_type_(proto::message_type(
            options.kind == RequestKind::kProbe ? proto::Method::kProbe : proto::Method::kBinding,
            proto::MessageClass::kSuccess)) {
    nonce_ = static_cast<uint32_t>(std::random_device{}());
    to_len_ = to_sockaddr(options.target, to_);
  }

  ~LoadGenerator() {
    for (Channel& c : channels_)
      if (c.fd >= 0) ::close(c.fd);
  }

  bool open_sockets();
  int run();
  int run_paced();
  int inspect();

 private:
  void queue(size_t slot, double now);
  void report_latency(const CpuSample& first, const CpuSample& last);
  void flush(Channel& c);
  size_t receive(Channel& c, double now, bool measuring);
  void expire(double now);
  bool wait_readable(int timeout_ms);
  void report(const CpuSample& first, const CpuSample& last) const;

  Options options_;
  std::vector<uint8_t> request_;
  std::vector<Slot> slots_;
  std::vector<Channel> channels_;
  std::vector<pollfd> poll_fds_;  // One per channel.
  sockaddr_storage to_{};
  socklen_t to_len_ = 0;
  uint16_t reply_type_;
  uint32_t nonce_ = 0;
  Counters counters_;
  // Open loop: whether replies requeue their slot, when measuring began, and the latency
  // of every reply to a request due after that, in seconds.
  bool paced_ = false;
  double measure_from_ = 0;
  std::vector<double> latencies_;
};

bool LoadGenerator::open_sockets() {
  channels_.resize(options_.sockets);
  for (Channel& c : channels_) {
    c.fd = socket(to_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
      std::perror("socket");
      return false;
    }
    setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof(kSocketBuffer));
    setsockopt(c.fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof(kSocketBuffer));
    // connect() fixes the peer: the kernel filters out datagrams from anyone else.
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&to_), to_len_) != 0) {
      std::perror("connect");
      return false;
    }
    poll_fds_.push_back({c.fd, POLLIN, 0});
    c.send_storage.resize(kBatch * request_.size());
    c.receive_storage.resize(kBatch * kMaxReply);
    for (size_t i = 0; i < kBatch; ++i) {
      c.receive_iov[i] = {c.receive_storage.data() + i * kMaxReply, kMaxReply};
      c.receive_headers[i].msg_hdr.msg_iov = &c.receive_iov[i];
      c.receive_headers[i].msg_hdr.msg_iovlen = 1;
    }
  }
  return true;
}

// Slot i always uses socket i % sockets, so a reply arrives on the socket its request left.
void LoadGenerator::queue(size_t slot, double now) {
  Channel& c = channels_[slot % channels_.size()];
  if (c.queued == kBatch) flush(c);
  Slot& s = slots_[slot];
  ++s.generation;
  s.sent_at = now;
  s.outstanding = true;
  uint8_t* out = c.send_storage.data() + c.queued * request_.size();
  std::memcpy(out, request_.data(), request_.size());
  stamp({out, request_.size()}, static_cast<uint32_t>(slot), s.generation, nonce_);
  c.send_iov[c.queued] = {out, request_.size()};
  c.send_headers[c.queued].msg_hdr = {};
  c.send_headers[c.queued].msg_hdr.msg_iov = &c.send_iov[c.queued];
  c.send_headers[c.queued].msg_hdr.msg_iovlen = 1;
  ++c.queued;
}

// A request the kernel refuses stays outstanding and is re-sent when it times out.
void LoadGenerator::flush(Channel& c) {
  size_t done = 0;
  while (done < c.queued) {
    const int n = sendmmsg(c.fd, &c.send_headers[done], static_cast<unsigned>(c.queued - done), 0);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      counters_.send_failures += c.queued - done;
      break;
    }
  }
  c.queued = 0;
}

size_t LoadGenerator::receive(Channel& c, double now, bool measuring) {
  const int n = recvmmsg(c.fd, c.receive_headers.data(), kBatch, MSG_DONTWAIT, nullptr);
  if (n <= 0) return 0;
  // Open loop: the time the replies were read, not the top of the loop (its sends would
  // count against the latency otherwise).
  if (paced_) now = now_s();
  for (int i = 0; i < n; ++i) {
    const uint8_t* m = c.receive_storage.data() + static_cast<size_t>(i) * kMaxReply;
    const size_t size = c.receive_headers[static_cast<size_t>(i)].msg_len;
    const uint32_t slot = size >= proto::kHeaderSize ? proto::load_u32(m + 8) : UINT32_MAX;
    // A Probe reply is never larger than its request (no amplification); a Binding response
    // may be, within limits that are the server's business.
    const bool fits = options_.kind != RequestKind::kProbe || size <= request_.size();
    const bool valid = size >= proto::kHeaderSize && fits && proto::load_u16(m) == reply_type_ &&
                       proto::load_u32(m + 4) == proto::kMagicCookie && slot < slots_.size() &&
                       slots_[slot].outstanding &&
                       proto::load_u32(m + 12) == slots_[slot].generation &&
                       proto::load_u32(m + 16) == nonce_;
    if (!valid) {
      ++counters_.unexpected;
      continue;
    }
    slots_[slot].outstanding = false;
    ++counters_.all_replies;
    counters_.min_reply = std::min(counters_.min_reply, size);
    counters_.max_reply = std::max(counters_.max_reply, size);
    if (paced_) {
      // A reply later than --timeout is a lost request, as in the closed loop.
      const double latency = now - slots_[slot].sent_at;
      if (slots_[slot].sent_at >= measure_from_) {
        if (latency > options_.timeout_ms * 1e-3) {
          ++counters_.lost;
        } else {
          ++counters_.replies;
          latencies_.push_back(latency);
        }
      }
      continue;
    }
    if (measuring) ++counters_.replies;
    queue(slot, now);
  }
  return static_cast<size_t>(n);
}

void LoadGenerator::expire(double now) {
  const double timeout = options_.timeout_ms * 1e-3;
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].outstanding && now - slots_[i].sent_at > timeout) {
      ++counters_.lost;
      queue(i, now);
    }
  }
}

bool LoadGenerator::wait_readable(int timeout_ms) {
  return poll(poll_fds_.data(), poll_fds_.size(), timeout_ms) > 0;
}

int LoadGenerator::run() {
  const double start = now_s();
  const double measure_from = start + options_.warmup_s;
  const double end = measure_from + options_.duration_s;
  double next_expiry = start + options_.timeout_ms * 1e-3;
  std::optional<CpuSample> first;
  for (size_t i = 0; i < slots_.size(); ++i)
    queue(i, start);
  for (Channel& c : channels_)
    flush(c);
  double now = start;
  for (; now < end; now = now_s()) {
    const bool measuring = now >= measure_from;
    if (measuring && !first) first = sample_cpu(now, options_.server_pid);
    size_t received = 0;
    for (Channel& c : channels_) {
      received += receive(c, now, measuring);
      flush(c);
    }
    if (now >= next_expiry) {
      expire(now);
      for (Channel& c : channels_)
        flush(c);
      next_expiry = now + options_.timeout_ms * 1e-3 / 4;
    }
    if (received == 0) wait_readable(1);
  }
  if (!first) return 1;
  const CpuSample last = sample_cpu(now, options_.server_pid);
  report(*first, last);
  return counters_.replies > 0 ? 0 : 1;
}

// Open loop: request i is due at start + i / rate, and leaves as soon as the loop sees it
// due (in the same batch as any others due); its slot is i modulo the window, which is
// several timeouts' worth of requests, so a slot still outstanding when it comes round
// again has timed out: lost.
int LoadGenerator::run_paced() {
  paced_ = true;
  const double start = now_s();
  measure_from_ = start + options_.warmup_s;
  const double end = measure_from_ + options_.duration_s;
  const double timeout = options_.timeout_ms * 1e-3;
  latencies_.reserve(static_cast<size_t>(options_.rate * options_.duration_s * 1.1) + 16);
  std::optional<CpuSample> first;
  uint64_t next = 0;  // The next request's number.
  double now = start;
  auto lose = [&](size_t slot) {
    if (!slots_[slot].outstanding) return;
    slots_[slot].outstanding = false;
    if (slots_[slot].sent_at >= measure_from_) ++counters_.lost;
  };
  // Sends until `end`, then only listens for a timeout's worth of late replies.
  for (; now < end + timeout; now = now_s()) {
    if (now >= measure_from_ && !first) first = sample_cpu(now, options_.server_pid);
    for (double due = start + static_cast<double>(next) / options_.rate; due <= now && due < end;
         due = start + static_cast<double>(next) / options_.rate) {
      const size_t slot = next % slots_.size();
      lose(slot);
      queue(slot, due);
      if (due >= measure_from_) ++counters_.sent;
      ++next;
    }
    for (Channel& c : channels_) {
      flush(c);
      receive(c, now, true);
    }
  }
  for (size_t i = 0; i < slots_.size(); ++i)
    lose(i);
  if (!first) return 1;
  report_latency(*first, sample_cpu(now, options_.server_pid));
  return counters_.replies > 0 ? 0 : 1;
}

// Percentiles over every request due in the measured interval: a lost one (unanswered
// within --timeout) counts as slower than any answer, so losses push the tail up instead of
// vanishing from it; such a percentile prints as -1 in the result line and "> TIMEOUT" here.
void LoadGenerator::report_latency(const CpuSample& first, const CpuSample& last) {
  std::sort(latencies_.begin(), latencies_.end());
  const size_t total = latencies_.size() + counters_.lost;
  auto at = [&](double p) {
    if (total == 0) return -1.0;
    const auto i = static_cast<size_t>(p * static_cast<double>(total - 1) + 0.5);
    return i < latencies_.size() ? latencies_[i] * 1e6 : -1.0;
  };
  auto text = [&](double us) {
    return us < 0 ? fmt::format("> {:.0f} ms (lost)", options_.timeout_ms)
                  : fmt::format("{:.1f} us", us);
  };
  const double achieved = static_cast<double>(counters_.replies) / options_.duration_s;
  const double own_share = (last.own_cpu_s - first.own_cpu_s) / (last.wall_s - first.wall_s);
  std::printf(
      "open loop at %.0f requests/s for %.2f s after %.2f s of warm-up: %llu due, %llu "
      "answered within %.0f ms, %llu lost, %llu not sent (kernel refused)\n",
      options_.rate, options_.duration_s, options_.warmup_s,
      static_cast<unsigned long long>(counters_.sent),
      static_cast<unsigned long long>(counters_.replies), options_.timeout_ms,
      static_cast<unsigned long long>(counters_.lost),
      static_cast<unsigned long long>(counters_.send_failures));
  std::printf(
      "latency from the time each request was due, lost ones counted as slowest: p50 %s, "
      "p99 %s, p99.9 %s\n",
      text(at(0.5)).c_str(), text(at(0.99)).c_str(), text(at(0.999)).c_str());
  std::printf(
      "result rate=%.0f achieved_per_s=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f lost=%llu "
      "not_sent=%llu load_cpu_pct=%.0f\n",
      options_.rate, achieved, at(0.5), at(0.99), at(0.999),
      static_cast<unsigned long long>(counters_.lost),
      static_cast<unsigned long long>(counters_.send_failures), own_share * 100);
}

void LoadGenerator::report(const CpuSample& first, const CpuSample& last) const {
  const double seconds = last.wall_s - first.wall_s;
  const double replies = static_cast<double>(counters_.replies);
  const double rate = replies / seconds;
  const double own_share = (last.own_cpu_s - first.own_cpu_s) / seconds;
  std::printf("replies/s %.0f  (%llu replies in %.2f s after %.2f s of warm-up)\n", rate,
              static_cast<unsigned long long>(counters_.replies), seconds, options_.warmup_s);
  std::printf("lost %llu, unexpected %llu, send failures %llu, reply size %zu..%zu B\n",
              static_cast<unsigned long long>(counters_.lost),
              static_cast<unsigned long long>(counters_.unexpected),
              static_cast<unsigned long long>(counters_.send_failures),
              counters_.all_replies ? counters_.min_reply : 0, counters_.max_reply);
  std::printf("load generator: %.0f%% of a core, %.2f us CPU per reply\n", own_share * 100,
              (last.own_cpu_s - first.own_cpu_s) * 1e6 / replies);
  double server_share = -1;
  double server_us = -1;
  if (first.server_cpu_s >= 0 && last.server_cpu_s >= 0) {
    server_share = (last.server_cpu_s - first.server_cpu_s) / seconds;
    server_us = (last.server_cpu_s - first.server_cpu_s) * 1e6 / replies;
    std::printf("server (pid %d): %.0f%% of a core, %.2f us CPU per reply\n", options_.server_pid,
                server_share * 100, server_us);
  }
  std::printf(
      "result replies_per_s=%.0f lost=%llu reply_bytes=%zu request_bytes=%zu load_cpu_pct=%.0f "
      "server_cpu_pct=%.0f server_us_per_reply=%.2f\n",
      rate, static_cast<unsigned long long>(counters_.lost), counters_.max_reply, request_.size(),
      own_share * 100, server_share * 100, server_us);
}

void print_probe_reply(const proto::MessageView& view) {
  const auto r = proto::decode_probe_response(view);
  if (!r) {
    std::printf("probe reply does not decode: %s\n", proto::to_string(r.error()).c_str());
    return;
  }
  std::printf("node %s, load %u/1000, %zu children, %zu services%s\n", r->node_name.c_str(),
              r->load.load_permille, r->children.size(), r->services.size(),
              (r->reply_flags & proto::reply_flag::kTruncated) != 0 ? ", truncated" : "");
}

// One request, one reply (or none within a second), described.
int LoadGenerator::inspect() {
  Channel& c = channels_[0];
  queue(0, now_s());
  proto::TransactionId sent{};
  std::memcpy(sent.data(), c.send_storage.data() + 8, sent.size());
  flush(c);
  const double deadline = now_s() + 1.0;
  std::array<uint8_t, kMaxReply> reply{};
  while (now_s() < deadline) {
    const ssize_t n = recv(c.fd, reply.data(), reply.size(), MSG_DONTWAIT);
    if (n < 0) {
      wait_readable(10);
      continue;
    }
    const auto view = proto::parse_message({reply.data(), static_cast<size_t>(n)});
    if (!view || view->transaction_id() != sent || view->type() != reply_type_) {
      continue;
    }
    std::printf("request %zu B, reply %zd B: ", request_.size(), n);
    if (options_.kind == RequestKind::kProbe) {
      print_probe_reply(*view);
    } else {
      std::printf("Binding success\n");
    }
    return 0;
  }
  std::printf("no reply within 1 s\n");
  return 1;
}

}  // namespace
}  // namespace turnscout::bench

int main(int argc, char** argv) {
  using namespace turnscout;
  using namespace turnscout::bench;
  CLI::App app("udp_load: closed-loop UDP load on one server, replies per second");
  Options options;
  std::string target;
  std::string request = "probe";
  app.add_option("target", target, "Server address, e.g. 127.0.0.1:3479")->required();
  app.add_option("--request", request, "probe (turnscout Probe) or binding (STUN Binding)")
      ->check(CLI::IsMember({"probe", "binding"}))
      ->capture_default_str();
  app.add_option("--size", options.size, "Request size in bytes (rounded up to 4)")
      ->check(CLI::Range(size_t{32}, size_t{1200}))
      ->capture_default_str();
  app.add_option("--window", options.window, "Requests outstanding at once")
      ->check(CLI::Range(size_t{1}, size_t{65536}))
      ->capture_default_str();
  app.add_option("--sockets", options.sockets, "Client sockets, the window spread over them")
      ->check(CLI::Range(size_t{1}, size_t{64}))
      ->capture_default_str();
  app.add_option("--cpu", options.cpu, "Pin this thread to this CPU (default: not pinned)");
  app.add_option("--duration", options.duration_s, "Seconds measured")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();
  app.add_option("--warmup", options.warmup_s, "Seconds of load before measuring")
      ->check(CLI::Range(0.0, 60.0))
      ->capture_default_str();
  app.add_option("--timeout", options.timeout_ms, "Milliseconds before a request counts as lost")
      ->check(CLI::Range(1.0, 10000.0))
      ->capture_default_str();
  app.add_option("--rate", options.rate,
                 "Open loop: send this many requests per second and report latency percentiles "
                 "(default: closed loop, replies per second)")
      ->check(CLI::Range(1.0, 10'000'000.0));
  app.add_option("--server-pid", options.server_pid,
                 "Also report this process's CPU time per reply (read from /proc)");
  app.add_flag("--inspect", options.inspect, "Send one request, describe the reply, exit");
  CLI11_PARSE(app, argc, argv);

  auto parsed = parse_endpoint(target);
  if (!parsed) {
    std::fprintf(stderr, "target: %s\n", parsed.error().c_str());
    return 2;
  }
  options.target = *parsed;
  options.kind = request == "probe" ? RequestKind::kProbe : RequestKind::kBinding;
  if (options.cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(options.cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      std::perror("sched_setaffinity");
      return 2;
    }
  }
  auto message = request_template(options.kind, options.size);
  if (message.empty()) {
    std::fprintf(stderr, "cannot build a %s request of %zu bytes\n", request.c_str(), options.size);
    return 2;
  }
  if (options.rate > 0) {
    // Slots for several timeouts' worth of requests: one comes round again only after its
    // request has timed out.
    options.window =
        std::max(options.window, static_cast<size_t>(options.rate * options.timeout_ms * 4e-3) + 1);
  }
  LoadGenerator generator(options, std::move(message));
  if (!generator.open_sockets()) return 2;
  if (options.inspect) return generator.inspect();
  return options.rate > 0 ? generator.run_paced() : generator.run();
}
