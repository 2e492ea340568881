#include "client/io/driver.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "base/quote.hpp"
#include "client/core/blacklist.hpp"
#include "common/format.hpp"

namespace turnscout::client {

struct Driver::Pending {
  RequestId id = 0;
  Callback callback;
  DriverRequest request;
  TimePoint started{};
  TimePoint deadline{};                  // Of the name lookups.
  std::vector<uint16_t> ports;           // Per given root.
  std::vector<std::vector<Root>> roots;  // Per given root: its addresses once known.
  std::vector<LookupId> lookups;         // Still running.
  std::vector<PeerError> lookup_errors;  // Root names that did not resolve.
  std::optional<DiscoveryId> discovery;  // Once the core runs it.
  bool has_names = false;                // Some roots were given as host names.
  Duration before_core{};                // Time spent resolving, added to total_time.
};

struct Driver::Timer {
  uv_timer_t handle{};
  Driver* owner = nullptr;  // Null once the driver is gone and the handle closing.
};

namespace {

// A pump ends when the core stops reacting to what the driver tells it; this only guards
// against a core that would keep producing unreachable destinations forever.
constexpr size_t kMaxPumpRounds = 1000;
constexpr Duration kMaxLookupTime = std::chrono::hours{1};

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

// A root as given: an address (numeric), or a host name to resolve and its port.
struct RootText {
  std::optional<Endpoint> address;
  std::string host;
  uint16_t port = 0;
};

bool valid_host_name(std::string_view host) {
  if (host.empty() || host.size() > 253 || host.front() == '-' || host.front() == '.') {
    return false;
  }
  return std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
  });
}

Result<RootText, std::string> parse_root(std::string_view text, uint16_t default_port) {
  if (auto address = parse_endpoint(text, default_port)) return RootText{*address, {}, 0};
  std::string_view host = text;
  uint16_t port = default_port;
  if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    host = text.substr(0, colon);
    const std::string_view digits = text.substr(colon + 1);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size()) host = {};
  }
  if (!valid_host_name(host)) {
    return unexpected(
        fmt::format("root {}: expected IP:PORT, [IPv6]:PORT or HOST[:PORT]", quoted(text)));
  }
  return RootText{std::nullopt, std::string(host), port};
}

// The roots as given, and the blacklist checked against their number (the core counts
// addresses, of which a host name may have several).
Result<std::vector<RootText>, std::string> parse_roots(const DriverRequest& request) {
  std::vector<RootText> out;
  for (const std::string& text : request.roots) {
    auto root = parse_root(text, request.default_port);
    if (!root) return unexpected(root.error());
    out.push_back(std::move(*root));
  }
  if (!out.empty()) {
    auto blacklist = Blacklist::parse(request.options.blacklist, out.size());
    if (!blacklist) return unexpected(blacklist.error());
  }
  return out;
}

PeerError unresolved(const std::string& host, std::string detail) {
  PeerError error;
  error.name = host;
  error.kind = PeerErrorKind::kUnreachable;
  error.detail = std::move(detail);
  return error;
}

// `index:N` names the N-th root as given; a name with several addresses is several roots of
// the core, so the token becomes one per address (none when the name did not resolve).
std::vector<std::string> expand_root_indexes(const std::vector<std::string>& tokens,
                                             const std::vector<size_t>& first,
                                             const std::vector<size_t>& count) {
  constexpr std::string_view kIndex = "index:";
  std::vector<std::string> out;
  for (const std::string& token : tokens) {
    size_t n = 0;
    const char* begin = token.data() + kIndex.size();
    const char* end = token.data() + token.size();
    if (!token.starts_with(kIndex) || std::from_chars(begin, end, n).ec != std::errc{} ||
        n >= first.size()) {
      out.push_back(token);  // Validated before; kept for the core to judge otherwise.
      continue;
    }
    for (size_t i = 0; i < count[n]; ++i)
      out.push_back(fmt::format("index:{}", first[n] + i));
  }
  return out;
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
  // The sockets close and the lookups are abandoned by their own destructors.
}

TimePoint Driver::now() const {
  const auto ns = std::chrono::nanoseconds{static_cast<int64_t>(uv_hrtime())};
  return TimePoint{std::chrono::duration_cast<Duration>(ns)};
}

