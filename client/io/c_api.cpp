// The C API (turnscout.h) over BlockingClient. No exception crosses it: allocation failures
// become TURNSCOUT_ERR_NO_MEMORY (or NULL).
#include <turnscout/turnscout.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include <turnscout/client.hpp>

#include "client/core/result.hpp"
#include "client/io/blocking_client.hpp"

struct turnscout_client {
  std::unique_ptr<turnscout::client::BlockingClient> impl;
  std::vector<turnscout_discovery*> discoveries;  // Started and not destroyed.
};

// One asynchronous discovery. The callback writes into `result`, which it shares, so that a
// callback never writes into a discovery that is gone.
struct turnscout_discovery {
  turnscout_client* client = nullptr;  // Null once the client is destroyed.
  turnscout::DiscoveryId id = 0;
  std::shared_ptr<std::optional<turnscout::DiscoveryResult>> result;
  bool delivered = false;  // poll() has handed the result out.
};

struct turnscout_options {
  turnscout::DiscoverOptions options;
};

// The result with every string the accessors hand out, built once.
struct turnscout_result {
  turnscout::DiscoveryResult result;
  std::vector<std::string> hop_addresses;
  std::vector<std::string> errors;
  std::string reflexive;
};

namespace {

constexpr uint32_t kMaxTimeoutMs = 3'600'000;

turnscout_status status_of(turnscout::Status status) {
  switch (status) {
    case turnscout::Status::kOk:
      return TURNSCOUT_OK;
    case turnscout::Status::kInvalidOptions:
      return TURNSCOUT_ERR_INVALID_ARGUMENT;
    case turnscout::Status::kNotFound:
      return TURNSCOUT_ERR_NOT_FOUND;
    case turnscout::Status::kInternalError:
      return TURNSCOUT_ERR_INTERNAL;
    case turnscout::Status::kCancelled:
      return TURNSCOUT_ERR_CANCELLED;
  }
  return TURNSCOUT_ERR_INTERNAL;
}

turnscout_result* make_result(turnscout::DiscoveryResult r) {
  auto* out = new turnscout_result{std::move(r), {}, {}, {}};
  for (const turnscout::Hop& hop : out->result.path)
    out->hop_addresses.push_back(hop.address.to_string());
  for (const turnscout::PeerError& e : out->result.errors)
    out->errors.push_back(turnscout::to_string(e));
  out->reflexive = out->result.reflexive.to_string();
  return out;
}

template <typename Fn>
turnscout_status guarded(Fn fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return TURNSCOUT_ERR_NO_MEMORY;
  } catch (...) {
    return TURNSCOUT_ERR_INTERNAL;
  }
}

}  // namespace

extern "C" {

const char* turnscout_status_string(int status) {
  switch (status) {
    case TURNSCOUT_OK:
      return "ok";
    case TURNSCOUT_ERR_INVALID_ARGUMENT:
      return "invalid argument";
    case TURNSCOUT_ERR_NOT_FOUND:
      return "no TURN server found";
    case TURNSCOUT_ERR_CANCELLED:
      return "cancelled";
    case TURNSCOUT_PENDING:
      return "pending";
    case TURNSCOUT_ERR_NO_MEMORY:
      return "out of memory";
    case TURNSCOUT_ERR_INTERNAL:
      return "internal error";
  }
  return "unknown status";
}

const char* turnscout_version(void) {
  return turnscout::version();
}

turnscout_client* turnscout_client_create(void) {
  try {
    auto impl = turnscout::client::BlockingClient::create();
    if (!impl) return nullptr;
    return new turnscout_client{std::move(impl), {}};
  } catch (...) {
    return nullptr;
  }
}

void turnscout_client_destroy(turnscout_client* client) {
  if (client == nullptr) return;
  for (turnscout_discovery* d : client->discoveries) {
    d->client = nullptr;
    if (!*d->result) {
      *d->result = turnscout::client::failed_result(
          turnscout::Status::kCancelled, "the client was destroyed before the discovery ended");
    }
  }
  delete client;
}

int turnscout_client_fd(const turnscout_client* client) {
  return client == nullptr ? -1 : client->impl->fd();
}

int turnscout_client_timeout_ms(const turnscout_client* client) {
  if (client == nullptr) return -1;
  // A result that came while another discovery was polled waits for its own poll: with
  // nothing else pending the loop has no timer and no socket left to wake the caller.
  for (const turnscout_discovery* d : client->discoveries) {
    if (*d->result && !d->delivered) return 0;
  }
  return client->impl->timeout_ms();
}

turnscout_options* turnscout_options_create(void) {
  return new (std::nothrow) turnscout_options;
}

void turnscout_options_destroy(turnscout_options* options) {
  delete options;
}

turnscout_status turnscout_options_add_root(turnscout_options* options, const char* root) {
  if (options == nullptr || root == nullptr || *root == '\0') {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    options->options.roots.emplace_back(root);
    return TURNSCOUT_OK;
  });
}

