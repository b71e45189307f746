#pragma once
/// \file
/// Which stored messages are on their way to the broker, shared by the queue's worker thread
/// (which drops messages for the bounds) and the uplink on the io_context (which sends them), so
/// that a message the bounds drop is either reported in a gap or delivered — never both, never
/// neither:
///
///   worker: fetch_after ──hold()──▶ [held] ──(uplink)── start_sending() ──▶ [sent]
///   worker: bounds ──claim_for_drop()──▶ [dropping] ──commit──▶ [dropped] ──release()──▶ gone
///                                                    └─rollback─▶ back as it was
///   worker: remove() (delivered, deleted) ──forget()──▶ gone
///
/// - *held*: fetched for the uplink and still in its memory (fetch-ahead). The bounds may drop a
///   held message; start_sending() then says no, and the uplink skips it.
/// - *sent*: the uplink has published it (a PUBACK may be on its way). The bounds never drop a
///   sent message — they drop something else, or refuse the incoming message; it leaves when
///   its delivery is deleted. (After a lost connection it stays sent until re-sent and
///   acknowledged: the broker may have it.)
/// - *dropping*: chosen by a bound inside a transaction that has not committed yet; the uplink
///   waits (start_sending() says busy) until the transaction commits (dropped) or rolls back.
///
/// Every method takes one short lock; none blocks on disk. A message with no entry is neither
/// held nor sent.

#include <cstdint>
#include <map>
#include <mutex>
#include <span>

namespace guardian::gateway {

class SendClaims {
 public:
  /// What start_sending() decided.
  enum class Verdict : std::uint8_t {
    send,    ///< publish it: it is now sent, and no bound will drop it
    skip,    ///< it was dropped (and reported in a gap) or delivered: do not publish it
    wait,    ///< a transaction that drops it is committing: try again shortly
  };

  /// Worker: the uplink will hold these messages (one hold per fetch that returned it).
  void hold(std::span<const std::uint64_t> seqs);
  /// Uplink: one hold of `seq` ended (published, skipped, or discarded from memory).
  void release(std::uint64_t seq);
  void release(std::span<const std::uint64_t> seqs);
  /// Uplink: about to publish `seq`, which it holds.
  [[nodiscard]] Verdict start_sending(std::uint64_t seq);

  /// Worker, inside a transaction: may a bound drop `seq`? False when it is sent: it may already
  /// be at the broker, and it leaves the queue when its delivery is deleted. True marks a held
  /// message dropping (one the uplink does not hold needs no mark: it cannot fetch it meanwhile,
  /// fetches run on the worker too).
  [[nodiscard]] bool claim_for_drop(std::uint64_t seq);
  /// Worker: the transaction that claimed `seqs` committed (true) or rolled back (false).
  void settle_drops(std::span<const std::uint64_t> seqs, bool committed);
  /// Worker: these messages were delivered and deleted.
  void forget(std::span<const std::uint64_t> seqs);

  /// Entries kept (for tests and health): held, sent or dropped messages.
  [[nodiscard]] std::size_t size() const;
  /// Messages sent and not yet deleted.
  [[nodiscard]] std::size_t sent() const;

 private:
  enum class State : std::uint8_t { held, sent, dropping, dropped };
  struct Claim {
    std::uint32_t holds = 0;
    State state = State::held;
  };
  void release_locked(std::uint64_t seq);

  mutable std::mutex mutex_;
  std::map<std::uint64_t, Claim> claims_;
  std::size_t sent_ = 0;
};

}  // namespace guardian::gateway
