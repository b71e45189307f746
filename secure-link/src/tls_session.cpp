#include "guardian/secure_link/tls_session.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

namespace guardian::secure_link {
namespace {

using std::chrono::steady_clock;

// TLS 1.2 with ephemeral ECDH and AEAD only: forward secrecy, no CBC, no static RSA. Both
// certificate types, so the broker may have an ECDSA or an RSA certificate.
constexpr int kCipherSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0};

// The ECDHE groups, fastest first. mbedTLS 2.28's default list starts with secp521r1, and a
// server that follows the client's order (OpenSSL's default, and mbedTLS) then spends several
// times longer on the key exchange than with X25519 (RFC 8422 §5.1.1 lets the client choose).
constexpr mbedtls_ecp_group_id kCurves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                            MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};

// What a peer's certificate chain may be signed with (the handshake's own signatures are
// limited by the suites): SHA-2, RSA of 2048 bits or more, P-256 or P-384. The 2.28 default
// profile also accepts every curve Debian compiles in (secp192r1, brainpool …), and
// conf_sig_hashes does not reach the chain (CVE-2026-54441, docs/security-advisories.md).
const mbedtls_x509_crt_profile kCertificateProfile{
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_RSA) | MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECKEY) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_PK_ECDSA),
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) | MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1),
    2048};

// Guardian's one TLS policy, for both ends: TLS 1.2 exactly, the suites and groups above.
result<void> configure_tls12(mbedtls_ssl_config& conf, int endpoint) {
  const int rc = mbedtls_ssl_config_defaults(&conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                             MBEDTLS_SSL_PRESET_DEFAULT);
  if (rc != 0) return mbedtls_error(rc, "cannot configure TLS");
  mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_max_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
  mbedtls_ssl_conf_ciphersuites(&conf, kCipherSuites);
  mbedtls_ssl_conf_curves(&conf, kCurves);
  mbedtls_ssl_conf_cert_profile(&conf, &kCertificateProfile);
  mbedtls_ssl_conf_rng(&conf, RandomGenerator::callback, random_generator().state());
  return outcome::success();
}

int set_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  return ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Follows the TLS record layer (RFC 5246 §6.2.1) in the bytes mbedTLS reads, to name a fatal
// alert the peer sent in the clear — how a server refuses a handshake — without reading
// mbedTLS's private state. After the peer's ChangeCipherSpec its records are protected, and an
// alert there stays unnamed.
class RecordWatcher {
 public:
  void feed(const unsigned char* p, std::size_t n) {
    while (n > 0) {
      if (body_left_ == 0) {
        header_[header_len_++] = *p++;
        --n;
        if (header_len_ < header_.size()) continue;
        header_len_ = 0;
        body_left_ = (std::size_t{header_[3]} << 8) | header_[4];
        in_alert_ = header_[0] == kAlert && !protected_ && body_left_ == 2;
        alert_offset_ = 0;
        if (header_[0] == kChangeCipherSpec) protected_ = true;
        continue;
      }
      const std::size_t take = std::min(n, body_left_);
      for (std::size_t i = 0; in_alert_ && i < take; ++i, ++alert_offset_)
        if (alert_offset_ == 1) last_alert_ = p[i];  // AlertLevel, then AlertDescription
      p += take;
      n -= take;
      body_left_ -= take;
    }
  }
  [[nodiscard]] std::optional<unsigned char> last_alert() const noexcept { return last_alert_; }

 private:
  static constexpr unsigned char kChangeCipherSpec = 20;  // ContentType change_cipher_spec
  static constexpr unsigned char kAlert = 21;             // ContentType alert
  std::array<unsigned char, 5> header_{};
  std::size_t header_len_ = 0;
  std::size_t body_left_ = 0;
  bool in_alert_ = false;
  bool protected_ = false;
  std::size_t alert_offset_ = 0;
  std::optional<unsigned char> last_alert_;
};

