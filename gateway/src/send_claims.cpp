#include "guardian/gateway/send_claims.hpp"

namespace guardian::gateway {

void SendClaims::hold(std::span<const std::uint64_t> seqs) {
  if (seqs.empty()) return;
  std::lock_guard lock(mutex_);
  for (const auto seq : seqs) ++claims_[seq].holds;
}

void SendClaims::release_locked(std::uint64_t seq) {
  const auto it = claims_.find(seq);
  if (it == claims_.end()) return;
  auto& c = it->second;
  if (c.holds > 0) --c.holds;
  if (c.holds == 0 && (c.state == State::held || c.state == State::dropped)) claims_.erase(it);
}

void SendClaims::release(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  release_locked(seq);
}

void SendClaims::release(std::span<const std::uint64_t> seqs) {
  if (seqs.empty()) return;
  std::lock_guard lock(mutex_);
  for (const auto seq : seqs) release_locked(seq);
}

SendClaims::Verdict SendClaims::start_sending(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  const auto it = claims_.find(seq);
  if (it == claims_.end()) return Verdict::skip;
  switch (it->second.state) {
    case State::held:
      it->second.state = State::sent;
      ++sent_;
      return Verdict::send;
    case State::sent:
      return Verdict::send;
    case State::dropping:
      return Verdict::wait;
    case State::dropped:
      return Verdict::skip;
  }
  return Verdict::skip;
}

bool SendClaims::claim_for_drop(std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  const auto it = claims_.find(seq);
  if (it == claims_.end()) return true;
  if (it->second.state == State::sent) return false;
  it->second.state = State::dropping;
  return true;
}

void SendClaims::settle_drops(std::span<const std::uint64_t> seqs, bool committed) {
  if (seqs.empty()) return;
  std::lock_guard lock(mutex_);
  for (const auto seq : seqs) {
    const auto it = claims_.find(seq);
    if (it == claims_.end() || it->second.state != State::dropping) continue;
    if (!committed) {
      it->second.state = State::held;
    } else if (it->second.holds == 0) {
      claims_.erase(it);
    } else {
      it->second.state = State::dropped;
    }
  }
}

void SendClaims::forget(std::span<const std::uint64_t> seqs) {
  if (seqs.empty()) return;
  std::lock_guard lock(mutex_);
  for (const auto seq : seqs) {
    const auto it = claims_.find(seq);
    if (it == claims_.end()) continue;
    if (it->second.state == State::sent) --sent_;
    claims_.erase(it);
  }
}

std::size_t SendClaims::size() const {
  std::lock_guard lock(mutex_);
  return claims_.size();
}

std::size_t SendClaims::sent() const {
  std::lock_guard lock(mutex_);
  return sent_;
}

}  // namespace guardian::gateway
