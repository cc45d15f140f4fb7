// Thin RAII wrapper over one SQLite connection: prepared-statement cache, typed binding, and
// errors that throw std::runtime_error carrying the SQLite message, the statement and the
// database path. A connection is used by one thread at a time (SQLITE_OPEN_NOMUTEX).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace skiff::storage::sqlite {

class Database;

// A cached statement in use. Binding keeps pointers to the caller's bytes (SQLITE_STATIC), so
// bound strings must outlive the Query. The destructor resets the statement for reuse.
class Query {
 public:
  Query(Database& db, sqlite3_stmt* stmt, const std::string& sql);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, int64_t value);
  Query& bind(int index, std::string_view blob);
  Query& bindNull(int index);

  // true: a row is available; false: done. Throws on error.
  bool step();
  // Steps a statement that returns no rows.
  void run();

  int64_t int64(int col) const;
  std::string blob(int col) const;
  bool isNull(int col) const;

 private:
  [[noreturn]] void fail(const char* what, int rc) const;
  Database& db_;
  sqlite3_stmt* stmt_;
  const std::string& sql_;
};

class Database {
 public:
  explicit Database(const std::string& path);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs one or more statements without results (schema, pragmas, BEGIN/COMMIT).
  void exec(const std::string& sql);
  // Like exec but never throws; returns false and logs on failure (destructors, rollback).
  bool execNoThrow(const std::string& sql) noexcept;

  // A cached prepared statement for `sql`.
  Query query(const std::string& sql);

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;
};

// Rolls back an open transaction unless commit() was called (read snapshots use the same
// guard: rolling back a read-only transaction just ends it).
class Transaction {
 public:
  Transaction(Database& db, const char* begin = "BEGIN");
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

}  // namespace skiff::storage::sqlite