// The BIO under mbedTLS: the socket, and — once the handshake is done — a read-ahead buffer.
// mbedTLS asks for a record's 5-byte header and then its body, two recv() calls per record; with
// read-ahead one recv() brings in every record that has arrived (a burst of PUBACKs, say).
struct SocketBio {
  int fd = -1;
  RecordWatcher records;  // everything handed to mbedTLS passes through it
  bool read_ahead = false;  // off during the handshake: pending_alert() peeks at the socket
  std::array<unsigned char, 17 * 1024> rx{};
  std::size_t rx_off = 0;
  std::size_t rx_len = 0;
  [[nodiscard]] std::size_t buffered() const noexcept { return rx_len - rx_off; }
};

int bio_send(void* ctx, const unsigned char* buf, std::size_t len) {
  const int fd = static_cast<SocketBio*>(ctx)->fd;
  const ssize_t n = ::send(fd, buf, len, MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
  if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
  return MBEDTLS_ERR_NET_SEND_FAILED;
}

int bio_recv(void* ctx, unsigned char* buf, std::size_t len) {
  auto& bio = *static_cast<SocketBio*>(ctx);
  if (bio.buffered() == 0) {
    const bool direct = !bio.read_ahead || len >= bio.rx.size();
    const ssize_t n = direct ? ::recv(bio.fd, buf, len, 0) : ::recv(bio.fd, bio.rx.data(), bio.rx.size(), 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
      if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
      return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    if (direct || n == 0) {  // 0: the peer closed (mbedTLS: CONN_EOF)
      bio.records.feed(buf, static_cast<std::size_t>(n));
      return static_cast<int>(n);
    }
    bio.rx_off = 0;
    bio.rx_len = static_cast<std::size_t>(n);
  }
  const std::size_t n = std::min(len, bio.buffered());
  std::memcpy(buf, bio.rx.data() + bio.rx_off, n);
  bio.records.feed(buf, n);
  bio.rx_off += n;
  return static_cast<int>(n);
}

const char* alert_name(unsigned char alert) {
  switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE: return "handshake failure";
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT: return "bad certificate";
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED: return "certificate revoked";
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED: return "certificate expired";
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN: return "certificate unknown";
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA: return "unknown CA";
    case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED: return "access denied";
    case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR: return "decrypt error (bad signature)";
    default: return nullptr;
  }
}

// The RSA_ALT key: mbedTLS hands us the handshake hash, the Identity signs it.
struct SignerContext {
  Identity* identity = nullptr;
  std::optional<Error> failure;
};

int rsa_alt_decrypt(void*, int, std::size_t*, const unsigned char*, unsigned char*, std::size_t) {
  return MBEDTLS_ERR_RSA_UNSUPPORTED_OPERATION;
}

int rsa_alt_sign(void* ctx, int (*)(void*, unsigned char*, std::size_t), void*, int mode,
                 mbedtls_md_type_t md_alg, unsigned int hashlen, const unsigned char* hash,
                 unsigned char* sig) {
  auto* signer = static_cast<SignerContext*>(ctx);
  if (mode != MBEDTLS_RSA_PRIVATE) return MBEDTLS_ERR_RSA_BAD_INPUT_DATA;
  HashAlgorithm algorithm{};
  std::size_t length = 0;
  switch (md_alg) {
    case MBEDTLS_MD_SHA256: algorithm = HashAlgorithm::sha256; length = 32; break;
    case MBEDTLS_MD_SHA384: algorithm = HashAlgorithm::sha384; length = 48; break;
    case MBEDTLS_MD_SHA512: algorithm = HashAlgorithm::sha512; length = 64; break;
    default:
      signer->failure = make_error(
          "the TLS handshake asked the identity key for a signature without SHA-256/384/512 "
          "(TLS 1.2 only: older versions sign MD5+SHA1, which a TPM cannot)");
      return MBEDTLS_ERR_RSA_BAD_INPUT_DATA;
  }
  if (hashlen != 0 && hashlen != length) return MBEDTLS_ERR_RSA_BAD_INPUT_DATA;
  auto signature = signer->identity->sign(algorithm, ByteView(hash, length));
  if (!signature) {
    signer->failure = signature.error();
    return MBEDTLS_ERR_RSA_PRIVATE_FAILED;
  }
  if (signature.value().size() != kTlsSignatureSize) {
    signer->failure = make_error("the identity returned a signature of the wrong size");
    return MBEDTLS_ERR_RSA_PRIVATE_FAILED;
  }
  std::memcpy(sig, signature.value().data(), kTlsSignatureSize);
  return 0;
}

std::size_t rsa_alt_key_len(void*) { return kTlsSignatureSize; }

}  // namespace

