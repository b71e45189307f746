#include "modbus_error.hpp"

#include <modbus/modbus.h>

#include <array>
#include <cstdio>

namespace guardian::adapters::modbus {
namespace {

// Boost 1.74's error_category has a protected non-virtual destructor by design (categories are
// never deleted through a base pointer), which -Wnon-virtual-dtor cannot tell.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class LibmodbusCategory final : public boost::system::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "libmodbus"; }
  [[nodiscard]] std::string message(int ev) const override { return modbus_strerror(ev); }
};
#pragma GCC diagnostic pop

// Modbus Application Protocol V1.1b3 §7 "MODBUS Exception Responses"; 07 is the legacy
// "negative acknowledge" libmodbus also knows.
[[nodiscard]] const char* exception_name(int code) noexcept {
  switch (code) {
    case MODBUS_EXCEPTION_ILLEGAL_FUNCTION:
      return "illegal function";
    case MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS:
      return "illegal data address";
    case MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE:
      return "illegal data value";
    case MODBUS_EXCEPTION_SLAVE_OR_SERVER_FAILURE:
      return "server device failure";
    case MODBUS_EXCEPTION_ACKNOWLEDGE:
      return "acknowledge";
    case MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY:
      return "server device busy";
    case MODBUS_EXCEPTION_NEGATIVE_ACKNOWLEDGE:
      return "negative acknowledge";
    case MODBUS_EXCEPTION_MEMORY_PARITY:
      return "memory parity error";
    case MODBUS_EXCEPTION_GATEWAY_PATH:
      return "gateway path unavailable";
    case MODBUS_EXCEPTION_GATEWAY_TARGET:
      return "gateway target device failed to respond";
    default:
      return "unknown exception";
  }
}

[[nodiscard]] std::string two_hex_digits(int code) {
  std::array<char, 8> buf{};
  std::snprintf(buf.data(), buf.size(), "%02X", static_cast<unsigned>(code) & 0xFFU);
  return buf.data();
}

}  // namespace

const boost::system::error_category& libmodbus_category() noexcept {
  static const LibmodbusCategory category;
  return category;
}

int exception_code(int errno_value) noexcept {
  if (errno_value >= EMBXILFUN && errno_value <= EMBXGTAR) return errno_value - MODBUS_ENOBASE;
  return 0;
}

bool is_protocol_error(int errno_value) noexcept {
  return errno_value == EMBBADCRC || errno_value == EMBBADDATA || errno_value == EMBBADEXC ||
         errno_value == EMBUNKEXC || errno_value == EMBMDATA || errno_value == EMBBADSLAVE;
}

std::string describe_exception(int code) {
  return "exception " + two_hex_digits(code) + " " + exception_name(code);
}

std::string exception_counter(int code) { return "exception_" + two_hex_digits(code); }

Error libmodbus_error(int errno_value, std::string message) {
  return make_error(boost::system::error_code(errno_value, libmodbus_category()),
                    std::move(message));
}

}  // namespace guardian::adapters::modbus
