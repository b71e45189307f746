// The queue's bounds (max_bytes, source_quota, max_age, a full disk), its gap ledger, and the
// edge-processing state it keeps. See outbox_store.hpp for the policy and
// docs/store-and-forward.md for what it guarantees.
//
//   commit_once(batch)
//     ├─ for each message: over source_quota? ─▶ Evictor::make_room(source only)
//     │                    over max_bytes?    ─▶ Evictor::make_room(all sources)
//     │                        lowest priority ─▶ source holding the most ─▶ oldest | newest
//     │                        (the incoming message itself may be the one refused)
//     ├─ INSERT what was accepted
//     └─ gap ledger rows for everything dropped          ── one transaction ──

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>

#include "guardian/gateway/outbox_store.hpp"
#include "outbox_store_internal.hpp"

namespace guardian::gateway {
namespace {

// A message's columns as selected by kVictimColumns (outbox_store.cpp).
struct Victim {
  std::uint64_t seq = 0;
  MessageKind kind = MessageKind::telemetry;
  std::uint32_t count = 0;
  Timestamp first_ts{};
  Timestamp last_ts{};
  std::uint64_t size = 0;
  std::string body;  // only when names are still wanted (or it is a gap message)
  int priority = 0;
  std::string source;
  Timestamp created{};
};

Victim read_victim(sqlite3_stmt* stmt, bool with_body) {
  Victim v;
  v.seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
  v.kind = kind_from_column(sqlite3_column_int64(stmt, 1));
  v.count = static_cast<std::uint32_t>(sqlite3_column_int64(stmt, 2));
  v.first_ts = from_millis(sqlite3_column_int64(stmt, 3));
  v.last_ts = from_millis(sqlite3_column_int64(stmt, 4));
  v.size = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 5));
  v.priority = sqlite3_column_int(stmt, 7);
  v.source = column_string(stmt, 8);
  v.created = from_millis(sqlite3_column_int64(stmt, 9));
  // Reading the body loads its overflow pages: only when it tells something still unknown.
  if (with_body || v.kind == MessageKind::gap) v.body = column_string(stmt, 6);
  return v;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out.push_back('\n');
    out += n;
  }
  return out;
}

std::vector<std::string> split_names(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    out.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

}  // namespace

Error write_error(sqlite3* db, int rc, std::string_view what) {
  const int system_errno = db != nullptr ? sqlite3_system_errno(db) : 0;
  const bool no_space =
      (rc & 0xff) == SQLITE_FULL ||
      ((rc & 0xff) == SQLITE_IOERR && (system_errno == ENOSPC || system_errno == EDQUOT));
  Error e = sqlite::error(db, no_space ? SQLITE_FULL : rc, what);
  if (no_space && (rc & 0xff) != SQLITE_FULL) e.message += " (no space left on the file system)";
  return e;
}

bool is_disk_full(const Error& e) noexcept {
  if (e.code.category() == sqlite::category()) return (e.code.value() & 0xff) == SQLITE_FULL;
  return e.code.category() == boost::system::generic_category() &&
         (e.code.value() == ENOSPC || e.code.value() == EDQUOT);
}

// ───────────────────────────── accounting ─────────────────────────────

void OutboxStore::add_usage(int priority, const std::string& source, SourceUsage usage,
                            std::uint64_t seq) {
  auto it = acct_->classes.find(std::pair<int, std::string_view>{priority, source});
  if (it == acct_->classes.end()) it = acct_->classes.try_emplace({priority, source}).first;
  auto& c = it->second;
  if (c.messages == 0) c.oldest_at_or_after = seq;
  c.newest_at_or_before = std::max(c.newest_at_or_before, seq);
  c.messages += usage.messages;
  c.bytes += usage.bytes;
  if (priority == static_cast<int>(Priority::gap)) return;
  auto source_it = stats_.sources.find(source);
  if (source_it == stats_.sources.end()) source_it = stats_.sources.try_emplace(source).first;
  source_it->second.messages += usage.messages;
  source_it->second.bytes += usage.bytes;
}

void OutboxStore::forget_usage(const std::pair<int, std::string>& key, SourceUsage usage) {
  if (const auto it = acct_->classes.find(key); it != acct_->classes.end()) {
    it->second.messages -= std::min(it->second.messages, usage.messages);
    it->second.bytes -= std::min(it->second.bytes, usage.bytes);
    if (it->second.messages == 0) acct_->classes.erase(it);
  }
  if (key.first == static_cast<int>(Priority::gap)) return;
  if (const auto it = stats_.sources.find(key.second); it != stats_.sources.end()) {
    it->second.messages -= std::min(it->second.messages, usage.messages);
    it->second.bytes -= std::min(it->second.bytes, usage.bytes);
    if (it->second.messages == 0) stats_.sources.erase(it);
  }
}

// ───────────────────────────── the mirror ─────────────────────────────