// ───────────────────────────── Socket ─────────────────────────────

Socket::~Socket() { reset(); }

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void Socket::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

result<void> wait_for_socket(int fd, short events, SteadyDeadline deadline,
                             const std::string& what, int cancel_fd) {
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return make_errno_error(ETIMEDOUT, what + " timed out");
    std::array<pollfd, 2> p{pollfd{fd, events, 0}, pollfd{cancel_fd, POLLIN, 0}};
    const int n = ::poll(p.data(), cancel_fd >= 0 ? 2 : 1,
                         static_cast<int>(std::min<std::int64_t>(left.count(), 60000)));
    if (n > 0 && cancel_fd >= 0 && (p[1].revents & POLLIN) != 0)
      return make_errno_error(ECANCELED, what + " interrupted: the gateway is stopping");
    if (n > 0) return outcome::success();
    if (n < 0 && errno != EINTR) return make_errno_error(errno, what + ": poll failed");
  }
}

result<Socket> Socket::connect(const std::string& host, std::uint16_t port,
                               SteadyDeadline deadline, int cancel_fd) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string where = host + ":" + std::to_string(port);
  const int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (gai != 0) return make_error("cannot resolve " + host + ": " + ::gai_strerror(gai));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Error last = make_error("no address for " + where);
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    Socket s(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!s) {
      last = make_errno_error(errno, "socket() for " + where);
      continue;
    }
    set_nonblocking(s.get());
    const int one = 1;
    ::setsockopt(s.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(s.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = make_errno_error(errno, "cannot connect to " + where);
      continue;
    }
    auto ready = wait_for_socket(s.get(), POLLOUT, deadline, "connecting to " + where, cancel_fd);
    if (!ready && ready.error().code.value() == ECANCELED) return ready.error();
    if (!ready) {
      last = ready.error();
      continue;
    }
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      last = make_errno_error(error, "cannot connect to " + where);
      continue;
    }
    return s;
  }
  return last;
}

// ───────────────────────────── server context ─────────────────────────────

struct TlsServerContext::Impl {
  Impl() {
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
  }
  ~Impl() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&cert);
    mbedtls_pk_free(&key);
  }
  mbedtls_ssl_config conf;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
};

TlsServerContext::TlsServerContext() : impl_(std::make_unique<Impl>()) {}
TlsServerContext::~TlsServerContext() = default;

result<std::unique_ptr<TlsServerContext>> TlsServerContext::load(
    const std::filesystem::path& certificate_file, const std::filesystem::path& key_file) {
  std::unique_ptr<TlsServerContext> ctx(new TlsServerContext());
  auto& m = *ctx->impl_;
  int rc = mbedtls_x509_crt_parse_file(&m.cert, certificate_file.c_str());
  if (rc < 0) return mbedtls_error(rc, "cannot read the certificate " + certificate_file.string());
  rc = mbedtls_pk_parse_keyfile(&m.key, key_file.c_str(), nullptr);
  if (rc != 0) return mbedtls_error(rc, "cannot read the private key " + key_file.string());
  BOOST_OUTCOME_TRY(configure_tls12(m.conf, MBEDTLS_SSL_IS_SERVER));
  rc = mbedtls_ssl_conf_own_cert(&m.conf, &m.cert, &m.key);
  if (rc != 0) return mbedtls_error(rc, "the certificate and key do not go together");
  return ctx;
}

// ───────────────────────────── session ─────────────────────────────

