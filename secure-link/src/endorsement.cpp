// The endorsement key, its certificate and credential activation (endorsement.hpp).
#include "guardian/secure_link/endorsement.hpp"

#include <tss2/tss2_tpm2_types.h>

#include <mbedtls/aes.h>
#include <mbedtls/md.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <array>

namespace guardian::secure_link {
namespace {

namespace attr = object_attribute;

// EK Credential Profile 2.0 §B.3.3, template L-1.
constexpr std::uint32_t kEkAttributes = attr::kFixedTpm | attr::kFixedParent |
                                        attr::kSensitiveDataOrigin | attr::kAdminWithPolicy |
                                        attr::kRestricted | attr::kDecrypt;

void append_u16(Bytes& out, std::size_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

Bytes hmac_sha256(ByteView key, ByteView data) {
  Bytes out(32);
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key.data(), key.size(),
                  data.data(), data.size(), out.data());
  return out;
}

std::string dn(const mbedtls_x509_name& name) {
  std::array<char, 512> text{};
  const int n = mbedtls_x509_dn_gets(text.data(), text.size(), &name);
  return n < 0 ? std::string{} : std::string(text.data(), static_cast<std::size_t>(n));
}

// TCG EK Credential Profile 2.0 §3.2.9: an EK certificate's subject may be empty, and its
// subjectAltName (a directoryName with the TPM manufacturer, model and version) is then
// critical; "subject directory attributes" (TPM specification) may be present too. mbedTLS
// 2.28 refuses unknown critical extensions, so these — which carry no constraint on the
// chain — are accepted here, and only these.
int accept_tpm_extensions(void*, const mbedtls_x509_crt*, const mbedtls_x509_buf* oid, int critical,
                          const unsigned char*, const unsigned char*) {
  static const std::array<std::uint8_t, 3> kSubjectAltName{0x55, 0x1D, 0x11};            // 2.5.29.17
  static const std::array<std::uint8_t, 3> kSubjectDirectoryAttributes{0x55, 0x1D, 0x09};  // 2.5.29.9
  const ByteView id(oid->p, oid->len);
  if (!critical) return 0;
  if (std::equal(id.begin(), id.end(), kSubjectAltName.begin(), kSubjectAltName.end()) ||
      std::equal(id.begin(), id.end(), kSubjectDirectoryAttributes.begin(),
                 kSubjectDirectoryAttributes.end()))
    return 0;
  return MBEDTLS_ERR_X509_INVALID_EXTENSIONS;
}

}  // namespace

result<void> check_ek_template(const TpmPublicKey& ek) {
  if (ek.type != TPM2_ALG_RSA || ek.key_bits != 2048)
    return make_error("the endorsement key is not an RSA 2048 key (only the EK template L-1 is "
                      "supported)");
  if (ek.attributes != kEkAttributes)
    return make_error("the endorsement key does not have the attributes of an EK (" +
                      ek.describe_attributes() + ")");
  if (ek.symmetric != TPM2_ALG_AES || ek.symmetric_bits != 128 || ek.symmetric_mode != TPM2_ALG_CFB)
    return make_error("the endorsement key is not an AES-128-CFB storage key");
  if (!std::equal(ek.auth_policy.begin(), ek.auth_policy.end(), kEkPolicy.begin(), kEkPolicy.end()))
    return make_error("the endorsement key's policy is not PolicySecret(TPM_RH_ENDORSEMENT)");
  return outcome::success();
}

result<EkCertificateInfo> describe_ek_certificate(ByteView certificate_der) {
  X509Chain leaf;
  const int rc = mbedtls_x509_crt_parse_der_with_ext_cb(leaf.get(), certificate_der.data(),
                                                        certificate_der.size(), 1,
                                                        accept_tpm_extensions, nullptr);
  if (rc != 0) return mbedtls_error(rc, "the EK certificate cannot be parsed");
  return EkCertificateInfo{dn(leaf.get()->issuer), dn(leaf.get()->subject),
                           certificate_serial_hex(*leaf.get())};
}

result<EkCertificateInfo> verify_ek_certificate(ByteView certificate_der, ByteView ek_spki_der,
                                                const std::string& manufacturer_cas) {
  X509Chain leaf;
  int rc = mbedtls_x509_crt_parse_der_with_ext_cb(leaf.get(), certificate_der.data(),
                                                  certificate_der.size(), 1,
                                                  accept_tpm_extensions, nullptr);
  if (rc != 0) return mbedtls_error(rc, "the EK certificate cannot be parsed");
  if (manufacturer_cas.empty())
    return make_error("no TPM manufacturer CA is configured: add the CAs of the TPMs this fleet "
                      "uses with `guardian-trust tpm-ca add`");
  BOOST_OUTCOME_TRY(anchors, X509Chain::from_pem(manufacturer_cas));
  std::uint32_t flags = 0;
  rc = mbedtls_x509_crt_verify(leaf.get(), anchors->get(), nullptr, nullptr, &flags, nullptr, nullptr);
  // Validity dates are not a property of a TPM (see the header): only they are forgiven.
  const std::uint32_t dates = MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE;
  if (rc != 0 && (flags & ~dates) != 0) {
    std::array<char, 512> info{};
    mbedtls_x509_crt_verify_info(info.data(), info.size(), "", flags & ~dates);
    std::string text = info.data();
    while (!text.empty() && text.back() == '\n') text.pop_back();
    std::replace(text.begin(), text.end(), '\n', ';');
    return make_error("the EK certificate (issuer \"" + dn(leaf.get()->issuer) +
                      "\") does not chain to a configured TPM manufacturer CA: " + text);
  }
  // TCG EK Credential Profile §3.2.16: an EK certificate's extended key usage, when present,
  // is tcg-kp-EKCertificate — a platform certificate (…8.2) names the same key, but is not one.
  static constexpr unsigned char kEkCertificateUsage[] = {0x67, 0x81, 0x05, 0x08, 0x01};  // 2.23.133.8.1
  if (mbedtls_x509_crt_check_extended_key_usage(leaf.get(), reinterpret_cast<const char*>(kEkCertificateUsage),
                                                sizeof kEkCertificateUsage) != 0)
    return make_error("the certificate is not an EK certificate (its extended key usage lacks "
                      "tcg-kp-EKCertificate 2.23.133.8.1)");
  Bytes certified(4096);
  const int n = mbedtls_pk_write_pubkey_der(&leaf.get()->pk, certified.data(), certified.size());
  if (n < 0) return mbedtls_error(n, "cannot read the EK certificate's public key");
  if (!std::equal(certified.end() - n, certified.end(), ek_spki_der.begin(), ek_spki_der.end()))
    return make_error("the EK certificate certifies another key than this TPM's endorsement key");
  return EkCertificateInfo{dn(leaf.get()->issuer), dn(leaf.get()->subject),
                           certificate_serial_hex(*leaf.get())};
}

Bytes kdfa_sha256(ByteView key, std::string_view label, ByteView context_u, ByteView context_v,
                  std::uint32_t bits) {
  Bytes out;
  for (std::uint32_t counter = 1; out.size() * 8 < bits; ++counter) {
    Bytes block;
    for (int shift = 24; shift >= 0; shift -= 8) block.push_back(static_cast<std::uint8_t>(counter >> shift));
    block.insert(block.end(), label.begin(), label.end());
    block.push_back(0);  // the label's terminating octet (Part 1 §11.4.10.2)
    block.insert(block.end(), context_u.begin(), context_u.end());
    block.insert(block.end(), context_v.begin(), context_v.end());
    for (int shift = 24; shift >= 0; shift -= 8) block.push_back(static_cast<std::uint8_t>(bits >> shift));
    const auto h = hmac_sha256(key, block);
    out.insert(out.end(), h.begin(), h.end());
  }
  out.resize((bits + 7) / 8);
  return out;
}

result<Credential> make_credential(ByteView ek_tpm_public, ByteView object_name, ByteView secret) {
  if (secret.size() > 32) return make_error("a credential holds at most 32 bytes");
  BOOST_OUTCOME_TRY(ek, parse_tpm_public(ek_tpm_public));
  BOOST_OUTCOME_TRY(check_ek_template(ek));
  BOOST_OUTCOME_TRY(key, PkKey::from_public_der(ek.spki_der));
  mbedtls_rsa_context* rsa = mbedtls_pk_rsa(*key->get());
  // Annex B.10.4: the seed is as long as the EK's name digest, encrypted with RSA-OAEP
  // (SHA-256, the EK's nameAlg) under the label "IDENTITY" with its terminating zero.
  mbedtls_rsa_set_padding(rsa, MBEDTLS_RSA_PKCS_V21, MBEDTLS_MD_SHA256);
  const Bytes seed = random_generator().bytes(32);
  static constexpr unsigned char kIdentityLabel[] = "IDENTITY";
  Bytes encrypted_seed(mbedtls_rsa_get_len(rsa));
  int rc = mbedtls_rsa_rsaes_oaep_encrypt(rsa, RandomGenerator::callback, random_generator().state(),
                                          MBEDTLS_RSA_PUBLIC, kIdentityLabel, sizeof kIdentityLabel,
                                          seed.size(), seed.data(), encrypted_seed.data());
  if (rc != 0) return mbedtls_error(rc, "cannot encrypt the credential seed to the EK");

  // Part 1 §24.4: the credential (a TPM2B_DIGEST) encrypted with AES-128-CFB (the EK's
  // symmetric algorithm), IV zero, under a key bound to the object's Name.
  const Bytes sym_key = kdfa_sha256(seed, "STORAGE", object_name, {}, 128);
  Bytes plain;
  append_u16(plain, secret.size());
  plain.insert(plain.end(), secret.begin(), secret.end());
  Bytes enc_identity(plain.size());
  {
    mbedtls_aes_context aes;
    mbedtls_aes_init(&aes);
    std::array<unsigned char, 16> iv{};
    std::size_t iv_offset = 0;
    rc = mbedtls_aes_setkey_enc(&aes, sym_key.data(), 128);
    if (rc == 0)
      rc = mbedtls_aes_crypt_cfb128(&aes, MBEDTLS_AES_ENCRYPT, plain.size(), &iv_offset, iv.data(),
                                    plain.data(), enc_identity.data());
    mbedtls_aes_free(&aes);
    if (rc != 0) return mbedtls_error(rc, "cannot encrypt the credential");
  }
  // Part 1 §24.5: outerHMAC = HMAC(KDFa(seed, "INTEGRITY"), encIdentity ‖ Name).
  const Bytes hmac_key = kdfa_sha256(seed, "INTEGRITY", {}, {}, 256);
  Bytes mac_input = enc_identity;
  mac_input.insert(mac_input.end(), object_name.begin(), object_name.end());
  const Bytes outer_hmac = hmac_sha256(hmac_key, mac_input);

  Credential credential;
  append_u16(credential.id_object, 2 + outer_hmac.size() + enc_identity.size());
  append_u16(credential.id_object, outer_hmac.size());
  credential.id_object.insert(credential.id_object.end(), outer_hmac.begin(), outer_hmac.end());
  credential.id_object.insert(credential.id_object.end(), enc_identity.begin(), enc_identity.end());
  append_u16(credential.encrypted_secret, encrypted_seed.size());
  credential.encrypted_secret.insert(credential.encrypted_secret.end(), encrypted_seed.begin(),
                                     encrypted_seed.end());
  return credential;
}

}  // namespace guardian::secure_link
