#pragma once
/// \file
/// The SQLite boundary of the gateway (private): RAII owners for sqlite3* and sqlite3_stmt*, and
/// the one place where SQLite result codes become guardian::Error (STYLE.md "Errors": translated
/// once, the original value kept in the code).

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include <boost/system/error_code.hpp>

#include "guardian/common/result.hpp"
#include "guardian/gateway/outbox_store.hpp"

namespace guardian::gateway::sqlite {

/// The error category of SQLite result codes (extended codes included); message() is
/// sqlite3_errstr().
[[nodiscard]] const boost::system::error_category& category() noexcept;

/// An error_code holding the SQLite result code `rc`.
[[nodiscard]] inline boost::system::error_code make_code(int rc) noexcept {
  return {rc, category()};
}

/// Finalizes a prepared statement (sqlite3_finalize accepts nullptr).
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

/// An owned connection (closed with sqlite3_close_v2).
using DatabasePtr = std::unique_ptr<sqlite3, SqliteCloser>;

/// `what` + ": " + sqlite3_errmsg(db), with the extended result code `rc`.
[[nodiscard]] Error error(sqlite3* db, int rc, std::string_view what);

/// Prepares `sql` for repeated use (SQLITE_PREPARE_PERSISTENT).
[[nodiscard]] result<StatementPtr> prepare(sqlite3* db, std::string_view sql);

/// Runs one or more statements that return no rows the caller needs.
[[nodiscard]] result<void> exec(sqlite3* db, const char* sql);

/// Runs a single-row, single-column query and returns the column as text ("" for NULL).
[[nodiscard]] result<std::string> query_text(sqlite3* db, const char* sql);

/// Resets a statement after use so it can be re-bound and releases its read transaction.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) noexcept : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementReset(const StatementReset&) = delete;
  StatementReset& operator=(const StatementReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

/// True for the result codes that mean "this file is not a healthy database": SQLITE_CORRUPT and
/// SQLITE_NOTADB, with their extended variants.
[[nodiscard]] bool is_corruption(int rc) noexcept;

}  // namespace guardian::gateway::sqlite
