// Policy digests of the TLS key (tpm_policy.hpp). Every digest here must equal the one the TPM
// computes for the same commands; tests check that against swtpm.
#include "guardian/secure_link/tpm_policy.hpp"

#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>

#include <algorithm>
#include <array>

#include "guardian/secure_link/tpm_structures.hpp"
#include "tpm_templates.hpp"
#include "tss_marshal.hpp"

namespace guardian::secure_link {
namespace {

void append_u32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

void append(Bytes& out, ByteView data) { out.insert(out.end(), data.begin(), data.end()); }

// PolicyUpdate (Part 3 §23.2.3): policyDigest_new := H(policyDigest_old ‖ commandCode ‖ arg2).
Sha256Digest policy_update(const Sha256Digest& old, std::uint32_t command, ByteView arg) {
  Bytes data(old.begin(), old.end());
  append_u32(data, command);
  append(data, arg);
  return sha256(ByteView(data));
}

Sha256Digest hash_concat(ByteView a, ByteView b) {
  Bytes data(a.begin(), a.end());
  append(data, b);
  return sha256(ByteView(data));
}

// The public area under which the TPM loads the approval key for TPM2_VerifySignature: an
// unrestricted ECDSA-SHA256 signing key on P-256. Both sides build it the same way from the
// point, so its Name — which the TLS key's policy names — is the same everywhere.
TPM2B_PUBLIC approval_public_area(ByteView x, ByteView y) {
  TPM2B_PUBLIC t{};
  set_ecdsa_p256(t.publicArea);
  t.publicArea.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH;
  t.publicArea.unique.ecc.x.size = static_cast<UINT16>(x.size());
  std::copy(x.begin(), x.end(), t.publicArea.unique.ecc.x.buffer);
  t.publicArea.unique.ecc.y.size = static_cast<UINT16>(y.size());
  std::copy(y.begin(), y.end(), t.publicArea.unique.ecc.y.buffer);
  return t;
}

result<ApprovalKey> approval_key_from_pk(const mbedtls_pk_context& pk, const std::string& where) {
  if (mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECKEY && mbedtls_pk_get_type(&pk) != MBEDTLS_PK_ECDSA)
    return make_error(where + " is not an ECDSA key: the approval key must be ECDSA P-256");
  const mbedtls_ecp_keypair* ec = mbedtls_pk_ec(pk);
  if (ec->grp.id != MBEDTLS_ECP_DP_SECP256R1)
    return make_error(where + " is not on the P-256 curve: the approval key must be ECDSA P-256");
  std::array<std::uint8_t, 65> point{};
  std::size_t length = 0;
  const int rc = mbedtls_ecp_point_write_binary(&ec->grp, &ec->Q, MBEDTLS_ECP_PF_UNCOMPRESSED,
                                                &length, point.data(), point.size());
  if (rc != 0 || length != point.size()) return mbedtls_error(rc, "cannot read the point of " + where);
  const auto tpm2b = approval_public_area(ByteView(point).subspan(1, 32), ByteView(point).subspan(33, 32));
  BOOST_OUTCOME_TRY(marshalled, tss_marshal(tpm2b, Tss2_MU_TPM2B_PUBLIC_Marshal, "TPM2B_PUBLIC"));
  BOOST_OUTCOME_TRY(parsed, parse_tpm_public(marshalled));
  ApprovalKey key;
  key.spki_der = std::move(parsed.spki_der);
  key.tpm_public = std::move(marshalled);
  key.name = std::move(parsed.name);
  return key;
}

}  // namespace

std::string ApprovalKey::fingerprint() const { return "SHA256:" + to_hex(sha256(ByteView(spki_der))); }

result<ApprovalKey> approval_key_from_public(ByteView spki_der) {
  BOOST_OUTCOME_TRY(pk, PkKey::from_public_der(spki_der));
  return approval_key_from_pk(*pk->get(), "the approval key");
}

result<ApprovalKey> load_approval_key(const std::filesystem::path& path) {
  BOOST_OUTCOME_TRY(text, read_text_file(path));
  const std::string where = "the approval key " + path.string();
  // A public key file (what devices are given), or the private key (the trust service's own).
  PkKey key;
  const auto* data = reinterpret_cast<const unsigned char*>(text.c_str());
  const bool pem = text.find("-----BEGIN") != std::string::npos;
  const std::size_t size = pem ? text.size() + 1 : text.size();
  if (mbedtls_pk_parse_public_key(key.get(), data, size) == 0)
    return approval_key_from_pk(*key.get(), where);
  mbedtls_pk_free(key.get());
  mbedtls_pk_init(key.get());
  if (mbedtls_pk_parse_key(key.get(), data, size, nullptr, 0) == 0)
    return approval_key_from_pk(*key.get(), where);
  return make_error(where + " holds no public or private key (expected PEM \"PUBLIC KEY\" or "
                            "\"EC PRIVATE KEY\", ECDSA P-256)");
}

Sha256Digest tls_policy_ref(const std::string& device_id) {
  std::string data = "guardian-tls-key-v1";
  data.push_back('\0');
  data += device_id;
  return sha256(std::string_view(data));
}

Sha256Digest tls_key_policy(const ApprovalKey& approver, const std::string& device_id) {
  // Part 3 §23.16: TPM2_PolicyAuthorize resets the digest to zero, then
  // PolicyUpdate(TPM_CC_PolicyAuthorize, keySign.name, policyRef), whose second step hashes the
  // policyRef into the result; Part 3 §23.18: TPM2_PolicyAuthValue extends it with its code.
  const Sha256Digest zero{};
  const auto with_key = policy_update(zero, kCcPolicyAuthorize, approver.name);
  const auto ref = tls_policy_ref(device_id);
  const auto authorized = hash_concat(with_key, ref);
  return policy_update(authorized, kCcPolicyAuthValue, {});
}

Sha256Digest pcr_policy(unsigned pcr, ByteView pcr_values_digest) {
  // Part 3 §23.7: H(policyDigest ‖ TPM_CC_PolicyPCR ‖ pcrs ‖ pcrDigest), pcrs the marshalled
  // TPML_PCR_SELECTION: count 1, SHA-256 bank, three select octets (PC Client: 24 PCRs).
  Bytes selection;
  append_u32(selection, 1);
  selection.push_back(static_cast<std::uint8_t>(TPM2_ALG_SHA256 >> 8));
  selection.push_back(static_cast<std::uint8_t>(TPM2_ALG_SHA256 & 0xff));
  selection.push_back(3);
  std::array<std::uint8_t, 3> select{};
  if (pcr < 24) select[pcr / 8] = static_cast<std::uint8_t>(1u << (pcr % 8));
  append(selection, select);
  append(selection, pcr_values_digest);
  return policy_update(Sha256Digest{}, kCcPolicyPcr, selection);
}

Sha256Digest approval_digest(const Sha256Digest& approved, const Sha256Digest& policy_ref) {
  return hash_concat(approved, policy_ref);
}

result<void> verify_approval(const PolicyApproval& approval, const ApprovalKey& approver,
                             const std::string& device_id) {
  if (approval.pcr_digest.size() != 32) return make_error("the approval's PCR digest is not 32 bytes");
  const auto approved = pcr_policy(approval.pcr, approval.pcr_digest);
  const auto a_hash = approval_digest(approved, tls_policy_ref(device_id));
  // TPM2_VerifySignature checks a signature over aHash itself (not over a hash of it).
  return verify_digest_signature(a_hash, approval.signature, approver.spki_der);
}

}  // namespace guardian::secure_link
