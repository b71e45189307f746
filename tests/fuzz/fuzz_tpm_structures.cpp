// libFuzzer target for the TPM structures that cross the network on the security path, read by
// the trust service from an enrollment record or an attestation (TPM2B_PUBLIC of a key or an EK,
// TPMS_ATTEST of a quote or a certification, TPMT_SIGNATURE, the EK certificate's X.509 DER) and
// by the device from the trust service (a credential's TPM2B_ID_OBJECT and
// TPM2B_ENCRYPTED_SECRET, an approval's signature). The first byte picks the parser. Built with
// clang 14 by tests/fuzz/CMakeLists.txt.
#include <tss2/tss2_mu.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "guardian/secure_link/endorsement.hpp"
#include "guardian/secure_link/tpm_policy.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace {

using namespace guardian::secure_link;

// A P-256 key and a CA made once with openssl for this target: signatures are checked against
// them (they never verify; what is fuzzed is the parsing on the way), EK certificates chained to it.
const std::string kCa = R"(-----BEGIN CERTIFICATE-----
MIIBtDCCAVmgAwIBAgIUYcE1ZBxPMXur2buNNRZzLMzLhJowCgYIKoZIzj0EAwIw
LjEXMBUGA1UECgwORnV6eiBUUE0gbWFrZXIxEzARBgNVBAMMCkZ1enogRUsgQ0Ew
IBcNMjYxMjA3MTQwNTE0WhgPMjEyNjExMTMxNDA1MTRaMC4xFzAVBgNVBAoMDkZ1
enogVFBNIG1ha2VyMRMwEQYDVQQDDApGdXp6IEVLIENBMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEJ7N+N4QL2dFWpmXLCMHcP+4hRn4LwnDJQQnrJQaTMinUjhho
RBDIw0b5yaZifg+ItqgrzJcRRMaAw7+/1rinW6NTMFEwHQYDVR0OBBYEFK+9p371
HRfKWG1dh2ssF9Mm02h/MB8GA1UdIwQYMBaAFK+9p371HRfKWG1dh2ssF9Mm02h/
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAO1Zhkl348o32MKX
Ulw5ORBof2YO3GiaRbPSmVM4fp/KAiEA2+BB53KHBQcG5sLTN+ldni+GoHwCstq2
pDi+FDonPWs=
-----END CERTIFICATE-----
)";
constexpr std::array<std::uint8_t, 91> kSpki{
      0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02,
      0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03,
      0x42, 0x00, 0x04, 0x27, 0xb3, 0x7e, 0x37, 0x84, 0x0b, 0xd9, 0xd1, 0x56,
      0xa6, 0x65, 0xcb, 0x08, 0xc1, 0xdc, 0x3f, 0xee, 0x21, 0x46, 0x7e, 0x0b,
      0xc2, 0x70, 0xc9, 0x41, 0x09, 0xeb, 0x25, 0x06, 0x93, 0x32, 0x29, 0xd4,
      0x8e, 0x18, 0x68, 0x44, 0x10, 0xc8, 0xc3, 0x46, 0xf9, 0xc9, 0xa6, 0x62,
      0x7e, 0x0f, 0x88, 0xb6, 0xa8, 0x2b, 0xcc, 0x97, 0x11, 0x44, 0xc6, 0x80,
      0xc3, 0xbf, 0xbf, 0xd6, 0xb8, 0xa7, 0x5b
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0:
      if (auto key = parse_tpm_public(in)) {
        (void)check_ek_template(key.value());
        (void)key.value().describe_attributes();
        // What the trust service does with an enrolled AK's public area: a credential for it.
        (void)make_credential(in, key.value().name, Bytes(32, 1));
        (void)approval_key_from_public(key.value().spki_der);
      }
      break;
    case 1: (void)parse_quote(in); break;
    case 2: (void)parse_certify(in); break;
    case 3:
      (void)verify_digest_signature(Sha256Digest{}, in, kSpki);
      (void)verify_attestation_signature(in, in, kSpki);
      break;
    case 4:
      (void)describe_ek_certificate(in);
      (void)verify_ek_certificate(in, kSpki, kCa);
      break;
    case 5: {
      TPM2B_ID_OBJECT blob{};
      TPM2B_ENCRYPTED_SECRET secret{};
      std::size_t offset = 0;
      (void)Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(in.data(), in.size(), &offset, &blob);
      offset = 0;
      (void)Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(in.data(), in.size(), &offset, &secret);
      break;
    }
    case 6: {
      // An approval as the device would check it: any PCR digest and signature.
      if (in.size() < 32) break;
      PolicyApproval approval{13, Bytes(in.begin(), in.begin() + 32), Bytes(in.begin() + 32, in.end())};
      if (auto key = approval_key_from_public(kSpki)) (void)verify_approval(approval, key.value(), "fuzz");
      break;
    }
  }
  return 0;
}
