#include "guardian/gateway/outbox_store.hpp"

#include <fcntl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <string_view>
#include <system_error>
#include <utility>

#include "outbox_store_internal.hpp"

namespace guardian::gateway {
namespace {

namespace fs = std::filesystem;

// Schema v1. `seq` is AUTOINCREMENT so SQLite records the highest seq ever used in
// sqlite_sequence and never hands it out again, even after that row is deleted
// (https://sqlite.org/autoinc.html). Timestamps are milliseconds since the Unix epoch (UTC).
constexpr const char* kCreateSchemaV1 =
    "CREATE TABLE outbox("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " kind INTEGER NOT NULL,"
    " priority INTEGER NOT NULL,"
    " source TEXT NOT NULL,"
    " first_ts INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " created INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " body BLOB NOT NULL);";

// Schema v2 (a migration from v1, also run on a new file right after the v1 schema): the gap
// ledger, the state of edge-processing counters, and gap messages at a priority of their own
// above alarms. No secondary index on outbox: it cost a third of the ingest rate of small
// messages (bench/README.md); what the bounds drop is found through the rowid instead
// (OutboxStore::Accounting keeps where each class's oldest and newest messages are).
constexpr const char* kMigrateToV2 =
    "CREATE TABLE gap_ledger("
    " source TEXT NOT NULL,"
    " reason INTEGER NOT NULL,"
    " count INTEGER NOT NULL,"
    " messages INTEGER NOT NULL,"
    " first_ts INTEGER NOT NULL,"
    " last_ts INTEGER NOT NULL,"
    " names TEXT NOT NULL,"
    " PRIMARY KEY(source, reason)) WITHOUT ROWID;"
    "CREATE TABLE edge_state(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "UPDATE outbox SET priority = 3 WHERE kind = 2;"
    "PRAGMA user_version = 2;";

// Schema v3: the gap ledger names the seqs of messages whose reason names them
// (refused_by_broker), space-separated.
constexpr const char* kMigrateToV3 =
    "ALTER TABLE gap_ledger ADD COLUMN seqs TEXT NOT NULL DEFAULT '';"
    "PRAGMA user_version = 3;";

constexpr std::string_view kInsertSql =
    "INSERT INTO outbox(kind, priority, source, first_ts, last_ts, created, count, body)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view kFetchSql =
    "SELECT seq, kind, priority, source, first_ts, last_ts, created, count, body FROM outbox"
    " WHERE seq > ?1 AND seq <= ?3 ORDER BY seq LIMIT ?2";
// What a range delete removes is summed first: length() of a blob is read from the record header,
// whereas DELETE … RETURNING length(body) would load every overflow page again.
constexpr std::string_view kRangeSizeSql =
    "SELECT priority, source, count(*), total(count), total(length(body)) FROM outbox"
    " WHERE seq BETWEEN ?1 AND ?2 GROUP BY priority, source";
constexpr std::string_view kDeleteRangeSql = "DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2";
constexpr std::string_view kOldestSql = "SELECT seq, created FROM outbox ORDER BY seq LIMIT 1";
constexpr std::string_view kVictimColumns =
    "SELECT seq, kind, count, first_ts, last_ts, length(body), body, priority, source, created"
    " FROM outbox";
constexpr std::string_view kLedgerPutSql =
    "INSERT OR REPLACE INTO gap_ledger(source, reason, count, messages, first_ts, last_ts, names,"
    " seqs) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

// Page cache while the file is scanned at start-up (KiB when negative).
constexpr const char* kStartupCacheSql = "PRAGMA cache_size=-128";

// A busy database (a technician's sqlite3 shell holding a write lock) is retried for this long
// before a commit fails; the Outbox then retries the whole batch later.
constexpr int kBusyTimeoutMs = 1000;

bool is_corruption_error(const Error& e) noexcept {
  return e.code.category() == sqlite::category() && sqlite::is_corruption(e.code.value());
}

fs::path with_suffix(const fs::path& p, std::string_view suffix) {
  fs::path out = p;
  out += std::string(suffix);
  return out;
}

// fsync of the directory makes a rename or a file creation in it durable (POSIX leaves it to the
// directory's own fsync).
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

std::optional<std::uint64_t> read_seq_mark(const fs::path& mark_path) {
  const int fd = ::open(mark_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[32];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(buf, buf + n, value);
  if (ec != std::errc{} || end == buf) return std::nullopt;  // a damaged mark is ignored
  return value;
}

// Write-to-temporary, fsync, rename, fsync the directory: the mark on disk is always either the
// old or the new value, never a torn one.
result<void> write_seq_mark(const fs::path& mark_path, std::uint64_t value) {
  const fs::path tmp = with_suffix(mark_path, ".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return make_errno_error(errno, "queue seq mark " + tmp.string() + ": cannot create");
  const std::string text = std::to_string(value) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int write_errno = errno;
  const bool synced = written && ::fsync(fd) == 0;
  const int sync_errno = errno;
  ::close(fd);
  if (!written)
    return make_errno_error(write_errno, "queue seq mark " + tmp.string() + ": cannot write");
  if (!synced)
    return make_errno_error(sync_errno, "queue seq mark " + tmp.string() + ": cannot fsync");
  if (::rename(tmp.c_str(), mark_path.c_str()) != 0)
    return make_errno_error(errno, "queue seq mark " + mark_path.string() + ": cannot rename");
  sync_directory(mark_path.parent_path());
  return outcome::success();
}

// What can still be read from a damaged queue: its last seq (the sqlite_sequence row, or failing
// that the highest remaining seq) and how much it held. writable_schema makes SQLite read a file
// that is shorter than its header says (a truncated database) instead of refusing it outright;
// the connection is read-only, so nothing is written.
struct Salvage {
  std::optional<std::uint64_t> last_seq;
  std::uint64_t messages = 0;  // 0 when they could not be counted
  std::uint64_t readings = 0;
  std::optional<Timestamp> from;
  std::optional<Timestamp> to;
};

Salvage salvage(const fs::path& path) {
  Salvage out;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  sqlite::DatabasePtr db(raw);
  if (rc != SQLITE_OK) return out;
  (void)sqlite::exec(db.get(), "PRAGMA writable_schema=ON");
  for (const char* sql :
       {"SELECT seq FROM sqlite_sequence WHERE name = 'outbox'", "SELECT max(seq) FROM outbox"}) {
    auto text = sqlite::query_text(db.get(), sql);
    if (!text || text.value().empty()) continue;
    std::uint64_t v = 0;
    const auto& s = text.value();
    if (std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc{})
      out.last_seq = std::max(out.last_seq.value_or(0), v);
  }
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT count(*), total(count), min(first_ts), max(last_ts) FROM outbox",
                         -1, &raw_stmt, nullptr) == SQLITE_OK) {
    sqlite::StatementPtr stmt(raw_stmt);
    if (sqlite3_step(stmt.get()) == SQLITE_ROW && sqlite3_column_int64(stmt.get(), 0) > 0) {
      out.messages = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 0));
      out.readings = static_cast<std::uint64_t>(sqlite3_column_double(stmt.get(), 1));
      out.from = from_millis(sqlite3_column_int64(stmt.get(), 2));
      out.to = from_millis(sqlite3_column_int64(stmt.get(), 3));
    }
  }
  return out;
}