/// The in-memory mirror of the file (accounting, statistics, the oldest seq) as it was before a
/// transaction, put back by restore() when the transaction fails, so that memory and file agree.
class OutboxStore::MirrorGuard {
 public:
  explicit MirrorGuard(OutboxStore& store)
      : store_(store), acct_(*store.acct_), stats_(store.stats_), oldest_seq_(store.oldest_seq_) {}
  /// Puts the mirror back and returns `e`, for `return fail(e)`.
  Error restore(Error e) {
    *store_.acct_ = std::move(acct_);
    store_.stats_ = std::move(stats_);
    store_.oldest_seq_ = oldest_seq_;
    return e;
  }

 private:
  OutboxStore& store_;
  Accounting acct_;
  QueueStats stats_;
  std::uint64_t oldest_seq_;
};

// ───────────────────────────── the evictor ─────────────────────────────

/// Chooses and deletes what the bounds drop, inside the caller's transaction, and records it in
/// the (in-memory) gap ledger; the caller writes the touched ledger rows before committing.
class OutboxStore::Evictor {
 public:
  explicit Evictor(OutboxStore& store) : s_(store) {}
  /// Without settle(true) — the transaction failed — what it claimed goes back as it was.
  ~Evictor() { settle(false); }
  Evictor(const Evictor&) = delete;
  Evictor& operator=(const Evictor&) = delete;

  /// The transaction committed (true) or not: the uplink may go on with what was claimed.
  void settle(bool committed) {
    if (s_.claims_) s_.claims_->settle_drops(claimed_, committed);
    claimed_.clear();
  }

  /// May `seq` go? Not when the uplink has sent it (send_claims.hpp); otherwise it is claimed.
  [[nodiscard]] bool may_drop(std::uint64_t seq) {
    if (!s_.claims_) return true;
    if (!s_.claims_->claim_for_drop(seq)) return false;
    claimed_.push_back(seq);
    return true;
  }

  /// Adds `d` to the ledger; `counts` adds it to stats().dropped (not for a gap message being
  /// folded back: what it reports was counted when it was first dropped).
  void record(const DroppedData& d, bool counts) {
    const Accounting::LedgerKey key{d.source, d.reason};
    auto [it, fresh] = s_.acct_->ledger.try_emplace(key);
    if (fresh) {
      it->second.source = d.source;
      it->second.reason = d.reason;
    }
    it->second.merge(d);
    touched_.insert(key);
    if (counts) s_.stats_.dropped[static_cast<std::size_t>(d.reason)] += d.count;
  }

  /// `m` is not accepted: recorded for `reason`.
  void refuse(const PendingMessage& m, DropReason reason) {
    record(describe_dropped(m.kind, m.source, m.count, m.first_ts, m.last_ts, m.body, reason,
                            /*accepted=*/false),
           m.kind != MessageKind::gap);
  }

  /// Drops stored messages (and possibly `incoming`, which is not stored yet) until at least
  /// `need` bytes are free, in the bounds' order, restricted to `only_source` when given (a quota:
  /// then gap messages are not touched). Returns true when `incoming` was the one refused.
  result<bool> make_room(std::uint64_t need, const std::string* only_source, DropReason reason,
                         const PendingMessage* incoming) {
    const std::uint64_t incoming_size = incoming != nullptr ? incoming->body.size() : 0;
    const int top = only_source != nullptr ? static_cast<int>(Priority::alarm)
                                           : static_cast<int>(Priority::gap);
    std::uint64_t freed = 0;
    // Classes holding nothing that may go (everything stored is sent): passed over.
    std::set<Accounting::ClassKey> exhausted;
    while (freed < need) {
      const auto chosen = choose(only_source, incoming, incoming_size, top, exhausted);
      if (!chosen) {
        // Nothing left that may go: the incoming message is the one refused.
        if (incoming == nullptr) return false;
        refuse(*incoming, reason);
        return true;
      }
      const auto& [priority, source] = *chosen;
      const bool incoming_class = incoming != nullptr &&
                                  static_cast<int>(incoming->priority) == priority &&
                                  incoming->source == source;
      const auto stored = s_.acct_->classes.find(*chosen);
      const std::uint64_t stored_messages =
          stored == s_.acct_->classes.end() ? 0 : stored->second.messages;
      // Gap messages always go oldest first: a dropped gap message is folded into the ledger and
      // reported again, so nothing it said is lost.
      const bool oldest_first = s_.config_.when_full == config::FullPolicy::drop_oldest ||
                                priority == static_cast<int>(Priority::gap);
      if (incoming_class &&
          (!oldest_first || stored_messages == 0 || exhausted.contains(*chosen))) {
        refuse(*incoming, reason);
        return true;
      }
      BOOST_OUTCOME_TRY(size, evict_one(priority, source, oldest_first, reason));
      if (!size) {
        exhausted.insert(*chosen);
        continue;
      }
      freed += *size;
    }
    return false;
  }

