// Cloud commands from their bytes (command_parser.hpp).
#include "guardian/gateway/command_parser.hpp"

#include <algorithm>
#include <array>
#include <climits>

#include <nlohmann/json.hpp>

namespace guardian::gateway {
namespace {

constexpr std::array kKeys{"v", "id", "source", "point", "value", "readback"};

[[nodiscard]] result<Value> value_of(const nlohmann::json& v) {
  if (v.is_boolean()) return Value{v.get<bool>()};
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Value{static_cast<std::int64_t>(u)};
    return Value{u};
  }
  if (v.is_number_integer()) return Value{v.get<std::int64_t>()};
  if (v.is_number_float()) return Value{v.get<double>()};
  if (v.is_string()) return Value{v.get<std::string>()};
  return make_error("'value' must be a number, true/false or a string (an enum label), not " +
                    std::string(v.type_name()));
}

[[nodiscard]] result<std::string> text_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end()) return make_error(std::string("missing '") + key + "'");
  if (!it->is_string() || it->get<std::string>().empty())
    return make_error(std::string("'") + key + "' must be a non-empty string");
  return it->get<std::string>();
}

}  // namespace

result<adapters::WriteCommand> parse_command(std::string_view payload, std::string& id) {
  if (payload.size() > kMaxCommandPayload)
    return make_error("command of " + std::to_string(payload.size()) + " bytes; at most " +
                      std::to_string(kMaxCommandPayload));
  const auto j = nlohmann::json::parse(payload, nullptr, false);
  if (j.is_discarded()) return make_error("command is not valid JSON");
  if (!j.is_object()) return make_error("command is not a JSON object");
  if (const auto it = j.find("id"); it != j.end() && it->is_string() &&
                                    !it->get<std::string>().empty() &&
                                    it->get<std::string>().size() <= kMaxCommandIdLength)
    id = it->get<std::string>();
  for (const auto& [key, value] : j.items())
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end())
      return make_error("unknown key '" + key +
                        "'; a command has id, source, point, value and optionally readback, v");
  if (const auto v = j.find("v"); v != j.end() && (!v->is_number_integer() || *v != 1))
    return make_error("'v' must be 1 (this gateway speaks schema version 1)");
  if (id.empty())
    return make_error("'id' must be a string of 1 to " + std::to_string(kMaxCommandIdLength) +
                      " characters: the result carries it back");
  adapters::WriteCommand command;
  command.id = id;
  BOOST_OUTCOME_TRY(source, text_field(j, "source"));
  BOOST_OUTCOME_TRY(point, text_field(j, "point"));
  command.source = std::move(source);
  command.point = std::move(point);
  const auto value = j.find("value");
  if (value == j.end()) return make_error("missing 'value'");
  BOOST_OUTCOME_TRY(parsed, value_of(*value));
  command.value = std::move(parsed);
  if (const auto rb = j.find("readback"); rb != j.end()) {
    if (!rb->is_boolean()) return make_error("'readback' must be true or false");
    command.readback = rb->get<bool>();
  }
  return command;
}

}  // namespace guardian::gateway