std::string utc_stamp(Timestamp now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string(buf, n);
}

// Moves the database and its -wal/-shm aside under one name; returns the new database path.
result<fs::path> move_aside(const fs::path& path, Timestamp now) {
  fs::path target = with_suffix(path, ".corrupt-" + utc_stamp(now));
  std::error_code ec;
  for (int i = 2; fs::exists(target, ec) && i < 1000; ++i)
    target = with_suffix(path, ".corrupt-" + utc_stamp(now) + "-" + std::to_string(i));
  if (::rename(path.c_str(), target.c_str()) != 0)
    return make_errno_error(errno, "queue " + path.string() +
                                       " is corrupt and cannot be moved to " + target.string() +
                                       "; move it away by hand");
  for (const char* side : {"-wal", "-shm"}) {
    const fs::path from = with_suffix(path, side);
    if (fs::exists(from, ec) && ::rename(from.c_str(), with_suffix(target, side).c_str()) != 0)
      return make_errno_error(errno, "queue " + from.string() + " cannot be moved next to " +
                                         target.string() + "; move it away by hand");
  }
  sync_directory(path.parent_path());
  return target;
}

}  // namespace

OutboxStore::OutboxStore(OutboxStore&&) noexcept = default;
OutboxStore& OutboxStore::operator=(OutboxStore&&) noexcept = default;
OutboxStore::~OutboxStore() = default;