  /// Deletes `v` (read by the caller) for `reason`.
  result<void> drop(const Victim& v, DropReason reason) {
    sqlite3_stmt* del = s_.stmts_->delete_one.get();
    sqlite::StatementReset reset(del);
    sqlite3_bind_int64(del, 1, static_cast<std::int64_t>(v.seq));
    if (const int rc = sqlite3_step(del); rc != SQLITE_DONE)
      return write_error(
          s_.db_.get(), rc,
          "queue " + s_.path_.string() + ": cannot drop seq " + std::to_string(v.seq));
    s_.stats_.depth -= std::min<std::uint64_t>(s_.stats_.depth, 1);
    s_.stats_.readings -= std::min<std::uint64_t>(s_.stats_.readings, v.count);
    s_.stats_.bytes -= std::min(s_.stats_.bytes, v.size);
    s_.forget_usage({v.priority, v.source}, SourceUsage{1, v.size});
    ++s_.stats_.dropped_messages;
    auto dropped = describe_dropped(v.kind, v.source, v.count, v.first_ts, v.last_ts, v.body,
                                    reason, /*accepted=*/true);
    if (reason == DropReason::refused_by_broker) dropped.add_seq(v.seq);
    record(dropped, v.kind != MessageKind::gap);
    if (v.seq == s_.oldest_seq_) oldest_dropped_ = true;
    return outcome::success();
  }

  /// Whether the ledger entry for (source, reason) could still take more names.
  [[nodiscard]] bool wants_names(const std::string& source, DropReason reason) const {
    const auto it = s_.acct_->ledger.find({source, reason});
    return it == s_.acct_->ledger.end() || it->second.names.size() < kMaxGapNames;
  }

  [[nodiscard]] const std::set<Accounting::LedgerKey>& touched() const noexcept { return touched_; }
  [[nodiscard]] bool oldest_dropped() const noexcept { return oldest_dropped_; }

 private:
  // The class to drop from: the lowest priority that has anything (stored, or the incoming
  // message), and within it the source holding the most bytes (counting the incoming message).
  std::optional<Accounting::ClassKey> choose(
      const std::string* only_source, const PendingMessage* incoming, std::uint64_t incoming_size,
      int top, const std::set<Accounting::ClassKey>& exhausted) const {
    for (int p = 0; p <= top; ++p) {
      const std::string* best = nullptr;
      std::uint64_t best_usage = 0;
      const auto consider = [&](const std::string& source) {
        if (only_source != nullptr && source != *only_source) return;
        // A class whose stored messages are all sent is passed over — but the incoming
        // message's own class stays a candidate: refusing the incoming message then comes
        // before dropping anything of higher priority.
        const bool incoming_class = incoming != nullptr &&
                                    static_cast<int>(incoming->priority) == p &&
                                    incoming->source == source;
        if (!incoming_class && !exhausted.empty() &&
            exhausted.contains(Accounting::ClassKey{p, source}))
          return;
        const std::uint64_t usage =
            usage_of(p, source) +
            (incoming != nullptr && incoming->source == source ? incoming_size : 0);
        if (best == nullptr || usage > best_usage) {
          best = &source;
          best_usage = usage;
        }
      };
      for (auto it = s_.acct_->classes.lower_bound(std::pair<int, std::string_view>{p, {}});
           it != s_.acct_->classes.end() && it->first.first == p; ++it)
        if (it->second.messages > 0) consider(it->first.second);
      if (incoming != nullptr && static_cast<int>(incoming->priority) == p)
        consider(incoming->source);
      if (best != nullptr) return Accounting::ClassKey{p, *best};
    }
    return std::nullopt;
  }

  // How much a source holds, as compared within one priority: all its data (a quota is about a
  // source's share of the queue), or, among gap messages, its gap messages.
  [[nodiscard]] std::uint64_t usage_of(int priority, const std::string& source) const {
    if (priority == static_cast<int>(Priority::gap)) {
      const auto it = s_.acct_->classes.find({priority, source});
      return it == s_.acct_->classes.end() ? 0 : it->second.bytes;
    }
    const auto it = s_.stats_.sources.find(source);
    return it == s_.stats_.sources.end() ? 0 : it->second.bytes;
  }

