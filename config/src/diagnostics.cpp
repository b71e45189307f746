#include "diagnostics.hpp"

#include <algorithm>
#include <utility>

namespace guardian::config::detail {

SourceLocation Diagnostics::locate(const YAML::Mark& mark) const {
  // yaml-cpp marks are 0-based and -1 for nodes that have no position (an empty document).
  // Those are reported at the start of the file rather than at a line 0 that editors reject.
  if (mark.line < 0 || mark.column < 0) return {file_, 1, 1};
  return {file_, mark.line + 1, mark.column + 1};
}

void Diagnostics::error(const YAML::Mark& mark, std::string message) {
  error(locate(mark), std::move(message));
}

void Diagnostics::error(const SourceLocation& where, std::string message) {
  errors_.push_back(ConfigError{file_, where.line, where.column, std::move(message)});
}

void Diagnostics::error(std::string message) {
  errors_.push_back(ConfigError{file_, 0, 0, std::move(message)});
}

std::vector<ConfigError> Diagnostics::take_in_file_order() {
  // Sections are validated in a fixed order and unknown keys are reported when a map is finished,
  // so the collection order is not the file order. A stable sort keeps two errors at the same
  // position in the order they were found.
  std::stable_sort(errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair{a.line, a.column} < std::pair{b.line, b.column};
  });
  return std::exchange(errors_, {});
}

}  // namespace guardian::config::detail
