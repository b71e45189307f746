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
///
/// Group commit: the first submission into an empty buffer arms a commit_window timer; the buffer
/// is committed when it fires, or at once when a quarter of max_pending_bytes (or 1024 messages)
/// is waiting. While one commit runs on the worker, new submissions accumulate and are committed
/// as soon as it finishes — the slower the disk, the larger the batches.
///
/// Acknowledged messages are remembered until their (batched) delete has completed, and
/// async_fetch never returns one of them: a re-send after a reconnect repeats only messages the
/// broker has not acknowledged.
///
/// Nothing is dropped silently: a refused submission is recorded (reason backpressure, or
/// disk_full while the disk is full) and handed to the store with the next commit, which puts it
/// in the durable gap ledger with whatever the bounds dropped. A housekeeping timer applies
/// max_age (OutboxStore::expire) and, every gap_interval, turns the ledger into gap messages
/// (OutboxStore::report_gaps), which are committed like any other message.

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
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
  std::uint64_t commit_errors = 0;  ///< failed transactions (their messages stay pending, not yet
                                    ///< accepted, and are retried with back-off)
  std::uint64_t acknowledged = 0;   ///< deleted after PUBACK
  std::uint64_t delete_errors = 0;  ///< failed deletes (retried; until then never re-fetched)
  std::uint64_t disk_full_errors = 0;  ///< commits that failed for lack of disk space
  std::uint64_t expired = 0;           ///< messages dropped by max_age
  std::uint64_t gaps_reported = 0;     ///< gap messages committed
  std::uint64_t refused = 0;           ///< messages the broker refused, taken out (refuse())
  std::string last_error;           ///< the last commit/delete error, for health
};

/// All methods must be called on the io_context thread; all handlers run there too.
class Outbox {
 public:
  using CommittedHandler = std::function<void(std::uint64_t last_seq)>;
  using FetchHandler = std::function<void(result<std::vector<StoredMessage>>)>;

  /// Takes ownership of `store`, which from now on is used only on the Outbox's worker thread.
  Outbox(boost::asio::io_context& io, OutboxStore store, const config::QueueConfig& config);
  /// Commits what is pending and runs pending deletes (flush()), then stops the worker and closes
  /// the store. If that last commit fails, its messages are lost (counted in commit_errors; they
  /// were never accepted). Handlers of operations still outstanding are not called afterwards.
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  /// Queues `message` for the next group commit (within commit_window). Returns false — and
  /// counts it — when un-committed memory would exceed max_pending_bytes (back-pressure); the
  /// message is then not accepted and the caller keeps responsibility for it.
  bool submit(PendingMessage message);

  /// Adds a handler called on the io_context after every successful group commit with the highest
  /// seq now in the store. Handlers accumulate and are never removed: capture weak references.
  void on_committed(CommittedHandler handler);

  /// Reads up to `limit` committed messages with after_seq < seq ≤ up_to, in seq order, leaving
  /// out those acknowledged but not yet deleted; `handler` runs on the io_context (never inline).
  /// Errors carry the SQLite code.
  void async_fetch(std::uint64_t after_seq, std::size_t limit, FetchHandler handler,
                   std::uint64_t up_to = std::numeric_limits<std::uint64_t>::max());

  /// What the uplink holds and has sent (send_claims.hpp). Every message a fetch hands over is
  /// held once: the uplink releases it when it leaves its memory, and calls start_sending()
  /// before publishing it — a message the bounds dropped meanwhile is then skipped.
  [[nodiscard]] SendClaims& claims() noexcept;

  /// Marks `seq` as delivered (PUBACK received); deleted in the next batched delete.
  void acknowledge(std::uint64_t seq);

  /// Takes `seq` out of the queue because the broker refused it (OutboxStore::refuse): it is
  /// reported on `gaps` (refused_by_broker) with the next gap report and never fetched again.
  void refuse(std::uint64_t seq);

  /// The edge-processing state saved in the queue file, as it was at construction.
  [[nodiscard]] const std::map<std::string, std::string>& saved_state() const noexcept;
  /// Saves `values` (merged with what is saved) on the worker; a failure is counted in
  /// last_error and the values are saved with the next call.
  void save_state(std::map<std::string, std::string> values);

  /// Applies max_age and reports the gap ledger now, whatever the timers say (tests, shutdown).
  void housekeeping_now();

  /// Commits everything pending, runs the pending deletes and blocks until the worker has done
  /// both (used at shutdown). on_committed handlers for that commit are posted, not called inline.
  void flush();

  /// The store's statistics as of the last worker operation, plus pending (un-committed) data in
  /// QueueStats::pending_messages / pending_bytes; QueueStats::quarantine as found at open.
  [[nodiscard]] QueueStats stats() const;
  /// Counters since construction.
  [[nodiscard]] const OutboxCounters& counters() const noexcept;
  /// Un-committed body bytes held in memory: waiting, plus the commit in flight.
  [[nodiscard]] std::uint64_t pending_bytes() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace guardian::gateway
