#include "client/io/driver.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"

namespace turnscout::client {

struct Driver::Timer {
  uv_timer_t handle{};
  Driver* owner = nullptr;  // Null once the driver is gone and the handle closing.
};

namespace {

// A pump ends when the core stops reacting to what the driver tells it; this only guards
// against a core that would keep producing unreachable destinations forever.
constexpr size_t kMaxPumpRounds = 1000;

bool is_unreachable(int error) {
  switch (error) {
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
    case UV_EADDRNOTAVAIL:
    case UV_EAFNOSUPPORT:
    case UV_EACCES:
    case UV_EPERM:
    case UV_EINVAL:
    case UV_ECONNREFUSED:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct DriverCallbacks {
  static void on_timer(uv_timer_t* handle) {
    auto* timer = static_cast<Driver::Timer*>(handle->data);
    if (timer->owner != nullptr) timer->owner->on_timer();
  }
  static void on_timer_closed(uv_handle_t* handle) {
    delete static_cast<Driver::Timer*>(handle->data);
  }
};

Driver::Driver(uv_loop_t* loop, ProberConfig config)
    : loop_(loop),
      prober_(std::move(config), random_, now()),
      timer_(new Timer),
      tcp_(
          loop,
          [this](const Endpoint& remote, std::span<const uint8_t> bytes) {
            on_stream_message(Transport::kTcp, remote, bytes);
          },
          [this](const Endpoint& remote, std::string_view why) {
            on_stream_failed(Transport::kTcp, remote, why);
          }),
      tls_(
          loop,
          [this](const Endpoint& remote, std::span<const uint8_t> bytes) {
            on_stream_message(Transport::kTls, remote, bytes);
          },
          [this](const Endpoint& remote, std::string_view why) {
            on_stream_failed(Transport::kTls, remote, why);
          }),
      lookups_(loop, [this](LookupId id, const std::string& host, LookupResult result) {
        on_lookup(id, host, std::move(result));
      }) {
  timer_->owner = this;
  timer_->handle.data = timer_;
  uv_timer_init(loop_, &timer_->handle);  // Cannot fail on Unix.
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_->handle));
}

Driver::~Driver() {
  if (destroyed_ != nullptr) *destroyed_ = true;
  timer_->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_->handle), DriverCallbacks::on_timer_closed);
  // The sockets are freed once libuv has closed them; the lookups are abandoned by their
  // own destructor.
  UdpPort::close_and_free(std::move(v4_));
  UdpPort::close_and_free(std::move(v6_));
}

TimePoint Driver::now() const {
  return steady_now();
}

void Driver::on_stream_message(Transport via, const Endpoint& remote,
                               std::span<const uint8_t> bytes) {
  const TimePoint t = now();
  prober_.on_stream_message(t, via, Endpoint{}, remote, bytes);
  pump(t);
}

void Driver::on_stream_failed(Transport via, const Endpoint& remote, std::string_view why) {
  const TimePoint t = now();
  ++counters_.unreachable;
  prober_.on_unreachable(t, remote, via, why);
  pump(t);
}

Result<std::shared_ptr<TlsContext>, std::string> Driver::tls_context(bool verify,
                                                                     const std::string& ca_file) {
  const std::string key = verify ? "verify:" + ca_file : std::string("insecure");
  if (auto it = tls_contexts_.find(key); it != tls_contexts_.end()) return it->second;
  auto context = TlsContext::client(verify, ca_file);
  if (!context) return context;
  // A few trust settings at most in one program; a caller cycling through CA files only
  // costs a rebuild.
  if (tls_contexts_.size() >= kMaxTlsContexts) tls_contexts_.clear();
  tls_contexts_.emplace(key, *context);
  return *context;
}

RequestId Driver::discover(DiscoverOptions options, Callback callback, HopCallback on_hop) {
  const RequestId id = next_id_++;
  const TimePoint now = this->now();
  options.report_hops = on_hop != nullptr;
  if (options.transport == TransportMode::kTls || !options.tls_ca_file.empty()) {
    // A CA file that cannot be read fails the discovery at once, naming it.
    if (auto context = tls_context(!options.tls_insecure, options.tls_ca_file); !context) {
      refuse(id, std::move(callback), StartError{StartErrc::kBadOption, context.error()});
      pump(now);
      return id;
    }
  }
  auto started = prober_.start(now, std::move(options));
  if (started) {
    pending_.push_back(Pending{id, *started, std::move(callback), std::move(on_hop)});
  } else {
    refuse(id, std::move(callback), std::move(started.error()));
  }
  pump(now);
  return id;
}

bool Driver::cancel(RequestId id) {
  const size_t before = pending();
  std::erase_if(ready_, [id](const Ready& r) { return r.id == id; });
  auto p =
      std::find_if(pending_.begin(), pending_.end(), [id](const Pending& e) { return e.id == id; });
  if (p != pending_.end()) {
    prober_.cancel(p->discovery);
    abandon_lookups(p->discovery);
    pending_.erase(p);
  }
  if (pending() == before) return false;
  arm(now());
  update_refs();
  return true;
}