turnscout_status turnscout_options_add_blacklist(turnscout_options* options, const char* token) {
  if (options == nullptr || token == nullptr || *token == '\0') {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    options->options.blacklist.emplace_back(token);
    return TURNSCOUT_OK;
  });
}

turnscout_status turnscout_options_set_timeout_ms(turnscout_options* options, uint32_t timeout_ms) {
  if (options == nullptr || timeout_ms == 0 || timeout_ms > kMaxTimeoutMs) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  options->options.timeout = std::chrono::milliseconds{timeout_ms};
  return TURNSCOUT_OK;
}

turnscout_status turnscout_options_set_verify(turnscout_options* options, int verify) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  options->options.verify = verify != 0;
  return TURNSCOUT_OK;
}

turnscout_status turnscout_options_set_transport(turnscout_options* options, int transport) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  switch (transport) {
    case TURNSCOUT_TRANSPORT_AUTO:
      options->options.transport = turnscout::TransportMode::kAuto;
      return TURNSCOUT_OK;
    case TURNSCOUT_TRANSPORT_UDP:
      options->options.transport = turnscout::TransportMode::kUdp;
      return TURNSCOUT_OK;
    case TURNSCOUT_TRANSPORT_TCP:
      options->options.transport = turnscout::TransportMode::kTcp;
      return TURNSCOUT_OK;
    case TURNSCOUT_TRANSPORT_TLS:
      options->options.transport = turnscout::TransportMode::kTls;
      return TURNSCOUT_OK;
  }
  return TURNSCOUT_ERR_INVALID_ARGUMENT;
}

turnscout_status turnscout_options_set_tls_ca_file(turnscout_options* options, const char* path) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  options->options.tls_ca_file = path == nullptr ? "" : path;
  return TURNSCOUT_OK;
}

turnscout_status turnscout_options_set_tls_insecure(turnscout_options* options, int insecure) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  options->options.tls_insecure = insecure != 0;
  return TURNSCOUT_OK;
}

turnscout_status turnscout_options_set_speculate(turnscout_options* options, int speculate) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  options->options.speculate = speculate != 0;
  return TURNSCOUT_OK;
}

turnscout_status turnscout_options_set_selection(turnscout_options* options, int selection) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  switch (selection) {
    case TURNSCOUT_SELECTION_FIRST:
      options->options.selection = turnscout::Selection::kFirst;
      return TURNSCOUT_OK;
    case TURNSCOUT_SELECTION_LOAD_AWARE:
      options->options.selection = turnscout::Selection::kLoadAware;
      return TURNSCOUT_OK;
  }
  return TURNSCOUT_ERR_INVALID_ARGUMENT;
}

turnscout_status turnscout_options_set_capacity_token(turnscout_options* options,
                                                      const char* token) {
  if (options == nullptr) return TURNSCOUT_ERR_INVALID_ARGUMENT;
  return guarded([&] {
    options->options.capacity_token = token == nullptr ? "" : token;
    return TURNSCOUT_OK;
  });
}

turnscout_status turnscout_discover(turnscout_client* client, const turnscout_options* options,
                                    turnscout_result** result) {
  if (result != nullptr) *result = nullptr;
  if (client == nullptr || options == nullptr || result == nullptr) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    *result = make_result(client->impl->discover(options->options));
    return status_of((*result)->result.status);
  });
}

turnscout_status turnscout_discover_ex(turnscout_client* client, const turnscout_options* options,
                                       turnscout_hop_fn on_hop, void* user,
                                       const volatile int* stop, turnscout_result** result) {
  if (result != nullptr) *result = nullptr;
  if (client == nullptr || options == nullptr || result == nullptr) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    turnscout::DiscoverHooks hooks;
    if (on_hop != nullptr) {
      hooks.on_hop = [on_hop, user](const turnscout::Hop& hop) {
        const std::string address = hop.address.to_string();
        on_hop(user, hop.depth, hop.name.c_str(), address.c_str(), hop.rtt.count());
      };
    }
    std::function<bool()> stop_requested;
    if (stop != nullptr) stop_requested = [stop] { return *stop != 0; };
    *result = make_result(client->impl->discover(options->options, hooks, stop_requested));
    return status_of((*result)->result.status);
  });
}

turnscout_status turnscout_discovery_start(turnscout_client* client,
                                           const turnscout_options* options,
                                           turnscout_discovery** discovery) {
  if (discovery != nullptr) *discovery = nullptr;
  if (client == nullptr || options == nullptr || discovery == nullptr) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    auto d = std::make_unique<turnscout_discovery>();
    d->client = client;
    d->result = std::make_shared<std::optional<turnscout::DiscoveryResult>>();
    client->discoveries.reserve(client->discoveries.size() + 1);  // No throw once started.
    d->id =
        client->impl->start(options->options, [state = d->result](turnscout::DiscoveryResult r) {
          if (!*state) *state = std::move(r);
        });
    client->discoveries.push_back(d.get());
    *discovery = d.release();
    // Sends the first Probes and puts the socket in the loop's epoll set, so that the fd
    // the caller waits on becomes readable when the replies come (the callback only stores).
    client->impl->run_nowait();
    return TURNSCOUT_OK;
  });
}

