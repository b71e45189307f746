#pragma once
/// \file
/// What roots a device identity in its TPM's manufacturer, computed without a TPM (the trust
/// service has none):
///   - the endorsement key (EK): the TCG EK Credential Profile 2.0 template L-1 (RSA 2048,
///     restricted decryption key, PolicySecret(TPM_RH_ENDORSEMENT)), and its certificate, which
///     the TPM's manufacturer signed and the TPM keeps in NV index 0x01C00002;
///   - credential activation (TPM 2.0 Part 1 §24, Part 3 §12.5–12.6): the trust service
///     encrypts a secret to the EK, bound to the attestation key's Name, so that only the TPM
///     that holds both keys can recover it (TPM2_ActivateCredential). That proves the AK lives in
///     the same TPM as the certified EK — as Keylime's registrar and Azure DPS TPM attestation do.
/// Pure functions; thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::secure_link {

/// NV index of the RSA 2048 EK certificate (TCG EK Credential Profile 2.0 §2.2.1.4).
inline constexpr std::uint32_t kRsaEkCertificateIndex = 0x01C00002;
/// The authPolicy of the default EK templates: PolicySecret(TPM_RH_ENDORSEMENT) (EK Credential
/// Profile 2.0 §B.3.2).
inline constexpr std::array<std::uint8_t, 32> kEkPolicy{
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
    0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

/// An error unless `ek` has the EK template L-1: RSA 2048, SHA-256 name, fixedTPM, fixedParent,
/// sensitiveDataOrigin, adminWithPolicy, restricted, decrypt, AES-128-CFB, kEkPolicy.
[[nodiscard]] result<void> check_ek_template(const TpmPublicKey& ek);

/// The issuer, subject and serial of a verified EK certificate, for the registry and humans.
struct EkCertificateInfo {
  std::string issuer;
  std::string subject;  ///< often empty: EK certificates name the TPM in subjectAltName
  std::string serial;   ///< lower-case hex
};

/// Parses an EK certificate (DER) without verifying anything: who issued it, for humans.
[[nodiscard]] result<EkCertificateInfo> describe_ek_certificate(ByteView certificate_der);

/// Verifies an EK certificate (DER): it must chain to one of `manufacturer_cas` (PEM, any
/// number of certificates, each trusted as an anchor), and certify `ek_spki_der`. Validity
/// dates are not enforced (an EK certificate is a birth certificate: TCG lets it outlive the
/// TPM, and some manufacturers' intermediates have expired while their TPMs are in service).
/// An error says what did not hold.
[[nodiscard]] result<EkCertificateInfo> verify_ek_certificate(ByteView certificate_der,
                                                              ByteView ek_spki_der,
                                                              const std::string& manufacturer_cas);

/// The two outputs of TPM2_MakeCredential, marshalled: TPM2B_ID_OBJECT and
/// TPM2B_ENCRYPTED_SECRET, the inputs of TPM2_ActivateCredential.
struct Credential {
  Bytes id_object;
  Bytes encrypted_secret;
};

/// TPM2_MakeCredential in software (Part 1 §24.4–24.5, Annex B.10.4): `secret` (at most 32
/// bytes) protected by the RSA EK `ek_tpm_public` for the object named `object_name`.
[[nodiscard]] result<Credential> make_credential(ByteView ek_tpm_public, ByteView object_name,
                                                 ByteView secret);

/// KDFa of Part 1 §11.4.10.2 with HMAC-SHA256 (SP 800-108 counter mode): `bits` bits derived
/// from `key` for `label` (its terminating zero octet is added) and the two contexts.
[[nodiscard]] Bytes kdfa_sha256(ByteView key, std::string_view label, ByteView context_u,
                                ByteView context_v, std::uint32_t bits);

}  // namespace guardian::secure_link
