#pragma once
/// \file
/// A thread that runs a task at once and then every `interval` until stopped, for the trust
/// service's housekeeping (CRL publication, registry purges). stop() wakes it at once and joins;
/// the task is never running after stop() returns. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace guardian::cloud {

class PeriodicThread {
 public:
  PeriodicThread(std::chrono::milliseconds interval, std::function<void()> task)
      : interval_(interval), task_(std::move(task)) {}
  ~PeriodicThread() { stop(); }
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  /// Starts the thread (idempotent).
  void start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] {
      while (true) {
        task_();
        std::unique_lock lock(mutex_);
        if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) return;
      }
    });
  }
  /// Stops and joins (idempotent).
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::chrono::milliseconds interval_;
  std::function<void()> task_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace guardian::cloud
