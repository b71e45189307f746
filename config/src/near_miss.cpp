#include "near_miss.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace guardian::config::detail {
namespace {

std::string normalized(std::string_view word) {
  std::string out;
  out.reserve(word.size());
  for (const char c : word)
    out.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

/// Optimal string alignment distance (Levenshtein plus transposition of two neighbours, the
/// commonest typing slip: "nmae" for "name").
std::size_t edit_distance(const std::string& a, const std::string& b) {
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> d(n + 1, std::vector<std::size_t>(m + 1));
  for (std::size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= n; ++i) {
    for (std::size_t j = 1; j <= m; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

}  // namespace

std::optional<std::string_view> closest_match(std::string_view word,
                                              std::span<const std::string_view> candidates) {
  const std::string needle = normalized(word);
  const std::size_t limit = std::clamp<std::size_t>(needle.size() / 3, 1, 3);
  std::optional<std::string_view> best;
  std::size_t best_distance = limit + 1;
  for (const std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(needle, normalized(candidate));
    // A distance as large as the word itself means nothing of it was kept ('2' → '0').
    if (distance < best_distance && distance < needle.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string quoted_list(std::span<const std::string_view> words) {
  std::string out;
  for (const std::string_view word : words) {
    if (!out.empty()) out += ", ";
    out += '\'';
    out += word;
    out += '\'';
  }
  return out;
}

}  // namespace guardian::config::detail
