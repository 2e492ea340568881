#include "server/core/parent_links.hpp"

#include <algorithm>

#include "base/bytes.hpp"
#include "base/duration.hpp"
#include "base/endpoint.hpp"
#include "common/format.hpp"
#include "proto/error_response.hpp"
#include "server/core/heartbeat_auth.hpp"

namespace turnscout::server {
namespace {

// Large enough for any Heartbeat: name, four addresses, the fixed fields and integrity.
constexpr size_t kBufferSize = 1024;

std::optional<Endpoint> local_for(const std::vector<Endpoint>& listen, const Endpoint& parent) {
  for (const Endpoint& l : listen) {
    if (l.family == parent.family) return l;
  }
  return std::nullopt;
}

// With a key, a success response must carry a valid MESSAGE-INTEGRITY-SHA256.
bool key_ok(const proto::MessageView& view, const ParentLinksConfig& config) {
  const ClusterKeys keys = ClusterKeys::of(config.key, config.accept_key);
  return keys.empty() || verify_signed(view, keys);
}

}  // namespace

ParentLinks::ParentLinks(ParentLinksConfig config, TimePoint now, EventLog& events)
    : config_(std::move(config)), events_(events), buffer_(kBufferSize) {
  for (const Endpoint& p : config_.parents)
    links_.push_back(make_link(p, now));
}

ParentLinks::Link ParentLinks::make_link(const Endpoint& address, TimePoint now) const {
  Link link;
  link.address = address;
  link.local = local_for(config_.listen, address);
  link.next_send = now;
  link.leave_next = now;
  link.leave_done = !link.local;  // Nothing can be sent to it: no Leave to wait for.
  if (!link.local) {
    events_.warn("parent {}: no listen address of its family, no heartbeats to it", address);
  }
  return link;
}

void ParentLinks::reconfigure(TimePoint now, ParentLinksConfig config) {
  config_ = std::move(config);
  std::vector<Link> next;
  for (const Endpoint& p : config_.parents) {
    auto it =
        std::find_if(links_.begin(), links_.end(), [&](const Link& l) { return l.address == p; });
    if (it == links_.end()) {
      next.push_back(make_link(p, now));
      continue;
    }
    Link link = std::move(*it);
    link.local = local_for(config_.listen, p);
    link.next_send = std::min(link.next_send, now + config_.interval);
    next.push_back(std::move(link));
  }
  for (const Link& l : links_) {
    if (std::none_of(next.begin(), next.end(),
                     [&](const Link& n) { return n.address == l.address; }))
      events_.info("parent {} removed by reload", l.address);
  }
  links_ = std::move(next);
}

uint64_t ParentLinks::next_timestamp(Link& link, WallTime wall) const {
  const auto wall_ms = static_cast<uint64_t>(std::max<int64_t>(wall.time_since_epoch().count(), 0));
  link.last_timestamp_ms = std::max(wall_ms, link.last_timestamp_ms + 1);
  return link.last_timestamp_ms;
}

void ParentLinks::send(const Link& link, size_t size, std::vector<Datagram>& out) {
  out.push_back({*link.local, link.address, {buffer_.begin(), buffer_.begin() + size}});
}

void ParentLinks::send_heartbeat(TimePoint now, WallTime wall, Link& link,
                                 const proto::HeartbeatRequest& content, Random& random,
                                 std::vector<Datagram>& out) {
  link.next_retry = kNever;  // Set again below once this one is on its way.
  proto::HeartbeatRequest request = content;
  random.fill(request.transaction_id);
  request.timestamp_ms = next_timestamp(link, wall);
  auto size = proto::encode_heartbeat_request(request, bytes_of(config_.key), buffer_);
  if (!size) {
    if (!encode_error_logged_) {
      events_.error("cannot encode a heartbeat: {}", proto::to_string(size.error()));
      encode_error_logged_ = true;
    }
    return;
  }
  send(link, *size, out);
  link.sent[link.sent_next] = {request.transaction_id, now, request.timestamp_ms, true};
  link.sent_next = (link.sent_next + 1) % kTracked;
  ++link.heartbeats_sent;
  link.next_retry =
      link.state == State::kUp && link.retries < kRetries ? now + retry_delay(link) : kNever;
}

Duration ParentLinks::retry_delay(const Link& link) const {
  return std::clamp(link.last_rtt * 4, kRetryFloor, std::max(kRetryFloor, config_.interval / 3));
}

void ParentLinks::send_leave(TimePoint now, WallTime wall, Link& link, const std::string& name,
                             Random& random, std::vector<Datagram>& out) {
  proto::LeaveRequest request;
  random.fill(request.transaction_id);
  request.node_name = name;
  request.timestamp_ms = next_timestamp(link, wall);
  auto size = proto::encode_leave_request(request, bytes_of(config_.key), buffer_);
  link.leave_next = now + kLeaveRetry;
  if (!size) {
    events_.error("cannot encode a Leave: {}", proto::to_string(size.error()));
    link.leave_done = true;
    return;
  }
  send(link, *size, out);
  link.leave_tids.push_back(request.transaction_id);
}

void ParentLinks::on_timeout(TimePoint now, WallTime wall, const proto::HeartbeatRequest& content,
                             Random& random, std::vector<Datagram>& out) {
  if (leaving_) {
    if (leave_expired_) return;
    if (now >= leave_deadline_) {
      for (const Link& l : links_) {
        if (!l.leave_done) events_.warn("parent {} did not acknowledge our Leave", l.address);
      }
      leave_expired_ = true;
      return;
    }
    for (Link& link : links_) {
      if (link.local && !link.leave_done && now >= link.leave_next) {
        send_leave(now, wall, link, content.node_name, random, out);
      }
    }
    return;
  }
  for (Link& link : links_) {
    if (!link.local) continue;
    if (now >= link.next_send) {
      if (link.unanswered >= config_.missed && link.state != State::kSilent) {
        events_.warn("parent {} silent ({} heartbeats unanswered)", link.address, link.unanswered);
        link.state = State::kSilent;
      }
      link.retries = 0;
      send_heartbeat(now, wall, link, content, random, out);
      ++link.unanswered;  // Intervals, not datagrams: retries do not count.
      link.next_send += config_.interval;
      if (link.next_send <= now) link.next_send = now + config_.interval;
    } else if (now >= link.next_retry) {
      ++link.retries;
      send_heartbeat(now, wall, link, content, random, out);
    }
  }
}

TimePoint ParentLinks::next_timeout() const {
  TimePoint next = kNever;
  if (leaving_) {
    if (leave_done()) return kNever;
    next = leave_deadline_;
    for (const Link& l : links_) {
      if (l.local && !l.leave_done) next = std::min(next, l.leave_next);
    }
    return next;
  }
  for (const Link& l : links_) {
    if (l.local) next = std::min({next, l.next_send, l.next_retry});
  }
  return next;
}

void ParentLinks::start_leave(TimePoint now) {
  if (leaving_) return;
  leaving_ = true;
  leave_deadline_ = now + kLeaveBudget;
  for (Link& link : links_) {
    link.leave_next = now;
    link.leave_done = !link.local;
  }
}

bool ParentLinks::leave_done() const {
  if (!leaving_) return false;
  return leave_expired_ ||
         std::all_of(links_.begin(), links_.end(), [](const Link& l) { return l.leave_done; });
}

ResponseMatch ParentLinks::on_response(TimePoint now, const Endpoint& source,
                                       const proto::MessageView& response) {
  auto it = std::find_if(links_.begin(), links_.end(),
                         [&](const Link& l) { return l.address == source; });
  if (it == links_.end()) return ResponseMatch::kUnmatched;
  switch (response.method()) {
    case proto::Method::kHeartbeat:
      return on_heartbeat_answer(now, *it, response);
    case proto::Method::kLeave:
      return on_leave_answer(*it, response);
    default:
      return ResponseMatch::kUnmatched;
  }
}

void ParentLinks::note_error(Link& link, const proto::MessageView& view, const char* what) {
  auto error = proto::decode_error_response(view);
  const uint16_t code = error ? error->code : proto::error_code::kServerError;
  if (code != link.last_error) {
    events_.warn("parent {} rejects our {}: {} {}", link.address, what, code,
                 error ? error->reason : std::string());
  }
  link.last_error = code;
}

ResponseMatch ParentLinks::on_heartbeat_answer(TimePoint now, Link& link,
                                               const proto::MessageView& view) {
  const bool error = view.message_class() == proto::MessageClass::kError;
  uint64_t echoed_ms = 0;
  if (error) {
    if (!proto::decode_error_response(view)) return ResponseMatch::kMalformed;
  } else {
    auto response = proto::decode_heartbeat_response(view);
    if (!response) return ResponseMatch::kMalformed;
    if (!key_ok(view, config_)) return ResponseMatch::kBadIntegrity;
    echoed_ms = response->timestamp_ms;
  }
  // PROTOCOL.md §10: a success response echoes the request's TIMESTAMP.
  auto sent = std::find_if(link.sent.begin(), link.sent.end(), [&](const Sent& s) {
    return s.pending && s.tid == view.transaction_id() && (error || s.timestamp_ms == echoed_ms);
  });
  if (sent == link.sent.end()) return ResponseMatch::kUnmatched;
  sent->pending = false;
  link.next_retry = kNever;  // Answered, if only with a refusal: another would not help.
  if (error) {
    note_error(link, view, "heartbeats");
    return ResponseMatch::kMatched;
  }
  link.last_rtt = now - sent->at;
  link.last_error = 0;
  link.unanswered = 0;
  ++link.heartbeats_answered;
  if (link.state == State::kSilent) {
    events_.info("parent {} back (rtt {})", link.address, format_duration(link.last_rtt));
  } else if (link.state == State::kUnknown) {
    events_.info("parent {} up (rtt {})", link.address, format_duration(link.last_rtt));
  }
  link.state = State::kUp;
  return ResponseMatch::kMatched;
}

ResponseMatch ParentLinks::on_leave_answer(Link& link, const proto::MessageView& view) {
  const bool error = view.message_class() == proto::MessageClass::kError;
  if (error) {
    if (!proto::decode_error_response(view)) return ResponseMatch::kMalformed;
  } else {
    if (!proto::decode_leave_response(view)) return ResponseMatch::kMalformed;
    if (!key_ok(view, config_)) return ResponseMatch::kBadIntegrity;
  }
  if (std::find(link.leave_tids.begin(), link.leave_tids.end(), view.transaction_id()) ==
      link.leave_tids.end()) {
    return ResponseMatch::kUnmatched;
  }
  if (link.leave_done) return ResponseMatch::kMatched;
  // A parent that rejects our Leave no longer counts us as a child: retrying cannot help.
  if (error) {
    note_error(link, view, "Leave");
  } else {
    events_.info("parent {} acknowledged our Leave", link.address);
  }
  link.leave_done = true;
  return ResponseMatch::kMatched;
}

std::vector<ParentStatus> ParentLinks::status() const {
  std::vector<ParentStatus> out;
  out.reserve(links_.size());
  for (const Link& l : links_) {
    out.push_back({l.address, l.state == State::kUp, l.state == State::kSilent, l.last_rtt,
                   l.last_error, l.heartbeats_sent, l.heartbeats_answered});
  }
  return out;
}

}  // namespace turnscout::server