fs::path OutboxStore::seq_mark_path(const fs::path& db_path) {
  return with_suffix(db_path, ".seqmark");
}

result<OutboxStore> OutboxStore::open(const config::QueueConfig& config) {
  const auto mark = read_seq_mark(seq_mark_path(config.path));
  auto opened = open_checked(config, mark, mark.value_or(0));
  if (opened || !is_corruption_error(opened.error())) return opened;

  // Quarantine (DESIGN.md: "A corrupt database is quarantined (renamed, reported), never silently
  // deleted"): keep the evidence, start fresh above every seq the old queue may have used.
  const Error cause = opened.error();
  const Salvage found = salvage(config.path);
  const std::uint64_t floor = std::max(found.last_seq.value_or(0), mark.value_or(0));
  const Timestamp now = now_ms();
  BOOST_OUTCOME_TRY(moved_to, move_aside(config.path, now));
  BOOST_OUTCOME_TRY(fresh, open_checked(config, mark, floor));
  // What the old file held is reported on `gaps` like any other loss: as much as could be
  // counted (nothing, when not even that could be read), for every source at once.
  DroppedData lost;
  lost.reason = DropReason::corrupt_queue;
  lost.count = found.readings;
  lost.messages = found.messages;
  lost.from = found.from.value_or(now);
  lost.to = found.to.value_or(now);
  BOOST_OUTCOME_TRY(fresh.commit_batch({}, std::span<const DroppedData>(&lost, 1)));
  fresh.stats_.quarantine = QuarantineNotice{moved_to, cause.describe(), floor, now};
  return fresh;
}

