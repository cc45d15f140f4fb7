#include "storage/sqlite/sqlite_db.h"

#include <sqlite3.h>

#include <stdexcept>

#include "common/log.h"

namespace skiff::storage::sqlite {

namespace {
std::runtime_error sqliteError(const std::string& context, sqlite3* db, int rc,
                               const std::string& path) {
  const char* msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return std::runtime_error("sqlite: " + context + ": " + msg + " (code " + std::to_string(rc) +
                            ", db " + path + ")");
}
}  // namespace

Database::Database(const std::string& path) : path_(path) {
  int rc =
      sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    auto err = sqliteError("open", db_, rc, path);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw err;
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  if (db_ && sqlite3_close_v2(db_) != SQLITE_OK) {
    SKIFF_LOG_ERROR("sqlite close failed: db={} error={}", path_, sqlite3_errmsg(db_));
  }
}

void Database::exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw std::runtime_error("sqlite: exec \"" + sql + "\": " + msg + " (code " +
                             std::to_string(rc) + ", db " + path_ + ")");
  }
}

bool Database::execNoThrow(const std::string& sql) noexcept {
  try {
    exec(sql);
    return true;
  } catch (const std::exception& e) {
    SKIFF_LOG_ERROR("{}", e.what());
    return false;
  }
}

Query Database::query(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) throw sqliteError("prepare \"" + sql + "\"", db_, rc, path_);
    it = cache_.emplace(sql, stmt).first;
  }
  return Query(*this, it->second, it->first);
}

Query::Query(Database& db, sqlite3_stmt* stmt, const std::string& sql)
    : db_(db), stmt_(stmt), sql_(sql) {}

Query::~Query() {
  sqlite3_reset(stmt_);  // its return code repeats the last step's, already reported
  sqlite3_clear_bindings(stmt_);
}

void Query::fail(const char* what, int rc) const {
  throw sqliteError(std::string(what) + " \"" + sql_ + "\"", db_.handle(), rc, db_.path());
}

Query& Query::bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

Query& Query::bind(int index, std::string_view blob) {
  // An empty view may have a null data pointer, which SQLite would bind as NULL.
  const char* data = blob.empty() ? "" : blob.data();
  int rc = sqlite3_bind_blob64(stmt_, index, data, blob.size(), SQLITE_STATIC);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

Query& Query::bindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) fail("bind", rc);
  return *this;
}

bool Query::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail("step", rc);
}

void Query::run() {
  while (step()) {
  }
}

int64_t Query::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Query::blob(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return data ? std::string(static_cast<const char*>(data), n) : std::string();
}

bool Query::isNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

Transaction::Transaction(Database& db, const char* begin) : db_(db) { db_.exec(begin); }

Transaction::~Transaction() {
  if (open_) db_.execNoThrow("ROLLBACK");
}

void Transaction::commit() {
  db_.exec("COMMIT");
  open_ = false;
}

}  // namespace skiff::storage::sqlite