  // Drops the oldest (or newest) message of a class that may go; returns its size, 0 when the
  // class turned out to be empty (the accounting is corrected so the choice moves on), nullopt
  // when all it holds is sent.
  result<std::optional<std::uint64_t>> evict_one(int priority, const std::string& source,
                                                 bool oldest, DropReason reason) {
    const auto cls = s_.acct_->classes.find({priority, source});
    if (cls == s_.acct_->classes.end()) return std::optional<std::uint64_t>{0};
    sqlite3_stmt* stmt = oldest ? s_.stmts_->victim_oldest.get() : s_.stmts_->victim_newest.get();
    Victim v;
    bool found = false;
    bool passed_sent = false;
    std::uint64_t bound = oldest ? cls->second.oldest_at_or_after : cls->second.newest_at_or_before;
    {
      sqlite::StatementReset reset(stmt);
      sqlite3_bind_int(stmt, 1, priority);
      sqlite3_bind_text(stmt, 2, source.data(), static_cast<int>(source.size()), SQLITE_STATIC);
      sqlite3_bind_int64(stmt, 3,
                         static_cast<std::int64_t>(std::min<std::uint64_t>(bound, INT64_MAX)));
      int rc = SQLITE_OK;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        const auto seq = static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0));
        if (may_drop(seq)) {
          v = read_victim(stmt, wants_names(source, reason));
          found = true;
          break;
        }
        // Sent: never dropped, so the walk may pass it for good.
        passed_sent = true;
        bound = oldest ? seq + 1 : seq - 1;
      }
      if (!found && rc != SQLITE_DONE)
        return write_error(s_.db_.get(), rc,
                           "queue " + s_.path_.string() + ": cannot choose what to drop");
    }
    (oldest ? cls->second.oldest_at_or_after : cls->second.newest_at_or_before) = bound;
    if (!found) {
      if (passed_sent) return std::optional<std::uint64_t>{};
      s_.acct_->classes.erase(cls);
      return std::optional<std::uint64_t>{0};
    }
    // The walk ends here next time: nothing of this class that may go is left beyond the victim.
    if (oldest)
      cls->second.oldest_at_or_after = v.seq + 1;
    else
      cls->second.newest_at_or_before = v.seq - 1;
    BOOST_OUTCOME_TRY(drop(v, reason));
    return std::optional<std::uint64_t>{v.size};
  }

  OutboxStore& s_;
  std::set<Accounting::LedgerKey> touched_;
  std::vector<std::uint64_t> claimed_;  // claimed for drop in this transaction
  bool oldest_dropped_ = false;
};

// ───────────────────────────── one bounded write ─────────────────────────────

/// One transaction that may drop messages (a commit, an expiry, a gap report): unless commit()
/// succeeds, the transaction rolls back, the in-memory mirror is put back (by fail()) and what the
/// evictor claimed is released.
class OutboxStore::BoundedWrite {
 public:
  explicit BoundedWrite(OutboxStore& store)
      : store_(store),
        where_("queue " + store.path_.string()),
        mirror_(store),
        txn_(store.db_.get(), store.stmts_->begin.get(), store.stmts_->commit.get(),
             store.stmts_->rollback.get()),
        evictor_(store) {}

  /// Whether the transaction began; `doing` names the operation ("a commit").
  [[nodiscard]] result<void> begun(std::string_view doing) {
    if (txn_.begin_rc() == SQLITE_OK) return outcome::success();
    return fail(write_error(store_.db_.get(), txn_.begin_rc(),
                            where_ + ": cannot begin " + std::string(doing)));
  }
  /// Puts the mirror back and returns `e`, for `return w.fail(e)`.
  [[nodiscard]] Error fail(Error e) { return mirror_.restore(std::move(e)); }
  /// "queue <path>", for error messages.
  [[nodiscard]] const std::string& where() const noexcept { return where_; }
  [[nodiscard]] Evictor& evictor() noexcept { return evictor_; }

  /// Writes the ledger rows the evictor touched and commits; `what` names what a failure loses.
  [[nodiscard]] result<void> commit(std::string_view what) {
    const std::vector<Accounting::LedgerKey> touched(evictor_.touched().begin(),
                                                     evictor_.touched().end());
    if (auto r = store_.write_ledger_entries(touched); !r) return fail(r.error());
    if (const int rc = txn_.commit(); rc != SQLITE_OK)
      return fail(write_error(store_.db_.get(), rc, where_ + ": cannot commit " + std::string(what)));
    evictor_.settle(true);
    return outcome::success();
  }

 private:
  OutboxStore& store_;
  std::string where_;
  MirrorGuard mirror_;
  WriteTransaction txn_;
  Evictor evictor_;  // destroyed first: releases its claims before the rollback
};

// ───────────────────────────── commits ─────────────────────────────