result<OutboxStore> OutboxStore::open_checked(const config::QueueConfig& config,
                                              std::optional<std::uint64_t> seq_mark,
                                              std::uint64_t seq_floor_if_new) {
  const std::string where = "queue " + config.path.string();
  std::error_code dir_error;
  if (config.path.has_parent_path()) fs::create_directories(config.path.parent_path(), dir_error);
  if (dir_error)
    return make_errno_error(
        dir_error.value(), where + ": cannot create its directory; check the path and permissions");

  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(config.path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  OutboxStore store;
  store.db_.reset(raw);
  store.path_ = config.path;
  sqlite3* db = raw;
  if (rc != SQLITE_OK) return sqlite::error(db, rc, where + ": cannot open");
  sqlite3_extended_result_codes(db, 1);
  // Until the file is known to be healthy, closing must not checkpoint a WAL into it: a corrupt
  // database is kept exactly as found.
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // The start-up scans (quick_check, load_stats) read the whole file once: a small page cache
  // is enough for them, and keeps the peak memory of a start on a large backlog like that of a
  // start on an empty queue. The default cache comes back once they are done.
  (void)sqlite::exec(db, kStartupCacheSql);

  {
    sqlite3_stmt* raw_check = nullptr;
    int check_rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(5)", -1, &raw_check, nullptr);
    sqlite::StatementPtr check(raw_check);
    if (check_rc != SQLITE_OK) return sqlite::error(db, check_rc, where + ": quick_check failed");
    std::string problems;
    while ((check_rc = sqlite3_step(check.get())) == SQLITE_ROW) {
      const auto* text = sqlite3_column_text(check.get(), 0);
      const std::string line = text == nullptr ? "" : reinterpret_cast<const char*>(text);
      if (line != "ok") problems += (problems.empty() ? "" : "; ") + line;
    }
    if (check_rc != SQLITE_DONE) return sqlite::error(db, check_rc, where + ": quick_check failed");
    if (!problems.empty())
      return make_error(sqlite::make_code(SQLITE_CORRUPT), where + ": quick_check: " + problems);
  }

  BOOST_OUTCOME_TRY(version_text, sqlite::query_text(db, "PRAGMA user_version"));
  const int version = std::atoi(version_text.c_str());
  if (version > kSchemaVersion)
    return make_error(where + " has schema version " + std::to_string(version) +
                      ", newer than this Guardian understands (" + std::to_string(kSchemaVersion) +
                      "); install the newer Guardian again or move the file away");
  BOOST_OUTCOME_TRY(mode, sqlite::query_text(db, "PRAGMA journal_mode=WAL"));
  if (mode != "wal")
    return make_error(where + ": cannot switch to WAL mode (journal_mode is \"" + mode +
                      "\"); the file system may not support shared memory");

  if (version < kSchemaVersion) {
    // Created or migrated in one transaction: a crash leaves the file at its old version.
    BOOST_OUTCOME_TRY(sqlite::exec(db, "BEGIN IMMEDIATE"));
    auto upgraded = [&]() -> result<void> {
      if (version == 0) {
        BOOST_OUTCOME_TRY(sqlite::exec(db, kCreateSchemaV1));
        if (seq_floor_if_new > 0) {
          const std::string floor_sql = "INSERT INTO sqlite_sequence(name, seq) VALUES('outbox', " +
                                        std::to_string(seq_floor_if_new) + ")";
          BOOST_OUTCOME_TRY(sqlite::exec(db, floor_sql.c_str()));
        }
      }
      if (version < 2) {
        BOOST_OUTCOME_TRY(sqlite::exec(db, kMigrateToV2));
      }
      BOOST_OUTCOME_TRY(sqlite::exec(db, kMigrateToV3));
      return sqlite::exec(db, "COMMIT");
    }();
    if (!upgraded) {
      (void)sqlite::exec(db, "ROLLBACK");
      return make_error(upgraded.error().code,
                        where +
                            (version == 0 ? ": cannot create the schema: "
                                          : ": cannot migrate the schema from version " +
                                                std::to_string(version) + ": ") +
                            upgraded.error().message);
    }
  }

  const char* configured_sync_sql = config.synchronous == config::SyncMode::full
                                        ? "PRAGMA synchronous=FULL"
                                        : "PRAGMA synchronous=NORMAL";
  BOOST_OUTCOME_TRY(sqlite::exec(db, configured_sync_sql));
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, nullptr);
  // Debian builds SQLite with SQLITE_SECURE_DELETE: every delete would overwrite the freed
  // overflow pages with zeros, i.e. write each delivered message to the WAL a second time (3x
  // slower drains, twice the flash wear). FAST still zeroes what can be zeroed without extra I/O;
  // telemetry on its way to the cloud does not need more.
  BOOST_OUTCOME_TRY(sqlite::exec(db, "PRAGMA secure_delete=FAST"));

  BOOST_OUTCOME_TRY(relaxed_sync, sqlite::prepare(db, "PRAGMA synchronous=NORMAL"));
  BOOST_OUTCOME_TRY(configured_sync, sqlite::prepare(db, configured_sync_sql));
  BOOST_OUTCOME_TRY(begin, sqlite::prepare(db, "BEGIN IMMEDIATE"));
  BOOST_OUTCOME_TRY(commit, sqlite::prepare(db, "COMMIT"));
  BOOST_OUTCOME_TRY(rollback, sqlite::prepare(db, "ROLLBACK"));
  BOOST_OUTCOME_TRY(insert, sqlite::prepare(db, kInsertSql));
  std::string insert_many_sql(kInsertSql.substr(0, kInsertSql.find(" VALUES")));
  insert_many_sql += " VALUES";
  for (std::size_t row = 0; row < kRowsPerInsert; ++row) {
    insert_many_sql += row == 0 ? "(" : ",(";
    for (std::size_t col = 0; col < 8; ++col)
      insert_many_sql += (col == 0 ? "?" : ",?") + std::to_string(8 * row + col + 1);
    insert_many_sql += ")";
  }
  BOOST_OUTCOME_TRY(insert_many, sqlite::prepare(db, insert_many_sql));
  BOOST_OUTCOME_TRY(fetch, sqlite::prepare(db, kFetchSql));
  BOOST_OUTCOME_TRY(range_size, sqlite::prepare(db, kRangeSizeSql));
  BOOST_OUTCOME_TRY(delete_range, sqlite::prepare(db, kDeleteRangeSql));
  BOOST_OUTCOME_TRY(oldest, sqlite::prepare(db, kOldestSql));
  BOOST_OUTCOME_TRY(victim_oldest,
                    sqlite::prepare(db, std::string(kVictimColumns) +
                                            " WHERE seq >= ?3 AND priority = ?1 AND source = ?2"
                                            " ORDER BY seq"));
  BOOST_OUTCOME_TRY(victim_newest,
                    sqlite::prepare(db, std::string(kVictimColumns) +
                                            " WHERE seq <= ?3 AND priority = ?1 AND source = ?2"
                                            " ORDER BY seq DESC"));
  BOOST_OUTCOME_TRY(delete_one, sqlite::prepare(db, "DELETE FROM outbox WHERE seq = ?1"));
  BOOST_OUTCOME_TRY(oldest_rows, sqlite::prepare(db, std::string(kVictimColumns) +
                                                         " WHERE seq > ?1 ORDER BY seq LIMIT 64"));
  BOOST_OUTCOME_TRY(ledger_put, sqlite::prepare(db, kLedgerPutSql));
  BOOST_OUTCOME_TRY(ledger_clear, sqlite::prepare(db, "DELETE FROM gap_ledger"));
  BOOST_OUTCOME_TRY(freelist_count, sqlite::prepare(db, "PRAGMA freelist_count"));
  store.stmts_ = std::make_unique<Statements>(Statements{0,
                                                         4096,
                                                         std::move(relaxed_sync),
                                                         std::move(configured_sync),
                                                         std::move(begin),
                                                         std::move(commit),
                                                         std::move(rollback),
                                                         std::move(insert),
                                                         std::move(insert_many),
                                                         std::move(fetch),
                                                         std::move(range_size),
                                                         std::move(delete_range),
                                                         std::move(oldest),
                                                         std::move(victim_oldest),
                                                         std::move(victim_newest),
                                                         std::move(delete_one),
                                                         std::move(oldest_rows),
                                                         std::move(ledger_put),
                                                         std::move(ledger_clear),
                                                         std::move(freelist_count)});
  store.acct_ = std::make_unique<Accounting>();
  BOOST_OUTCOME_TRY(page_size, sqlite::query_text(db, "PRAGMA page_size"));
  store.stmts_->page_size =
      std::max<std::uint64_t>(std::strtoull(page_size.c_str(), nullptr, 10), 512);
  store.config_ = config;
  // Replaces SQLite's automatic checkpoint (see kCheckpointAfterCommitFrames). The counter lives in
  // the heap-allocated Statements, so its address survives moves of the store.
  sqlite3_wal_hook(
      db,
      [](void* frames, sqlite3*, const char*, int n) {
        *static_cast<int*>(frames) = n;
        return SQLITE_OK;
      },
      &store.stmts_->wal_frames);
  store.seq_reserved_ = seq_mark.value_or(0);
  BOOST_OUTCOME_TRY(store.load_stats());
  BOOST_OUTCOME_TRY(store.load_ledger());
  sqlite3_db_release_memory(db);
  BOOST_OUTCOME_TRY(sqlite::exec(db, "PRAGMA cache_size=-2000"));  // SQLite's default (2 MiB)
  return store;
}

