#pragma once
/// \file
/// The durable store-and-forward queue: SQLite in WAL mode. Synchronous and single-threaded on
/// purpose — the Outbox runs it on its own worker thread so the io_context never blocks on disk.
///
/// Sequence numbers: `seq INTEGER PRIMARY KEY AUTOINCREMENT`, so a seq is never reused, not even
/// after the highest one was deleted or the process restarted. Because a corrupt database is
/// replaced by a fresh one, the store also keeps a *seq mark* in a small side file
/// (`<path>.seqmark`): a number at or above every seq ever assigned. It is rewritten (atomically,
/// fsync'd) only when a commit would pass it, and then set kSeqMarkHeadroom above the new last
/// seq — one small write per kSeqMarkHeadroom messages. A fresh queue starts above
/// max(last seq still readable from the old file, seq mark), so seq never goes backwards for a
/// device unless both the database and its side file are lost.

#include <cstdint>
#include <filesystem>
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

/// What happened when the queue database found at open was unusable (corrupt, not a database).
/// The file was moved aside, never deleted, and a fresh queue started in its place.
struct QuarantineNotice {
  std::filesystem::path moved_to;  ///< "<path>.corrupt-<UTC timestamp>" (its -wal/-shm alongside)
  std::string reason;              ///< what SQLite reported (code and message)
  std::uint64_t seq_floor = 0;     ///< the fresh queue's first seq is seq_floor + 1
  Timestamp when{};                ///< when the quarantine happened
};

/// Depth, size and age of what is waiting to be sent.
struct QueueStats {
  std::uint64_t depth = 0;                  ///< messages in the queue
  std::uint64_t readings = 0;               ///< readings (sum of counts) in the queue
  std::uint64_t bytes = 0;                  ///< sum of body sizes
  std::optional<Timestamp> oldest_created;  ///< commit time of the oldest message
  std::uint64_t last_seq = 0;               ///< highest seq ever assigned (survives restarts)
  std::uint64_t pending_messages = 0;       ///< submitted, not yet committed (Outbox::stats() only)
  std::uint64_t pending_bytes = 0;          ///< their body bytes (Outbox::stats() only)
  std::optional<QuarantineNotice> quarantine;  ///< set when open() replaced a corrupt database
};

/// The connection settings the store runs with, read back from SQLite (for health and tests).
struct StorePragmas {
  std::string journal_mode;  ///< "wal"
  int synchronous = 0;       ///< 2 = FULL, 1 = NORMAL
  int user_version = 0;      ///< schema version (OutboxStore::kSchemaVersion)
  int secure_delete = 0;     ///< 2 = FAST (Debian's SQLite defaults to 1 = ON)
};

/// Closes a connection (sqlite3_close_v2); the RAII owner of OutboxStore's sqlite3*.
struct SqliteCloser {
  void operator()(sqlite3* db) const noexcept;
};

/// Not thread-safe: one thread uses it at a time. Movable; closes the database on destruction.
class OutboxStore {
 public:
  /// Schema version stored in `PRAGMA user_version`. A file with a higher version was written by
  /// a newer Guardian: open() refuses it (it is not corrupt; it must not be quarantined).
  static constexpr int kSchemaVersion = 1;
  /// How far above the last assigned seq the seq mark is written (see the file comment).
  static constexpr std::uint64_t kSeqMarkHeadroom = 100'000;

  /// Opens (creating if needed) the queue at config.path, in WAL mode with the configured
  /// synchronous level, and checks it with `PRAGMA quick_check` (O(size) at start-up).
  /// A corrupt or unreadable file (SQLITE_CORRUPT, SQLITE_NOTADB, a failed quick_check) is moved
  /// aside and a fresh queue started; stats().quarantine says so. Errors (a directory that
  /// cannot be written, a newer schema, a quarantine rename that fails) carry the SQLite code or
  /// errno and the path.
  [[nodiscard]] static result<OutboxStore> open(const config::QueueConfig& config);

  /// The side file holding the seq mark of the queue at `db_path`.
  [[nodiscard]] static std::filesystem::path seq_mark_path(const std::filesystem::path& db_path);

  OutboxStore(OutboxStore&&) noexcept;
  OutboxStore& operator=(OutboxStore&&) noexcept;
  ~OutboxStore();

  /// Commits all of `batch` in one transaction (group commit) and returns the seq assigned to
  /// each message, in order (consecutive). Either all are accepted or none.
  [[nodiscard]] result<std::vector<std::uint64_t>> commit_batch(
      std::span<const PendingMessage> batch);

  /// Up to `limit` messages with seq > after_seq, in seq order.
  [[nodiscard]] result<std::vector<StoredMessage>> fetch_after(std::uint64_t after_seq,
                                                               std::size_t limit);

  /// Deletes the given messages (acknowledged by the broker) in one transaction. Unknown seqs
  /// are ignored; `seqs` need not be sorted. The delete commits without its own fsync (a power cut
  /// may undo it, which re-sends those messages: duplicates, never loss); the next commit_batch
  /// makes it durable.
  [[nodiscard]] result<void> remove(std::span<const std::uint64_t> seqs);

  /// Current statistics (kept up to date incrementally; no query).
  [[nodiscard]] const QueueStats& stats() const noexcept { return stats_; }

  /// Reads journal_mode, synchronous and user_version back from the open connection.
  [[nodiscard]] result<StorePragmas> pragmas() const;

 private:
  struct Statements;
  OutboxStore() = default;
  [[nodiscard]] static result<OutboxStore> open_checked(const config::QueueConfig& config,
                                                        std::optional<std::uint64_t> seq_mark,
                                                        std::uint64_t seq_floor_if_new);
  [[nodiscard]] result<void> load_stats();
  [[nodiscard]] result<void> reserve_seqs_through(std::uint64_t last);
  [[nodiscard]] result<void> refresh_oldest();
  void checkpoint_if_wal_over(int frames);

  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::unique_ptr<Statements> stmts_;
  QueueStats stats_;
  std::filesystem::path path_;
  std::uint64_t seq_reserved_ = 0;  ///< the seq mark on disk (0 = none yet)
  std::uint64_t oldest_seq_ = 0;    ///< seq of the oldest message (0 = queue empty)
};

}  // namespace guardian::gateway
