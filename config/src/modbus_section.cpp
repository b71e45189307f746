// Reading `type: modbus` adapters: the connection, its units and their register maps.
// Protocol references: MODBUS Application Protocol Specification V1.1b3 (MBAP), MODBUS over
// Serial Line Specification V1.02 (MBSL).

#include <algorithm>
#include <array>

#include "guardian/config/modbus_words.hpp"
#include "profiles.hpp"
#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;

// MBAP §6.3/§6.4: one read carries 1 to 125 registers ("Quantity of Registers", 0x7D).
constexpr int kMaxReadRegisters = 125;
// MBAP §6.1/§6.2: one read carries 1 to 2000 bits ("Quantity of coils", 0x7D0).
constexpr int kMaxReadBits = 2000;
// MBSL §2.2: address 0 is broadcast (never answered) and 248–255 are reserved, so a polled unit on
// a serial line is 1–247. Modbus TCP gateways also use 0 and 255, hence 0–255 elsewhere.
constexpr int kMaxSerialUnitId = 247;
constexpr std::int64_t kAddressSpace = 65536;  // 16-bit protocol addresses 0x0000–0xFFFF

constexpr std::array<Choice<ModbusTransport>, 3> kTransports{
    {{"tcp", ModbusTransport::tcp},
     {"rtu", ModbusTransport::rtu},
     {"rtu-over-tcp", ModbusTransport::rtu_over_tcp}}};

constexpr std::array<Choice<int>, 2> kAddressBases{{{"0", 0}, {"1", 1}}};

constexpr std::array<Choice<RegisterTable>, 4> kTables{
    {{"coil", RegisterTable::coil},
     {"discrete", RegisterTable::discrete_input},
     {"holding", RegisterTable::holding_register},
     {"input", RegisterTable::input_register}}};

constexpr std::array<Choice<DataType>, 11> kDataTypes{{{"bool", DataType::boolean},
                                                       {"bit", DataType::bit},
                                                       {"int16", DataType::int16},
                                                       {"uint16", DataType::uint16},
                                                       {"int32", DataType::int32},
                                                       {"uint32", DataType::uint32},
                                                       {"int64", DataType::int64},
                                                       {"uint64", DataType::uint64},
                                                       {"float32", DataType::float32},
                                                       {"float64", DataType::float64},
                                                       {"string", DataType::string}}};

/// A word order as written: the 64-bit spellings name the same transformation (site_config.hpp)
/// but only make sense for 64-bit types.
struct OrderSpelling {
  WordOrder order;
  bool sixty_four_bit;
  bool operator==(const OrderSpelling&) const = default;
};

constexpr std::array<Choice<OrderSpelling>, 8> kOrders{{{"ABCD", {WordOrder::ABCD, false}},
                                                        {"DCBA", {WordOrder::DCBA, false}},
                                                        {"BADC", {WordOrder::BADC, false}},
                                                        {"CDAB", {WordOrder::CDAB, false}},
                                                        {"ABCDEFGH", {WordOrder::ABCD, true}},
                                                        {"HGFEDCBA", {WordOrder::DCBA, true}},
                                                        {"BADCFEHG", {WordOrder::BADC, true}},
                                                        {"GHEFCDAB", {WordOrder::CDAB, true}}}};

template <class T, std::size_t N>
std::string_view spelling_of(const std::array<Choice<T>, N>& choices, T value) {
  for (const auto& choice : choices)
    if (choice.value == value) return choice.spelling;
  return "?";
}

/// MBAP §6.1–§6.4 quantity limits; a gap may be as long as a request less its two ends.
void read_coalescing(ObjectReader& r, ModbusCoalescing& c) {
  r.read("max_registers", c.max_registers, integer_in<std::uint16_t>(1, kMaxReadRegisters));
  r.read("max_bits", c.max_bits, integer_in<std::uint16_t>(1, kMaxReadBits));
  r.read("register_gap", c.register_gap, integer_in<std::uint16_t>(0, kMaxReadRegisters - 2));
  r.read("bit_gap", c.bit_gap, integer_in<std::uint16_t>(0, kMaxReadBits - 2));
}

bool is_bit_table(RegisterTable t) {
  return t == RegisterTable::coil || t == RegisterTable::discrete_input;
}

bool is_integer(DataType t) {
  switch (t) {
    case DataType::int16:
    case DataType::uint16:
    case DataType::int32:
    case DataType::uint32:
    case DataType::int64:
    case DataType::uint64:
      return true;
    default:
      return false;
  }
}

