#pragma once
/// \file
/// The words the configuration uses for Modbus tables, data types and word orders, for tools
/// that take the same spellings on their command line (`guardian probe|write modbus`). One list,
/// shared with the configuration loader, so a technician types what the file says.

#include <string>
#include <string_view>

#include "guardian/common/result.hpp"
#include "guardian/config/site_config.hpp"

namespace guardian::config {

/// "coil", "discrete", "holding", "input". Errors list the allowed words with a did-you-mean.
[[nodiscard]] result<RegisterTable> parse_register_table(std::string_view text);
/// "bool", "bit", "int16" … "string".
[[nodiscard]] result<DataType> parse_data_type(std::string_view text);
/// "ABCD", "DCBA", "BADC", "CDAB", or their 8-letter 64-bit spellings.
[[nodiscard]] result<WordOrder> parse_word_order(std::string_view text);

/// The configuration's word for each (inverse of the parsers above; 4-letter orders).
[[nodiscard]] std::string_view to_string(RegisterTable table) noexcept;
[[nodiscard]] std::string_view to_string(DataType type) noexcept;
[[nodiscard]] std::string_view to_string(WordOrder order) noexcept;

}  // namespace guardian::config