RequestId Driver::discover(DriverRequest request, Callback callback) {
  const RequestId id = next_id_++;
  const TimePoint now = this->now();
  const size_t limit = std::max<size_t>(prober_.config().max_discoveries, 1);
  if (pending() >= limit) {
    refuse(id, std::move(callback),
           fmt::format("too many discoveries at once: {} not yet answered", pending()));
    pump(now);
    return id;
  }
  auto p = std::make_unique<Pending>();
  p->id = id;
  p->started = now;
  p->deadline = now + std::clamp(request.options.deadline, Duration::zero(), kMaxLookupTime);
  auto parsed = parse_roots(request);
  if (!parsed) {
    refuse(id, std::move(callback), parsed.error());
    pump(now);
    return id;
  }
  p->callback = std::move(callback);
  p->request = std::move(request);
  p->roots.resize(parsed->size());
  for (size_t i = 0; i < parsed->size(); ++i) {
    const RootText& root = (*parsed)[i];
    p->ports.push_back(root.port);
    if (root.address) {
      p->roots[i].push_back(Root{*root.address, {}});
      continue;
    }
    p->has_names = true;
    auto lookup = lookups_.start(root.host);
    if (!lookup) {
      p->lookup_errors.push_back(unresolved(root.host, "name lookup failed: " + lookup.error()));
      continue;
    }
    ++counters_.lookups;
    lookup_purposes_.emplace_back(*lookup, Lookup{id, i, std::nullopt});
    p->lookups.push_back(*lookup);
  }
  Pending& pending = *p;
  pending_.push_back(std::move(p));
  if (pending.lookups.empty()) start_core(pending, now);
  pump(now);
  return id;
}

RequestId Driver::reject(std::string failure, Callback callback) {
  const RequestId id = next_id_++;
  refuse(id, std::move(callback), std::move(failure));
  pump(now());
  return id;
}

bool Driver::cancel(RequestId id) {
  auto ready =
      std::find_if(ready_.begin(), ready_.end(), [id](const Ready& r) { return r.id == id; });
  if (ready != ready_.end()) {
    ready_.erase(ready);
  } else {
    Pending* p = find(id);
    if (p == nullptr) return false;
    if (p->discovery) prober_.cancel(*p->discovery);
    for (LookupId lookup : p->lookups) {
      lookups_.abandon(lookup);
      std::erase_if(lookup_purposes_, [lookup](const auto& e) { return e.first == lookup; });
    }
    erase(id);
  }
  arm(now());
  update_refs();
  return true;
}

// May move `pending` to ready_ and erase it: callers must not use it afterwards.
void Driver::start_core(Pending& p, TimePoint now) {
  DiscoverOptions options = std::move(p.request.options);
  std::vector<size_t> first;
  std::vector<size_t> count;
  for (std::vector<Root>& addresses : p.roots) {
    first.push_back(options.roots.size());
    count.push_back(addresses.size());
    options.roots.insert(options.roots.end(), addresses.begin(), addresses.end());
  }
  options.blacklist = expand_root_indexes(options.blacklist, first, count);
  options.resolve_host_names = true;
  if (p.has_names) {
    if (options.roots.empty()) {
      fail(p,
           fmt::format("no root resolved: {} {}", p.lookup_errors.front().name,
                       p.lookup_errors.front().detail),
           {});
      return;
    }
    if (now >= p.deadline) {
      fail(p,
           fmt::format("the timeout ({}) passed while resolving root names",
                       format_duration(options.deadline)),
           {});
      return;
    }
    // What is left of the timeout after the lookups.
    options.deadline -= now - p.started;
    p.before_core = now - p.started;
  }
  auto started = prober_.start(now, std::move(options));
  if (!started) {
    refuse(p.id, std::move(p.callback), started.error());
    erase(p.id);
    return;
  }
  p.discovery = *started;
}

void Driver::refuse(RequestId id, Callback callback, std::string failure) {
  DiscoveryResult result;
  result.failure = std::move(failure);
  ready_.push_back(Ready{id, std::move(callback), std::move(result), true});
}

void Driver::fail(Pending& p, std::string failure, DiscoveryResult result) {
  result.ok = false;
  result.failure = std::move(failure);
  result.total_time = now() - p.started;
  result.errors.insert(result.errors.end(), p.lookup_errors.begin(), p.lookup_errors.end());
  ready_.push_back(Ready{p.id, std::move(p.callback), std::move(result), false});
  erase(p.id);
}

void Driver::on_lookup(LookupId lookup, const std::string& host, LookupResult result) {
  auto it = std::find_if(lookup_purposes_.begin(), lookup_purposes_.end(),
                         [lookup](const auto& e) { return e.first == lookup; });
  if (it == lookup_purposes_.end()) return;
  const Lookup purpose = it->second;
  lookup_purposes_.erase(it);
  const TimePoint now = this->now();
  if (purpose.discovery) {
    const std::vector<Endpoint> none;
    prober_.on_resolved(now, *purpose.discovery, host, result ? *result : none);
    pump(now);
    return;
  }
  Pending* p = find(purpose.request);
  if (p == nullptr) return;
  std::erase(p->lookups, lookup);
  if (result) {
    for (Endpoint address : *result) {
      address.port = p->ports[purpose.root];
      p->roots[purpose.root].push_back(Root{address, host});
    }
  } else {
    p->lookup_errors.push_back(unresolved(host, "does not resolve: " + result.error()));
  }
  if (p->lookups.empty()) start_core(*p, now);
  pump(now);
}