bool is_numeric(DataType t) {
  return is_integer(t) || t == DataType::float32 || t == DataType::float64;
}

bool is_64_bit(DataType t) {
  return t == DataType::int64 || t == DataType::uint64 || t == DataType::float64;
}

/// The keys of one point as read, before the rules that relate them.
struct PointFields {
  std::optional<RegisterTable> table;
  std::optional<int> address;
  std::optional<DataType> type;
  std::optional<OrderSpelling> order;
  std::optional<int> bit;
  std::optional<std::uint16_t> length;
};

/// A string's `length`: registers by default ("10", "10 registers"), or characters ("20
/// characters", two per register, an odd count rounded up) — manuals give either.
ScalarParser<std::uint16_t> string_length() {
  static constexpr std::string_view kExpected =
      "a length in registers, 1 to 125 (e.g. 10 or \"10 registers\"), or in characters, 1 to 250 "
      "(e.g. \"20 characters\": two per register)";
  return {std::string(kExpected), [](std::string_view text) -> result<std::uint16_t> {
            const auto space = text.find(' ');
            const std::string_view number = text.substr(0, space);
            const std::string_view unit =
                space == std::string_view::npos ? std::string_view{} : text.substr(space + 1);
            const bool characters = unit == "characters" || unit == "chars";
            if (!unit.empty() && !characters && unit != "registers")
              return expected_but_got(kExpected, text);
            auto n = integer_in<int>(1, characters ? 2 * kMaxReadRegisters : kMaxReadRegisters)
                         .parse(number);
            if (!n) return expected_but_got(kExpected, text);
            return static_cast<std::uint16_t>(characters ? (n.value() + 1) / 2 : n.value());
          }};
}

/// Coils and discrete inputs are single bits (MBAP §4.3): only `bool` decodes them.
void check_type_fits_table(ObjectReader& r, const PointFields& f) {
  if (!f.table || !f.type || !is_bit_table(*f.table) || *f.type == DataType::boolean) return;
  const std::string table(spelling_of(kTables, *f.table));
  if (*f.type == DataType::bit)
    r.error("type", "type 'bit' picks one bit of a 16-bit register (table holding or input); a " +
                        table + " is a single bit already: use type 'bool'");
  else
    r.error("type", "a " + table + " holds a single bit: use type 'bool', or table 'holding' or " +
                        "'input' for type '" + std::string(spelling_of(kDataTypes, *f.type)) + "'");
}

/// `key` must be present exactly when the point's type is `owner` (bit → bit, string → length).
void check_key_belongs_to_type(ObjectReader& r, const PointFields& f, std::string_view key,
                               DataType owner) {
  if (!f.type) return;
  const std::string owner_name(spelling_of(kDataTypes, owner));
  if (*f.type == owner && !r.has(key))
    r.error("missing required key '" + std::string(key) + "' (type " + owner_name + " needs it)");
  else if (*f.type != owner && r.has(key))
    r.error(key, "'" + std::string(key) + "' only applies to type " + owner_name + ", not " +
                     std::string(spelling_of(kDataTypes, *f.type)));
}

void check_order(ObjectReader& r, const PointFields& f) {
  if (!f.order) return;
  if (f.table && is_bit_table(*f.table)) {
    r.error("order", "'order' only applies to register tables (holding, input)");
  } else if (f.order->sixty_four_bit && f.type && !is_64_bit(*f.type)) {
    r.error("order", "this 8-letter order is for 64-bit types (int64, uint64, float64); for type " +
                         std::string(spelling_of(kDataTypes, *f.type)) + " write '" +
                         std::string(spelling_of(kOrders, {f.order->order, false})) + "'");
  }
}

/// `key` is only meaningful when `applies(type)`.
void check_key_for_types(ObjectReader& r, const PointFields& f, std::string_view key,
                         bool (*applies)(DataType), std::string_view which) {
  if (f.type && r.has(key) && !applies(*f.type))
    r.error(key, "'" + std::string(key) + "' only applies to " + std::string(which) +
                     " types, not " + std::string(spelling_of(kDataTypes, *f.type)));
}

