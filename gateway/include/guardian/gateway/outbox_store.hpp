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
///
/// Bounds (docs/store-and-forward.md): the bodies stored never exceed QueueConfig::max_bytes, and
/// one source's data never exceeds source_quota of it. A commit that would pass a bound first
/// makes room by QueueConfig::when_full, lowest priority first and, within a priority, from the
/// source holding the most: drop_oldest deletes the oldest stored messages, reject_new refuses
/// the newest (the incoming message first). What is dropped goes into the *gap ledger* (table
/// gap_ledger) in the same transaction, merged per (source, reason), until report_gaps() turns
/// it into gap messages. max_age is applied by expire(). A write that fails for lack of disk
/// space is retried once after making room the same way (drop_oldest only).
///
/// Schema versions: 1 = the outbox table; 2 = an index by (priority, source) for the bounds, the
/// gap ledger, the edge_state table, and gap messages at their own priority. A version 1 file is
/// migrated in place at open.

#include <array>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"
#include "guardian/gateway/gap_report.hpp"
#include "guardian/gateway/outbox_message.hpp"
#include "guardian/gateway/send_claims.hpp"

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

/// Messages and body bytes of one source's data (gap messages not included).
struct SourceUsage {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
};

/// Depth, size and age of what is waiting to be sent, and what the bounds dropped.
struct QueueStats {
  std::uint64_t depth = 0;                  ///< messages in the queue
  std::uint64_t readings = 0;               ///< readings (sum of counts) in the queue
  std::uint64_t bytes = 0;                  ///< sum of body sizes
  std::optional<Timestamp> oldest_created;  ///< commit time of the oldest message
  std::uint64_t last_seq = 0;               ///< highest seq ever assigned (survives restarts)
  std::uint64_t pending_messages = 0;       ///< submitted, not yet committed (Outbox::stats() only)
  std::uint64_t pending_bytes = 0;          ///< their body bytes (Outbox::stats() only)
  std::optional<QuarantineNotice> quarantine;  ///< set when open() replaced a corrupt database
  std::map<std::string, SourceUsage> sources;  ///< per source (data messages only)
  /// Readings and records dropped since open, by DropReason (recorded in the gap ledger).
  std::array<std::uint64_t, kDropReasonCount> dropped{};
  std::uint64_t dropped_messages = 0;  ///< accepted messages deleted by a bound since open
  std::uint64_t gaps_pending = 0;      ///< (source, reason) entries in the ledger, not yet reported
  bool disk_full = false;              ///< the last write failed for lack of space
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
  static constexpr int kSchemaVersion = 3;
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

  /// Commits `batch` in one transaction (group commit) and returns the seqs assigned to the
  /// messages accepted, in order (consecutive). Messages the bounds refuse (reject_new, a message
  /// larger than a bound, or lower in priority than everything stored) are not accepted and are
  /// recorded in the gap ledger, as is whatever was evicted to make room, and `dropped_before`
  /// (data refused before it reached the store, e.g. by back-pressure). Either the whole
  /// transaction happens or none of it; on error nothing is accepted or recorded.
  [[nodiscard]] result<std::vector<std::uint64_t>> commit_batch(
      std::span<const PendingMessage> batch, std::span<const DroppedData> dropped_before = {});

  /// Deletes the messages committed before `cutoff` (queue.max_age), oldest first, recording
  /// them in the gap ledger (reason max_age); returns how many were deleted. Commit order is
  /// taken as age order (a wall clock stepping back may leave an older message behind a newer
  /// one until that one expires too).
  [[nodiscard]] result<std::uint64_t> expire(Timestamp cutoff);

  /// Deletes the message `seq`, which the broker refused (reason refused_by_broker), recording it
  /// in the gap ledger in the same transaction; false when it is not stored (delivered or dropped
  /// meanwhile). Unlike the bounds it takes a sent message: its delivery has ended. Like a delete
  /// it is not durable on its own (undone by a power cut, the message is sent and refused again).
  [[nodiscard]] result<bool> refuse(std::uint64_t seq);

  /// Turns every gap ledger entry into a gap message (one per source and reason) and empties the
  /// ledger, in one durable transaction; returns the seqs of the gap messages.
  [[nodiscard]] result<std::vector<std::uint64_t>> report_gaps();

