#pragma once
/// \file
/// A test PKI made with the openssl command line (an independent implementation): CAs and
/// leaf certificates in a temporary directory, ECDSA P-256, valid for two days.

#include <filesystem>
#include <string>
#include <vector>

#include "guardian/testing/environment.hpp"

namespace guardian::testing {

class TestPki {
 public:
  TestPki() = default;
  /// A self-signed CA "<name>.pem" with key "<name>.key" (subject O=Guardian Test, CN=<name>).
  void make_ca(const std::string& name);
  /// A certificate for `cn` signed by `ca`; `san` like "IP:127.0.0.1,DNS:localhost" (or empty).
  /// The key is mode 0600.
  void make_leaf(const std::string& name, const std::string& ca, const std::string& cn,
                 const std::string& san = {});
  [[nodiscard]] std::string pem(const std::string& name) const;
  [[nodiscard]] std::string key(const std::string& name) const;
  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_.path(); }

  /// Runs a command and throws std::runtime_error with its output if it fails.
  static void run(const std::vector<std::string>& argv);

 private:
  TempDir dir_{"guardian-pki"};
};

}  // namespace guardian::testing
