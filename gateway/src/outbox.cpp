#include "guardian/gateway/outbox.hpp"

#include <algorithm>
#include <future>
#include <iterator>
#include <optional>
#include <set>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "guardian/common/backoff.hpp"
#include "outbox_store_internal.hpp"

// Who runs what:
//
//   io_context thread                          worker thread (the only user of OutboxStore)
//   ─────────────────                          ────────────────────────────────────────────
//   submit() ─▶ pending ─(window | size)─▶ post ──▶ commit_batch ─┐
//                    ▲                                            │ post
//   commit_done() ◀──┴────────────────────────────────────────────┘  (next batch starts here)
//   acknowledge() ─▶ acked + to_delete ─(window | size)─▶ post ──▶ remove ─▶ post delete_done()
//   async_fetch() ─────────────────────────────────────▶ post ──▶ fetch_after ─▶ post: filter
//                                                                      acked, call the handler
// The worker is a one-thread pool, so its tasks run in the order they were posted.

namespace guardian::gateway {
namespace {

namespace asio = boost::asio;

// "Enough is pending" to commit without waiting for the window.
constexpr std::size_t kCommitNowMessages = 1024;
// Acknowledgements deleted at once without waiting for the window.
constexpr std::size_t kDeleteNowSeqs = 512;
// A failed commit or delete is retried after back-off within these bounds.
constexpr std::chrono::milliseconds kRetryMin{50};
constexpr std::chrono::milliseconds kRetryMax{5000};
// How often max_age and the gap ledger are looked at (both are cheap checks of the latest stats;
// work is posted to the worker only when something is due).
constexpr std::chrono::milliseconds kHousekeepingInterval{1000};

// What the worker reports with every result: the store's statistics, versioned so that a result
// applied late (flush() applies its own inline) never overwrites newer figures.
struct StatsSnapshot {
  QueueStats stats;
  std::uint64_t version = 0;
};

}  // namespace

struct Outbox::Impl : std::enable_shared_from_this<Outbox::Impl> {
  using Batch = std::shared_ptr<std::vector<PendingMessage>>;
  using SeqBatch = std::shared_ptr<std::vector<std::uint64_t>>;

  using DropKey = std::pair<std::string, DropReason>;

  Impl(asio::io_context& context, OutboxStore s, const config::QueueConfig& c)
      : io(context),
        config(c),
        store(std::move(s)),
        commit_timer(context),
        delete_timer(context),
        housekeeping_timer(context),
        commit_retry(kRetryMin, kRetryMax),
        delete_retry(kRetryMin, kRetryMax) {
    store_stats = store->stats();
    store->share_claims(claims);
    commit_now_bytes = std::max<std::uint64_t>(config.max_pending_bytes / 4, 1);
    // Before the worker runs anything: the store is still this thread's.
    if (auto state = store->load_state())
      saved_state = std::move(state).value();
    else
      counters.last_error = state.error().describe();
  }

