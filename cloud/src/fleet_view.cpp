#include "guardian/cloud/fleet_view.hpp"

#include "guardian/common/time_format.hpp"

namespace guardian::cloud {

std::vector<Attention> assess(const FleetEntry& e, const Policy& policy, Timestamp now) {
  std::vector<Attention> out;
  const auto& d = e.device;
  if (d.revoked) return out;
  if (e.failures_in_a_row >= kFailingAfter)
    out.push_back({"failing", "its last " + std::to_string(e.failures_in_a_row) + " attestations were refused"});
  else if (e.refusals > 0)
    out.push_back({"refused", std::to_string(e.refusals) + " refused attestation(s) in the last " +
                                  std::to_string(kAttentionWindow.count()) + " h"});
  for (const auto& [kind_text, digest] : d.running) {
    const auto kind = secure_link::measurement_kind_from(kind_text);
    const auto list = kind ? policy.allowed.find(*kind) : policy.allowed.end();
    if (list == policy.allowed.end() || !list->second.contains(digest))
      out.push_back({"not_allowed", "runs " + kind_text + " " + digest + ", which the policy does not allow"});
  }
  if (e.certificate && e.certificate->not_after <= now)
    out.push_back({"silent", "its last certificate expired at " + format_rfc3339(e.certificate->not_after) +
                                 ": offline, or failing before it reaches the service"});
  else if (!e.certificate && !d.last_attestation && now - d.enrolled > std::chrono::hours{1})
    out.push_back({"silent", "enrolled at " + format_rfc3339(d.enrolled) + " and never attested"});
  if (d.backend == config::IdentityBackend::tpm && !d.activated && d.last_attestation)
    out.push_back({"not_activated", "tried to attest but never proved its attestation key is in its TPM"});
  return out;
}

}  // namespace guardian::cloud