result<void> OutboxStore::load_stats() {
  sqlite3* db = db_.get();
  {
    // One pass over the index by (priority, source): the usage of every class, and the totals.
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT priority, source, count(*), total(count),"
                                " total(length(body)), min(seq), max(seq) FROM outbox"
                                " GROUP BY priority, source",
                                -1, &raw, nullptr);
    sqlite::StatementPtr stmt(raw);
    if (rc == SQLITE_OK)
      while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
        const int priority = sqlite3_column_int(stmt.get(), 0);
        std::string source = column_string(stmt.get(), 1);
        const auto messages = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 2));
        const auto readings = static_cast<std::uint64_t>(sqlite3_column_double(stmt.get(), 3));
        const auto bytes = static_cast<std::uint64_t>(sqlite3_column_double(stmt.get(), 4));
        stats_.depth += messages;
        stats_.readings += readings;
        stats_.bytes += bytes;
        if (priority != static_cast<int>(Priority::gap)) {
          auto& usage = stats_.sources[source];
          usage.messages += messages;
          usage.bytes += bytes;
        }
        acct_->classes[{priority, std::move(source)}] = Accounting::Class{
            messages, bytes, static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 5)),
            static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 6))};
      }
    if (rc != SQLITE_DONE)
      return sqlite::error(db, rc, "queue " + path_.string() + ": cannot read its size");
  }
  BOOST_OUTCOME_TRY(
      last, sqlite::query_text(db, "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"));
  stats_.last_seq = last.empty() ? 0 : std::strtoull(last.c_str(), nullptr, 10);
  return refresh_oldest();
}