  void start_housekeeping() {
    housekeeping_timer.expires_after(kHousekeepingInterval);
    housekeeping_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || self->closed) return;
      self->housekeeping(false);
      self->start_housekeeping();
    });
  }

  // ── io_context thread ──

  bool submit(PendingMessage message) {
    ++counters.submitted;
    const std::uint64_t bytes = message.body.size();
    if (closed || queued_bytes + inflight_bytes + bytes > config.max_pending_bytes) {
      ++counters.rejected;
      record_refusal(message);
      return false;
    }
    queued_bytes += bytes;
    pending.push_back(std::move(message));
    if (commit_timer_purpose == TimerPurpose::retry || commit_in_flight) return true;
    if (pending.size() >= kCommitNowMessages || queued_bytes >= commit_now_bytes)
      start_commit();
    else if (commit_timer_purpose == TimerPurpose::none)
      arm_commit_timer(TimerPurpose::window, config.commit_window);
    return true;
  }

  // A refused message is reported like any other loss: it goes to the store's gap ledger with
  // the next commit (one is scheduled if none is coming).
  void record_refusal(const PendingMessage& m) {
    if (closed) return;
    const DropReason reason =
        store_stats.disk_full ? DropReason::disk_full : DropReason::backpressure;
    const DroppedData d = describe_dropped(m.kind, m.source, m.count, m.first_ts, m.last_ts, m.body,
                                           reason, /*accepted=*/false);
    auto [it, fresh] = refused.try_emplace(DropKey{d.source, reason});
    if (fresh) {
      it->second.source = d.source;
      it->second.reason = reason;
    }
    it->second.merge(d);
    if (!commit_in_flight && commit_timer_purpose == TimerPurpose::none)
      arm_commit_timer(TimerPurpose::window, config.commit_window);
  }

  std::shared_ptr<std::vector<DroppedData>> take_refused() {
    auto drops = std::make_shared<std::vector<DroppedData>>();
    for (auto& [key, d] : refused) drops->push_back(std::move(d));
    refused.clear();
    return drops;
  }

  void give_back_refused(const std::vector<DroppedData>& drops) {
    for (const auto& d : drops) {
      auto [it, fresh] = refused.try_emplace(DropKey{d.source, d.reason});
      if (fresh) {
        it->second.source = d.source;
        it->second.reason = d.reason;
      }
      it->second.merge(d);
    }
  }

  enum class TimerPurpose : std::uint8_t { none, window, retry };

  void arm_commit_timer(TimerPurpose purpose, std::chrono::milliseconds delay) {
    commit_timer_purpose = purpose;
    const std::uint64_t generation = ++commit_timer_generation;
    commit_timer.expires_after(delay);
    commit_timer.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      // A timer re-armed or cancelled since is stale: its generation no longer matches.
      if (ec || generation != self->commit_timer_generation || self->closed) return;
      self->commit_timer_purpose = TimerPurpose::none;
      if (!self->commit_in_flight && self->has_work()) self->start_commit();
    });
  }

  [[nodiscard]] bool has_work() const noexcept { return !pending.empty() || !refused.empty(); }

  void start_commit() {
    ++commit_timer_generation;
    commit_timer.cancel();
    commit_timer_purpose = TimerPurpose::none;
    auto batch = std::make_shared<std::vector<PendingMessage>>(std::move(pending));
    pending.clear();
    auto drops = take_refused();
    const std::uint64_t bytes = std::exchange(queued_bytes, 0);
    inflight_bytes = bytes;
    inflight_messages = batch->size();
    commit_in_flight = true;
    asio::post(worker, [self = shared_from_this(), batch, drops, bytes] {
      auto committed = self->store->commit_batch(*batch, *drops);
      auto snapshot = self->snapshot();
      asio::post(self->io, [self, batch, drops, bytes, committed = std::move(committed),
                            snapshot = std::move(snapshot)]() mutable {
        if (self->closed) return;
        self->commit_in_flight = false;
        self->inflight_bytes = 0;
        self->inflight_messages = 0;
        self->apply(std::move(snapshot));
        self->account_commit(batch, drops, bytes, committed);
        // Natural group commit: whatever arrived during this commit goes now.
        if (self->has_work() && self->commit_timer_purpose != TimerPurpose::retry)
          self->start_commit();
      });
    });
  }

  void account_commit(const Batch& batch, const std::shared_ptr<std::vector<DroppedData>>& drops,
                      std::uint64_t bytes, const result<std::vector<std::uint64_t>>& committed) {
    if (batch->empty() && drops->empty()) return;
    if (committed) {
      ++counters.commits;
      // Accepted, or dropped by the bounds and recorded in the gap ledger: either way no longer
      // the Outbox's. Only what got a seq counts as committed.
      counters.committed += committed.value().size();
      commit_retry.reset();
      if (!committed.value().empty()) {
        highest_committed = std::max(highest_committed, committed.value().back());
        notify_committed(highest_committed);
      }
      return;
    }
    // Not accepted: back at the front of the buffer, in order, and retried after back-off.
    ++counters.commit_errors;
    if (is_disk_full(committed.error())) ++counters.disk_full_errors;
    counters.last_error = committed.error().describe();
    pending.insert(pending.begin(), std::make_move_iterator(batch->begin()),
                   std::make_move_iterator(batch->end()));
    queued_bytes += bytes;
    give_back_refused(*drops);
    if (!closed) arm_commit_timer(TimerPurpose::retry, commit_retry.next());
  }

  void notify_committed(std::uint64_t last_seq) {
    asio::post(io, [self = shared_from_this(), last_seq] {
      if (self->closed) return;
      // Copy: a handler may register another one.
      const auto handlers = self->committed_handlers;
      for (const auto& h : handlers) h(last_seq);
    });
  }

  void acknowledge(std::uint64_t seq) {
    if (closed || !acked.insert(seq).second) return;
    to_delete.push_back(seq);
    if (!delete_in_flight && !delete_retry_pending) {
      if (to_delete.size() >= kDeleteNowSeqs)
        start_delete();
      else if (!delete_timer_armed)
        arm_delete_timer(config.commit_window);
    }
  }

  // A refused message is kept from fetches (like an acknowledged one) until it is gone; if its
  // refusal fails it is fetched, sent and refused again: never lost.
  void refuse(std::uint64_t seq) {
    if (closed || !acked.insert(seq).second) return;
    asio::post(worker, [self = shared_from_this(), seq] {
      auto outcome = self->store->refuse(seq);
      auto snapshot = self->snapshot();
      asio::post(self->io, [self, seq, outcome = std::move(outcome),
                            snapshot = std::move(snapshot)]() mutable {
        if (self->closed) return;
        self->apply(std::move(snapshot));
        self->acked.erase(seq);
        if (!outcome)
          self->counters.last_error = outcome.error().describe();
        else if (outcome.value())
          ++self->counters.refused;
      });
    });
  }

  void arm_delete_timer(std::chrono::milliseconds delay) {
    delete_timer_armed = true;
    const std::uint64_t generation = ++delete_timer_generation;
    delete_timer.expires_after(delay);
    delete_timer.async_wait([self = shared_from_this(), generation](boost::system::error_code ec) {
      if (ec || generation != self->delete_timer_generation || self->closed) return;
      self->delete_timer_armed = false;
      self->delete_retry_pending = false;
      if (!self->delete_in_flight && !self->to_delete.empty()) self->start_delete();
    });
  }

  void start_delete() {
    ++delete_timer_generation;
    delete_timer.cancel();
    delete_timer_armed = false;
    auto seqs = std::make_shared<std::vector<std::uint64_t>>(std::move(to_delete));
    to_delete.clear();
    delete_in_flight = true;
    asio::post(worker, [self = shared_from_this(), seqs] {
      auto removed = self->store->remove(*seqs);
      auto snapshot = self->snapshot();
      asio::post(self->io, [self, seqs, removed = std::move(removed),
                            snapshot = std::move(snapshot)]() mutable {
        if (self->closed) return;
        self->delete_in_flight = false;
        self->apply(std::move(snapshot));
        self->account_delete(seqs, removed);
        if (!self->to_delete.empty() && !self->delete_retry_pending && !self->delete_timer_armed)
          self->arm_delete_timer(self->config.commit_window);
      });
    });
  }

  void account_delete(const SeqBatch& seqs, const result<void>& removed) {
    if (seqs->empty()) return;
    if (removed) {
      for (auto s : *seqs) acked.erase(s);
      counters.acknowledged += seqs->size();
      delete_retry.reset();
      return;
    }
    // Still acknowledged (so never re-fetched); deleted on the next attempt.
    ++counters.delete_errors;
    counters.last_error = removed.error().describe();
    to_delete.insert(to_delete.begin(), seqs->begin(), seqs->end());
    if (!closed) {
      delete_retry_pending = true;
      arm_delete_timer(delete_retry.next());
    }
  }

  void async_fetch(std::uint64_t after_seq, std::size_t limit, FetchHandler handler,
                   std::uint64_t up_to) {
    // Over-fetch by the acknowledged-but-undeleted seqs above `after_seq` so that filtering them
    // out still fills `limit` when more messages exist. (A draining uplink fetches above what it
    // has published, so this is usually zero.)
    const auto above = up_to <= after_seq
                           ? std::size_t{0}
                           : static_cast<std::size_t>(std::distance(acked.upper_bound(after_seq),
                                                                    acked.upper_bound(up_to)));
    const std::size_t wanted = limit + above;
    asio::post(worker, [self = shared_from_this(), after_seq, limit, wanted, up_to,
                        handler = std::move(handler)]() mutable {
      auto fetched = self->store->fetch_after(after_seq, wanted, up_to);
      asio::post(self->io, [self, limit, fetched = std::move(fetched),
                            handler = std::move(handler)]() mutable {
        if (self->closed) return;
        if (fetched) {
          // What the handler does not get is not held (the store held all it returned).
          auto& messages = fetched.value();
          const auto unwanted = std::stable_partition(
              messages.begin(), messages.end(),
              [&](const StoredMessage& m) { return !self->acked.contains(m.seq); });
          const auto end =
              messages.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                     limit, static_cast<std::size_t>(unwanted - messages.begin())));
          for (auto it = end; it != messages.end(); ++it) self->claims->release(it->seq);
          messages.erase(end, messages.end());
        }
        handler(std::move(fetched));
      });
    });
  }

  void flush() {
    if (!store) return;
    ++commit_timer_generation;
    commit_timer.cancel();
    commit_timer_purpose = TimerPurpose::none;
    ++delete_timer_generation;
    delete_timer.cancel();
    delete_timer_armed = false;
    delete_retry_pending = false;

    auto batch = std::make_shared<std::vector<PendingMessage>>(std::move(pending));
    pending.clear();
    auto drops = take_refused();
    const std::uint64_t bytes = std::exchange(queued_bytes, 0);
    auto seqs = std::make_shared<std::vector<std::uint64_t>>(std::move(to_delete));
    to_delete.clear();

    struct Outcome {
      result<std::vector<std::uint64_t>> committed{std::vector<std::uint64_t>{}};
      result<void> removed{outcome::success()};
      StatsSnapshot snapshot;
    };
    std::promise<Outcome> done;
    auto finished = done.get_future();
    // FIFO worker: this runs after everything posted before, so when it is done, so are they.
    asio::post(worker, [this, batch, drops, seqs, &done] {
      Outcome o;
      if (!batch->empty() || !drops->empty()) o.committed = store->commit_batch(*batch, *drops);
      if (!seqs->empty()) o.removed = store->remove(*seqs);
      o.snapshot = snapshot();
      done.set_value(std::move(o));
    });
    Outcome o = finished.get();
    apply(std::move(o.snapshot));
    account_commit(batch, drops, bytes, o.committed);
    account_delete(seqs, o.removed);
  }

  // max_age and the gap ledger (see the header). `force` reports the ledger without waiting for
  // gap_interval.
  void housekeeping(bool force) {
    if (housekeeping_in_flight || closed) return;
    const Timestamp now = now_ms();
    const Timestamp cutoff = now - config.max_age;
    const bool expire_due = store_stats.oldest_created && *store_stats.oldest_created < cutoff;
    const auto since_report = std::chrono::steady_clock::now() - last_gap_report;
    const bool gaps_due =
        store_stats.gaps_pending > 0 && (force || since_report >= config.gap_interval);
    if (!expire_due && !gaps_due) return;
    housekeeping_in_flight = true;
    asio::post(worker, [self = shared_from_this(), cutoff, expire_due, gaps_due] {
      result<std::uint64_t> expired{std::uint64_t{0}};
      result<std::vector<std::uint64_t>> gaps{std::vector<std::uint64_t>{}};
      if (expire_due) expired = self->store->expire(cutoff);
      if (gaps_due) gaps = self->store->report_gaps();
      auto snapshot = self->snapshot();
      asio::post(self->io, [self, gaps_due, expired = std::move(expired), gaps = std::move(gaps),
                            snapshot = std::move(snapshot)]() mutable {
        if (self->closed) return;
        self->housekeeping_in_flight = false;
        self->apply(std::move(snapshot));
        if (expired)
          self->counters.expired += expired.value();
        else
          self->counters.last_error = expired.error().describe();
        if (!gaps) {
          self->counters.last_error = gaps.error().describe();
          return;
        }
        if (gaps_due) self->last_gap_report = std::chrono::steady_clock::now();
        if (gaps.value().empty()) return;
        self->counters.gaps_reported += gaps.value().size();
        self->counters.committed += gaps.value().size();
        self->highest_committed = std::max(self->highest_committed, gaps.value().back());
        self->notify_committed(self->highest_committed);
      });
    });
  }

  void save_state(std::map<std::string, std::string> values) {
    if (closed) return;
    for (const auto& [k, v] : values) saved_state[k] = v;
    asio::post(worker, [self = shared_from_this(), values = std::move(values)] {
      auto saved = self->store->save_state(values);
      if (saved) return;
      asio::post(self->io, [self, error = saved.error().describe()] {
        if (!self->closed) self->counters.last_error = error;
      });
    });
  }

  void shutdown() {
    flush();
    closed = true;
    commit_timer.cancel();
    delete_timer.cancel();
    housekeeping_timer.cancel();
    worker.join();
    store.reset();
  }

  void apply(StatsSnapshot snapshot) {
    if (snapshot.version <= applied_stats_version) return;
    applied_stats_version = snapshot.version;
    store_stats = std::move(snapshot.stats);
  }

  QueueStats stats() const {
    QueueStats s = store_stats;
    s.pending_messages = pending.size() + inflight_messages;
    s.pending_bytes = queued_bytes + inflight_bytes;
    return s;
  }

  // ── worker thread ──

  StatsSnapshot snapshot() { return StatsSnapshot{store->stats(), ++worker_stats_version}; }

  asio::io_context& io;
  config::QueueConfig config;
  std::optional<OutboxStore> store;        // worker thread only (and the constructor/shutdown)
  std::shared_ptr<SendClaims> claims = std::make_shared<SendClaims>();  // thread-safe
  std::uint64_t worker_stats_version = 0;  // worker thread only
  asio::thread_pool worker{1};

  // io_context thread only:
  asio::steady_timer commit_timer;
  asio::steady_timer delete_timer;
  asio::steady_timer housekeeping_timer;
  bool housekeeping_in_flight = false;
  std::chrono::steady_clock::time_point last_gap_report{};
  std::map<DropKey, DroppedData> refused;  // refused by back-pressure, not yet in the store
  std::map<std::string, std::string> saved_state;
  Backoff commit_retry;
  Backoff delete_retry;
  std::uint64_t commit_now_bytes = 0;
  std::vector<PendingMessage> pending;
  std::uint64_t queued_bytes = 0;
  std::uint64_t inflight_bytes = 0;
  std::size_t inflight_messages = 0;
  bool commit_in_flight = false;
  TimerPurpose commit_timer_purpose = TimerPurpose::none;
  std::uint64_t commit_timer_generation = 0;
  std::set<std::uint64_t> acked;         // acknowledged, delete not yet completed
  std::vector<std::uint64_t> to_delete;  // acknowledged, delete not yet started
  bool delete_in_flight = false;
  bool delete_timer_armed = false;
  bool delete_retry_pending = false;
  std::uint64_t delete_timer_generation = 0;
  std::vector<CommittedHandler> committed_handlers;
  QueueStats store_stats;
  std::uint64_t applied_stats_version = 0;
  std::uint64_t highest_committed = 0;
  OutboxCounters counters;
  bool closed = false;
};