/// writable: only coils and holding registers can be written (MBAP §6.5, §6.6); readback,
/// write_min and write_max only mean something for a writable point.
void check_write_keys(ObjectReader& r, const PointFields& f, const ModbusPoint& point) {
  if (point.writable && f.table &&
      (*f.table == RegisterTable::discrete_input || *f.table == RegisterTable::input_register))
    r.error("writable", "a " + std::string(spelling_of(kTables, *f.table)) +
                            " register or bit is read-only in Modbus: only 'coil' and 'holding' "
                            "points can be writable");
  for (const std::string_view key : {"readback", "write_min", "write_max"})
    if (r.has(key) && !point.writable)
      r.error(key, "'" + std::string(key) + "' only applies to a point with 'writable: true'");
  check_key_for_types(r, f, "write_min", is_numeric, "numeric");
  check_key_for_types(r, f, "write_max", is_numeric, "numeric");
  if (point.write_min && point.write_max && *point.write_min > *point.write_max)
    r.error("write_max", "write_max is below write_min");
}

/// Many manuals print Modicon numbers: 40001 is holding register 1 (30001 input register 1,
/// 10001 discrete input 1), not register 40001. Written as an address they poll 40 000 registers
/// too far — legal, and exactly what some devices have (SunSpec maps start at 40000), so a warning.
void warn_of_modicon_numbering(ObjectReader& r, const PointFields& f, int address_base) {
  if (!f.table || !f.address) return;
  struct Numbering {
    RegisterTable table;
    int prefix;
    const char* noun;
  };
  constexpr Numbering kModicon[] = {{RegisterTable::holding_register, 4, "holding register"},
                                    {RegisterTable::input_register, 3, "input register"},
                                    {RegisterTable::discrete_input, 1, "discrete input"}};
  int prefix = 0;
  std::string noun;
  for (const auto& m : kModicon)
    if (m.table == *f.table) {
      prefix = m.prefix;
      noun = m.noun;
    }
  const int first = prefix * 10000 + 1;
  if (prefix == 0 || *f.address < first || *f.address > first + 9998) return;
  const std::string n = std::to_string(*f.address - prefix * 10000);
  r.warning("address", std::to_string(*f.address) + " looks like Modicon numbering (" + std::to_string(prefix) +
                           "xxxx = " + noun + " xxxx): if the manual means " + noun + " " + n +
                           ", write address: " + n +
                           (address_base == 1 ? "" : " with address_base: 1 on the device") +
                           "; if the device really has addresses from " + std::to_string(first - 1) +
                           " (SunSpec maps do), ignore this");
}

