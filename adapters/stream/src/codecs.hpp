#pragma once
/// \file
/// The three codec implementations behind CodecFactory. Private to the stream adapter.

#include <memory>
#include <regex>
#include <vector>

#include "guardian/adapters/stream/codec.hpp"

namespace guardian::adapters::stream::detail {

/// A line message with its regex compiled and each field's group number resolved.
struct CompiledLineMessage {
  std::regex regex;                 ///< for LineSyntax::regex
  std::vector<std::size_t> groups;  ///< per field: its group number in `regex`
};

/// Compiles every regex message; throws std::invalid_argument naming the message and field.
[[nodiscard]] std::vector<CompiledLineMessage> compile_line_messages(
    const config::LineCodecConfig& config);

[[nodiscard]] std::unique_ptr<Codec> make_line_codec(
    const config::LineCodecConfig& config, const std::vector<CompiledLineMessage>& compiled);
[[nodiscard]] std::unique_ptr<Codec> make_binary_codec(const config::BinaryCodecConfig& config);
[[nodiscard]] std::unique_ptr<Codec> make_json_codec(const config::JsonCodecConfig& config);

/// Throws std::invalid_argument for a binary layout the loader rejects.
void check_binary_config(const config::BinaryCodecConfig& config);

}  // namespace guardian::adapters::stream::detail
