#include "guardian/gateway/refusal_watch.hpp"

#include <algorithm>

namespace guardian::gateway {

RefusalWatch::RefusalWatch(int refuse_after, Duration right_after) noexcept
    : refuse_after_(std::max(1, refuse_after)), right_after_(right_after) {}

std::optional<std::uint64_t> RefusalWatch::on_connection_lost(
    std::optional<std::uint64_t> lowest, std::optional<std::uint64_t> highest, bool alone,
    Duration since_publish) noexcept {
  // Not right after a publish (or nothing was in flight): says nothing about any message.
  if (!lowest || since_publish > right_after_) return std::nullopt;
  if (!alone) {
    // One of several: each goes alone next, until the culprit (if any) is alone when it drops.
    careful_through_ = std::max(careful_through_.value_or(0), highest.value_or(*lowest));
    return std::nullopt;
  }
  if (suspect_ != lowest) {
    suspect_ = lowest;
    drops_ = 0;
  }
  careful_through_ = std::max(careful_through_.value_or(0), *lowest);
  if (++drops_ < refuse_after_) return std::nullopt;
  const auto refused = *suspect_;
  suspect_.reset();
  drops_ = 0;
  return refused;
}

void RefusalWatch::on_settled(std::uint64_t seq) noexcept {
  if (suspect_ == seq) {
    suspect_.reset();
    drops_ = 0;
  }
}

std::optional<std::uint64_t> RefusalWatch::alone_through() const noexcept {
  return careful_through_;
}

void RefusalWatch::passed(std::uint64_t next) noexcept {
  if (careful_through_ && next > *careful_through_) careful_through_.reset();
  if (suspect_ && next > *suspect_) {
    suspect_.reset();
    drops_ = 0;
  }
}

}  // namespace guardian::gateway
