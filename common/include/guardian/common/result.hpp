#pragma once
/// \file
/// The one result type of the data path (STYLE.md "Errors"): Boost.Outcome's result<T> with an
/// error that keeps the original third-party code and a human-readable message with context.
/// Works with g++ 12 and clang 14 (fuzz builds), unlike std::expected on libstdc++ 12.

#include <string>
#include <system_error>
#include <utility>

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>
#include <boost/system/error_code.hpp>

namespace guardian {

namespace outcome = boost::outcome_v2;

/// What went wrong, where, and (where known) the original error value.
/// `code` keeps the translated third-party value (errno, SQLite rc, TSS2 rc, mbedTLS code);
/// `message` says what happened with its context (device, register, file) and what to do.
struct Error {
  boost::system::error_code code;
  std::string message;

  /// "message (category:value)" when a code is set, otherwise just the message.
  [[nodiscard]] std::string describe() const {
    if (!code) return message;
    return message + " (" + code.category().name() + ":" + std::to_string(code.value()) + ": " +
           code.message() + ")";
  }
};

/// Result of a fallible synchronous operation. Accessing the value of an errored result
/// terminates (never undefined behaviour).
template <class T>
using result = outcome::result<T, Error, outcome::policy::terminate>;

/// Builds an Error from a message alone.
[[nodiscard]] inline Error make_error(std::string message) { return Error{{}, std::move(message)}; }

/// Builds an Error from a code and a message.
[[nodiscard]] inline Error make_error(boost::system::error_code code, std::string message) {
  return Error{code, std::move(message)};
}

/// Builds an Error from a std::error_code (std::filesystem reports errno values this way).
[[nodiscard]] inline Error make_error(const std::error_code& code, std::string message) {
  return Error{boost::system::error_code(code.value(), boost::system::generic_category()),
               std::move(message)};
}

/// Builds an Error from an errno value and a message.
[[nodiscard]] inline Error make_errno_error(int errno_value, std::string message) {
  return Error{boost::system::error_code(errno_value, boost::system::generic_category()),
               std::move(message)};
}

}  // namespace guardian
