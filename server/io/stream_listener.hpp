// The TCP and TLS listeners of one node, on its loop: accepts connections, moves their
// bytes through TLS (common/tls.hpp) when there is one, and hands what arrives to the
// StreamTable, which frames requests and decides every limit; each request is answered by
// the node's ProbeResponder as Via::kStream and the reply written back. The table's
// deadlines run on one timer. Nothing here decides anything: see stream_table.hpp.
//
// Lifetime: close() and run the loop until `on_closed` ran before destroying it. The process
// must ignore SIGPIPE: a client that resets its connection while a reply is written would
// kill it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "common/tls.hpp"
#include "common/udp_socket.hpp"
#include "server/core/events.hpp"
#include "server/core/responder.hpp"
#include "server/core/stream_table.hpp"

namespace turnscout::server {

class StreamListener {
 public:
  // Every reference must outlive the listener; all of it runs on `loop`'s thread.
  StreamListener(uv_loop_t* loop, ProbeResponder& responder, StreamTable& table, const Clock& clock,
                 EventLog& events);
  ~StreamListener();
  StreamListener(const StreamListener&) = delete;
  StreamListener& operator=(const StreamListener&) = delete;

  // Listens on `socket` (a bound TCP socket, see open_tcp_socket; adopted, closed on error):
  // TLS when `tls` is set (a server context); otherwise TCP, and TLS as well when
  // `tls_if_asked` is set, for a connection whose first byte starts TLS
  // (proto::starts_tls).
  Result<void, std::string> listen(BoundSocket socket, std::shared_ptr<TlsContext> tls,
                                   std::shared_ptr<TlsContext> tls_if_asked = nullptr);
  // Stops listening and closes every connection (counted kShutdown); `on_closed` runs from
  // the loop once libuv is done with all of it.
  void close(std::function<void()> on_closed = {});

  size_t connections() const { return connections_.size(); }

 private:
  struct Listener;
  struct Connection;
  struct Write;
  static void on_connection(uv_stream_t* server, int status);
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_written(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_timer(uv_timer_t* timer);
  static void release(uv_handle_t* handle);
  void accept(Listener& l);
  void received(Connection& c, std::span<const uint8_t> bytes);
  std::optional<StreamEnd> answer(Connection& c, std::span<const uint8_t> request);
  bool send(Connection& c, std::span<const uint8_t> bytes);
  bool flush_tls(Connection& c);
  bool queue_write(Connection& c, std::vector<uint8_t> bytes, bool bounded);
  void finish_sending(Connection& c);
  void end(Connection& c, StreamEnd why);
  void drop_forgotten(StreamId id);
  void finish_close();
  void arm_timer();

  uv_loop_t* loop_;
  ProbeResponder& responder_;
  StreamTable& table_;
  const Clock& clock_;
  EventLog& events_;
  uv_timer_t timer_{};
  std::vector<Listener*> listeners_;
  std::unordered_map<StreamId, Connection*> connections_;
  std::vector<uint8_t> read_buffer_;   // One read at a time on this loop.
  std::vector<uint8_t> reply_buffer_;  // Up to the largest STUN message.
  std::vector<uint8_t> plain_;         // Decrypted TLS bytes of one read.
  int open_handles_ = 0;
  bool closing_ = false;
  std::function<void()> on_closed_;
};

}  // namespace turnscout::server