size_t Driver::pending() const {
  return pending_.size() +
         static_cast<size_t>(
             std::count_if(ready_.begin(), ready_.end(), [](const Ready& r) { return !r.on_hop; }));
}

bool Driver::stop(RequestId id) {
  auto p =
      std::find_if(pending_.begin(), pending_.end(), [id](const Pending& e) { return e.id == id; });
  if (p == pending_.end()) return false;
  const TimePoint now = this->now();
  if (!prober_.stop(now, p->discovery)) return false;
  pump(now);  // The result is delivered from the timer, as every result is.
  return true;
}

void Driver::refuse(RequestId id, Callback callback, StartError error) {
  ready_.push_back(Ready{id,
                         std::move(callback),
                         failed_result(Status::kInvalidOptions, std::move(error.message)),
                         nullptr,
                         {}});
}

void Driver::abandon_lookups(DiscoveryId discovery) {
  for (const auto& [lookup, owner] : lookup_purposes_) {
    if (owner == discovery) lookups_.abandon(lookup);
  }
  std::erase_if(lookup_purposes_, [discovery](const auto& e) { return e.second == discovery; });
}

void Driver::on_lookup(LookupId lookup, const std::string& host, LookupResult result) {
  auto it = std::find_if(lookup_purposes_.begin(), lookup_purposes_.end(),
                         [lookup](const auto& e) { return e.first == lookup; });
  if (it == lookup_purposes_.end()) return;
  const DiscoveryId discovery = it->second;
  lookup_purposes_.erase(it);
  const TimePoint now = this->now();
  if (result) {
    prober_.on_resolved(now, discovery, host, *result);
  } else {
    prober_.on_resolved(now, discovery, host, {}, result.error());
  }
  pump(now);
}

void Driver::on_datagram(UdpPort& port, const Endpoint& from, std::span<const uint8_t> bytes) {
  const TimePoint now = this->now();
  prober_.on_datagram(now, port.local(), from, bytes);
  pump(now);
}

void Driver::on_send_failed(UdpPort& /*port*/, const Endpoint& to, int status) {
  on_send_error(to, status);
}

void Driver::on_send_error(const Endpoint& to, int status) {
  if (!is_unreachable(status)) {
    ++counters_.send_errors;
    return;
  }
  const TimePoint now = this->now();
  ++counters_.unreachable;
  prober_.on_unreachable(now, to);
  pump(now);
}

void Driver::on_timer() {
  ++counters_.timer_wakeups;
  const TimePoint now = this->now();
  if (prober_.next_timeout() <= now) prober_.on_timeout(now);
  pump(now);
  // Results leave the core only here, right before their callbacks: until then they count
  // against ProberConfig::max_discoveries there, the one place that bounds them.
  collect();
  deliver();  // Last: a callback may destroy this driver.
}

void Driver::pump(TimePoint now) {
  for (size_t round = 0; round < kMaxPumpRounds; ++round) {
    const bool sent_more = transmit(now);
    const bool resolved_more = answer_resolves(now);
    if (!sent_more && !resolved_more) break;
  }
  arm(now);
  update_refs();
}

// Sends what the core queued; true when the core was told of unreachable destinations
// (it may have queued more).
bool Driver::transmit(TimePoint now) {
  outbox_.clear();
  prober_.poll_transmit(outbox_);
  std::vector<Endpoint> unreachable;
  std::vector<Endpoint> unreachable_tcp;
  std::vector<std::pair<Endpoint, std::string>> unreachable_tls;
  for (const Datagram& d : outbox_) {
    if (d.transport == Transport::kTcp) {
      const int error = tcp_.send(d.remote, d.bytes);
      if (error != 0 && is_unreachable(error)) {
        unreachable_tcp.push_back(d.remote);
      } else if (error != 0) {
        ++counters_.send_errors;  // Retransmitted later.
      }
      continue;
    }
    if (d.transport == Transport::kTls) {
      auto context = tls_context(d.tls_verify, d.tls_ca_file);
      const int error = context ? tls_.send(d.remote, d.bytes, *context, d.tls_name) : UV_EINVAL;
      if (!context) {
        unreachable_tls.emplace_back(d.remote, context.error());
      } else if (error != 0 && is_unreachable(error)) {
        unreachable_tls.emplace_back(d.remote, uv_strerror(error));
      } else if (error != 0) {
        ++counters_.send_errors;
      }
      continue;
    }
    int error = 0;
    UdpPort* channel = port_for(d.remote.family, error);
    if (channel != nullptr) error = channel->send(d.remote, d.bytes);
    if (error == 0) continue;
    if (channel == nullptr || is_unreachable(error)) {
      if (std::find(unreachable.begin(), unreachable.end(), d.remote) == unreachable.end()) {
        unreachable.push_back(d.remote);
      }
    } else {
      ++counters_.send_errors;  // ENOBUFS and the like: the core retransmits.
    }
  }
  outbox_.clear();
  for (const Endpoint& remote : unreachable) {
    ++counters_.unreachable;
    prober_.on_unreachable(now, remote);
  }
  for (const Endpoint& remote : unreachable_tcp) {
    ++counters_.unreachable;
    prober_.on_unreachable(now, remote, Transport::kTcp);
  }
  for (const auto& [remote, why] : unreachable_tls) {
    ++counters_.unreachable;
    prober_.on_unreachable(now, remote, Transport::kTls, why);
  }
  return !unreachable.empty() || !unreachable_tcp.empty() || !unreachable_tls.empty();
}

