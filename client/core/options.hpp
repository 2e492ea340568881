// What a caller asks of one discovery (DiscoverOptions: the public options and a few more)
// and of the prober as a whole (ProberConfig). Plain values; Prober::start() checks them
// and names what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <turnscout/types.hpp>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "proto/constants.hpp"

namespace turnscout::client {

using turnscout::Selection;

// A bootstrap server once its address is known (client/core/roots.hpp resolves them).
struct Root {
  Endpoint address;
  std::string name;  // The host name it was given as; empty for a numeric root.
  // The position `index:N` refers to: that of its text in DiscoverOptions::roots. All the
  // addresses of one host name share it.
  size_t position = 0;
};

inline constexpr uint32_t kMaxAttemptsLimit = 10;
// DiscoverOptions::max_bindings at most: 3 attempts to each of 16 services and backups of a
// few dozen leaves.
inline constexpr uint32_t kMaxBindingsLimit = 1024;

// The public options (client/include/turnscout/types.hpp: roots as written, blacklist
// tokens, timeout, selection, verify, capacity token as base64url text, children wanted,
// attempts, warm path), plus what the public API leaves at its defaults. Prober::start()
// checks every field and names the one that is wrong.
struct DiscoverOptions : turnscout::DiscoverOptions {
  // The port of a root given without one.
  uint16_t default_port = kDefaultPort;
  // How long an overloaded reply waits for a better one (kLoadAware). 10 ms is about the
  // spread of replies from servers in one metro area, and small next to a round trip.
  Duration grace = 10ms;
  // Services named by a host name can only be verified when the driver resolves names for
  // the core (Prober::poll_resolve / on_resolved); otherwise they are skipped as unverified.
  // Root names are always resolved that way.
  bool resolve_host_names = false;
  // Probe requests are padded to this size so a server may answer with its whole list.
  size_t pad_to = proto::kRecommendedRequestSize;
  uint32_t verify_attempts = 3;  // Binding requests per TURN server, 1..kMaxAttemptsLimit.
  uint32_t max_depth = 8;        // Levels below which nothing is probed (loops, misconfiguration).
  // Report each hop as its level is won (Prober::poll_hop), for callers that show progress.
  bool report_hops = false;
};

// A token bucket the client applies to itself; burst 0 turns it off.
struct RateLimit {
  double burst = 0;
  double per_second = 0;
};

struct RtoConfig {
  Duration initial = 100ms;  // Before a server's first RTT sample.
  Duration min = 50ms;       // Floor of every timeout, jitter included.
  // Cap of the doubling (never below the first timeout). With the defaults a silent
  // server is given up 1.5 s after the first of 5 attempts, inside the 2 s deadline, so a
  // lost level still leaves time to fall back to another branch.
  Duration max = 400ms;
  double jitter = 0.1;  // Fraction each timeout may be shortened by at random.
};

struct HealthConfig {
  // A dead server is left alone for base, 2 * base, ... up to cap (jitter shortens each
  // wait by up to `jitter` of it), then probed again as "recovering".
  Duration dead_base = 1s;
  Duration dead_cap = 60s;
  double jitter = 0.2;
};

struct ProberConfig {
  // Servers remembered (RTT, health, announced buckets, own limiter); the least recently
  // used is forgotten first.
  size_t max_peers = 1024;
  // Discoveries running (background refreshes included) plus results not yet polled.
  size_t max_discoveries = 64;
  RateLimit per_peer;  // Requests to one server; off by default.
  RateLimit global;    // Requests to all servers together; off by default.
  RtoConfig rto;
  HealthConfig health;
  // Per-peer error entries kept in a result; later ones are only counted.
  size_t max_errors = 64;
  size_t max_backups = 16;
};

}  // namespace turnscout::client