Outbox::Outbox(asio::io_context& io, OutboxStore store, const config::QueueConfig& config)
    : impl_(std::make_shared<Impl>(io, std::move(store), config)) {
  impl_->start_housekeeping();
}

Outbox::~Outbox() { impl_->shutdown(); }

bool Outbox::submit(PendingMessage message) { return impl_->submit(std::move(message)); }

void Outbox::on_committed(CommittedHandler handler) {
  impl_->committed_handlers.push_back(std::move(handler));
}

void Outbox::async_fetch(std::uint64_t after_seq, std::size_t limit, FetchHandler handler,
                         std::uint64_t up_to) {
  impl_->async_fetch(after_seq, limit, std::move(handler), up_to);
}

void Outbox::acknowledge(std::uint64_t seq) { impl_->acknowledge(seq); }

void Outbox::refuse(std::uint64_t seq) { impl_->refuse(seq); }

void Outbox::flush() { impl_->flush(); }

const std::map<std::string, std::string>& Outbox::saved_state() const noexcept {
  return impl_->saved_state;
}

void Outbox::save_state(std::map<std::string, std::string> values) {
  impl_->save_state(std::move(values));
}

void Outbox::housekeeping_now() { impl_->housekeeping(true); }

QueueStats Outbox::stats() const { return impl_->stats(); }

const OutboxCounters& Outbox::counters() const noexcept { return impl_->counters; }

SendClaims& Outbox::claims() noexcept { return *impl_->claims; }

std::uint64_t Outbox::pending_bytes() const noexcept {
  return impl_->queued_bytes + impl_->inflight_bytes;
}

}  // namespace guardian::gateway