struct TlsSession::Impl {
  Impl() {
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_config_init(&conf);
    mbedtls_x509_crt_init(&ca);
    mbedtls_x509_crt_init(&own_cert);
    mbedtls_pk_init(&own_key);
  }
  ~Impl() {
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_x509_crt_free(&own_cert);
    mbedtls_pk_free(&own_key);
  }

  result<void> handshake(SteadyDeadline deadline, const std::string& peer) {
    while (true) {
      const int rc = mbedtls_ssl_handshake(&ssl);
      if (rc == 0) {
        bio.read_ahead = true;
        return outcome::success();
      }
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        BOOST_OUTCOME_TRY(wait_for_socket(
            socket.get(), rc == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT, deadline,
            "TLS handshake with " + peer, cancel_fd));
        continue;
      }
      if (rc == MBEDTLS_ERR_NET_CONN_RESET || rc == MBEDTLS_ERR_NET_SEND_FAILED) {
        // The peer refused us while we were still sending our flight (a server that rejects
        // our certificate as soon as it reads it): its alert may be waiting unread.
        if (const auto alert = pending_alert())
          return mbedtls_error(MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE,
                               "TLS handshake with " + peer + " failed: " + describe_alert(*alert));
      }
      return describe(rc, "TLS handshake with " + peer + " failed");
    }
  }

  // A plaintext TLS alert record (RFC 5246 §6.2.1, §7.2) at the head of the socket's receive
  // queue: type 21, version, length 2, level, description.
  std::optional<unsigned char> pending_alert() const {
    std::array<unsigned char, 7> record{};
    const ssize_t n = ::recv(socket.get(), record.data(), record.size(), MSG_DONTWAIT | MSG_PEEK);
    if (n == static_cast<ssize_t>(record.size()) && record[0] == 21 && record[3] == 0 && record[4] == 2)
      return record[6];
    return std::nullopt;
  }

  Error describe(int rc, const std::string& what) const {
    std::string message = what;
    if (signer.failure) return make_error(signer.failure->code, message + ": the identity could not sign: " + signer.failure->message);
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      std::array<char, 512> info{};
      mbedtls_x509_crt_verify_info(info.data(), info.size(), "", mbedtls_ssl_get_verify_result(&ssl));
      std::string text = info.data();
      while (!text.empty() && text.back() == '\n') text.pop_back();
      for (auto& c : text)
        if (c == '\n') c = ';';
      message += ": the peer's certificate is not trusted: " + text;
    } else if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && bio.records.last_alert()) {
      message += ": " + describe_alert(*bio.records.last_alert());
    }
    return mbedtls_error(rc, message);
  }

  static std::string describe_alert(unsigned char alert) {
    const char* name = alert_name(alert);
    std::string text = std::string("the peer sent the alert \"") +
                       (name != nullptr ? name : std::to_string(alert).c_str()) + "\"";
    if (alert == MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED)
      text += " (our certificate has expired)";
    else if (alert == MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA || alert == MBEDTLS_SSL_ALERT_MSG_BAD_CERT ||
             alert == MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED || alert == MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN)
      text += " (the peer refused our certificate)";
    return text;
  }

  Socket socket;
  int fd = -1;
  int cancel_fd = -1;  // TlsClientOptions::cancel_fd; not owned
  SocketBio bio;  // the BIO's context
  mbedtls_ssl_context ssl;
  mbedtls_ssl_config conf;
  mbedtls_x509_crt ca;
  mbedtls_x509_crt own_cert;
  mbedtls_pk_context own_key;
  SignerContext signer;
  std::string line;  // bytes read past the last line
};

TlsSession::TlsSession() : impl_(std::make_unique<Impl>()) {}
TlsSession::~TlsSession() = default;