result<void> OutboxStore::refresh_oldest() {
  sqlite3_stmt* stmt = stmts_->oldest.get();
  sqlite::StatementReset reset(stmt);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    oldest_seq_ = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
    stats_.oldest_created = from_millis(sqlite3_column_int64(stmt, 1));
    return outcome::success();
  }
  if (rc != SQLITE_DONE)
    return sqlite::error(db_.get(), rc,
                         "queue " + path_.string() + ": cannot read the oldest message");
  oldest_seq_ = 0;
  stats_.oldest_created.reset();
  return outcome::success();
}

result<void> OutboxStore::reserve_seqs_through(std::uint64_t last) {
  if (last <= seq_reserved_) return outcome::success();
  const std::uint64_t mark = last + kSeqMarkHeadroom;
  BOOST_OUTCOME_TRY(write_seq_mark(seq_mark_path(path_), mark));
  seq_reserved_ = mark;
  return outcome::success();
}

result<std::vector<StoredMessage>> OutboxStore::fetch_after(std::uint64_t after_seq,
                                                            std::size_t limit,
                                                            std::uint64_t up_to) {
  std::vector<StoredMessage> out;
  if (limit == 0) return out;
  sqlite3_stmt* fetch = stmts_->fetch.get();
  sqlite::StatementReset reset(fetch);
  sqlite3_bind_int64(fetch, 1, static_cast<std::int64_t>(after_seq));
  sqlite3_bind_int64(fetch, 2, static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX)));
  sqlite3_bind_int64(fetch, 3,
                     static_cast<std::int64_t>(std::min<std::uint64_t>(up_to, INT64_MAX)));
  out.reserve(std::min<std::size_t>(limit, 1024));
  int rc = SQLITE_OK;
  while ((rc = sqlite3_step(fetch)) == SQLITE_ROW) {
    StoredMessage m;
    m.seq = static_cast<std::uint64_t>(sqlite3_column_int64(fetch, 0));
    m.kind = kind_from_column(sqlite3_column_int64(fetch, 1));
    m.priority = priority_from_column(sqlite3_column_int64(fetch, 2));
    m.source = column_string(fetch, 3);
    m.first_ts = from_millis(sqlite3_column_int64(fetch, 4));
    m.last_ts = from_millis(sqlite3_column_int64(fetch, 5));
    m.created = from_millis(sqlite3_column_int64(fetch, 6));
    m.count = static_cast<std::uint32_t>(sqlite3_column_int64(fetch, 7));
    m.body = column_string(fetch, 8);
    out.push_back(std::move(m));
  }
  if (rc != SQLITE_DONE)
    return sqlite::error(db_.get(), rc, "queue " + path_.string() + ": cannot read messages");
  if (claims_) {
    std::vector<std::uint64_t> seqs;
    seqs.reserve(out.size());
    for (const auto& m : out) seqs.push_back(m.seq);
    claims_->hold(seqs);
  }
  return out;
}

