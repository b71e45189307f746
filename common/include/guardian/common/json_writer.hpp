#pragma once
/// \file
/// A minimal append-only JSON writer for the hot path (payload encoding of every reading).
/// nlohmann::json is used on the control plane; here we append straight into one std::string.

#include <cstdint>
#include <string>
#include <string_view>

#include "guardian/common/reading.hpp"

namespace guardian {

/// Appends `s` as a JSON string literal (quotes included, RFC 8259 §7 escaping) to `out`.
void append_json_string(std::string& out, std::string_view s);

/// Appends a finite double in shortest round-trip form; NaN/Inf become null (RFC 8259 §6 has
/// no representation for them).
void append_json_number(std::string& out, double v);
void append_json_number(std::string& out, std::int64_t v);
void append_json_number(std::string& out, std::uint64_t v);

/// Appends a Value as JSON (monostate → null).
void append_json_value(std::string& out, const Value& v);

}  // namespace guardian
