// A node's ServerConfig as the YAML file turnscout-server reads (configs/README.md): what
// the cluster writes for each node it runs as a process. Only the settings a cluster node
// uses are written; the text is checked by reading it back with the server's own loader,
// so a config the server would refuse never reaches a process.
#pragma once

#include <string>

#include "base/result.hpp"
#include "server/core/config.hpp"

namespace turnscout::cluster {

// Writes node (name, listen, advertise, weight), parents, children, cluster.key, heartbeat
// (interval, missed), load (static), listing, admission.enabled, services, metrics.listen,
// log.level and workers. Text must be UTF-8, as YAML is (the cluster's names, URIs and hex
// key are ASCII). The error holds the loader's "FILE:LINE:COL: message" lines, with
// `display_name` as FILE.
Result<std::string, std::string> server_config_yaml(const server::ServerConfig& config,
                                                    const std::string& display_name);

}  // namespace turnscout::cluster
