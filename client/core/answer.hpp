// Turning accepted replies into what a result reports: a leaf's services, and the ranked
// backups.
#pragma once

#include <cstddef>
#include <vector>

#include "client/core/descent.hpp"
#include "client/core/result.hpp"

namespace turnscout::client {

// The services `reply` announced, in its order; URIs that do not parse are left out.
std::vector<Service> services_of(const AcceptedReply& reply, const Endpoint& address);

// Backups for the leaf `chosen` (an index into descent.replies()): the services of every
// other leaf that answered, under its overload limit first, then by RTT; then those of
// the deepest branch on the path that announced any. Nothing in `exclude` is repeated; at
// most `max` entries.
std::vector<Service> rank_backups(const Descent& descent, size_t chosen,
                                  const std::vector<Service>& exclude, size_t max);

// Appends the entries of `more` whose text is in neither `out` nor `exclude`, while `out`
// has fewer than `max`.
void append_unique(std::vector<Service>& out, const std::vector<Service>& more,
                   const std::vector<Service>& exclude, size_t max);

}  // namespace turnscout::client