/// Converts the address as written in the device's manual to the 0-based protocol address and
/// checks that the whole point lies inside the 16-bit address space.
std::optional<std::uint16_t> protocol_address(ObjectReader& r, const PointFields& f,
                                              int address_base, std::uint16_t width) {
  if (!f.address) return std::nullopt;
  if (*f.address < address_base) {
    r.error("address",
            "address 0 does not exist when address_base is 1 (the manual counts "
            "from 1); write the address as the manual prints it");
    return std::nullopt;
  }
  warn_of_modicon_numbering(r, f, address_base);
  const int address = *f.address - address_base;
  if (f.type && address + static_cast<std::int64_t>(width) > kAddressSpace) {
    r.error("address", "the point spans " + std::to_string(width) +
                           " registers from protocol address " + std::to_string(address) +
                           ", past the last address 65535");
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(address);
}

ModbusPoint read_point(ObjectReader& r, int address_base) {
  ModbusPoint point;
  point.where = r.location();
  if (auto name = r.required("name", identifier())) point.name = std::move(*name);
  PointFields f;
  f.table = r.required("table", one_of(kTables));
  f.address = r.required("address", integer_in<int>(0, 65535));
  f.type = r.required("type", one_of(kDataTypes));
  f.order = r.optional("order", one_of(kOrders));
  f.bit = r.optional("bit", integer_in<int>(0, 15));
  f.length = r.optional("length", string_length());
  r.read("scale", point.scale, nonzero_real());
  r.read("offset", point.offset, real());
  r.read("unit", point.unit, text());
  if (auto labels = r.dictionary("enum", any_integer(), text()))
    point.enum_map = std::move(*labels);
  r.read("writable", point.writable, boolean());
  r.read("readback", point.readback, boolean());
  point.write_min = r.optional("write_min", real());
  point.write_max = r.optional("write_max", real());

  if (f.table) point.table = *f.table;
  if (f.type) point.type = *f.type;
  if (f.order) point.order = f.order->order;
  if (f.bit) point.bit = *f.bit;
  if (f.length) point.length = *f.length;

  check_type_fits_table(r, f);
  check_key_belongs_to_type(r, f, "bit", DataType::bit);
  check_key_belongs_to_type(r, f, "length", DataType::string);
  check_order(r, f);
  check_key_for_types(r, f, "scale", is_numeric, "numeric");
  check_key_for_types(r, f, "offset", is_numeric, "numeric");
  check_key_for_types(r, f, "enum", is_integer, "integer");
  check_write_keys(r, f, point);
  if (auto address = protocol_address(r, f, address_base, point.width())) point.address = *address;
  return point;
}

/// The device's effective settings: what the site file says, else what its profile says, else
/// the built-in default.
void apply_defaults(const ModbusDeviceDefaults& site, const ModbusDeviceDefaults* profile,
                    ModbusDevice& device) {
  const auto pick = [&](auto member, auto& out) {
    if (site.*member)
      out = *(site.*member);
    else if (profile != nullptr && profile->*member)
      out = *(profile->*member);
  };
  pick(&ModbusDeviceDefaults::poll_interval, device.poll_interval);
  pick(&ModbusDeviceDefaults::timeout, device.timeout);
  pick(&ModbusDeviceDefaults::retries, device.retries);
  pick(&ModbusDeviceDefaults::write_multiple, device.write_multiple);
  pick(&ModbusDeviceDefaults::coalescing, device.coalescing);
}

/// The profile's points, then the site's: a site point with a profile point's name replaces it
/// in place, other site points are added after the profile's.
void merge_points(const std::vector<ModbusPoint>& profile, std::vector<ModbusPoint> site,
                  std::vector<ModbusPoint>& out) {
  out = profile;
  for (auto& point : site) {
    const auto same = std::find_if(out.begin(), out.end(),
                                   [&](const ModbusPoint& p) { return p.name == point.name; });
    if (same != out.end())
      *same = std::move(point);
    else
      out.push_back(std::move(point));
  }
}

ModbusDevice read_device(ObjectReader& r, std::optional<ModbusTransport> transport,
                         SiteNames& names) {
  ModbusDevice device;
  device.where = r.location();
  if (auto name = r.required("name", identifier())) {
    device.name = *name;
    r.require_unique("name", device.name, names.sources, "device name",
                     "device names are the 'source' of their readings and must be unique across "
                     "the site");
  }
  const DeviceProfile* profile = nullptr;
  if (auto reference = r.optional("profile", profile_reference()); reference && names.profiles) {
    std::string problem;
    profile = names.profiles->resolve(*reference, problem);
    if (!problem.empty()) r.error("profile", problem);
    if (profile != nullptr && profile->codec) {
      r.error("profile", "profile '" + *reference + "' is a stream protocol (it has a codec, no "
                         "points): a Modbus device needs a profile with a register map");
      profile = nullptr;
    }
    if (profile != nullptr) device.profile = profile->reference();
  }
  if (r.read("unit_id", device.unit_id, integer_in<int>(0, 255)) &&
      transport == ModbusTransport::rtu &&
      (device.unit_id == 0 || device.unit_id > kMaxSerialUnitId))
    r.error("unit_id",
            "on a serial line a polled unit id is 1 to 247 (0 is broadcast and is "
            "never answered; 248-255 are reserved)");
  ModbusDeviceDefaults site;
  read_modbus_device_defaults(r, site);
  apply_defaults(site, profile != nullptr ? &profile->defaults : nullptr, device);
  const int address_base = read_address_base(r);
  // With a profile the device's own points are additions and overrides, and may be absent. A
  // profile reference that failed leaves them required neither: its error says what to fix.
  const bool has_profile = r.has("profile");
  std::vector<ModbusPoint> own;
  read_modbus_points(r, address_base, has_profile ? Items::may_be_empty : Items::at_least_one,
                     own);
  if (profile != nullptr)
    merge_points(profile->points, std::move(own), device.points);
  else
    device.points = std::move(own);
  return device;
}

/// host/port belong to the TCP transports, serial to rtu.
void check_transport_keys(ObjectReader& r, ModbusTransport transport) {
  const std::string name(spelling_of(kTransports, transport));
  if (transport == ModbusTransport::rtu) {
    if (!r.has("serial")) r.error("missing required key 'serial' (transport rtu needs it)");
    for (const std::string_view key : {"host", "port"})
      if (r.has(key))
        r.error(key, "'" + std::string(key) +
                         "' only applies to transports tcp and rtu-over-tcp; "
                         "transport rtu uses 'serial'");
  } else {
    if (!r.has("host")) r.error("missing required key 'host' (transport " + name + " needs it)");
    if (r.has("serial")) r.error("serial", "'serial' only applies to transport rtu, not " + name);
  }
}

}  // namespace