namespace {

// Binds one message's eight columns at parameters first..first+7 of an insert.
void bind_message(sqlite3_stmt* insert, int first, const PendingMessage& m, std::int64_t created) {
  sqlite3_bind_int(insert, first, static_cast<int>(m.kind));
  sqlite3_bind_int(insert, first + 1, static_cast<int>(m.priority));
  sqlite3_bind_text(insert, first + 2, m.source.data(), static_cast<int>(m.source.size()),
                    SQLITE_STATIC);
  sqlite3_bind_int64(insert, first + 3, to_millis(m.first_ts));
  sqlite3_bind_int64(insert, first + 4, to_millis(m.last_ts));
  sqlite3_bind_int64(insert, first + 5, created);
  sqlite3_bind_int64(insert, first + 6, m.count);
  sqlite3_bind_blob(insert, first + 7, m.body.data(), static_cast<int>(m.body.size()),
                    SQLITE_STATIC);
}

// Resets a statement after a step, keeping its bindings (every parameter is bound again before
// the next step): sqlite3_clear_bindings costs as much as the binding.
class StatementRewind {
 public:
  explicit StatementRewind(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  ~StatementRewind() { sqlite3_reset(stmt_); }
  StatementRewind(const StatementRewind&) = delete;
  StatementRewind& operator=(const StatementRewind&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

void OutboxStore::account_inserted(const PendingMessage& m, std::uint64_t seq,
                                   std::int64_t created) {
  ++stats_.depth;
  stats_.readings += m.count;
  stats_.bytes += m.body.size();
  stats_.last_seq = std::max(stats_.last_seq, seq);
  add_usage(static_cast<int>(m.priority), m.source, SourceUsage{1, m.body.size()}, seq);
  if (oldest_seq_ == 0) {
    oldest_seq_ = seq;
    stats_.oldest_created = from_millis(created);
  }
}

result<std::uint64_t> OutboxStore::insert_message(const PendingMessage& m, std::int64_t created) {
  sqlite3_stmt* insert = stmts_->insert.get();
  StatementRewind rewind(insert);
  bind_message(insert, 1, m, created);
  if (const int rc = sqlite3_step(insert); rc != SQLITE_DONE)
    return write_error(db_.get(), rc, "queue " + path_.string() + ": cannot insert");
  const auto seq = static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_.get()));
  account_inserted(m, seq, created);
  return seq;
}

result<void> OutboxStore::insert_all(std::span<const PendingMessage> batch, std::int64_t created,
                                     std::vector<std::uint64_t>& seqs) {
  // kRowsPerInsert rows per statement: AUTOINCREMENT reads and updates sqlite_sequence once per
  // statement, not once per row, and the rows of one statement get consecutive rowids (one
  // connection, inside one transaction).
  sqlite3_stmt* many = stmts_->insert_many.get();
  std::size_t i = 0;
  for (; batch.size() - i >= kRowsPerInsert; i += kRowsPerInsert) {
    StatementRewind rewind(many);
    for (std::size_t j = 0; j < kRowsPerInsert; ++j)
      bind_message(many, static_cast<int>(8 * j + 1), batch[i + j], created);
    if (const int rc = sqlite3_step(many); rc != SQLITE_DONE)
      return write_error(db_.get(), rc, "queue " + path_.string() + ": cannot insert");
    const auto last = static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db_.get()));
    for (std::size_t j = 0; j < kRowsPerInsert; ++j) {
      const std::uint64_t seq = last - (kRowsPerInsert - 1) + j;
      account_inserted(batch[i + j], seq, created);
      seqs.push_back(seq);
    }
  }
  for (; i < batch.size(); ++i) {
    BOOST_OUTCOME_TRY(seq, insert_message(batch[i], created));
    seqs.push_back(seq);
  }
  return outcome::success();
}

result<void> OutboxStore::write_ledger_entries(
    const std::vector<std::pair<std::string, DropReason>>& keys) {
  sqlite3_stmt* put = stmts_->ledger_put.get();
  for (const auto& key : keys) {
    const auto it = acct_->ledger.find(key);
    if (it == acct_->ledger.end()) continue;
    const DroppedData& d = it->second;
    const std::string names = join_names(d.names);
    std::string seqs;
    for (const auto seq : d.seqs) seqs += (seqs.empty() ? "" : " ") + std::to_string(seq);
    sqlite::StatementReset reset(put);
    sqlite3_bind_text(put, 1, d.source.data(), static_cast<int>(d.source.size()), SQLITE_STATIC);
    sqlite3_bind_int(put, 2, static_cast<int>(d.reason));
    sqlite3_bind_int64(put, 3, static_cast<std::int64_t>(d.count));
    sqlite3_bind_int64(put, 4, static_cast<std::int64_t>(d.messages));
    sqlite3_bind_int64(put, 5, to_millis(d.from));
    sqlite3_bind_int64(put, 6, to_millis(d.to));
    sqlite3_bind_text(put, 7, names.data(), static_cast<int>(names.size()), SQLITE_STATIC);
    sqlite3_bind_text(put, 8, seqs.data(), static_cast<int>(seqs.size()), SQLITE_STATIC);
    if (const int rc = sqlite3_step(put); rc != SQLITE_DONE)
      return write_error(db_.get(), rc, "queue " + path_.string() + ": cannot record a gap");
  }
  stats_.gaps_pending = acct_->ledger.size();
  return outcome::success();
}

