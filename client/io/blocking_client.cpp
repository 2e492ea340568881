#include "client/io/blocking_client.hpp"

#include <functional>
#include <memory>
#include <optional>

#include "client/core/result.hpp"

namespace turnscout::client {

std::unique_ptr<BlockingClient> BlockingClient::create(turnscout::ClientConfig config) {
  std::unique_ptr<BlockingClient> out(new BlockingClient);
  if (uv_loop_init(&out->loop_) != 0) return nullptr;
  out->client_ = std::make_unique<turnscout::Client>(&out->loop_, config);
  return out;
}

BlockingClient::~BlockingClient() {
  client_.reset();
  // Close callbacks, and name lookups that could not be cancelled, complete here.
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

turnscout::DiscoveryResult BlockingClient::discover(const turnscout::DiscoverOptions& options,
                                                    const turnscout::DiscoverHooks& hooks,
                                                    std::function<bool()> stop_requested) {
  std::optional<turnscout::DiscoveryResult> result;
  // Discoveries started with start() may keep the loop alive longer: stop it with this one.
  auto done = [&result, this](turnscout::DiscoveryResult r) {
    result = std::move(r);
    uv_stop(&loop_);
  };
  const turnscout::DiscoveryId id = hooks.on_hop ? client_->discover(options, done, hooks.on_hop)
                                                 : client_->discover(options, done);
  // The stop flag is looked at every 10 ms by a timer that does not keep the loop alive.
  struct Watch {
    uv_timer_t timer{};
    std::function<bool()> stop;
    turnscout::Client* client = nullptr;
    turnscout::DiscoveryId id = 0;
    bool stopped = false;
  };
  auto watch = std::make_unique<Watch>();
  const bool watching = stop_requested != nullptr;
  if (watching) {
    watch->stop = std::move(stop_requested);
    watch->client = client_.get();
    watch->id = id;
    uv_timer_init(&loop_, &watch->timer);
    watch->timer.data = watch.get();
    uv_unref(reinterpret_cast<uv_handle_t*>(&watch->timer));
    uv_timer_start(
        &watch->timer,
        [](uv_timer_t* t) {
          auto* w = static_cast<Watch*>(t->data);
          if (w->stopped || !w->stop()) return;
          w->stopped = true;
          w->client->stop(w->id);
        },
        0, 10);
  }
  // The client's handles keep the loop alive exactly while the discovery is pending.
  while (!result && uv_run(&loop_, UV_RUN_DEFAULT) != 0) {
  }
  if (watching) {
    uv_close(reinterpret_cast<uv_handle_t*>(&watch->timer), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);  // The close callback; `watch` outlives it.
  }
  if (result) return std::move(*result);
  client_->cancel(id);  // The callback refers to this frame.
  return failed_result(turnscout::Status::kInternalError,
                       "the event loop stopped before the result came");
}

turnscout::DiscoveryId BlockingClient::start(const turnscout::DiscoverOptions& options,
                                             turnscout::Client::Callback done) {
  return client_->discover(options, std::move(done));
}

void BlockingClient::run_nowait() {
  uv_run(&loop_, UV_RUN_NOWAIT);
}

}  // namespace turnscout::client
