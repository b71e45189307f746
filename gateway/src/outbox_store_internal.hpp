#pragma once
/// \file
/// What outbox_store.cpp (schema, open, commit, fetch, delete) and outbox_bounds.cpp (eviction,
/// expiry, gap ledger, state) share: the prepared statements, the in-memory accounting, and RAII
/// for transactions. Private to the gateway.

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "guardian/gateway/outbox_store.hpp"
#include "sqlite.hpp"

namespace guardian::gateway {

// Checkpoints (copying the WAL back into the database, with an fsync of each) are run by the store
// itself instead of SQLite's automatic one after every commit that passes 1000 pages: after a
// durable commit once the WAL holds this many frames (16 MiB at 4 KiB pages)…
constexpr int kCheckpointAfterCommitFrames = 4000;
// …and after a delete only when the WAL is four times that, so that a queue draining a backlog
// (deletes only) does not checkpoint every few deletes. Measured here: 450-row deletes of 5 KB
// messages ran 3x faster than with the automatic checkpoint.
constexpr int kCheckpointAfterDeleteFrames = 4 * kCheckpointAfterCommitFrames;

/// Milliseconds since the Unix epoch, as stored in the queue.
[[nodiscard]] inline std::int64_t to_millis(Timestamp ts) noexcept {
  return ts.time_since_epoch().count();
}
[[nodiscard]] inline Timestamp from_millis(std::int64_t ms) noexcept {
  return Timestamp{std::chrono::milliseconds{ms}};
}

[[nodiscard]] inline MessageKind kind_from_column(std::int64_t v) noexcept {
  switch (v) {
    case 1:
      return MessageKind::record;
    case 2:
      return MessageKind::gap;
    case 3:
      return MessageKind::schema;
    case 4:
      return MessageKind::trace;
    default:
      return MessageKind::telemetry;
  }
}

[[nodiscard]] inline Priority priority_from_column(std::int64_t v) noexcept {
  switch (v) {
    case 1:
      return Priority::record;
    case 2:
      return Priority::alarm;
    case 3:
      return Priority::gap;
    default:
      return Priority::routine;
  }
}

/// A TEXT or BLOB column as bytes ("" for NULL).
[[nodiscard]] inline std::string column_string(sqlite3_stmt* stmt, int col) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, col));
  const int size = sqlite3_column_bytes(stmt, col);
  return data == nullptr ? std::string{} : std::string(data, static_cast<std::size_t>(size));
}

// Free space (beyond twice the WAL's content) below which the WAL is checkpointed after every
// commit, and below which the disk counts as full (OutboxStore::disk_is_tight, disk_is_low).
constexpr std::uint64_t kTightDiskMargin = 1 << 20;
constexpr std::uint64_t kLowDiskMargin = 256 << 10;

// Rows per multi-row INSERT when a whole batch fits (OutboxStore::insert_all).
constexpr std::size_t kRowsPerInsert = 16;

struct OutboxStore::Statements {
  int wal_frames = 0;  // frames in the WAL after the last commit (sqlite3_wal_hook)
  std::uint64_t page_size = 4096;
  sqlite::StatementPtr relaxed_sync;     // PRAGMA synchronous=NORMAL
  sqlite::StatementPtr configured_sync;  // PRAGMA synchronous as configured
  sqlite::StatementPtr begin;
  sqlite::StatementPtr commit;
  sqlite::StatementPtr rollback;
  sqlite::StatementPtr insert;
  sqlite::StatementPtr insert_many;  // kRowsPerInsert rows
  sqlite::StatementPtr fetch;
  sqlite::StatementPtr range_size;
  sqlite::StatementPtr delete_range;
  sqlite::StatementPtr oldest;
  sqlite::StatementPtr victim_oldest;  // (priority, source) → its oldest message
  sqlite::StatementPtr victim_newest;  // (priority, source) → its newest message
  sqlite::StatementPtr delete_one;
  sqlite::StatementPtr oldest_rows;  // the oldest messages, for expire()
  sqlite::StatementPtr ledger_put;
  sqlite::StatementPtr ledger_clear;
  sqlite::StatementPtr freelist_count;  // free pages inside the database file
};

