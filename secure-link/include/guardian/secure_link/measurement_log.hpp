#pragma once
/// \file
/// The device side of measurement: what the gateway extends into its PCR, and the log that lets
/// the trust service replay that PCR. The PCR (8–15) cannot be reset without a reboot, so the
/// log lives as long as the boot: every gateway start appends its measurements to it, and the
/// trust service replays the whole log from zero (measurement.hpp). A start that measures
/// exactly what the previous start measured appends nothing: a restart with the same binary
/// and configuration stays in the approved state, so its stored certificate and approval still
/// work while the trust service is away.
///
///   measure():  lock <log>.lock; read the log; read the PCR
///               PCR = 0                        → a new boot (or TPM): the log starts empty
///               PCR = replay(a prefix of log)  → that prefix (a crash between writing the log
///                                                and extending leaves entries never extended)
///               otherwise                      → another program extended the PCR: error
///               hash the targets; same as the last start → done
///               else write the log with the new events first, then extend each
///
/// Blocks (files, TPM): run it off the io_context thread. Thread-safe as far as the Identity is;
/// two processes serialise on the lock file.

#include <filesystem>
#include <span>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/config/secure_link_config.hpp"
#include "guardian/secure_link/identity.hpp"
#include "guardian/secure_link/measurement.hpp"

namespace guardian::secure_link {

/// A file to measure, and as what.
struct MeasurementTarget {
  MeasurementKind kind;
  std::filesystem::path path;
};

/// What the device measures for `cfg`: the running binary (/proc/self/exe, reported by its
/// real path), the firmware image when configured, and the configuration file.
[[nodiscard]] std::vector<MeasurementTarget> measurement_targets(const config::SecureLinkConfig& cfg);

/// Measures `targets` into `pcr` unless the last start in `log_file` measured the same, and
/// returns the whole log of this boot. Errors name the file, the TPM command, or say that the
/// PCR holds measurements the log does not explain (another program extended it).
[[nodiscard]] result<std::vector<Measurement>> measure(Identity& identity, unsigned pcr,
                                                       std::span<const MeasurementTarget> targets,
                                                       const std::filesystem::path& log_file);

/// The log of this boot as far as the PCR confirms it, without measuring anything (for
/// `guardian identity show`); empty when the PCR is still zero.
[[nodiscard]] result<std::vector<Measurement>> read_measurement_log(
    Identity& identity, unsigned pcr, const std::filesystem::path& log_file);

/// An error unless `pcr` still holds replay_event_log(`log`): what the certificate keeper
/// checks before each attestation after the first.
[[nodiscard]] result<void> check_measurements(Identity& identity, unsigned pcr,
                                              std::span<const Measurement> log);

}  // namespace guardian::secure_link
