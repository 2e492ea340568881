// turnscout::Client: the public face of the driver. The core takes the public options (plus
// defaults for the rest) and produces the public results, so nothing is converted here.
#include <turnscout/client.hpp>

#include "client/io/blocking_client.hpp"
#include "client/io/driver.hpp"

namespace turnscout {
namespace {

client::ProberConfig prober_config(const ClientConfig& config) {
  client::ProberConfig out;
  out.max_discoveries = config.max_discoveries;
  out.max_peers = config.max_peers;
  return out;
}

}  // namespace

class Client::Impl {
 public:
  Impl(uv_loop_t* loop, const ClientConfig& config) : driver(loop, prober_config(config)) {}
  client::Driver driver;
};

Client::Client(uv_loop_s* loop, ClientConfig config)
    : impl_(std::make_unique<Impl>(loop, config)) {}

Client::~Client() = default;

DiscoveryId Client::discover(const DiscoverOptions& options, Callback callback) {
  client::DiscoverOptions request{options};
  request.resolve_host_names = true;  // The driver looks names up.
  return impl_->driver.discover(std::move(request),
                                [callback = std::move(callback)](DiscoveryResult result) {
                                  if (callback) callback(std::move(result));
                                });
}

DiscoveryId Client::discover(const DiscoverOptions& options, Callback callback,
                             HopCallback on_hop) {
  client::DiscoverOptions request{options};
  request.resolve_host_names = true;
  return impl_->driver.discover(
      std::move(request),
      [callback = std::move(callback)](DiscoveryResult result) {
        if (callback) callback(std::move(result));
      },
      std::move(on_hop));
}

bool Client::cancel(DiscoveryId id) {
  return impl_->driver.cancel(id);
}

bool Client::stop(DiscoveryId id) {
  return impl_->driver.stop(id);
}

size_t Client::pending() const {
  return impl_->driver.pending();
}

DiscoveryResult discover(const DiscoverOptions& options) {
  auto client = client::BlockingClient::create();
  if (!client) {
    return client::failed_result(Status::kInternalError, "cannot create an event loop");
  }
  return client->discover(options);
}

DiscoveryResult discover(const DiscoverOptions& options, const DiscoverHooks& hooks) {
  auto client = client::BlockingClient::create();
  if (!client) {
    return client::failed_result(Status::kInternalError, "cannot create an event loop");
  }
  std::function<bool()> stop_requested;
  if (hooks.stop != nullptr) {
    stop_requested = [stop = hooks.stop] { return stop->load(std::memory_order_relaxed); };
  }
  return client->discover(options, hooks, std::move(stop_requested));
}

}  // namespace turnscout