result<std::vector<std::uint64_t>> OutboxStore::commit_batch(
    std::span<const PendingMessage> batch, std::span<const DroppedData> dropped_before) {
  if (batch.empty() && dropped_before.empty()) return std::vector<std::uint64_t>{};
  // Nearly full (disk_headroom): the queue may only grow into what is left beyond the margin the
  // WAL needs. Bodies take more room on disk than their bytes (pages, indexes): half is counted.
  std::optional<DiskFullLimits> limits;
  std::uint64_t batch_bytes = 0;
  for (const auto& m : batch) batch_bytes += m.body.size();
  if (const auto headroom = disk_headroom(); headroom && batch_bytes > *headroom / 2)
    limits = DiskFullLimits{stats_.bytes + *headroom / 2, kLowDiskMargin / 2};
  auto committed = commit_once(batch, dropped_before, limits);
  // A write that fails for lack of space anyway (another writer took the margin) is a failed
  // commit: the Outbox retries it, and by then the headroom says how much fits.
  stats_.disk_full = committed ? limits.has_value() : is_disk_full(committed.error());
  return committed;
}

result<std::vector<std::uint64_t>> OutboxStore::commit_once(
    std::span<const PendingMessage> batch, std::span<const DroppedData> dropped_before,
    std::optional<DiskFullLimits> disk_limit) {
  std::vector<std::uint64_t> seqs;
  // The mark must cover a seq before that seq can become durable.
  BOOST_OUTCOME_TRY(reserve_seqs_through(stats_.last_seq + batch.size()));

  // The in-memory mirror changes as the transaction goes; a failure puts it back.
  BoundedWrite write(*this);
  BOOST_OUTCOME_TRY(write.begun("a commit"));
  const auto fail = [&](Error e) { return write.fail(std::move(e)); };
  Evictor& evictor = write.evictor();
  for (const auto& d : dropped_before) evictor.record(d, true);

  const std::int64_t created = to_millis(now_ms());
  const std::uint64_t max_bytes =
      disk_limit ? std::min(disk_limit->queue_bytes, config_.max_bytes) : config_.max_bytes;
  const DropReason full_reason = disk_limit ? DropReason::disk_full : DropReason::queue_full;
  // On a full disk with drop_oldest, the oldest messages of the batch beyond what may be written
  // are not written at all: inserting them only to drop them again would need space too.
  std::size_t first_kept = 0;
  if (disk_limit && config_.when_full == config::FullPolicy::drop_oldest) {
    std::uint64_t newest_bytes = 0;
    for (first_kept = batch.size(); first_kept > 0; --first_kept) {
      newest_bytes += batch[first_kept - 1].body.size();
      if (newest_bytes > std::min(max_bytes, disk_limit->batch_bytes)) break;
    }
    for (std::size_t i = 0; i < first_kept; ++i) evictor.refuse(batch[i], DropReason::disk_full);
  }
  const auto quota_percent = static_cast<std::uint64_t>(config_.source_quota_percent);
  const std::uint64_t quota_bytes =
      max_bytes / 100 * quota_percent + max_bytes % 100 * quota_percent / 100;
  seqs.reserve(batch.size());
  // The common case: everything fits as it is, so nothing needs a decision per message.
  std::uint64_t batch_bytes = 0;
  for (const auto& m : batch) batch_bytes += m.body.size();
  const bool fits = !disk_limit && quota_percent == 100 && stats_.bytes + batch_bytes <= max_bytes;
  if (fits) {
    if (auto inserted = insert_all(batch, created, seqs); !inserted)
      return fail(make_error(inserted.error().code, inserted.error().message + " (" +
                                                        std::to_string(batch.size()) +
                                                        " messages not accepted)"));
  }
  for (const auto& m : fits ? batch.subspan(batch.size()) : batch.subspan(first_kept)) {
    const std::uint64_t size = m.body.size();
    if (m.priority != Priority::gap && quota_percent < 100) {
      const auto used = stats_.sources.find(m.source);
      const std::uint64_t in_use = used == stats_.sources.end() ? 0 : used->second.bytes;
      if (size > quota_bytes) {
        evictor.refuse(m, DropReason::source_quota);
        continue;
      }
      if (in_use + size > quota_bytes) {
        auto refused =
            evictor.make_room(in_use + size - quota_bytes, &m.source, DropReason::source_quota, &m);
        if (!refused) return fail(refused.error());
        if (refused.value()) continue;
      }
    }
    if (size > max_bytes) {
      evictor.refuse(m, full_reason);
      continue;
    }
    if (stats_.bytes + size > max_bytes) {
      auto refused = evictor.make_room(stats_.bytes + size - max_bytes, nullptr, full_reason, &m);
      if (!refused) return fail(refused.error());
      if (refused.value()) continue;
    }
    auto seq = insert_message(m, created);
    if (!seq)
      return fail(make_error(
          seq.error().code,
          seq.error().message + " (" + std::to_string(batch.size()) + " messages not accepted)"));
    seqs.push_back(seq.value());
  }
  if (evictor.oldest_dropped()) {
    if (auto r = refresh_oldest(); !r) return fail(r.error());
  }
  BOOST_OUTCOME_TRY(
      write.commit("(" + std::to_string(batch.size()) + " messages not accepted)"));
  checkpoint_if_wal_over(kCheckpointAfterCommitFrames);
  return seqs;
}

