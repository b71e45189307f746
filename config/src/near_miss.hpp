#pragma once
/// \file
/// "Did you mean …?" suggestions for misspelt keys and values. Private to config/.

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace guardian::config::detail {

/// The candidate closest to `word` when it is close enough to be a plausible misspelling:
/// comparison ignores case and treats '-' and '_' alike, then allows an edit distance
/// (insertions, deletions, substitutions, swaps of neighbours) of about a third of the word's
/// length, at least 1 and at most 3, and less than the word's own length. Ties go to the earlier
/// candidate. With nothing close by spelling, another gateway's word for a candidate.
[[nodiscard]] std::optional<std::string_view> closest_match(
    std::string_view word, std::span<const std::string_view> candidates);

/// When `word` is what another gateway or Modbus tool calls one of `candidates` ("slave_id",
/// "word_order", "holding_registers", "float"), that candidate. closest_match() falls back on it.
[[nodiscard]] std::optional<std::string_view> other_gateways_word(
    std::string_view word, std::span<const std::string_view> candidates);

/// "'a', 'b', 'c'" — the list form used in messages.
[[nodiscard]] std::string quoted_list(std::span<const std::string_view> words);

}  // namespace guardian::config::detail