  /// The gap ledger: what was dropped and is not yet reported, by (source, reason).
  [[nodiscard]] std::vector<DroppedData> gap_ledger() const;

  /// Small named values that must survive restarts (edge-processing counters), stored in the
  /// queue file. save_state() commits without its own fsync (like deletes).
  [[nodiscard]] result<std::map<std::string, std::string>> load_state();
  [[nodiscard]] result<void> save_state(const std::map<std::string, std::string>& values);

  /// Shares the record of what the uplink holds and has sent (send_claims.hpp): from then on
  /// fetch_after() holds what it returns, remove() forgets what it deletes, and the bounds never
  /// drop a message that is sent. Without it (a store used on its own) nothing is ever sent.
  void share_claims(std::shared_ptr<SendClaims> claims) noexcept { claims_ = std::move(claims); }

  /// Up to `limit` messages with after_seq < seq ≤ up_to, in seq order (held in the claims).
  [[nodiscard]] result<std::vector<StoredMessage>> fetch_after(
      std::uint64_t after_seq, std::size_t limit,
      std::uint64_t up_to = std::numeric_limits<std::uint64_t>::max());

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
  struct Accounting;
  class Evictor;
  class MirrorGuard;
  class BoundedWrite;
  OutboxStore() = default;
  [[nodiscard]] static result<OutboxStore> open_checked(const config::QueueConfig& config,
                                                        std::optional<std::uint64_t> seq_mark,
                                                        std::uint64_t seq_floor_if_new);
  [[nodiscard]] result<void> load_stats();
  [[nodiscard]] result<void> reserve_seqs_through(std::uint64_t last);
  [[nodiscard]] result<void> refresh_oldest();
  [[nodiscard]] result<void> load_ledger();
  /// Bounds for a commit on a full disk: the queue is held to `queue_bytes` instead of
  /// max_bytes, and only the newest `batch_bytes` of the batch are written; what goes is
  /// recorded as disk_full.
  struct DiskFullLimits {
    std::uint64_t queue_bytes = 0;
    std::uint64_t batch_bytes = 0;
  };
  /// One commit_batch() transaction.
  [[nodiscard]] result<std::vector<std::uint64_t>> commit_once(
      std::span<const PendingMessage> batch, std::span<const DroppedData> dropped_before,
      std::optional<DiskFullLimits> disk_limit);
  /// Inserts one message inside the current transaction and accounts for it.
  [[nodiscard]] result<std::uint64_t> insert_message(const PendingMessage& m, std::int64_t created);
  /// Inserts all of `batch` (several rows per statement), appending their seqs.
  [[nodiscard]] result<void> insert_all(std::span<const PendingMessage> batch, std::int64_t created,
                                        std::vector<std::uint64_t>& seqs);
  void account_inserted(const PendingMessage& m, std::uint64_t seq, std::int64_t created);
  [[nodiscard]] result<void> write_ledger_entries(
      const std::vector<std::pair<std::string, DropReason>>& keys);
  void checkpoint_if_wal_over(int frames);
  [[nodiscard]] std::optional<std::uint64_t> usable_disk_bytes() const;
  [[nodiscard]] std::uint64_t disk_reserve(std::uint64_t margin) const;
  [[nodiscard]] bool disk_is_tight() const;
  /// How much the queue may still grow before the disk counts as full (nullopt: unknown).
  [[nodiscard]] std::optional<std::uint64_t> disk_headroom() const;
  /// In-memory usage of (priority, source): a message stored, or messages gone.
  void add_usage(int priority, const std::string& source, SourceUsage usage, std::uint64_t seq);
  void forget_usage(const std::pair<int, std::string>& key, SourceUsage usage);

  std::unique_ptr<sqlite3, SqliteCloser> db_;
  std::unique_ptr<Statements> stmts_;
  std::unique_ptr<Accounting> acct_;  ///< per (priority, source) usage and the gap ledger
  std::shared_ptr<SendClaims> claims_;  ///< what the uplink holds and has sent (may be null)
  config::QueueConfig config_;
  QueueStats stats_;
  std::filesystem::path path_;
  std::uint64_t seq_reserved_ = 0;  ///< the seq mark on disk (0 = none yet)
  std::uint64_t oldest_seq_ = 0;    ///< seq of the oldest message (0 = queue empty)
};

}  // namespace guardian::gateway
