// The contract between a sans-I/O core and whatever drives it (a libuv adapter, or the
// simulated network in tests/sim). A core never touches sockets or clocks: the driver hands
// it datagrams and the time, and takes back the datagrams it wants sent.
#pragma once

#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"

namespace turnscout {

// How a message travels. kTcp: one whole message of a TCP connection to `remote`, framed as
// RFC 8489 section 6.2.2 says; the driver opens (or reuses) the connection. kTls: the same
// inside TLS on that connection, the server's certificate checked as the datagram says.
enum class Transport : uint8_t { kUdp, kTcp, kTls };

struct Datagram {
  Endpoint local;   // Our side: the address it was received on, or is to be sent from.
  Endpoint remote;  // The peer: where it came from, or where it goes.
  std::vector<uint8_t> bytes;
  Transport transport = Transport::kUdp;
  // kTls: the name the server's certificate must carry (empty: `remote`'s IP address), and
  // what it must chain to: the system's CAs, or the PEM file `tls_ca_file`; with
  // `tls_verify` false, any certificate is accepted.
  std::string tls_name{};
  std::string tls_ca_file{};
  bool tls_verify = true;
};

class SansIoNode {
 public:
  virtual ~SansIoNode() = default;

  // A datagram arrived on `local` from `remote`. `bytes` is only valid during the call.
  virtual void on_datagram(TimePoint now, const Endpoint& local, const Endpoint& remote,
                           std::span<const uint8_t> bytes) = 0;
  // A whole message read from a stream connection to `remote`. By default, the same as a
  // datagram; a node that answers or matches by transport overrides it.
  virtual void on_stream_message(TimePoint now, Transport via, const Endpoint& local,
                                 const Endpoint& remote, std::span<const uint8_t> bytes) {
    (void)via;
    on_datagram(now, local, remote, bytes);
  }
  // Called at or after next_timeout(); the core does whatever fell due.
  virtual void on_timeout(TimePoint now) = 0;
  // The earliest time the core wants on_timeout(), or kNever.
  virtual TimePoint next_timeout() const = 0;
  // Appends every datagram queued for sending to `out` and forgets them.
  virtual void poll_transmit(std::vector<Datagram>& out) = 0;
};

inline const char* to_string(Transport transport) {
  switch (transport) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
    case Transport::kUdp:
      break;
  }
  return "udp";
}

// poll_transmit() for a core that queues in a vector: moves every datagram of `queue` to
// the end of `out` and leaves `queue` empty (its capacity kept for reuse).
inline void move_datagrams(std::vector<Datagram>& queue, std::vector<Datagram>& out) {
  out.insert(out.end(), std::make_move_iterator(queue.begin()),
             std::make_move_iterator(queue.end()));
  queue.clear();
}

}  // namespace turnscout
