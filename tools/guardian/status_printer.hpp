#pragma once
/// \file
/// Human-readable rendering of the daemon's status JSON for `guardian status`.

#include <nlohmann/json.hpp>
#include <ostream>

namespace guardian::tools {

/// Prints link, queue, adapters (per source counters) and last values with quality.
void print_status(std::ostream& out, const nlohmann::json& status);

}  // namespace guardian::tools
