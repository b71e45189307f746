#pragma once
/// \file
/// TLS 1.2 over a TCP socket with mbedTLS, as Guardian uses it on both ends: ECDHE key exchange
/// and AEAD ciphers only (AES-GCM, ChaCha20-Poly1305), the peer's certificate checked against a
/// CA file and (client side) the expected server name. A client may authenticate with a key it
/// cannot read: the handshake's CertificateVerify is signed by an Identity (a TPM key) through
/// mbedTLS's RSA_ALT interface (FIELD-NOTES: the supported way; TLS ≤ 1.1 would ask for an
/// MD5+SHA1 signature no TPM makes, hence TLS 1.2 only).
///
/// Blocking calls take a deadline; the non-blocking primitives (read_some/write_some) let a
/// pump loop poll the socket itself. A session is used by one thread at a time.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "guardian/common/result.hpp"
#include "guardian/secure_link/crypto.hpp"
#include "guardian/secure_link/identity.hpp"

namespace guardian::secure_link {

using SteadyDeadline = std::chrono::steady_clock::time_point;

/// A socket file descriptor, closed on destruction.
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept;

  /// Resolves `host` and connects to `port` (non-blocking socket, TCP_NODELAY) before `deadline`;
  /// a readable `cancel_fd` (≥ 0) interrupts the wait (ECANCELED).
  [[nodiscard]] static result<Socket> connect(const std::string& host, std::uint16_t port,
                                              SteadyDeadline deadline, int cancel_fd = -1);

 private:
  int fd_ = -1;
};

/// Waits until `fd` is ready for `events` (POLLIN/POLLOUT) or `deadline` passes (an error
/// naming `what`). When `cancel_fd` (≥ 0, e.g. an eventfd) becomes readable, returns at once
/// with ECANCELED: how a stopping gateway interrupts a connect or handshake in progress.
[[nodiscard]] result<void> wait_for_socket(int fd, short events, SteadyDeadline deadline,
                                           const std::string& what, int cancel_fd = -1);

/// A client certificate whose private key is held by an Identity.
struct ClientCredential {
  std::string certificate_pem;   ///< the leaf (and any intermediates)
  Identity* signer = nullptr;    ///< signs CertificateVerify; must outlive the session
};

/// Where and how a client connects.
struct TlsClientOptions {
  std::string host;
  std::uint16_t port = 0;
  std::filesystem::path ca_file;    ///< CA(s) the server's certificate must chain to
  std::string server_name;          ///< checked against the server certificate; default: host
  std::optional<ClientCredential> credential;  ///< for mutual TLS
  std::chrono::milliseconds timeout{10000};    ///< connect + handshake
  /// Readable (≥ 0) = give up: connect, handshake and the session's later waits (write_all,
  /// read_line) return ECANCELED at once. Must outlive the session; not owned.
  int cancel_fd = -1;
};

/// The server side's certificate, key and configuration, shared by every accepted session.
/// Thread-safe once loaded.
class TlsServerContext {
 public:
  /// Loads a PEM certificate (chain) and its private key. Errors name the file.
  [[nodiscard]] static result<std::unique_ptr<TlsServerContext>> load(
      const std::filesystem::path& certificate_file, const std::filesystem::path& key_file);
  ~TlsServerContext();
  TlsServerContext(const TlsServerContext&) = delete;
  TlsServerContext& operator=(const TlsServerContext&) = delete;

 private:
  friend class TlsSession;
  TlsServerContext();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Outcome of one non-blocking read or write.
enum class IoStatus : std::uint8_t { done, want_read, want_write, closed, failed };
struct IoResult {
  IoStatus status = IoStatus::failed;
  std::size_t bytes = 0;   ///< for done
  int rc = 0;              ///< the mbedTLS value for failed
};

/// One established TLS 1.2 session.
class TlsSession {
 public:
  /// Connects and completes the handshake before options.timeout. Errors say which step failed
  /// and why: the server's certificate ("not correctly signed by the trusted CA", "Common Name
  /// does not match"), an alert the server sent (e.g. "certificate expired" for our own
  /// certificate), the signer's error, or the network.
  [[nodiscard]] static result<std::unique_ptr<TlsSession>> connect(const TlsClientOptions& options);
  /// Completes the server side of the handshake on an accepted socket before `deadline`.
  [[nodiscard]] static result<std::unique_ptr<TlsSession>> accept(Socket socket,
                                                                  const TlsServerContext& context,
                                                                  SteadyDeadline deadline);
  /// The server side of a session on an accepted socket, its handshake not started: an event
  /// loop drives it with handshake_step(), waiting for the socket in between.
  [[nodiscard]] static result<std::unique_ptr<TlsSession>> server(Socket socket,
                                                                  const TlsServerContext& context);
  /// One non-blocking step of the handshake: done once complete; want_read / want_write: call
  /// again when the socket is readable / writable; failed (with the mbedTLS code) otherwise.
  [[nodiscard]] IoResult handshake_step();
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  /// Writes everything before `deadline`.
  [[nodiscard]] result<void> write_all(std::string_view data, SteadyDeadline deadline);
  /// Reads one '\n'-terminated line (without the '\n'), at most `max` bytes, before `deadline`.
  /// An error when the peer closes first, the line is too long, or time runs out.
  [[nodiscard]] result<std::string> read_line(std::size_t max, SteadyDeadline deadline);

  /// One non-blocking mbedtls_ssl_read into `buffer`.
  [[nodiscard]] IoResult read_some(std::span<std::uint8_t> buffer);
  /// One non-blocking mbedtls_ssl_write. After want_read/want_write, call again with the same
  /// data (mbedTLS requires it).
  [[nodiscard]] IoResult write_some(ByteView data);
  /// Bytes already taken from the socket — decrypted, or records read ahead — that a poll() on
  /// the socket would not announce: read_some() before polling while this is not zero.
  [[nodiscard]] std::size_t buffered() const;
  /// Sends close_notify (best effort).
  void close_notify();

  [[nodiscard]] int fd() const noexcept;
  /// The negotiated suite, e.g. "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256".
  [[nodiscard]] std::string ciphersuite() const;
  /// An Error for a failed mbedTLS call of this session (adds the alert or verify result).
  [[nodiscard]] Error error(int rc, const std::string& what) const;

 private:
  TlsSession();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace guardian::secure_link
