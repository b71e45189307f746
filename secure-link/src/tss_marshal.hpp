#pragma once
/// \file
/// Marshalling a TSS2 structure into bytes with its tss2-mu function, the TSS2 code translated
/// once. Private to secure-link.

#include <tss2/tss2_mu.h>

#include "guardian/secure_link/crypto.hpp"
#include "guardian/secure_link/tpm_structures.hpp"

namespace guardian::secure_link {

/// `marshal` is the Tss2_MU_<TYPE>_Marshal function of T; `what` names T in errors.
template <class T>
[[nodiscard]] result<Bytes> tss_marshal(const T& value,
                                        TSS2_RC (*marshal)(const T*, std::uint8_t*, std::size_t, std::size_t*),
                                        const char* what) {
  Bytes out(sizeof(T));
  std::size_t length = 0;
  const TSS2_RC rc = marshal(&value, out.data(), out.size(), &length);
  if (rc != TSS2_RC_SUCCESS) return tss2_error(rc, std::string("cannot marshal ") + what);
  out.resize(length);
  return out;
}

}  // namespace guardian::secure_link
