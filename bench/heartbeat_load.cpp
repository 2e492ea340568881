// heartbeat_load: N virtual children heartbeating one parent, for the cost of a tree as it
// grows (bench/tree_growth.sh). Every child sends a signed Heartbeat once per interval,
// the children spread evenly over it. Child i is named "child-i", sends from its own
// loopback address 127.(20 + i / 62500).(i / 250 % 250).(i % 250 + 1) (one socket, the
// source chosen per datagram with IP_PKTINFO, so a parent sees as many sources as children,
// as it would in a real tree) and advertises that address, port 3478: a leaf with a load
// that depends on i. An IPv6 parent gets every child from one source.
//
//   heartbeat_load PARENT --children N --key-file FILE [--interval-ms 1000] [--cpu N]
//                  [--duration SECONDS]
//
// It runs until --duration (0: until killed) and prints, once a second, the heartbeats
// sent and the responses that came back; the last line is "result sent=... answered=...".
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "base/endpoint.hpp"
#include "common/sockaddr.hpp"
#include "proto/heartbeat.hpp"
#include "proto/message_view.hpp"

namespace {

using namespace turnscout;

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t wall_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

int main(int argc, char** argv) {
  std::string parent_text;
  std::string key_file;
  size_t children = 10;
  double interval_ms = 1000;
  double duration_s = 0;
  int cpu = -1;
  CLI::App app("heartbeat_load: N virtual children heartbeating one parent");
  app.add_option("parent", parent_text, "The parent's address, e.g. 127.0.0.1:3479")->required();
  app.add_option("--children", children, "Virtual children")
      ->check(CLI::Range(size_t{1}, size_t{1'000'000}))
      ->capture_default_str();
  app.add_option("--key-file", key_file, "The cluster key, as the parent's cluster.key_file")
      ->required()
      ->check(CLI::Validator(CLI::ExistingFile).description(""))
      ->type_name("FILE");
  app.add_option("--interval-ms", interval_ms, "Each child's heartbeat interval")
      ->check(CLI::Range(10.0, 60'000.0))
      ->capture_default_str();
  app.add_option("--duration", duration_s, "Seconds to run (0: until killed)")
      ->check(CLI::Range(0.0, 86'400.0))
      ->capture_default_str();
  app.add_option("--cpu", cpu, "Pin to this CPU");
  CLI11_PARSE(app, argc, argv);

  const auto parent = parse_endpoint(parent_text);
  if (!parent) {
    std::fprintf(stderr, "parent: %s\n", parent.error().c_str());
    return 2;
  }
  // The key is the file's bytes without the line end, as the server reads it.
  std::ifstream key_in(key_file);
  std::string key_text;
  std::getline(key_in, key_text);
  if (key_text.empty()) {
    std::fprintf(stderr, "%s: empty\n", key_file.c_str());
    return 2;
  }
  const std::vector<uint8_t> key(key_text.begin(), key_text.end());
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
  }
  sockaddr_storage to{};
  const socklen_t to_len = to_sockaddr(*parent, to);
  const bool own_sources = to.ss_family == AF_INET;
  const int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int buffer = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof(buffer));
  // IPv4: bound to the wildcard, so the replies to every child's address come back here.
  const int linked = own_sources ? 0 : connect(fd, reinterpret_cast<const sockaddr*>(&to), to_len);
  if (fd < 0 || linked != 0) {
    std::perror("socket");
    return 2;
  }
  // One datagram from `source`: IP_PKTINFO picks the source address of this send only.
  const auto send_from = [&](const Endpoint& source, std::span<const uint8_t> bytes) {
    if (!own_sources) return send(fd, bytes.data(), bytes.size(), 0);
    iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = to_len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, source.ip.data(), 4);
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
    return sendmsg(fd, &msg, 0);
  };

  std::mt19937_64 random(std::random_device{}());
  proto::HeartbeatRequest hb;
  hb.subtree = {1, 0, 0};
  hb.capacity = 1000;
  std::array<uint8_t, 512> out{};
  std::array<uint8_t, 2048> in{};
  uint64_t sent = 0;
  uint64_t answered = 0;
  uint64_t failed = 0;
  const double start = now_s();
  const double interval = interval_ms / 1000.0;
  double next_report = start + 1;
  uint64_t next = 0;  // The next heartbeat's number: child next % children.
  for (double now = start; duration_s == 0 || now < start + duration_s; now = now_s()) {
    // Every heartbeat due by now, child after child, each interval / children apart.
    const auto due =
        static_cast<uint64_t>((now - start) / interval * static_cast<double>(children));
    for (int batch = 0; next < due && batch < 256; ++batch, ++next) {
      const size_t i = next % children;
      hb.node_name = "child-" + std::to_string(i);
      const Endpoint address = Endpoint::v4(127, static_cast<uint8_t>(20 + i / 62500),
                                            static_cast<uint8_t>(i / 250 % 250),
                                            static_cast<uint8_t>(i % 250 + 1), 3478);
      hb.advertised = {address};
      hb.load = {static_cast<uint16_t>(i * 37 % 900), 900};
      hb.subtree.best_load_permille = hb.load.load_permille;
      hb.timestamp_ms = wall_ms();
      for (auto& b : hb.transaction_id)
        b = static_cast<uint8_t>(random());
      const auto n = proto::encode_heartbeat_request(hb, key, out);
      if (!n) {
        std::fprintf(stderr, "cannot encode a heartbeat\n");
        return 1;
      }
      if (send_from(address, {out.data(), *n}) == static_cast<ssize_t>(*n)) {
        ++sent;
      } else {
        ++failed;
      }
    }
    for (;;) {
      const ssize_t r = recv(fd, in.data(), in.size(), 0);
      if (r <= 0) break;
      const auto view = proto::parse_message({in.data(), static_cast<size_t>(r)});
      if (view && view->message_class() == proto::MessageClass::kSuccess) ++answered;
    }
    if (now >= next_report) {
      std::printf("%.0f s: %llu heartbeats sent, %llu answered, %llu not sent\n", now - start,
                  static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered),
                  static_cast<unsigned long long>(failed));
      std::fflush(stdout);
      next_report += 1;
    }
    if (next >= due) {
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, 1);
    }
  }
  std::printf("result sent=%llu answered=%llu not_sent=%llu\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(answered),
              static_cast<unsigned long long>(failed));
  ::close(fd);
  return 0;
}
