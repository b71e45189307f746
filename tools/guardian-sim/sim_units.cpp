#include "sim_units.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <type_traits>
#include <sstream>
#include <stdexcept>

#include "guardian/adapters/modbus/register_codec.hpp"

namespace guardian::sim {
namespace {

constexpr int kMaxUnitId = 247;  // MBSL §2.2: 1–247 are individual addresses

[[nodiscard]] std::uint16_t word_at(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

[[nodiscard]] result<int> unit_id(std::string_view text) {
  int id = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc{} || end != text.data() + text.size() || id < 1 || id > kMaxUnitId)
    return make_error("'" + std::string(text) + "' is not a unit id from 1 to 247");
  return id;
}

[[nodiscard]] std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);) parts.push_back(part);
  return parts;
}

}  // namespace

result<std::vector<UnitSpec>> parse_units(const std::string& units, const std::string& models) {
  std::vector<int> ids;
  if (units.find_first_of(",-") == std::string::npos) {
    // A bare number is a count: units 1..N, as the first versions of guardian-sim took it.
    BOOST_OUTCOME_TRY(count, unit_id(units));
    for (int id = 1; id <= count; ++id) ids.push_back(id);
  } else {
    for (const auto& part : split(units, ',')) {
      const auto dash = part.find('-');
      BOOST_OUTCOME_TRY(first, unit_id(part.substr(0, dash)));
      int last = first;
      if (dash != std::string::npos) {
        BOOST_OUTCOME_TRY(end, unit_id(part.substr(dash + 1)));
        last = end;
      }
      if (last < first) return make_error("'" + part + "' is an empty range of unit ids");
      for (int id = first; id <= last; ++id) ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  if (std::adjacent_find(ids.begin(), ids.end()) != ids.end())
    return make_error("--units '" + units + "' names a unit id twice");
  const auto names = split(models, ',');
  if (names.size() != 1 && names.size() != ids.size())
    return make_error("--model lists " + std::to_string(names.size()) + " models for " +
                      std::to_string(ids.size()) + " units: give one for all, or one per unit");
  std::vector<UnitSpec> specs;
  for (std::size_t i = 0; i < ids.size(); ++i)
    specs.push_back({ids[i], names.size() == 1 ? names[0] : names[i]});
  return specs;
}

SimulatedUnits::SimulatedUnits(const std::vector<UnitSpec>& units, double speed,
                               std::uint32_t seed, int bulk_registers)
    : speed_(speed) {
  for (const auto& spec : units) {
    auto model = make_model(spec.model, seed * 7919U + static_cast<std::uint32_t>(spec.id - 1),
                            bulk_registers);
    if (!model) throw std::runtime_error("unknown model '" + spec.model + "'");
    const auto sizes = sizes_of(model->register_map());
    std::unique_ptr<modbus_mapping_t, MappingDeleter> mapping(
        modbus_mapping_new(sizes.coils, sizes.discrete_inputs, sizes.holding, sizes.input));
    if (!mapping) throw std::runtime_error("cannot allocate the register mapping");
    units_.push_back(Unit{spec.id, std::move(model), std::move(mapping)});
  }
  tick(0.0);
}

SimulatedUnits::~SimulatedUnits() = default;

SimulatedUnits::Unit* SimulatedUnits::find(int unit) noexcept {
  const auto it =
      std::find_if(units_.begin(), units_.end(), [unit](const Unit& u) { return u.id == unit; });
  return it == units_.end() ? nullptr : &*it;
}

bool SimulatedUnits::serves(int unit) const noexcept {
  return std::any_of(units_.begin(), units_.end(), [unit](const Unit& u) { return u.id == unit; });
}

int SimulatedUnits::first_unit() const noexcept { return units_.empty() ? 1 : units_.front().id; }

RegisterTables SimulatedUnits::tables_of(modbus_mapping_t* m) {
  return RegisterTables{
      {m->tab_registers, static_cast<std::size_t>(m->nb_registers)},
      {m->tab_input_registers, static_cast<std::size_t>(m->nb_input_registers)},
      {m->tab_bits, static_cast<std::size_t>(m->nb_bits)},
      {m->tab_input_bits, static_cast<std::size_t>(m->nb_input_bits)}};
}

int SimulatedUnits::check_write(const Unit& unit, const std::uint8_t* pdu,
                                std::vector<std::pair<std::size_t, Value>>& written) const {
  const int function = pdu[0];
  const std::uint16_t address = word_at(pdu + 1);
  config::RegisterTable table = config::RegisterTable::holding_register;
  std::uint16_t count = 1;
  std::vector<std::uint16_t> registers;
  std::vector<std::uint8_t> bits;
  switch (function) {
    case MODBUS_FC_WRITE_SINGLE_COIL:
      table = config::RegisterTable::coil;
      bits = {static_cast<std::uint8_t>(pdu[3] == 0xFF ? 1 : 0)};
      break;
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
      registers = {word_at(pdu + 3)};
      break;
    case MODBUS_FC_WRITE_MULTIPLE_COILS:
      table = config::RegisterTable::coil;
      count = word_at(pdu + 3);
      if (count == 0 || count > MODBUS_MAX_WRITE_BITS || pdu[5] != (count + 7) / 8) return 0;
      for (std::uint16_t i = 0; i < count; ++i)
        bits.push_back(static_cast<std::uint8_t>((pdu[6 + i / 8] >> (i % 8)) & 1));
      break;
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
      count = word_at(pdu + 3);
      if (count == 0 || count > MODBUS_MAX_WRITE_REGISTERS || pdu[5] != count * 2) return 0;
      for (std::uint16_t i = 0; i < count; ++i) registers.push_back(word_at(pdu + 6 + 2 * i));
      break;
    default:
      return 0;  // not a write: modbus_reply answers it
  }
  // Which writable points the write touches; every address must belong to one.
  const auto map = unit.model->register_map();
  std::vector<std::size_t> touched;
  for (std::uint32_t a = address; a < std::uint32_t{address} + count; ++a) {
    bool covered = false;
    for (std::size_t i = 0; i < map.size(); ++i) {
      const auto& p = map[i];
      const std::uint32_t width = adapters::modbus::is_bit_table(p.table) ? 1 : p.width();
      if (!p.writable || p.table != table || a < p.address || a >= p.address + width) continue;
      covered = true;
      if (std::find(touched.begin(), touched.end(), i) == touched.end()) touched.push_back(i);
    }
    if (!covered) return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
  }
  // What each touched point would hold, decoded and checked against its limits.
  const auto tables = tables_of(unit.mapping.get());
  for (const std::size_t i : touched) {
    const auto& p = map[i];
    result<Value> value = Value{};
    if (table == config::RegisterTable::coil) {
      value = adapters::modbus::decode_bit(p, bits[p.address - address] != 0);
    } else {
      std::vector<std::uint16_t> scratch(tables.holding.begin() + p.address,
                                         tables.holding.begin() + p.address + p.width());
      for (std::uint16_t k = 0; k < p.width(); ++k) {
        const int at = p.address + k - address;
        if (at >= 0 && at < count) scratch[k] = registers[static_cast<std::size_t>(at)];
      }
      value = adapters::modbus::decode_registers(p, scratch);
    }
    if (!value) return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    const auto number = std::visit(
        [](const auto& v) -> std::optional<double> {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
            return static_cast<double>(v);
          return std::nullopt;
        },
        value.value());
    if (number && ((p.write_min && *number < *p.write_min) ||
                   (p.write_max && *number > *p.write_max)))
      return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    written.emplace_back(i, std::move(value).value());
  }
  return 0;
}

bool SimulatedUnits::answer(modbus_t* ctx, int unit_id, const std::uint8_t* request, int length) {
  Unit* unit = find(unit_id);
  if (unit == nullptr) return true;
  const std::uint8_t* pdu = request + modbus_get_header_length(ctx);
  const int function = pdu[0];
  const bool register_read = function == MODBUS_FC_READ_HOLDING_REGISTERS ||
                             function == MODBUS_FC_READ_INPUT_REGISTERS;
  if (register_read && word_at(pdu + 3) > unit->model->max_registers_per_read())
    return modbus_reply_exception(ctx, request, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS) >= 0;
  std::vector<std::pair<std::size_t, Value>> written;
  if (const int exception = check_write(*unit, pdu, written); exception != 0)
    return modbus_reply_exception(ctx, request, static_cast<unsigned>(exception)) >= 0;
  if (modbus_reply(ctx, request, length, unit->mapping.get()) < 0) return false;
  for (const auto& [point, value] : written) unit->model->write(point, value);
  ++answered_;
  return true;
}

void SimulatedUnits::tick(double real_seconds) {
  for (auto& unit : units_) {
    unit.model->advance(real_seconds * speed_);
    encode_values(unit.model->register_map(), unit.model->values(),
                  tables_of(unit.mapping.get()));
  }
}

}  // namespace guardian::sim