// Starts a lookup for every name the core asks about; true when one failed at once and the
// core was answered (it may have queued more).
bool Driver::answer_resolves(TimePoint now) {
  bool answered = false;
  while (auto request = prober_.poll_resolve()) {
    auto lookup = lookups_.start(request->host);
    if (lookup) {
      ++counters_.lookups;
      lookup_purposes_.emplace_back(*lookup, request->id);
      continue;
    }
    prober_.on_resolved(now, request->id, request->host, {}, lookup.error());
    answered = true;
  }
  return answered;
}

void Driver::collect() {
  // Hops first: a discovery's hops come before its result.
  while (auto event = prober_.poll_hop()) {
    auto p = std::find_if(pending_.begin(), pending_.end(),
                          [&](const Pending& e) { return e.discovery == event->id; });
    if (p == pending_.end() || !p->on_hop) continue;
    ready_.push_back(Ready{p->id, nullptr, {}, p->on_hop, std::move(event->hop)});
  }
  while (auto result = prober_.poll_result()) {
    auto p = std::find_if(pending_.begin(), pending_.end(),
                          [&](const Pending& e) { return e.discovery == result->id; });
    if (p == pending_.end()) continue;  // Cancelled.
    abandon_lookups(p->discovery);
    ready_.push_back(Ready{p->id, std::move(p->callback), std::move(result->result), nullptr, {}});
    pending_.erase(p);
  }
}

void Driver::deliver() {
  bool destroyed = false;
  destroyed_ = &destroyed;
  while (!ready_.empty()) {
    Ready ready = std::move(ready_.front());
    ready_.pop_front();
    if (ready.on_hop) {
      ready.on_hop(ready.hop);
    } else {
      ready.callback(std::move(ready.result));
    }
    if (destroyed) return;
  }
  destroyed_ = nullptr;
  update_refs();
}

void Driver::arm(TimePoint now) {
  const TimePoint next = ready_.empty() && !prober_.has_results() && !prober_.has_hops()
                             ? prober_.next_timeout()
                             : now;
  if (next == kNever) {
    uv_timer_stop(&timer_->handle);
    return;
  }
  const Duration wait = next > now ? next - now : Duration::zero();
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  // libuv counts from the loop's cached time, which may lag: refresh it so the timer does
  // not fire early (an early wake-up only costs a re-arm).
  uv_update_time(loop_);
  uv_timer_start(&timer_->handle, DriverCallbacks::on_timer, static_cast<uint64_t>(ms), 0);
}

// The handles keep the caller's loop alive only while a caller waits for a result.
void Driver::update_refs() {
  // Nothing left to wait for on a connection: answers would have no discovery to go to.
  if (prober_.active() == 0) {
    tcp_.close_all();
    tls_.close_all();
  }
  const bool want = pending() > 0;
  if (want == refs_) return;
  refs_ = want;
  auto* timer = reinterpret_cast<uv_handle_t*>(&timer_->handle);
  if (want) {
    uv_ref(timer);
  } else {
    uv_unref(timer);
  }
  if (v4_) v4_->set_ref(want);
  if (v6_) v6_->set_ref(want);
  tcp_.set_ref(want);
  tls_.set_ref(want);
}

UdpPort* Driver::port_for(Family family, int& error) {
  if (family == Family::kNone) {
    error = UV_EINVAL;
    return nullptr;
  }
  std::unique_ptr<UdpPort>& slot = family == Family::kV6 ? v6_ : v4_;
  if (slot) return slot.get();
  Endpoint any;  // The wildcard address of the family, port 0.
  any.family = family;
  auto opened = UdpPort::bind(loop_, any, *this, udp_counters_, {kMaxQueuedSends});
  if (!opened) {
    error = UV_EAFNOSUPPORT;  // Treated as unreachable: no socket of this family here.
    return nullptr;
  }
  slot = std::move(*opened);
  slot->set_ref(refs_);
  return slot.get();
}

}  // namespace turnscout::client
