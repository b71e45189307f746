#include "certificate_file.hpp"

#include "guardian/secure_link/crypto.hpp"

namespace guardian::secure_link {

result<CertificateSummary> read_certificate(const std::filesystem::path& path) {
  BOOST_OUTCOME_TRY(chain, X509Chain::from_file(path));
  CertificateSummary summary;
  summary.subject = certificate_subject(*chain->get());
  summary.not_after = certificate_not_after(*chain->get());
  return summary;
}

}  // namespace guardian::secure_link