/// Usage per (priority, source), and the gap ledger, mirrored in memory so that choosing what to
/// drop needs no query. Copied before a transaction and put back if it fails.
struct OutboxStore::Accounting {
  using ClassKey = std::pair<int, std::string>;  // (priority, source)
  using LedgerKey = std::pair<std::string, DropReason>;
  /// One (priority, source): its messages and bytes, and bounds on where its oldest and newest
  /// messages are. Rows only ever disappear below `oldest_at_or_after` and above
  /// `newest_at_or_before` (seqs grow), so the bounds stay true without a query, and finding the
  /// oldest or newest is a short walk along the rowid from there (each walk moves the bound).
  struct Class {
    std::uint64_t messages = 0;
    std::uint64_t bytes = 0;
    std::uint64_t oldest_at_or_after = 0;
    std::uint64_t newest_at_or_before = 0;
  };
  /// Orders ClassKeys and looks them up by (priority, string_view) without building a key: the
  /// accounting runs for every message committed.
  struct ClassLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return a.first != b.first ? a.first < b.first
                                : std::string_view(a.second) < std::string_view(b.second);
    }
  };
  std::map<ClassKey, Class, ClassLess> classes;
  std::map<LedgerKey, DroppedData> ledger;
};

/// RAII for one write transaction: rolls back unless commit() succeeded.
class WriteTransaction {
 public:
  WriteTransaction(sqlite3* db, sqlite3_stmt* begin, sqlite3_stmt* commit, sqlite3_stmt* rollback)
      : db_(db), commit_(commit), rollback_(rollback) {
    sqlite::StatementReset reset(begin);
    begin_rc_ = sqlite3_step(begin);
  }
  ~WriteTransaction() {
    if (!done_ && sqlite3_get_autocommit(db_) == 0) {
      sqlite::StatementReset reset(rollback_);
      sqlite3_step(rollback_);
    }
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

  [[nodiscard]] int begin_rc() const noexcept {
    return begin_rc_ == SQLITE_DONE ? SQLITE_OK : begin_rc_;
  }
  [[nodiscard]] int commit() {
    sqlite::StatementReset reset(commit_);
    const int rc = sqlite3_step(commit_);
    done_ = rc == SQLITE_DONE;
    return done_ ? SQLITE_OK : rc;
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* commit_;
  sqlite3_stmt* rollback_;
  int begin_rc_ = SQLITE_OK;
  bool done_ = false;
};

/// RAII: synchronous=NORMAL for one transaction, then back to the configured level. Declared before
/// the transaction so that it is restored after the commit or rollback (a pragma cannot change
/// inside a transaction).
class RelaxedDurability {
 public:
  RelaxedDurability(sqlite3_stmt* relax, sqlite3_stmt* restore) : restore_(restore) {
    sqlite::StatementReset reset(relax);
    sqlite3_step(relax);
  }
  ~RelaxedDurability() {
    sqlite::StatementReset reset(restore_);
    sqlite3_step(restore_);
  }
  RelaxedDurability(const RelaxedDurability&) = delete;
  RelaxedDurability& operator=(const RelaxedDurability&) = delete;

 private:
  sqlite3_stmt* restore_;
};

/// The error for a failed step `rc` of `what`; a write that failed for lack of space (SQLITE_FULL,
/// or an I/O error whose errno is ENOSPC/EDQUOT) gets the code SQLITE_FULL, so that callers can
/// tell a full disk from other failures with is_disk_full().
[[nodiscard]] Error write_error(sqlite3* db, int rc, std::string_view what);

/// True for an error caused by a full file system (see write_error; errno ENOSPC/EDQUOT too).
[[nodiscard]] bool is_disk_full(const Error& e) noexcept;

}  // namespace guardian::gateway
