// Between the public types (client/include/turnscout/types.hpp: standard-library values)
// and the core's (addresses as Endpoint, durations as Duration, tokens as bytes).
#pragma once

#include <string>

#include <turnscout/types.hpp>

#include "base/address.hpp"
#include "base/result.hpp"
#include "client/core/result.hpp"
#include "client/io/driver.hpp"

namespace turnscout::client {

// The request for the driver; an error (one line) for an option the public API checks
// itself: the timeout range and the capacity token's text form. The core checks the rest.
Result<DriverRequest, std::string> to_request(const turnscout::DiscoverOptions& options);

turnscout::Address to_public(const Endpoint& address);
turnscout::DiscoveryResult to_public(DiscoveryResult result, bool refused);
// A result for a discovery that never ran.
turnscout::DiscoveryResult failed_result(turnscout::Status status, std::string failure);

}  // namespace turnscout::client
