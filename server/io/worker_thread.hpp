// Workers 1..N-1: a thread with its own loop, its own sockets (SO_REUSEPORT siblings of
// worker 0's) and its own ProbeResponder. Worker 0 talks to it only through a mailbox
// (new snapshot, new admission settings, stop) guarded by a mutex and signalled with
// uv_async; the probe path itself takes no lock.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "common/udp_socket.hpp"
#include "server/core/config.hpp"
#include "server/core/responder.hpp"
#include "server/core/snapshot.hpp"
#include "server/io/data_plane.hpp"
#include "server/io/forward_queue.hpp"
#include "server/io/io_counters.hpp"

namespace turnscout::server {

// Where a worker thread sends control datagrams: the queue, then a wake-up of worker 0.
class QueueSink final : public ControlSink {
 public:
  // `wakeup` belongs to worker 0's loop; uv_async_send is safe from any thread.
  QueueSink(ForwardQueue& queue, uv_async_t& wakeup) : queue_(queue), wakeup_(wakeup) {}
  bool forward(const Endpoint& local, const Endpoint& remote, std::span<const uint8_t> bytes,
               bool known) override;

 private:
  ForwardQueue& queue_;
  uv_async_t& wakeup_;
};

class WorkerThread {
 public:
  // `sink` must outlive the thread.
  WorkerThread(size_t index, const ServerConfig& config, SnapshotPtr snapshot, QueueSink& sink,
               uint64_t seed);
  ~WorkerThread();
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;

  // Adopts the sockets (one per listen address, same order as `configured`) and starts the
  // thread. On error nothing is left running.
  Result<void, std::string> start(std::vector<BoundSocket> sockets,
                                  const std::vector<Endpoint>& configured);

  // From worker 0's thread; applied on the worker's thread.
  void publish(SnapshotPtr snapshot);
  void reconfigure(const AdmissionConfig& admission);
  // Closes the worker's sockets, ends its loop and joins the thread.
  void stop();

  // Read from other threads (metrics): relaxed atomic counters.
  const WorkerCounters& counters() const { return responder_.counters(); }
  const IoCounters& io_counters() const { return io_counters_; }
  size_t index() const { return index_; }

 private:
  struct Mail {
    SnapshotPtr snapshot;
    std::optional<AdmissionConfig> admission;
    bool stop = false;
  };
  static void on_mail(uv_async_t* async);
  void apply(Mail mail);
  void run();
  void post(Mail mail);

  size_t index_;
  SteadyClock clock_;
  uv_loop_t loop_{};
  uv_async_t mailbox_async_{};
  ProbeResponder responder_;
  IoCounters io_counters_;
  DataPlane data_;
  std::mutex mail_mutex_;
  Mail mail_;
  std::thread thread_;
};

}  // namespace turnscout::server