void read_modbus_device_defaults(ObjectReader& r, ModbusDeviceDefaults& out) {
  using std::chrono::days;
  out.poll_interval = r.optional("poll_interval", duration_in(1ms, days{1}));
  out.timeout = r.optional("timeout", duration_in(1ms, 60s));
  out.retries = r.optional("retries", integer_in<int>(0, 10));
  out.write_multiple = r.optional("write_multiple", boolean());
  r.section("coalescing", Presence::optional,
            [&](ObjectReader& c) { read_coalescing(c, out.coalescing.emplace()); });
}

int read_address_base(ObjectReader& r) {
  int address_base = 0;
  r.read("address_base", address_base, one_of(kAddressBases));
  return address_base;
}

void read_modbus_points(ObjectReader& r, int address_base, Items items,
                        std::vector<ModbusPoint>& out) {
  UniqueNames point_names;
  r.list("points", items, [&](ObjectReader& item) {
    ModbusPoint point = read_point(item, address_base);
    if (!point.name.empty())
      item.require_unique("name", point.name, point_names, "point name",
                          "point names must be unique within a device");
    out.push_back(std::move(point));
  });
}

}  // namespace guardian::config::detail

namespace guardian::config {

result<RegisterTable> parse_register_table(std::string_view text) {
  return detail::one_of(detail::kTables).parse(text);
}

result<DataType> parse_data_type(std::string_view text) {
  return detail::one_of(detail::kDataTypes).parse(text);
}

result<WordOrder> parse_word_order(std::string_view text) {
  BOOST_OUTCOME_TRY(spelling, detail::one_of(detail::kOrders).parse(text));
  return spelling.order;
}

std::string_view to_string(RegisterTable table) noexcept {
  return detail::spelling_of(detail::kTables, table);
}

std::string_view to_string(DataType type) noexcept {
  return detail::spelling_of(detail::kDataTypes, type);
}

std::string_view to_string(WordOrder order) noexcept {
  return detail::spelling_of(detail::kOrders, detail::OrderSpelling{order, false});
}

}  // namespace guardian::config

namespace guardian::config::detail {

AdapterConfig read_modbus_adapter(ObjectReader& r, std::string name, SiteNames& names) {
  using std::chrono::days;
  ModbusAdapterConfig adapter;
  adapter.name = std::move(name);
  adapter.where = r.location();
  // nullopt when written but invalid: the rules that depend on the transport are then skipped
  // rather than judged against a transport the technician did not choose.
  std::optional<ModbusTransport> transport = adapter.transport;
  if (const auto written = r.optional("transport", one_of(kTransports)))
    transport = adapter.transport = *written;
  else if (r.has("transport"))
    transport.reset();
  r.read("host", adapter.tcp.host, text());
  r.read("port", adapter.tcp.port, integer_in<std::uint16_t>(1, 65535));
  r.section("serial", Presence::optional,
            [&](ObjectReader& s) { read_serial_port(s, adapter.serial, SerialLineUse::modbus); });
  r.read("connect_timeout", adapter.connect_timeout, duration_in(100ms, 60s));
  r.read("pacing", adapter.pacing, duration_in(0ms, 10s));
  read_delay_range(r, "backoff", adapter.backoff_min, adapter.backoff_max, 100ms, days{1});
  if (transport) check_transport_keys(r, *transport);
  // One unit id is one device on the bus: two entries with the same id would poll one unit
  // twice under two names, and writes to either would land on the same registers.
  UniqueNames unit_ids;
  r.list("devices", Items::at_least_one, [&](ObjectReader& item) {
    adapter.devices.push_back(read_device(item, transport, names));
    const bool written = item.has("unit_id");
    const SourceLocation where = written ? item.location_of("unit_id") : item.location();
    if (const auto first = unit_ids.claim(std::to_string(adapter.devices.back().unit_id), where)) {
      const std::string message =
          "unit id " + std::to_string(adapter.devices.back().unit_id) + (written ? "" : " (the default)") +
          " is already used on this bus at " + location_text(*first) +
          ": each device on one bus needs its own unit id (put all the points of one unit under one device)";
      if (written)
        item.error("unit_id", message);
      else
        item.error(message);
    }
  });
  return adapter;
}

}  // namespace guardian::config::detail
