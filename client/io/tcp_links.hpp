// The TCP connections of the client's driver: Probes the core sends with Transport::kTcp
// (or kTls: one instance per transport) leave on a connection to their server, opened on
// first use and reused while requests are out on it; with TLS, inside a session whose
// certificate check the send names (common/tls.hpp). What comes back is framed (RFC 8489
// section 6.2.2) and handed on whole.
// A connection closes once every request sent on it has its answer, when the server
// closes it, on any error, after kQuiet without a byte from the server (a SYN lost in a
// black hole, or a server that accepts and never answers), or when the driver has nothing
// left to wait for (close_all). Bounded: at most kMaxLinks connections (more sends are
// dropped, and the core's retransmission covers them) and one message of buffered input
// each.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "common/tls.hpp"

namespace turnscout::client {

class TcpLinks {
 public:
  static constexpr size_t kMaxLinks = 64;
  static constexpr uint64_t kQuietMs = 5000;
  using OnMessage = std::function<void(const Endpoint& remote, std::span<const uint8_t> bytes)>;
  // A connection to `remote` could not be made (refused, unreachable) or its TLS handshake
  // failed (`why` says how: a refused certificate): called from the loop.
  using OnFailed = std::function<void(const Endpoint& remote, std::string_view why)>;

  // `quiet_ms`: kQuietMs but in tests.
  TcpLinks(uv_loop_t* loop, OnMessage on_message, OnFailed on_failed, uint64_t quiet_ms = kQuietMs);
  // Closes every connection; their memory is freed by libuv's close callbacks.
  ~TcpLinks();
  TcpLinks(const TcpLinks&) = delete;
  TcpLinks& operator=(const TcpLinks&) = delete;

  // Queues one request for `remote`: 0, or the libuv error that dropped it at once (a
  // connect the kernel refused, such as to a broadcast address; UV_ENOBUFS with kMaxLinks
  // open). A connection that fails later is reported through OnFailed.
  // With `tls`, the connection speaks TLS and checks the server's certificate against
  // `tls_name` (empty: `remote`'s address); an open one is reused only for the same
  // remote, context and name.
  int send(const Endpoint& remote, std::span<const uint8_t> bytes,
           std::shared_ptr<TlsContext> tls = nullptr, const std::string& tls_name = "");
  void close_all();
  // Open connections hold the loop only while a caller waits for a result.
  void set_ref(bool ref);
  size_t size() const { return links_.size(); }

 private:
  struct Link;
  static void on_connect(uv_connect_t* req, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_closed(uv_handle_t* handle);
  static void on_quiet(uv_timer_t* timer);
  bool write(Link& link, std::vector<uint8_t> bytes);
  bool write_raw(Link& link, std::vector<uint8_t> bytes);
  // Ciphertext the TLS session has for the server, written; false when the link closed.
  bool flush_tls(Link& link);
  void fail(Link& link, std::string why);
  void close(Link& link);

  uv_loop_t* loop_;
  OnMessage on_message_;
  OnFailed on_failed_;
  uint64_t quiet_ms_;
  // By remote address; a TLS link by remote, context and certificate name as well.
  std::unordered_map<std::string, Link*> links_;
  bool ref_ = false;
};

}  // namespace turnscout::client
