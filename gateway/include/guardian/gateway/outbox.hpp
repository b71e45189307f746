#pragma once
/// \file
/// The asynchronous face of the queue, used from the gateway's io_context thread.
///
///   pipeline ──submit()──▶ pending (memory, bounded) ──group commit──▶ OutboxStore (worker thread)
///                                                                        │
///   uplink ◀──on_committed(last_seq)── (posted back to io_context) ◀─────┘
///   uplink ──async_fetch(after, n)──▶ worker ──▶ handler(messages) on io_context
///   uplink ──acknowledge(seq)──▶ batched delete on the worker
///
/// A message is *accepted* once committed; the pipeline learns nothing else. Un-committed data in
/// memory is bounded by QueueConfig::max_pending_bytes: beyond it submit() refuses and counts.

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/outbox_message.hpp"
#include "guardian/gateway/outbox_store.hpp"

namespace guardian::gateway {

/// Counters of the queue's own behaviour.
struct OutboxCounters {
  std::uint64_t submitted = 0;      ///< messages handed to submit()
  std::uint64_t committed = 0;      ///< messages accepted (committed)
  std::uint64_t commits = 0;        ///< transactions (group commits)
  std::uint64_t rejected = 0;       ///< refused by back-pressure (never accepted)
  std::uint64_t commit_errors = 0;  ///< failed transactions (their messages were not accepted)
  std::uint64_t acknowledged = 0;   ///< deleted after PUBACK
};

/// All methods must be called on the io_context thread; all handlers run there too.
class Outbox {
 public:
  using CommittedHandler = std::function<void(std::uint64_t last_seq)>;
  using FetchHandler = std::function<void(result<std::vector<StoredMessage>>)>;

  Outbox(boost::asio::io_context& io, OutboxStore store, const config::QueueConfig& config);
  ~Outbox();  ///< commits what is pending, then stops the worker
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Queues `message` for the next group commit (within commit_window). Returns false — and
  /// counts it — when un-committed memory is above max_pending_bytes (back-pressure).
  bool submit(PendingMessage message);

  /// Called after every successful group commit with the highest seq now in the store.
  void on_committed(CommittedHandler handler);

  /// Reads up to `limit` messages with seq > after_seq; `handler` runs on the io_context.
  void async_fetch(std::uint64_t after_seq, std::size_t limit, FetchHandler handler);

  /// Marks `seq` as delivered (PUBACK received); deleted in the next batched delete.
  void acknowledge(std::uint64_t seq);

  /// Commits everything pending and waits for the worker to finish it (used at shutdown).
  void flush();

  /// The store's statistics as of the last worker operation, plus pending (un-committed) data.
  [[nodiscard]] QueueStats stats() const;
  [[nodiscard]] const OutboxCounters& counters() const noexcept;
  [[nodiscard]] std::uint64_t pending_bytes() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace guardian::gateway