result<void> OutboxStore::remove(std::span<const std::uint64_t> seqs) {
  if (seqs.empty()) return outcome::success();
  std::vector<std::uint64_t> sorted(seqs.begin(), seqs.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());

  sqlite3* db = db_.get();
  const std::string where = "queue " + path_.string();
  // A delete need not be durable on its own: losing it in a power cut only means those messages
  // are sent again (at-least-once; consumers drop duplicates by seq). So it commits without an
  // fsync (WAL + synchronous=NORMAL), and the next durable commit's fsync of the WAL carries it.
  // This keeps deletes from stalling the fetches that feed the uplink on the same worker.
  RelaxedDurability relaxed(stmts_->relaxed_sync.get(), stmts_->configured_sync.get());
  WriteTransaction txn(db, stmts_->begin.get(), stmts_->commit.get(), stmts_->rollback.get());
  if (txn.begin_rc() != SQLITE_OK)
    return sqlite::error(db, txn.begin_rc(), where + ": cannot begin a delete");

  // Acknowledgements arrive mostly in seq order, so runs of consecutive seqs are deleted with one
  // range statement each.
  std::uint64_t removed = 0;
  std::uint64_t readings = 0;
  std::uint64_t bytes = 0;
  std::vector<std::pair<Accounting::ClassKey, SourceUsage>> removed_by_class;
  sqlite3_stmt* size = stmts_->range_size.get();
  sqlite3_stmt* del = stmts_->delete_range.get();
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    const auto first = static_cast<std::int64_t>(sorted[i]);
    const auto last = static_cast<std::int64_t>(sorted[j]);
    {
      sqlite::StatementReset reset(size);
      sqlite3_bind_int64(size, 1, first);
      sqlite3_bind_int64(size, 2, last);
      int rc = SQLITE_OK;
      while ((rc = sqlite3_step(size)) == SQLITE_ROW) {
        const int priority = sqlite3_column_int(size, 0);
        std::string source = column_string(size, 1);
        const auto messages = static_cast<std::uint64_t>(sqlite3_column_int64(size, 2));
        const auto class_bytes = static_cast<std::uint64_t>(sqlite3_column_double(size, 4));
        removed += messages;
        readings += static_cast<std::uint64_t>(sqlite3_column_double(size, 3));
        bytes += class_bytes;
        removed_by_class.push_back({{priority, std::move(source)}, {messages, class_bytes}});
      }
      if (rc != SQLITE_DONE)
        return sqlite::error(db, rc, where + ": cannot size delivered messages");
    }
    sqlite::StatementReset reset(del);
    sqlite3_bind_int64(del, 1, first);
    sqlite3_bind_int64(del, 2, last);
    if (const int rc = sqlite3_step(del); rc != SQLITE_DONE)
      return sqlite::error(db, rc, where + ": cannot delete delivered messages");
    i = j + 1;
  }
  if (const int rc = txn.commit(); rc != SQLITE_OK)
    return sqlite::error(db, rc, where + ": cannot commit the delete of delivered messages");
  checkpoint_if_wal_over(kCheckpointAfterDeleteFrames);
  if (claims_) claims_->forget(sorted);

  stats_.depth -= std::min(stats_.depth, removed);
  stats_.readings -= std::min(stats_.readings, readings);
  stats_.bytes -= std::min(stats_.bytes, bytes);
  for (const auto& [key, usage] : removed_by_class) forget_usage(key, usage);
  if (removed > 0 && oldest_seq_ != 0 && sorted.front() <= oldest_seq_) return refresh_oldest();
  return outcome::success();
}