void Driver::on_datagram(const Endpoint& local, const Endpoint& from,
                         std::span<const uint8_t> bytes) {
  const TimePoint now = this->now();
  prober_.on_datagram(now, local, from, bytes);
  pump(now);
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
  // Requests whose root names did not resolve within their timeout.
  for (size_t i = 0; i < pending_.size();) {
    Pending& p = *pending_[i];
    if (p.discovery || p.deadline > now) {
      ++i;
      continue;
    }
    for (LookupId lookup : p.lookups) {
      lookups_.abandon(lookup);
      std::erase_if(lookup_purposes_, [lookup](const auto& e) { return e.first == lookup; });
    }
    fail(p,
         fmt::format("the timeout ({}) passed while resolving root names",
                     format_duration(p.deadline - p.started)),
         {});
  }
  pump(now);
  deliver();  // Last: a callback may destroy this driver.
}

void Driver::pump(TimePoint now) {
  for (size_t round = 0; round < kMaxPumpRounds; ++round) {
    const bool sent_more = transmit(now);
    const bool resolved_more = answer_resolves(now);
    if (!sent_more && !resolved_more) break;
  }
  collect(now);
  arm(now);
  update_refs();
}

// Sends what the core queued; true when the core was told of unreachable destinations
// (it may have queued more).
bool Driver::transmit(TimePoint now) {
  outbox_.clear();
  prober_.poll_transmit(outbox_);
  std::vector<Endpoint> unreachable;
  for (const Datagram& d : outbox_) {
    int error = 0;
    UdpChannel* channel = channel_for(d.remote.family, error);
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
  return !unreachable.empty();
}

// Starts a lookup for every name the core asks about; true when one failed at once and the
// core was answered (it may have queued more).
bool Driver::answer_resolves(TimePoint now) {
  bool answered = false;
  while (auto request = prober_.poll_resolve()) {
    auto lookup = lookups_.start(request->host);
    if (lookup) {
      ++counters_.lookups;
      lookup_purposes_.emplace_back(*lookup, Lookup{0, 0, request->id});
      continue;
    }
    prober_.on_resolved(now, request->id, request->host, {});
    answered = true;
  }
  return answered;
}

void Driver::collect(TimePoint /*now*/) {
  while (auto result = prober_.poll_result()) {
    Pending* p = find_core(result->id);
    if (p == nullptr) continue;  // Cancelled.
    result->errors.insert(result->errors.end(), p->lookup_errors.begin(), p->lookup_errors.end());
    result->total_time += p->before_core;
    ready_.push_back(Ready{p->id, std::move(p->callback), std::move(*result), false});
    erase(p->id);
  }
}

void Driver::deliver() {
  bool destroyed = false;
  destroyed_ = &destroyed;
  while (!ready_.empty()) {
    Ready ready = std::move(ready_.front());
    ready_.pop_front();
    ready.callback(std::move(ready.result), ready.refused);
    if (destroyed) return;
  }
  destroyed_ = nullptr;
  update_refs();
}

void Driver::arm(TimePoint now) {
  TimePoint next = ready_.empty() ? prober_.next_timeout() : now;
  for (const auto& p : pending_) {
    if (!p->discovery) next = std::min(next, p->deadline);
  }
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
}

UdpChannel* Driver::channel_for(Family family, int& error) {
  if (family == Family::kNone) {
    error = UV_EINVAL;
    return nullptr;
  }
  std::unique_ptr<UdpChannel>& slot = family == Family::kV6 ? v6_ : v4_;
  if (slot) return slot.get();
  UdpChannelEvents events;
  events.on_datagram = [this](const Endpoint& local, const Endpoint& from,
                              std::span<const uint8_t> bytes) { on_datagram(local, from, bytes); };
  events.on_send_error = [this](const Endpoint& to, int status) { on_send_error(to, status); };
  auto opened = UdpChannel::open(loop_, family, std::move(events));
  if (!opened) {
    error = opened.error();
    return nullptr;
  }
  slot = std::move(*opened);
  slot->set_ref(refs_);
  return slot.get();
}

Driver::Pending* Driver::find(RequestId id) {
  for (const auto& p : pending_) {
    if (p->id == id) return p.get();
  }
  return nullptr;
}

Driver::Pending* Driver::find_core(DiscoveryId id) {
  for (const auto& p : pending_) {
    if (p->discovery == id) return p.get();
  }
  return nullptr;
}

void Driver::erase(RequestId id) {
  std::erase_if(pending_, [id](const auto& p) { return p->id == id; });
}

}  // namespace turnscout::client
