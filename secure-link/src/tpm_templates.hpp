#pragma once
/// \file
/// Pieces of TPMT_PUBLIC templates that several keys share (TPM 2.0 Part 2 §12.2), so that each
/// is written once: an unrestricted-or-restricted ECDSA P-256 signing key's parameters (the
/// attestation key, the approval key as the TPM loads it), and the AES-128-CFB symmetric
/// definition of a storage key (the SRK, the EK). Private to secure-link.

#include <tss2/tss2_tpm2_types.h>

#include <algorithm>

namespace guardian::secure_link {

/// ECDSA with SHA-256 on NIST P-256, no symmetric algorithm, no KDF.
inline void set_ecdsa_p256(TPMT_PUBLIC& area) {
  area.type = TPM2_ALG_ECC;
  area.nameAlg = TPM2_ALG_SHA256;
  auto& ecc = area.parameters.eccDetail;
  ecc.symmetric.algorithm = TPM2_ALG_NULL;
  ecc.scheme.scheme = TPM2_ALG_ECDSA;
  ecc.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  ecc.curveID = TPM2_ECC_NIST_P256;
  ecc.kdf.scheme = TPM2_ALG_NULL;
}

/// An RSA 2048 key (exponent 65537, no scheme: each command names its own) with `attributes`
/// and the authorization policy `policy` (empty: none).
template <class Digest>
void set_rsa2048(TPMT_PUBLIC& area, TPMA_OBJECT attributes, const Digest& policy) {
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = attributes;
  area.authPolicy.size = static_cast<UINT16>(policy.size());
  std::copy(policy.begin(), policy.end(), area.authPolicy.buffer);
  area.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  area.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  area.parameters.rsaDetail.keyBits = 2048;
  area.parameters.rsaDetail.exponent = 0;
}

/// AES-128 in CFB mode: the symmetric algorithm of the TCG's storage key templates.
inline void set_aes128_cfb(TPMT_SYM_DEF_OBJECT& symmetric) {
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
}

}  // namespace guardian::secure_link
