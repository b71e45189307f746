#pragma once
/// \file
/// `guardian identity provision` and `guardian identity show`: the field technician's side of
/// the secure link (docs/secure-link.md "Provisioning").

#include <string>

#include <CLI/CLI.hpp>

namespace guardian::tools {

struct IdentityCommand {
  CLI::App* provision = nullptr;
  CLI::App* show = nullptr;
  std::string config;
  std::string out;   ///< provision: also write the enrollment record here
  bool json = false; ///< show: machine-readable output
  bool rotate = false; ///< provision: replace existing keys
};

/// Adds the `identity` subcommand (with provision and show) to `app`.
void add_identity_command(CLI::App& app, IdentityCommand& command, const std::string& default_config);

/// Runs the parsed subcommand. Exit codes as `guardian`: 0 success, 1 invalid configuration,
/// 2 failure (TPM, files).
[[nodiscard]] int run_identity_command(const IdentityCommand& command);

}  // namespace guardian::tools
