#pragma once
/// \file
/// The fleet view behind `guardian-trust list`: for each device, what needs an operator's
/// attention — the trust service's "detects threats". Judged from the registry alone (every
/// replica sees the same), against the policy as it stands now:
///
///   failing        its last kFailingAfter (3) or more attestations were refused in a row
///   refused        it had refusals in the window (24 h), even if it attested since
///   not_allowed    what it last showed it runs (gateway, config, firmware) is not allowed by
///                  the policy now — refused, or about to be at its next renewal
///   silent         not revoked, and its last certificate expired (offline, or failing before
///                  the service could see it) — or never attested, an hour after enrollment
///   not_activated  a TPM device that never proved its attestation key beside its EK
///
/// Revoked devices need no attention (they are shown as revoked).

#include <string>
#include <vector>

#include "guardian/cloud/policy.hpp"
#include "guardian/cloud/registry.hpp"

namespace guardian::cloud {

/// Refusals in a row that make a device "failing".
inline constexpr std::int64_t kFailingAfter = 3;
/// The window `refusals` are counted in.
inline constexpr std::chrono::hours kAttentionWindow{24};

struct Attention {
  std::string code;  ///< failing, refused, not_allowed, silent, not_activated
  std::string what;  ///< for humans, one line
};

/// What about `entry` needs attention now (empty: nothing).
[[nodiscard]] std::vector<Attention> assess(const FleetEntry& entry, const Policy& policy, Timestamp now);

}  // namespace guardian::cloud
