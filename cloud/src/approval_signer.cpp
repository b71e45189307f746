#include "guardian/cloud/approval_signer.hpp"

#include <mbedtls/ecdsa.h>

#include <array>

#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::cloud {

using secure_link::Bytes;
using secure_link::ByteView;

result<std::unique_ptr<ApprovalSigner>> ApprovalSigner::load(const std::filesystem::path& key_file) {
  BOOST_OUTCOME_TRY(secure_link::check_private_file(key_file, "approval key"));
  BOOST_OUTCOME_TRY(key, secure_link::PkKey::from_private_file(key_file));
  BOOST_OUTCOME_TRY(spki, key->public_der());
  auto approval_key = secure_link::approval_key_from_public(spki);
  if (!approval_key)
    return make_error("the approval key " + key_file.string() + ": " + approval_key.error().message);
  std::unique_ptr<ApprovalSigner> signer(new ApprovalSigner());
  signer->private_ = std::move(key);
  signer->public_ = std::move(approval_key).value();
  return signer;
}

result<secure_link::PolicyApproval> ApprovalSigner::approve(unsigned pcr, ByteView pcr_digest,
                                                            const std::string& device_id) {
  if (pcr_digest.size() != 32) return make_error("a PCR digest must be 32 bytes (SHA-256)");
  const auto approved = secure_link::pcr_policy(pcr, pcr_digest);
  const auto a_hash = secure_link::approval_digest(approved, secure_link::tls_policy_ref(device_id));
  std::array<std::uint8_t, 32> r{};
  std::array<std::uint8_t, 32> s{};
  {
    std::lock_guard lock(mutex_);
    mbedtls_mpi mr;
    mbedtls_mpi ms;
    mbedtls_mpi_init(&mr);
    mbedtls_mpi_init(&ms);
    mbedtls_ecp_keypair* ec = mbedtls_pk_ec(*private_->get());
    auto& rng = secure_link::random_generator();
    int rc = mbedtls_ecdsa_sign(&ec->grp, &mr, &ms, &ec->d, a_hash.data(), a_hash.size(),
                                secure_link::RandomGenerator::callback, rng.state());
    if (rc == 0) rc = mbedtls_mpi_write_binary(&mr, r.data(), r.size());
    if (rc == 0) rc = mbedtls_mpi_write_binary(&ms, s.data(), s.size());
    mbedtls_mpi_free(&mr);
    mbedtls_mpi_free(&ms);
    if (rc != 0) return secure_link::mbedtls_error(rc, "signing an approval failed");
  }
  BOOST_OUTCOME_TRY(signature, secure_link::marshal_ecdsa_signature(r, s));
  return secure_link::PolicyApproval{pcr, Bytes(pcr_digest.begin(), pcr_digest.end()), std::move(signature)};
}

}  // namespace guardian::cloud
