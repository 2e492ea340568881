// Which addresses a client may send to because a server named them. A server's listing is
// hostile until proved otherwise: it must not turn the client into a traffic source aimed
// at third parties, at the client's own host or at its private network.
//
// - Never: an unspecified address (0.0.0.0/8, ::), multicast, broadcast or reserved IPv4
//   (224.0.0.0 and above), or port 0.
// - Not further in than the server that named it: addresses are public, private (RFC 1918,
//   100.64/10 shared, 169.254/16 and fe80::/10 link-local, fc00::/7 unique local) or
//   loopback (127/8, ::1). A public server may name only public addresses, a private one
//   public or private ones, a loopback one any. `allow_any_scope` lifts this rule (a test
//   bed, a private deployment reached through a public name), never the first.
//
// Applies to the children a Probe reply lists and to the TURN servers a leaf announces
// when the client checks them with a Binding. The roots are the caller's own choice.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/address.hpp"

namespace turnscout::client {

enum class AddressScope : uint8_t { kPublic, kPrivate, kLoopback };

AddressScope scope_of(const Endpoint& address);
const char* to_string(AddressScope scope);

// Why nobody may send to `address`, or nullopt when it is a unicast address with a port.
std::optional<std::string> never_probed(const Endpoint& address);

// Why the client may not follow `named` because the server at `named_by` named it, or
// nullopt when it may.
std::optional<std::string> refuse_named(const Endpoint& named_by, const Endpoint& named,
                                        bool allow_any_scope);

}  // namespace turnscout::client
