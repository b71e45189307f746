#pragma once
/// \file
/// One thread that owns a resource which is not thread-safe (an ESAPI context) and runs every
/// operation on it in order; callers on other threads block until their operation has run.
/// Private to secure-link.

#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace guardian::secure_link {

class OwnerThread {
 public:
  OwnerThread() = default;
  ~OwnerThread() { pool_.join(); }
  OwnerThread(const OwnerThread&) = delete;
  OwnerThread& operator=(const OwnerThread&) = delete;

  /// Runs `f` on the owner thread and returns its result. Must not be called from the owner
  /// thread itself (it would wait for itself).
  template <class F>
  auto run(F&& f) -> std::invoke_result_t<F> {
    using R = std::invoke_result_t<F>;
    auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
    auto done = task->get_future();
    boost::asio::post(pool_, [task] { (*task)(); });
    return done.get();
  }

 private:
  boost::asio::thread_pool pool_{1};
};

}  // namespace guardian::secure_link
