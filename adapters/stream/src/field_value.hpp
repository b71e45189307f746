#pragma once
/// \file
/// Turning the raw content of one field (text from a line, bytes from a frame) into its Value:
/// type, scale/offset, enum label. Shared by every codec so a field means the same whichever way
/// it arrives. Private to the stream adapter.

#include <cstdint>
#include <span>
#include <string_view>

#include "guardian/common/reading.hpp"
#include "guardian/common/result.hpp"
#include "guardian/config/stream_config.hpp"

namespace guardian::adapters::stream::detail {

/// Decodes `text` as field `f` (int, float, bool, string, enum), then applies scale/offset or the
/// enum label. Errors say what was expected and quote (a bounded prefix of) the text.
[[nodiscard]] result<Value> decode_text_field(const config::FieldSpec& f, std::string_view text);

/// Decodes field `f` at `f.at` of `frame`. Errors: the field runs past the end of the frame, a
/// float is NaN/infinite, an enum value has no label.
[[nodiscard]] result<Value> decode_binary_field(const config::FieldSpec& f,
                                                std::span<const std::uint8_t> frame);

/// Applies scale/offset/enum to an integer raw value (identity scale keeps it an integer).
[[nodiscard]] result<Value> finish_integer(const config::FieldSpec& f, std::int64_t raw);
/// Applies scale/offset to a real raw value; refuses NaN and infinities.
[[nodiscard]] result<Value> finish_real(const config::FieldSpec& f, double raw);

/// A reading of field `f`: good with `value`, or bad with the error text.
[[nodiscard]] Reading make_reading(const config::FieldSpec& f, result<Value> value, Timestamp ts);

/// At most 32 bytes of `text`, for error messages (equipment may send anything).
[[nodiscard]] std::string quote(std::string_view text);

}  // namespace guardian::adapters::stream::detail
