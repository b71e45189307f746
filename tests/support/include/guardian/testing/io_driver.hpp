#pragma once
/// \file
/// A real io_context run by the test thread: run_until() runs it (a work guard keeps run_for
/// blocking for events rather than spinning) until a condition holds or a deadline passes — the
/// way to wait for asynchronous work without sleeping.

#include <chrono>
#include <functional>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace guardian::testing {

class IoDriver {
 public:
  IoDriver() : guard_(boost::asio::make_work_guard(io_)) {}
  [[nodiscard]] boost::asio::io_context& io() { return io_; }

  /// Runs the io_context until `done()` or `deadline`; returns done().
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= end) return done();
      io_.run_for(std::chrono::milliseconds{5});
    }
    return true;
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
};

}  // namespace guardian::testing