result<std::unique_ptr<TlsSession>> TlsSession::connect(const TlsClientOptions& o) {
  const auto deadline = steady_clock::now() + o.timeout;
  const std::string peer = o.host + ":" + std::to_string(o.port);
  std::unique_ptr<TlsSession> session(new TlsSession());
  auto& m = *session->impl_;

  int rc = mbedtls_x509_crt_parse_file(&m.ca, o.ca_file.c_str());
  if (rc < 0) return mbedtls_error(rc, "cannot read the CA file " + o.ca_file.string());
  BOOST_OUTCOME_TRY(configure_tls12(m.conf, MBEDTLS_SSL_IS_CLIENT));
  mbedtls_ssl_conf_authmode(&m.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(&m.conf, &m.ca, nullptr);

  if (o.credential) {
    if (o.credential->signer == nullptr) return make_error("a client credential needs a signer");
    const std::string& pem = o.credential->certificate_pem;
    rc = mbedtls_x509_crt_parse(&m.own_cert, reinterpret_cast<const unsigned char*>(pem.c_str()),
                                pem.size() + 1);
    if (rc < 0) return mbedtls_error(rc, "the client certificate is not valid PEM");
    m.signer.identity = o.credential->signer;
    rc = mbedtls_pk_setup_rsa_alt(&m.own_key, &m.signer, rsa_alt_decrypt, rsa_alt_sign,
                                  rsa_alt_key_len);
    if (rc != 0) return mbedtls_error(rc, "cannot attach the identity key to TLS");
    rc = mbedtls_ssl_conf_own_cert(&m.conf, &m.own_cert, &m.own_key);
    if (rc != 0) return mbedtls_error(rc, "cannot use the client certificate");
  }

  rc = mbedtls_ssl_setup(&m.ssl, &m.conf);
  if (rc != 0) return mbedtls_error(rc, "cannot set up the TLS session");
  const std::string& name = o.server_name.empty() ? o.host : o.server_name;
  rc = mbedtls_ssl_set_hostname(&m.ssl, name.c_str());
  if (rc != 0) return mbedtls_error(rc, "cannot set the expected server name " + name);

  m.cancel_fd = o.cancel_fd;
  BOOST_OUTCOME_TRY(socket, Socket::connect(o.host, o.port, deadline, o.cancel_fd));
  m.socket = std::move(socket);
  m.fd = m.socket.get();
  m.bio.fd = m.fd;
  mbedtls_ssl_set_bio(&m.ssl, &m.bio, bio_send, bio_recv, nullptr);
  BOOST_OUTCOME_TRY(m.handshake(deadline, peer));
  return session;
}

result<std::unique_ptr<TlsSession>> TlsSession::accept(Socket socket,
                                                       const TlsServerContext& context,
                                                       SteadyDeadline deadline) {
  BOOST_OUTCOME_TRY(session, server(std::move(socket), context));
  BOOST_OUTCOME_TRY(session->impl_->handshake(deadline, "client"));
  return std::move(session);
}

IoResult TlsSession::handshake_step() {
  const int rc = mbedtls_ssl_handshake(&impl_->ssl);
  if (rc == 0) {
    impl_->bio.read_ahead = true;
    return {IoStatus::done, 0, 0};
  }
  if (rc == MBEDTLS_ERR_SSL_WANT_READ) return {IoStatus::want_read, 0, rc};
  if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return {IoStatus::want_write, 0, rc};
  if (rc == MBEDTLS_ERR_NET_CONN_RESET) return {IoStatus::closed, 0, rc};
  return {IoStatus::failed, 0, rc};
}

result<std::unique_ptr<TlsSession>> TlsSession::server(Socket socket, const TlsServerContext& context) {
  std::unique_ptr<TlsSession> session(new TlsSession());
  auto& m = *session->impl_;
  m.socket = std::move(socket);
  m.fd = m.socket.get();
  set_nonblocking(m.fd);
  // mbedTLS writes a handshake flight record by record: with Nagle's algorithm the second record
  // waits for the client's delayed ACK (~40 ms on Linux) before it leaves.
  const int one = 1;
  ::setsockopt(m.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const int rc = mbedtls_ssl_setup(&m.ssl, &context.impl_->conf);
  if (rc != 0) return mbedtls_error(rc, "cannot set up the TLS session");
  m.bio.fd = m.fd;
  mbedtls_ssl_set_bio(&m.ssl, &m.bio, bio_send, bio_recv, nullptr);
  return session;
}

result<void> TlsSession::write_all(std::string_view data, SteadyDeadline deadline) {
  auto& m = *impl_;
  std::size_t done = 0;
  while (done < data.size()) {
    const auto r = write_some(ByteView(reinterpret_cast<const std::uint8_t*>(data.data()) + done,
                                       data.size() - done));
    switch (r.status) {
      case IoStatus::done: done += r.bytes; break;
      case IoStatus::want_read:
      case IoStatus::want_write: {
        BOOST_OUTCOME_TRY(wait_for_socket(m.fd, r.status == IoStatus::want_read ? POLLIN : POLLOUT,
                                          deadline, "TLS write", m.cancel_fd));
        break;
      }
      case IoStatus::closed: return make_error("the peer closed the TLS session");
      case IoStatus::failed: return m.describe(r.rc, "TLS write failed");
    }
  }
  return outcome::success();
}

result<std::string> TlsSession::read_line(std::size_t max, SteadyDeadline deadline) {
  auto& m = *impl_;
  std::array<std::uint8_t, 4096> buffer{};
  while (true) {
    const auto newline = m.line.find('\n');
    if (newline != std::string::npos) {
      std::string out = m.line.substr(0, newline);
      m.line.erase(0, newline + 1);
      return out;
    }
    if (m.line.size() > max) return make_error("the peer sent a line longer than " + std::to_string(max) + " bytes");
    const auto r = read_some(buffer);
    switch (r.status) {
      case IoStatus::done:
        m.line.append(reinterpret_cast<const char*>(buffer.data()), r.bytes);
        break;
      case IoStatus::want_read:
      case IoStatus::want_write: {
        BOOST_OUTCOME_TRY(wait_for_socket(m.fd, r.status == IoStatus::want_read ? POLLIN : POLLOUT,
                                          deadline, "waiting for a TLS response", m.cancel_fd));
        break;
      }
      case IoStatus::closed: return make_errno_error(ECONNRESET, "the peer closed the TLS session before answering");
      case IoStatus::failed: return m.describe(r.rc, "TLS read failed");
    }
  }
}

IoResult TlsSession::read_some(std::span<std::uint8_t> buffer) {
  const int rc = mbedtls_ssl_read(&impl_->ssl, buffer.data(), buffer.size());
  if (rc > 0) return {IoStatus::done, static_cast<std::size_t>(rc), 0};
  if (rc == MBEDTLS_ERR_SSL_WANT_READ) return {IoStatus::want_read, 0, rc};
  if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return {IoStatus::want_write, 0, rc};
  if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_NET_CONN_RESET)
    return {IoStatus::closed, 0, rc};
  return {IoStatus::failed, 0, rc};
}

IoResult TlsSession::write_some(ByteView data) {
  const int rc = mbedtls_ssl_write(&impl_->ssl, data.data(), data.size());
  if (rc > 0) return {IoStatus::done, static_cast<std::size_t>(rc), 0};
  if (rc == MBEDTLS_ERR_SSL_WANT_READ) return {IoStatus::want_read, 0, rc};
  if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return {IoStatus::want_write, 0, rc};
  if (rc == MBEDTLS_ERR_NET_CONN_RESET) return {IoStatus::closed, 0, rc};
  return {IoStatus::failed, 0, rc};
}

std::size_t TlsSession::buffered() const {
  return mbedtls_ssl_get_bytes_avail(&impl_->ssl) + impl_->bio.buffered();
}

void TlsSession::close_notify() { (void)mbedtls_ssl_close_notify(&impl_->ssl); }

int TlsSession::fd() const noexcept { return impl_->fd; }

std::string TlsSession::ciphersuite() const { return mbedtls_ssl_get_ciphersuite(&impl_->ssl); }

Error TlsSession::error(int rc, const std::string& what) const { return impl_->describe(rc, what); }

}  // namespace guardian::secure_link
