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

bool Client::cancel(DiscoveryId id) {
  return impl_->driver.cancel(id);
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

}  // namespace turnscout
