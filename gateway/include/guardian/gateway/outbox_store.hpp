#pragma once
/// \file
/// The durable store-and-forward queue: SQLite in WAL mode. Synchronous and single-threaded on
/// purpose — the Outbox runs it on its own worker thread so the io_context never blocks on disk.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/outbox_message.hpp"

struct sqlite3;

namespace guardian::gateway {

/// Depth, size and age of what is waiting to be sent.
struct QueueStats {
  std::uint64_t depth = 0;       ///< messages in the queue
  std::uint64_t readings = 0;    ///< readings (sum of counts) in the queue
  std::uint64_t bytes = 0;       ///< sum of body sizes
  std::optional<Timestamp> oldest_created;  ///< commit time of the oldest message
  std::uint64_t last_seq = 0;    ///< highest seq ever assigned (survives restarts)
};

/// Not thread-safe: one thread uses it at a time. Movable; closes the database on destruction.
class OutboxStore {
 public:
  /// Opens (creating if needed) the queue at config.path, in WAL mode with the configured
  /// synchronous level. Errors carry the SQLite code and the path.
  [[nodiscard]] static result<OutboxStore> open(const config::QueueConfig& config);

  OutboxStore(OutboxStore&&) noexcept;
  OutboxStore& operator=(OutboxStore&&) noexcept;
  ~OutboxStore();

  /// Commits all of `batch` in one transaction (group commit) and returns the seq assigned to
  /// each message, in order (consecutive). Either all are accepted or none.
  [[nodiscard]] result<std::vector<std::uint64_t>> commit_batch(std::span<const PendingMessage> batch);

  /// Up to `limit` messages with seq > after_seq, in seq order.
  [[nodiscard]] result<std::vector<StoredMessage>> fetch_after(std::uint64_t after_seq,
                                                               std::size_t limit);

  /// Deletes the given messages (acknowledged by the broker). Unknown seqs are ignored.
  [[nodiscard]] result<void> remove(std::span<const std::uint64_t> seqs);

  /// Current statistics (kept up to date incrementally; no query).
  [[nodiscard]] const QueueStats& stats() const noexcept { return stats_; }

 private:
  struct Statements;
  OutboxStore() = default;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Statements> stmts_;
  QueueStats stats_;
};

}  // namespace guardian::gateway
