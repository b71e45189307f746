#pragma once
/// \file
/// The policy that binds the device's TLS key to the gateway, computed without a TPM so that the
/// device (which creates the key) and the trust service (which checks the key at enrollment and
/// approves PCR states afterwards) agree on every digest. TPM 2.0 Part 1 §19.7 (policy
/// authorization) and Part 3 §23 (the policy commands) define the arithmetic.
///
///   TLS key authPolicy = PolicyAuthorize(approval key, policyRef(device)) → PolicyAuthValue
///
///   to sign:  PolicyPCR(pcr, H(current value))        ← the state the PCR holds now
///             PolicyAuthorize(approved, ref, key, ticket)  ← the fleet approved that state
///             PolicyAuthValue                          ← and the caller knows the key's secret
///
/// The fleet's **approval key** (ECDSA P-256, held by the trust service) signs
/// aHash = SHA-256(approvedPolicy ‖ policyRef) for each PCR state it has verified by a quote, so
/// the key signs only in a measured state that the fleet's policy allows — and only for a process
/// that holds the key's authorization value (a secret file only the gateway can read). The
/// signed-update work moves the approval to the release key without changing this shape
/// (systemd-cryptenroll's signed PCR policies use the same PolicyAuthorize construction).
///
/// Pure functions; thread-safe.

#include <cstdint>
#include <filesystem>
#include <string>

#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"

namespace guardian::secure_link {

/// Command codes that enter policy digests (TPM 2.0 Part 2 §6.5.2).
inline constexpr std::uint32_t kCcPolicySecret = 0x00000151;     // TPM_CC_PolicySecret
inline constexpr std::uint32_t kCcPolicyAuthorize = 0x0000016A;  // TPM_CC_PolicyAuthorize
inline constexpr std::uint32_t kCcPolicyAuthValue = 0x0000016B;  // TPM_CC_PolicyAuthValue
inline constexpr std::uint32_t kCcPolicyPcr = 0x0000017F;        // TPM_CC_PolicyPCR

/// The fleet's approval key: an ECDSA P-256 public key as the TPM sees it.
struct ApprovalKey {
  Bytes spki_der;    ///< SubjectPublicKeyInfo (what the PEM file holds)
  Bytes tpm_public;  ///< the TPM2B_PUBLIC that TPM2_LoadExternal loads (public part only)
  Bytes name;        ///< its TPM Name: 0x000B ‖ SHA-256(TPMT_PUBLIC) (Part 1 §16)
  /// "SHA256:<hex of SHA-256(spki_der)>" for humans and logs.
  [[nodiscard]] std::string fingerprint() const;
};

/// The approval key from its public key (PEM or DER SubjectPublicKeyInfo, or a certificate).
/// An error if it is not an ECDSA P-256 key.
[[nodiscard]] result<ApprovalKey> approval_key_from_public(ByteView spki_der);
/// The approval key from a PEM/DER file holding the public key (or the private key, whose
/// public half is used: the trust service reads its own key file this way).
[[nodiscard]] result<ApprovalKey> load_approval_key(const std::filesystem::path& path);

/// The policyRef bound into the TLS key's policy: SHA-256("guardian-tls-key-v1" ‖ 0x00 ‖ device
/// id). An approval made for one device cannot authorize another device's key.
[[nodiscard]] Sha256Digest tls_policy_ref(const std::string& device_id);

/// The TLS key's authPolicy (what TPM2_Create puts in the key and the trust service expects).
[[nodiscard]] Sha256Digest tls_key_policy(const ApprovalKey& approver, const std::string& device_id);

/// The policy digest of TPM2_PolicyPCR over the SHA-256 bank of one `pcr` whose selected values
/// hash to `pcr_values_digest` (= quote_pcr_digest(value) for one PCR), from an empty session:
/// the "approved policy" of a PCR state.
[[nodiscard]] Sha256Digest pcr_policy(unsigned pcr, ByteView pcr_values_digest);

/// aHash of Part 3 §23.16: what the approval key signs for `approved` under `policy_ref`.
[[nodiscard]] Sha256Digest approval_digest(const Sha256Digest& approved, const Sha256Digest& policy_ref);

/// A PCR state the fleet approved for one device: the quote's PCR digest and the approval key's
/// signature (a marshalled TPMT_SIGNATURE, ECDSA-SHA256) over
/// approval_digest(pcr_policy(pcr, pcr_digest), tls_policy_ref(device)).
struct PolicyApproval {
  unsigned pcr = 0;
  Bytes pcr_digest;
  Bytes signature;
};

/// Checks an approval in software (what the TPM's TPM2_VerifySignature will find): an error
/// if `approval` is not `approver`'s signature for `device_id`.
[[nodiscard]] result<void> verify_approval(const PolicyApproval& approval, const ApprovalKey& approver,
                                           const std::string& device_id);

}  // namespace guardian::secure_link
