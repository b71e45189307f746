#pragma once
/// \file
/// RAII for tpm2-tss ESAPI: the context (with its TCTI), ESYS_TR objects (flushed when
/// transient, closed when persistent) and buffers ESAPI allocates (Esys_Free). Private to
/// secure-link; used only on an identity's owner thread.

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <memory>
#include <string>
#include <utility>

#include "guardian/common/result.hpp"

namespace guardian::secure_link::esys {

/// Frees what ESAPI returned (Esys_Free).
struct Free {
  void operator()(void* p) const noexcept { Esys_Free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

/// An ESYS_CONTEXT and the TCTI under it.
class Context {
 public:
  /// Loads the TCTI named by `tcti` ("device:/dev/tpmrm0", "swtpm:host=…,port=…") and
  /// initialises ESAPI on it. Errors keep the TSS2 value.
  [[nodiscard]] static result<std::unique_ptr<Context>> open(const std::string& tcti);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  [[nodiscard]] ESYS_CONTEXT* get() const noexcept { return ctx_; }

 private:
  Context(TSS2_TCTI_CONTEXT* tcti, ESYS_CONTEXT* ctx) : tcti_(tcti), ctx_(ctx) {}
  TSS2_TCTI_CONTEXT* tcti_;
  ESYS_CONTEXT* ctx_;
};

/// An ESYS_TR this code owns: a transient object is flushed from the TPM (swtpm has three
/// transient slots and no resource manager: flush what you load); for a persistent object only
/// ESAPI's metadata is released (Esys_TR_Close) — the key stays in the TPM.
class Object {
 public:
  enum class Kind : std::uint8_t { transient, persistent };
  Object() = default;
  Object(ESYS_CONTEXT* ctx, ESYS_TR handle, Kind kind) : ctx_(ctx), handle_(handle), kind_(kind) {}
  ~Object() { reset(); }
  Object(Object&& other) noexcept
      : ctx_(other.ctx_), handle_(std::exchange(other.handle_, ESYS_TR_NONE)), kind_(other.kind_) {}
  Object& operator=(Object&& other) noexcept {
    if (this != &other) {
      reset();
      ctx_ = other.ctx_;
      handle_ = std::exchange(other.handle_, ESYS_TR_NONE);
      kind_ = other.kind_;
    }
    return *this;
  }
  Object(const Object&) = delete;
  Object& operator=(const Object&) = delete;

  [[nodiscard]] ESYS_TR get() const noexcept { return handle_; }
  [[nodiscard]] explicit operator bool() const noexcept { return handle_ != ESYS_TR_NONE; }
  /// Flushes (transient) or closes (persistent) the handle now.
  void reset() noexcept {
    if (handle_ == ESYS_TR_NONE) return;
    if (kind_ == Kind::transient)
      Esys_FlushContext(ctx_, handle_);
    else
      Esys_TR_Close(ctx_, &handle_);
    handle_ = ESYS_TR_NONE;
  }

 private:
  ESYS_CONTEXT* ctx_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
  Kind kind_ = Kind::transient;
};

}  // namespace guardian::secure_link::esys
