// Reading `type: modbus` adapters: the connection, its units and their register maps.
// Protocol references: MODBUS Application Protocol Specification V1.1b3 (MBAP), MODBUS over
// Serial Line Specification V1.02 (MBSL).

#include <array>

#include "sections.hpp"

namespace guardian::config::detail {
namespace {

using namespace std::chrono_literals;

// MBAP §6.3/§6.4: one read carries 1 to 125 registers ("Quantity of Registers", 0x7D).
constexpr int kMaxReadRegisters = 125;
// MBSL §2.2: address 0 is broadcast (never answered) and 248–255 are reserved, so a polled unit on
// a serial line is 1–247. Modbus TCP gateways also use 0 and 255, hence 0–255 elsewhere.
constexpr int kMaxSerialUnitId = 247;
constexpr std::int64_t kAddressSpace = 65536;  // 16-bit protocol addresses 0x0000–0xFFFF

constexpr std::array<Choice<ModbusTransport>, 3> kTransports{
    {{"tcp", ModbusTransport::tcp},
     {"rtu", ModbusTransport::rtu},
     {"rtu-over-tcp", ModbusTransport::rtu_over_tcp}}};

constexpr std::array<Choice<Parity>, 3> kParities{
    {{"none", Parity::none}, {"even", Parity::even}, {"odd", Parity::odd}}};

constexpr std::array<Choice<int>, 2> kDataBits{{{"7", 7}, {"8", 8}}};
constexpr std::array<Choice<int>, 2> kStopBits{{{"1", 1}, {"2", 2}}};
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
  f.length = r.optional("length", integer_in<std::uint16_t>(1, kMaxReadRegisters));
  r.read("scale", point.scale, nonzero_real());
  r.read("offset", point.offset, real());
  r.read("unit", point.unit, text());
  if (auto labels = r.dictionary("enum", any_integer(), text()))
    point.enum_map = std::move(*labels);

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
  if (auto address = protocol_address(r, f, address_base, point.width())) point.address = *address;
  return point;
}

ModbusDevice read_device(ObjectReader& r, std::optional<ModbusTransport> transport,
                         SiteNames& names) {
  using std::chrono::days;
  ModbusDevice device;
  device.where = r.location();
  if (auto name = r.required("name", identifier())) {
    device.name = *name;
    r.require_unique("name", device.name, names.sources, "device name",
                     "device names are the 'source' of their readings and must be unique across "
                     "the site");
  }
  if (r.read("unit_id", device.unit_id, integer_in<int>(0, 255)) &&
      transport == ModbusTransport::rtu &&
      (device.unit_id == 0 || device.unit_id > kMaxSerialUnitId))
    r.error("unit_id",
            "on a serial line a polled unit id is 1 to 247 (0 is broadcast and is "
            "never answered; 248-255 are reserved)");
  r.read("poll_interval", device.poll_interval, duration_in(1ms, days{1}));
  r.read("timeout", device.timeout, duration_in(1ms, 60s));
  r.read("retries", device.retries, integer_in<int>(0, 10));
  int address_base = 0;
  r.read("address_base", address_base, one_of(kAddressBases));

  UniqueNames point_names;
  r.list("points", Items::at_least_one, [&](ObjectReader& item) {
    ModbusPoint point = read_point(item, address_base);
    if (!point.name.empty())
      item.require_unique("name", point.name, point_names, "point name",
                          "point names must be unique within a device");
    device.points.push_back(std::move(point));
  });
  return device;
}

SerialPortSettings read_serial(ObjectReader& r) {
  SerialPortSettings serial;
  if (auto port = r.required("port", text())) serial.port = std::move(*port);
  r.read("baud", serial.baud, integer_in<int>(1, 4'000'000));
  r.read("parity", serial.parity, one_of(kParities));
  r.read("data_bits", serial.data_bits, one_of(kDataBits));
  r.read("stop_bits", serial.stop_bits, one_of(kStopBits));
  r.read("rs485", serial.rs485, boolean());
  return serial;
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
            [&](ObjectReader& s) { adapter.serial = read_serial(s); });
  r.read("connect_timeout", adapter.connect_timeout, duration_in(100ms, 60s));
  r.read("pacing", adapter.pacing, duration_in(0ms, 10s));
  read_delay_range(r, "backoff", adapter.backoff_min, adapter.backoff_max, 100ms, days{1});
  if (transport) check_transport_keys(r, *transport);
  r.list("devices", Items::at_least_one, [&](ObjectReader& item) {
    adapter.devices.push_back(read_device(item, transport, names));
  });
  return adapter;
}

}  // namespace guardian::config::detail
