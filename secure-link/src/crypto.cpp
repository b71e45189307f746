#include "guardian/secure_link/crypto.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/oid.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace guardian::secure_link {
namespace {

// boost::system::error_category (1.74) has a protected non-virtual destructor by design:
// categories are never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class MbedtlsCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "mbedtls"; }
  std::string message(int value) const override {
    std::array<char, 160> text{};
    mbedtls_strerror(value, text.data(), text.size());
    return text.data();
  }
};
#pragma GCC diagnostic pop

Timestamp to_timestamp(const mbedtls_x509_time& t) {
  using namespace std::chrono;
  const sys_days day = year{t.year} / month{static_cast<unsigned>(t.mon)} /
                       std::chrono::day{static_cast<unsigned>(t.day)};
  return time_point_cast<milliseconds>(day + hours{t.hour} + minutes{t.min} + seconds{t.sec});
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const boost::system::error_category& mbedtls_category() noexcept {
  static const MbedtlsCategory instance;
  return instance;
}

Error mbedtls_error(int rc, std::string what) {
  return make_error(boost::system::error_code(rc, mbedtls_category()), std::move(what));
}

Sha256Digest sha256(ByteView data) {
  Sha256Digest out{};
  mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data.data(), data.size(), out.data());
  return out;
}

Sha256Digest sha256(std::string_view data) {
  return sha256(ByteView(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
}

result<Sha256Digest> sha256_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_errno_error(errno, "cannot read " + path.string() + " to measure it");
  mbedtls_md_context_t md;
  mbedtls_md_init(&md);
  mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 0);
  mbedtls_md_starts(&md);
  std::array<std::uint8_t, 64 * 1024> buffer{};
  int error = 0;
  while (true) {
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      error = errno;
      break;
    }
    mbedtls_md_update(&md, buffer.data(), static_cast<std::size_t>(n));
  }
  ::close(fd);
  Sha256Digest out{};
  mbedtls_md_finish(&md, out.data());
  mbedtls_md_free(&md);
  if (error != 0) return make_errno_error(error, "cannot read " + path.string() + " to measure it");
  return out;
}

std::string to_hex(ByteView data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (const auto b : data) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

result<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) return make_error("hexadecimal text has an odd number of digits");
  Bytes out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return make_error("'" + std::string(text) + "' is not hexadecimal");
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::string to_base64(ByteView data) {
  std::size_t needed = 0;
  mbedtls_base64_encode(nullptr, 0, &needed, data.data(), data.size());
  std::string out(needed, '\0');
  std::size_t written = 0;
  mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &written,
                        data.data(), data.size());
  out.resize(written);
  return out;
}

result<Bytes> from_base64(std::string_view text) {
  const auto* in = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t needed = 0;
  int rc = mbedtls_base64_decode(nullptr, 0, &needed, in, text.size());
  if (rc == MBEDTLS_ERR_BASE64_INVALID_CHARACTER) return mbedtls_error(rc, "malformed base64");
  Bytes out(needed);
  rc = mbedtls_base64_decode(out.data(), out.size(), &needed, in, text.size());
  if (rc != 0) return mbedtls_error(rc, "malformed base64");
  out.resize(needed);
  return out;
}

result<std::string> read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_errno_error(errno, "cannot read " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

result<void> check_private_file(const std::filesystem::path& path, const std::string& what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return make_errno_error(errno, what + " " + path.string() +
                                       " cannot be read; check the path and its permissions");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", st.st_mode & 07777);
    return make_error(what + " " + path.string() + " has mode " + mode +
                      ": a private key must be mode 0600 or stricter (no group or other access);"
                      " run: chmod 600 " + path.string());
  }
  return outcome::success();
}