turnscout_status turnscout_discovery_poll(turnscout_discovery* discovery,
                                          turnscout_result** result) {
  if (result != nullptr) *result = nullptr;
  if (discovery == nullptr || result == nullptr || discovery->delivered) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return guarded([&] {
    if (!*discovery->result && discovery->client != nullptr) {
      discovery->client->impl->run_nowait();
    }
    if (!*discovery->result) return TURNSCOUT_PENDING;
    *result = make_result(std::move(**discovery->result));
    discovery->delivered = true;
    return status_of((*result)->result.status);
  });
}

turnscout_status turnscout_discovery_cancel(turnscout_discovery* discovery) {
  if (discovery == nullptr || discovery->client == nullptr || *discovery->result ||
      discovery->delivered) {
    return TURNSCOUT_ERR_INVALID_ARGUMENT;
  }
  return discovery->client->impl->stop(discovery->id) ? TURNSCOUT_OK
                                                      : TURNSCOUT_ERR_INVALID_ARGUMENT;
}

void turnscout_discovery_destroy(turnscout_discovery* discovery) {
  if (discovery == nullptr) return;
  if (turnscout_client* client = discovery->client) {
    if (!*discovery->result) client->impl->cancel(discovery->id);
    std::erase(client->discoveries, discovery);
  }
  delete discovery;
}

void turnscout_result_destroy(turnscout_result* result) {
  delete result;
}

int turnscout_result_ok(const turnscout_result* result) {
  return result != nullptr && result->result.ok() ? 1 : 0;
}

turnscout_status turnscout_result_status(const turnscout_result* result) {
  return result == nullptr ? TURNSCOUT_ERR_INVALID_ARGUMENT : status_of(result->result.status);
}

const char* turnscout_result_failure(const turnscout_result* result) {
  return result == nullptr ? nullptr : result->result.failure.c_str();
}

size_t turnscout_result_service_count(const turnscout_result* result) {
  return result == nullptr ? 0 : result->result.services.size();
}

const char* turnscout_result_service(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.services.size()) return nullptr;
  return result->result.services[index].uri.c_str();
}

size_t turnscout_result_backup_count(const turnscout_result* result) {
  return result == nullptr ? 0 : result->result.backups.size();
}

const char* turnscout_result_backup(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.backups.size()) return nullptr;
  return result->result.backups[index].uri.c_str();
}

size_t turnscout_result_hop_count(const turnscout_result* result) {
  return result == nullptr ? 0 : result->result.path.size();
}

const char* turnscout_result_hop_name(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.path.size()) return nullptr;
  return result->result.path[index].name.c_str();
}

const char* turnscout_result_hop_address(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->hop_addresses.size()) return nullptr;
  return result->hop_addresses[index].c_str();
}

int64_t turnscout_result_hop_rtt_us(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.path.size()) return -1;
  return static_cast<int64_t>(result->result.path[index].rtt.count());
}

int32_t turnscout_result_hop_load_permille(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.path.size()) return -1;
  return result->result.path[index].load_permille;
}

int32_t turnscout_result_hop_tier(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.path.size()) return -1;
  return result->result.path[index].tier;
}

const char* turnscout_result_hop_transport(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->result.path.size()) return nullptr;
  return result->result.path[index].transport.c_str();
}

const char* turnscout_result_transport(const turnscout_result* result) {
  return result == nullptr ? nullptr : result->result.transport.c_str();
}

const char* turnscout_result_family(const turnscout_result* result) {
  return result == nullptr ? nullptr : result->result.family.c_str();
}

const char* turnscout_result_reflexive(const turnscout_result* result) {
  return result == nullptr ? nullptr : result->reflexive.c_str();
}

int turnscout_result_verified(const turnscout_result* result) {
  return result != nullptr && result->result.verification.state == turnscout::VerifyState::kVerified
             ? 1
             : 0;
}

int turnscout_result_warm(const turnscout_result* result) {
  return result != nullptr && result->result.warm ? 1 : 0;
}

int turnscout_result_round_trips(const turnscout_result* result) {
  return result == nullptr ? 0 : static_cast<int>(result->result.round_trips);
}

int64_t turnscout_result_total_time_us(const turnscout_result* result) {
  return result == nullptr ? -1 : static_cast<int64_t>(result->result.total_time.count());
}

uint32_t turnscout_result_probes_sent(const turnscout_result* result) {
  return result == nullptr ? 0 : result->result.probes_sent;
}

uint32_t turnscout_result_bindings_sent(const turnscout_result* result) {
  return result == nullptr ? 0 : result->result.bindings_sent;
}

size_t turnscout_result_error_count(const turnscout_result* result) {
  return result == nullptr ? 0 : result->errors.size();
}

const char* turnscout_result_error(const turnscout_result* result, size_t index) {
  if (result == nullptr || index >= result->errors.size()) return nullptr;
  return result->errors[index].c_str();
}

}  // extern "C"
