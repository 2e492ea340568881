// Between the public types (client/include/turnscout/types.hpp: standard-library values)
// and the core's (addresses as Endpoint, durations as Duration, tokens as bytes).
#pragma once

#include <optional>
#include <string>

#include <turnscout/types.hpp>

#include "base/address.hpp"
#include "base/result.hpp"
#include "client/core/result.hpp"
#include "client/io/driver.hpp"

namespace turnscout::client {

// The core's options; an error only for what exists in the public form alone (a capacity
// token that is not base64url). The core checks the rest when the discovery starts.
Result<DiscoverOptions, StartError> to_request(const turnscout::DiscoverOptions& options);

turnscout::Address to_public(const Endpoint& address);
turnscout::DiscoveryResult to_public(DiscoveryResult result, std::optional<StartErrc> refused);
// A result for a discovery that never ran.
turnscout::DiscoveryResult failed_result(turnscout::Status status, std::string failure);

}  // namespace turnscout::client