void OutboxStore::checkpoint_if_wal_over(int frames) {
  if (stmts_->wal_frames < frames && !disk_is_tight()) return;
  // PASSIVE: this is the only connection, so it completes. A failure (I/O error) only leaves the
  // WAL longer; the next commit tries again.
  if (sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr) ==
      SQLITE_OK)
    stmts_->wal_frames = 0;
}

// A checkpoint copies the WAL into the database file, which may have to grow by as much as the WAL
// holds; on a full disk it cannot, and then nothing can be written at all (a delete needs WAL
// frames too). So the store watches the space it can still use — free space on its file system,
// plus the free pages inside the database file, which new messages reuse — at every commit:
//   - tight (less than twice the WAL's content + kTightDiskMargin): the WAL is checkpointed
//     after every commit, so that it stays short and backfilled;
//   - low (less than twice the WAL's content + kLowDiskMargin): the disk counts as full — the
//     queue may only grow into what is left beyond that margin, and the bounds apply at that size
//     (reason disk_full), so that the queue can always still be written.
std::optional<std::uint64_t> OutboxStore::usable_disk_bytes() const {
  struct statvfs fs {};
  const fs::path dir = path_.has_parent_path() ? path_.parent_path() : fs::path(".");
  if (::statvfs(dir.c_str(), &fs) != 0) return std::nullopt;
  std::uint64_t free_pages = 0;
  sqlite3_stmt* count = stmts_->freelist_count.get();
  {
    sqlite::StatementReset reset(count);
    if (sqlite3_step(count) == SQLITE_ROW)
      free_pages = static_cast<std::uint64_t>(sqlite3_column_int64(count, 0));
  }
  return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize + free_pages * stmts_->page_size;
}

std::uint64_t OutboxStore::disk_reserve(std::uint64_t margin) const {
  return 2 * static_cast<std::uint64_t>(std::max(stmts_->wal_frames, 0)) * stmts_->page_size +
         margin;
}

bool OutboxStore::disk_is_tight() const {
  const auto usable = usable_disk_bytes();
  return usable && *usable < disk_reserve(kTightDiskMargin);
}

std::optional<std::uint64_t> OutboxStore::disk_headroom() const {
  const auto usable = usable_disk_bytes();
  const std::uint64_t reserve = disk_reserve(kLowDiskMargin);
  if (!usable) return std::nullopt;
  return *usable > reserve ? *usable - reserve : 0;
}

result<StorePragmas> OutboxStore::pragmas() const {
  sqlite3* db = db_.get();
  StorePragmas p;
  BOOST_OUTCOME_TRY(mode, sqlite::query_text(db, "PRAGMA journal_mode"));
  p.journal_mode = mode;
  BOOST_OUTCOME_TRY(sync, sqlite::query_text(db, "PRAGMA synchronous"));
  BOOST_OUTCOME_TRY(version, sqlite::query_text(db, "PRAGMA user_version"));
  BOOST_OUTCOME_TRY(secure_delete, sqlite::query_text(db, "PRAGMA secure_delete"));
  p.synchronous = std::atoi(sync.c_str());
  p.secure_delete = std::atoi(secure_delete.c_str());
  p.user_version = std::atoi(version.c_str());
  return p;
}

}  // namespace guardian::gateway
