// What a discovery hands back: the public result types of client/include/turnscout/types.hpp
// (standard-library values), built here in the core and passed through the driver and the
// C++ API unchanged; only the C API converts, to C. This header adds the core's id for a
// finished discovery and the one conversion from a wire address to a public one.
#pragma once

#include <cstdint>
#include <string>

#include <turnscout/types.hpp>

#include "base/address.hpp"

namespace turnscout::client {

using DiscoveryId = uint64_t;

using turnscout::Address;
using turnscout::DiscoveryResult;
using turnscout::Hop;
using turnscout::PeerError;
using turnscout::PeerErrorKind;
using turnscout::Service;
using turnscout::Status;
using turnscout::Verification;
using turnscout::VerifyAttempt;
using turnscout::VerifyState;

// A discovery's result as Prober::poll_result() hands it out.
struct Finished {
  DiscoveryId id = 0;
  DiscoveryResult result;
};

// A level won on the way down (DiscoverOptions::report_hops), before the result.
struct HopEvent {
  DiscoveryId id = 0;
  Hop hop;
};

// "192.0.2.1" / "2001:db8::1" and the port; an IPv4-mapped IPv6 address as IPv4; empty for
// an invalid endpoint.
Address to_address(const Endpoint& endpoint);

// A result for a discovery that never ran (refused options, no event loop).
DiscoveryResult failed_result(Status status, std::string failure);

}  // namespace turnscout::client
