#pragma once
/// \file
/// Translation of libmodbus errors at the boundary (STYLE.md "Errors"): libmodbus reports
/// through errno, either a system errno or MODBUS_ENOBASE + n. Exception responses
/// (Modbus Application Protocol V1.1b3 §7) are recognised and named once, here.

#include <string>

#include <boost/system/error_code.hpp>

#include "guardian/common/result.hpp"

namespace guardian::adapters::modbus {

/// Error category for libmodbus errno values; message() is modbus_strerror().
[[nodiscard]] const boost::system::error_category& libmodbus_category() noexcept;

/// The Modbus exception code (1–11) a libmodbus errno stands for, or 0 when the errno is not an
/// exception response.
[[nodiscard]] int exception_code(int errno_value) noexcept;

/// True for errno values meaning the response was malformed or did not match the request
/// (bad data, CRC, wrong unit, too much data): the byte stream can no longer be trusted.
[[nodiscard]] bool is_protocol_error(int errno_value) noexcept;

/// "exception 02 illegal data address" — the code in two hex digits and its name from the spec.
[[nodiscard]] std::string describe_exception(int code);

/// Health counter name for an exception code, e.g. "exception_02".
[[nodiscard]] std::string exception_counter(int code);

/// An Error holding `errno_value` in libmodbus_category() and `message`.
[[nodiscard]] Error libmodbus_error(int errno_value, std::string message);

}  // namespace guardian::adapters::modbus