// ───────────────────────────── max_age ─────────────────────────────

result<std::uint64_t> OutboxStore::expire(Timestamp cutoff) {
  if (!stats_.oldest_created || *stats_.oldest_created >= cutoff) return std::uint64_t{0};
  // Like a delete, an expiry need not be durable on its own: undone by a power cut, it happens
  // again (its ledger entry is undone with it).
  RelaxedDurability relaxed(stmts_->relaxed_sync.get(), stmts_->configured_sync.get());
  // The in-memory mirror changes as the transaction goes; a failure puts it back.
  BoundedWrite write(*this);
  BOOST_OUTCOME_TRY(write.begun("an expiry"));
  const auto fail = [&](Error e) { return write.fail(std::move(e)); };
  Evictor& evictor = write.evictor();
  sqlite3* db = db_.get();
  std::uint64_t expired = 0;
  std::uint64_t after = 0;
  for (bool more = true; more;) {
    std::vector<Victim> rows;
    {
      sqlite3_stmt* stmt = stmts_->oldest_rows.get();
      sqlite::StatementReset reset(stmt);
      sqlite3_bind_int64(stmt, 1, static_cast<std::int64_t>(after));
      int rc = SQLITE_OK;
      while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        Victim v = read_victim(stmt, /*with_body=*/false);
        if (v.created >= cutoff) {
          more = false;
          break;
        }
        if (evictor.wants_names(v.source, DropReason::max_age)) v.body = column_string(stmt, 6);
        rows.push_back(std::move(v));
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return fail(write_error(db, rc, write.where() + ": cannot read the oldest messages"));
      if (rc == SQLITE_DONE && rows.size() < 64) more = false;
    }
    for (const auto& v : rows) {
      after = v.seq;
      // A sent message is on its way; it leaves when delivered.
      if (!evictor.may_drop(v.seq)) continue;
      if (auto r = evictor.drop(v, DropReason::max_age); !r) return fail(r.error());
      ++expired;
    }
    if (rows.empty()) more = false;
  }
  if (auto r = refresh_oldest(); !r) return fail(r.error());
  BOOST_OUTCOME_TRY(write.commit("an expiry"));
  checkpoint_if_wal_over(kCheckpointAfterDeleteFrames);
  return expired;
}

result<bool> OutboxStore::refuse(std::uint64_t seq) {
  RelaxedDurability relaxed(stmts_->relaxed_sync.get(), stmts_->configured_sync.get());
  BoundedWrite write(*this);
  BOOST_OUTCOME_TRY(write.begun("a refusal"));
  Evictor& evictor = write.evictor();
  Victim v;
  {
    sqlite3_stmt* stmt = stmts_->oldest_rows.get();  // the rows after seq - 1: seq, if stored
    sqlite::StatementReset reset(stmt);
    sqlite3_bind_int64(stmt, 1, static_cast<std::int64_t>(seq) - 1);
    const int rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
      return write.fail(write_error(db_.get(), rc, write.where() + ": cannot read seq " +
                                                       std::to_string(seq)));
    if (rc == SQLITE_DONE || static_cast<std::uint64_t>(sqlite3_column_int64(stmt, 0)) != seq)
      return false;
    v = read_victim(stmt, /*with_body=*/true);
  }
  if (auto r = evictor.drop(v, DropReason::refused_by_broker); !r) return write.fail(r.error());
  if (evictor.oldest_dropped())
    if (auto r = refresh_oldest(); !r) return write.fail(r.error());
  BOOST_OUTCOME_TRY(write.commit("a refusal"));
  if (claims_) claims_->forget(std::span<const std::uint64_t>(&seq, 1));
  return true;
}

// ───────────────────────────── the gap ledger ─────────────────────────────

result<void> OutboxStore::load_ledger() {
  sqlite3* db = db_.get();
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT source, reason, count, messages, first_ts, last_ts, names,"
                              " seqs FROM gap_ledger",
                              -1, &raw, nullptr);
  sqlite::StatementPtr stmt(raw);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      DroppedData d;
      d.source = column_string(stmt.get(), 0);
      const int reason = sqlite3_column_int(stmt.get(), 1);
      if (reason < 0 || reason >= static_cast<int>(kDropReasonCount)) continue;
      d.reason = static_cast<DropReason>(reason);
      d.count = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 2));
      d.messages = static_cast<std::uint64_t>(sqlite3_column_int64(stmt.get(), 3));
      d.from = from_millis(sqlite3_column_int64(stmt.get(), 4));
      d.to = from_millis(sqlite3_column_int64(stmt.get(), 5));
      d.names = split_names(column_string(stmt.get(), 6));
      const std::string seqs = column_string(stmt.get(), 7);
      for (std::size_t pos = 0; pos < seqs.size();) {
        const auto end = std::min(seqs.find(' ', pos), seqs.size());
        d.add_seq(std::strtoull(seqs.c_str() + pos, nullptr, 10));
        pos = end + 1;
      }
      acct_->ledger[{d.source, d.reason}] = std::move(d);
    }
  if (rc != SQLITE_DONE)
    return sqlite::error(db, rc, "queue " + path_.string() + ": cannot read its gap ledger");
  stats_.gaps_pending = acct_->ledger.size();
  return outcome::success();
}

