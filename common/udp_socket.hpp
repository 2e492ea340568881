// Plain POSIX UDP sockets for the workers: created here (libuv 1.44 cannot set
// SO_REUSEPORT), then adopted by a uv_udp_t with uv_udp_open.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/result.hpp"

namespace turnscout {

struct UdpSocketOptions {
  // Several sockets (one per worker thread) share the address; the kernel spreads
  // datagrams over them. Only set when there is more than one worker: with port 0 the
  // kernel may otherwise hand out a port another reuse-port socket of this user holds.
  bool reuse_port = false;
};

struct BoundSocket {
  int fd = -1;
  Endpoint local;  // With the real port when `at` said 0.
};

// A non-blocking, close-on-exec UDP socket bound to `at`; IPv6 sockets are IPv6-only so
// "0.0.0.0:p" and "[::]:p" can both be listened on. Errors name the address.
Result<BoundSocket, std::string> open_udp_socket(const Endpoint& at, UdpSocketOptions options);

// One socket per address, in order; on failure none is left open.
Result<std::vector<BoundSocket>, std::string> open_udp_sockets(std::span<const Endpoint> at,
                                                               UdpSocketOptions options);

// A non-blocking, close-on-exec TCP socket bound to `at` (SO_REUSEADDR; IPv6-only for
// IPv6), not yet listening. Errors name the address.
Result<BoundSocket, std::string> open_tcp_socket(const Endpoint& at);

void close_sockets(std::span<const BoundSocket> sockets);

// The address `fd` is bound to.
Result<Endpoint, std::string> socket_local_endpoint(int fd);

}  // namespace turnscout
