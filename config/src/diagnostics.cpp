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

void Diagnostics::warning(const SourceLocation& where, std::string message) {
  warnings_.push_back(ConfigError{file_, where.line, where.column, std::move(message), true});
}

namespace {
// Sections are validated in a fixed order and unknown keys are reported when a map is finished,
// so the collection order is not the file order. A stable sort keeps two at the same position in
// the order they were found.
std::vector<ConfigError> in_file_order(std::vector<ConfigError>& found) {
  std::stable_sort(found.begin(), found.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair{a.line, a.column} < std::pair{b.line, b.column};
  });
  return std::exchange(found, {});
}
}  // namespace

std::vector<ConfigError> Diagnostics::take_in_file_order() { return in_file_order(errors_); }

std::vector<ConfigError> Diagnostics::take_warnings_in_file_order() { return in_file_order(warnings_); }

}  // namespace guardian::config::detail