std::vector<DroppedData> OutboxStore::gap_ledger() const {
  std::vector<DroppedData> out;
  for (const auto& [key, d] : acct_->ledger) out.push_back(d);
  return out;
}

result<std::vector<std::uint64_t>> OutboxStore::report_gaps() {
  std::vector<std::uint64_t> seqs;
  if (acct_->ledger.empty()) return seqs;
  BOOST_OUTCOME_TRY(reserve_seqs_through(stats_.last_seq + acct_->ledger.size()));
  // The in-memory mirror changes as the transaction goes; a failure puts it back. Durable (as
  // configured): a gap message gets a seq like any accepted message.
  BoundedWrite write(*this);
  BOOST_OUTCOME_TRY(write.begun("reporting gaps"));
  const auto fail = [&](Error e) { return write.fail(std::move(e)); };
  {
    sqlite::StatementReset reset(stmts_->ledger_clear.get());
    if (const int rc = sqlite3_step(stmts_->ledger_clear.get()); rc != SQLITE_DONE)
      return fail(write_error(db_.get(), rc, write.where() + ": cannot empty the gap ledger"));
  }
  auto entries = std::move(acct_->ledger);
  acct_->ledger.clear();

  Evictor& evictor = write.evictor();
  const std::int64_t created = to_millis(now_ms());
  for (const auto& [key, d] : entries) {
    const PendingMessage m = encode_gap(d);
    if (stats_.bytes + m.body.size() > config_.max_bytes) {
      auto refused = evictor.make_room(stats_.bytes + m.body.size() - config_.max_bytes, nullptr,
                                       DropReason::queue_full, &m);
      if (!refused) return fail(refused.error());
      if (refused.value()) continue;  // folded back into the ledger
    }
    auto seq = insert_message(m, created);
    if (!seq) return fail(seq.error());
    seqs.push_back(seq.value());
  }
  if (evictor.oldest_dropped()) {
    if (auto r = refresh_oldest(); !r) return fail(r.error());
  }
  stats_.gaps_pending = acct_->ledger.size();
  BOOST_OUTCOME_TRY(write.commit("the gap messages"));
  checkpoint_if_wal_over(kCheckpointAfterCommitFrames);
  return seqs;
}

// ───────────────────────────── edge state ─────────────────────────────

result<std::map<std::string, std::string>> OutboxStore::load_state() {
  std::map<std::string, std::string> out;
  sqlite3* db = db_.get();
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT key, value FROM edge_state", -1, &raw, nullptr);
  sqlite::StatementPtr stmt(raw);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW)
      out[column_string(stmt.get(), 0)] = column_string(stmt.get(), 1);
  if (rc != SQLITE_DONE)
    return sqlite::error(db, rc, "queue " + path_.string() + ": cannot read the edge state");
  return out;
}

result<void> OutboxStore::save_state(const std::map<std::string, std::string>& values) {
  if (values.empty()) return outcome::success();
  sqlite3* db = db_.get();
  const std::string where = "queue " + path_.string();
  BOOST_OUTCOME_TRY(put, sqlite::prepare(db,
                                         "INSERT OR REPLACE INTO edge_state(key, value)"
                                         " VALUES(?1, ?2)"));
  RelaxedDurability relaxed(stmts_->relaxed_sync.get(), stmts_->configured_sync.get());
  WriteTransaction txn(db, stmts_->begin.get(), stmts_->commit.get(), stmts_->rollback.get());
  if (txn.begin_rc() != SQLITE_OK)
    return write_error(db, txn.begin_rc(), where + ": cannot begin saving the edge state");
  for (const auto& [key, value] : values) {
    sqlite::StatementReset reset(put.get());
    sqlite3_bind_text(put.get(), 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
    sqlite3_bind_text(put.get(), 2, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
    if (const int rc = sqlite3_step(put.get()); rc != SQLITE_DONE)
      return write_error(db, rc, where + ": cannot save the edge state");
  }
  if (const int rc = txn.commit(); rc != SQLITE_OK)
    return write_error(db, rc, where + ": cannot commit the edge state");
  return outcome::success();
}

}  // namespace guardian::gateway
