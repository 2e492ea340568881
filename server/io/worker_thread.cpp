#include "server/io/worker_thread.hpp"

#include <fmt/format.h>

#include "common/format.hpp"
#include "common/logging.hpp"

namespace turnscout::server {

bool QueueSink::forward(const Endpoint& local, const Endpoint& remote,
                        std::span<const uint8_t> bytes, bool known) {
  if (!queue_.push(local, remote, bytes, known)) return false;
  uv_async_send(&wakeup_);
  return true;
}

WorkerThread::WorkerThread(size_t index, const ServerConfig& config, SnapshotPtr snapshot,
                           QueueSink& sink, uint64_t seed)
    : index_(index),
      responder_(config.admission, seed),
      data_(&loop_, responder_, sink, io_counters_, clock_) {
  responder_.set_snapshot(std::move(snapshot));
}

WorkerThread::~WorkerThread() {
  stop();
}

Result<void, std::string> WorkerThread::start(std::vector<BoundSocket> sockets,
                                              const std::vector<Endpoint>& configured) {
  // Handles are set up here, before the thread exists; from then on only the thread
  // touches the loop (starting the thread orders these writes before its first read).
  if (const int rc = uv_loop_init(&loop_); rc != 0) {
    close_sockets(sockets);
    return unexpected(fmt::format("worker {}: uv_loop_init: {}", index_, uv_strerror(rc)));
  }
  uv_async_init(&loop_, &mailbox_async_, &WorkerThread::on_mail);
  mailbox_async_.data = this;
  if (auto added = data_.add_ports(sockets, configured); !added) {
    data_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&mailbox_async_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    return unexpected(fmt::format("worker {}: {}", index_, added.error()));
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

void WorkerThread::run() {
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Every handle is closed (stop() posted the request); nothing may be left behind.
  if (const int rc = uv_loop_close(&loop_); rc != 0) {
    logger().error("worker {}: loop closed with handles still open: {}", index_, uv_strerror(rc));
  }
}

void WorkerThread::post(Mail mail) {
  {
    std::lock_guard<std::mutex> lock(mail_mutex_);
    if (mail.snapshot) mail_.snapshot = std::move(mail.snapshot);
    if (mail.admission) mail_.admission = std::move(mail.admission);
    mail_.stop = mail_.stop || mail.stop;
  }
  uv_async_send(&mailbox_async_);
}

void WorkerThread::publish(SnapshotPtr snapshot) {
  if (!thread_.joinable()) return;
  post(Mail{std::move(snapshot), std::nullopt, false});
}

void WorkerThread::reconfigure(const AdmissionConfig& admission) {
  if (!thread_.joinable()) return;
  post(Mail{nullptr, admission, false});
}

void WorkerThread::stop() {
  if (!thread_.joinable()) return;
  post(Mail{nullptr, std::nullopt, true});
  thread_.join();
}

void WorkerThread::on_mail(uv_async_t* async) {
  auto* self = static_cast<WorkerThread*>(async->data);
  Mail mail;
  {
    std::lock_guard<std::mutex> lock(self->mail_mutex_);
    mail = std::move(self->mail_);
    self->mail_ = Mail{};
  }
  self->apply(std::move(mail));
}

void WorkerThread::apply(Mail mail) {
  if (mail.snapshot) responder_.set_snapshot(std::move(mail.snapshot));
  if (mail.admission) {
    responder_.reconfigure(*mail.admission, clock_.now());
  }
  if (mail.stop) {
    data_.close();
    uv_close(reinterpret_cast<uv_handle_t*>(&mailbox_async_), nullptr);
  }
}

}  // namespace turnscout::server