result<void> write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                   unsigned mode) {
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temporary = (dir / ("." + path.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) return make_errno_error(errno, "cannot create a file in " + dir.string());
  ::fchmod(fd, static_cast<mode_t>(mode));
  std::size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return make_errno_error(error, "cannot write " + path.string());
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_error = errno;
  ::close(fd);
  if (!synced) {
    ::unlink(temporary.c_str());
    return make_errno_error(sync_error, "cannot write " + path.string());
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return make_errno_error(error, "cannot replace " + path.string());
  }
  // The rename is durable only once the directory is synced (POSIX leaves it to the directory's
  // own fsync): without it, a power cut could bring back the old certificate or approval.
  if (const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return outcome::success();
}

RandomGenerator::RandomGenerator() {
  mbedtls_entropy_init(&entropy_);
  mbedtls_ctr_drbg_init(&drbg_);
  static constexpr unsigned char kPersonalisation[] = "guardian secure link";
  const int rc = mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, kPersonalisation,
                                       sizeof kPersonalisation - 1);
  if (rc != 0) {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
    throw std::runtime_error(mbedtls_error(rc, "cannot seed the random generator").describe());
  }
}

RandomGenerator::~RandomGenerator() {
  mbedtls_ctr_drbg_free(&drbg_);
  mbedtls_entropy_free(&entropy_);
}

Bytes RandomGenerator::bytes(std::size_t n) {
  Bytes out(n);
  // CTR_DRBG returns at most MBEDTLS_CTR_DRBG_MAX_REQUEST bytes per call.
  for (std::size_t done = 0; done < n;) {
    const std::size_t chunk = std::min<std::size_t>(n - done, MBEDTLS_CTR_DRBG_MAX_REQUEST);
    if (mbedtls_ctr_drbg_random(&drbg_, out.data() + done, chunk) != 0)
      throw std::runtime_error("the random generator failed");
    done += chunk;
  }
  return out;
}

int RandomGenerator::callback(void* state, unsigned char* out, std::size_t len) {
  return mbedtls_ctr_drbg_random(state, out, len);
}

RandomGenerator& random_generator() {
  static RandomGenerator instance;
  return instance;
}

result<std::unique_ptr<PkKey>> PkKey::from_public_der(ByteView der) {
  auto key = std::make_unique<PkKey>();
  const int rc = mbedtls_pk_parse_public_key(key->get(), der.data(), der.size());
  if (rc != 0) return mbedtls_error(rc, "malformed public key (expected DER SubjectPublicKeyInfo)");
  return key;
}

result<std::unique_ptr<PkKey>> PkKey::from_private_file(const std::filesystem::path& path) {
  auto key = std::make_unique<PkKey>();
  const int rc = mbedtls_pk_parse_keyfile(key->get(), path.c_str(), nullptr);
  if (rc != 0) return mbedtls_error(rc, "cannot read the private key " + path.string());
  return key;
}

result<Bytes> PkKey::public_der() const {
  Bytes buffer(4096);
  // mbedtls_pk_write_pubkey_der writes at the end of the buffer and returns the length.
  const int n = mbedtls_pk_write_pubkey_der(const_cast<mbedtls_pk_context*>(&pk_), buffer.data(),
                                            buffer.size());
  if (n < 0) return mbedtls_error(n, "cannot encode a public key");
  return Bytes(buffer.end() - n, buffer.end());
}

result<std::unique_ptr<X509Chain>> X509Chain::from_file(const std::filesystem::path& path) {
  auto chain = std::make_unique<X509Chain>();
  const int rc = mbedtls_x509_crt_parse_file(chain->get(), path.c_str());
  // A positive value counts certificates of a bundle that failed to parse; the others parsed.
  if (rc < 0)
    return mbedtls_error(rc, "certificate " + path.string() + " cannot be read as PEM or DER X.509");
  return chain;
}

result<std::unique_ptr<X509Chain>> X509Chain::from_pem(std::string_view pem) {
  auto chain = std::make_unique<X509Chain>();
  // PEM parsing needs the terminating NUL counted in the length.
  const std::string text(pem);
  const int rc = mbedtls_x509_crt_parse(
      chain->get(), reinterpret_cast<const unsigned char*>(text.c_str()), text.size() + 1);
  if (rc < 0) return mbedtls_error(rc, "malformed PEM certificate");
  return chain;
}

std::string certificate_subject(const mbedtls_x509_crt& crt) {
  std::array<char, 512> subject{};
  const int n = mbedtls_x509_dn_gets(subject.data(), subject.size(), &crt.subject);
  return n > 0 ? std::string(subject.data(), static_cast<std::size_t>(n)) : std::string{};
}

std::string certificate_common_name(const mbedtls_x509_crt& crt) {
  for (const mbedtls_x509_name* name = &crt.subject; name != nullptr; name = name->next) {
    if (name->oid.p != nullptr && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &name->oid) == 0)
      return std::string(reinterpret_cast<const char*>(name->val.p), name->val.len);
  }
  return {};
}

Timestamp certificate_not_before(const mbedtls_x509_crt& crt) {
  return to_timestamp(crt.valid_from);
}

Timestamp certificate_not_after(const mbedtls_x509_crt& crt) { return to_timestamp(crt.valid_to); }

std::string certificate_serial_hex(const mbedtls_x509_crt& crt) {
  return to_hex(ByteView(crt.serial.p, crt.serial.len));
}

std::string der_to_pem(ByteView der, std::string_view label) {
  std::string body = to_base64(der);
  std::string out = "-----BEGIN " + std::string(label) + "-----\n";
  for (std::size_t i = 0; i < body.size(); i += 64) out += body.substr(i, 64) + "\n";
  out += "-----END " + std::string(label) + "-----\n";
  return out;
}

}  // namespace guardian::secure_link
