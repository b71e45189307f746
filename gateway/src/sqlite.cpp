#include "sqlite.hpp"

namespace guardian::gateway {

void SqliteCloser::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

namespace sqlite {
namespace {

// boost::system::error_category (1.74) has a protected non-virtual destructor by design:
// categories are never deleted through a base pointer.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class SqliteCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "sqlite"; }
  std::string message(int rc) const override { return sqlite3_errstr(rc); }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& category() noexcept {
  static const SqliteCategory instance;
  return instance;
}

Error error(sqlite3* db, int rc, std::string_view what) {
  std::string message(what);
  if (db != nullptr) {
    message += ": ";
    message += sqlite3_errmsg(db);
  }
  return make_error(make_code(rc), std::move(message));
}

result<StatementPtr> prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  StatementPtr owned(stmt);
  if (rc != SQLITE_OK) return error(db, rc, "cannot prepare \"" + std::string(sql) + "\"");
  return owned;
}

result<void> exec(sqlite3* db, const char* sql) {
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(db, rc, std::string("\"") + sql + "\" failed");
  return outcome::success();
}

result<std::string> query_text(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  StatementPtr stmt(raw);
  if (rc != SQLITE_OK) return error(db, rc, std::string("\"") + sql + "\" failed");
  rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE) return std::string{};
  if (rc != SQLITE_ROW) return error(db, rc, std::string("\"") + sql + "\" failed");
  const auto* text = sqlite3_column_text(stmt.get(), 0);
  return text == nullptr ? std::string{} : std::string(reinterpret_cast<const char*>(text));
}

bool is_corruption(int rc) noexcept {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

}  // namespace sqlite
}  // namespace guardian::gateway
