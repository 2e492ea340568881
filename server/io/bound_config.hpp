// How the running config differs from the file: the real ports of listen addresses that
// said port 0, and the settings a reload cannot change without a restart.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "server/core/config.hpp"

namespace turnscout::server {

// `bound[i]` is the address listen[i] was bound to. A listen address with port 0 takes
// the real port, and so does every advertise address that was the same address with port
// 0 (the loader copies listen into advertise by default), so parents hand clients a port
// that answers.
ServerConfig with_bound_ports(ServerConfig config, std::span<const Endpoint> bound);

// Reload: listen addresses, worker count and the metrics address stay as `running` has
// them (sockets and threads are not re-created). Returns one line per setting that
// `next` tried to change, for a warning.
std::vector<std::string> keep_restart_only_settings(const ServerConfig& running,
                                                    ServerConfig& next);

}  // namespace turnscout::server
