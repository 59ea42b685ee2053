// SPDX-License-Identifier: MIT
// DESIGN §6 end to end: the same workloads through quarry::Repo and through the databases' C APIs
// by hand, in the same binary and run. Names: e2e/<sqlite|postgres>/<fetch|insert|lookup|update>/<quarry|raw>.
//
//   fetch   read 100k users into std::vector<User> (one SELECT of all columns)
//   insert  insert 100k users in one transaction (Repo::insert: INSERT ... RETURNING every
//           column, decoded into the stored User)
//   lookup  100k point lookups by id in a shuffled order, each its own (autocommit) statement
//   update  update 10k rows by id (Repo::update: every non-key column), in one transaction
//
// Raw SQLite is the sqlite3 C API as a careful person writes it: every statement prepared once,
// then bind, step, reset; on its own database file (same pragmas as quarry's driver: WAL,
// foreign_keys=ON) so that neither connection's page cache is invalidated by the other's writes.
// Raw PostgreSQL is libpq: PQprepare once, PQexecPrepared with text parameters and results
// (and, knowing the row count of a result, it reserves the vector that fetch fills).
// PostgreSQL runs only when QUARRY_BENCH_PG holds a connection string to the test server
// (cluster_name quarry_test); both sides use one private schema, dropped at the end.
//
// Before anything is timed, every workload runs once on each side and the row counts and
// checksums of what they return (and of the tables after the update) are compared; the SQL the
// raw side prepares must be byte for byte what quarry renders. QUARRY_BENCH_ITERATIONS=N sets the
// iterations per benchmark (default 3; each iteration is a whole workload). On a shared machine,
// QUARRY_BENCH_ITERATIONS=1 with --benchmark_repetitions=9 --benchmark_enable_random_interleaving=true
// gives steadier medians (docs/performance.md), and bench/e2e_instructions.sh counts
// instructions per row (repeatable).
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#ifdef QUARRY_BENCH_POSTGRES
#include <libpq-fe.h>
#endif
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <quarry/repo.hpp>

#include "../test/schema.hpp"

namespace {

// QUARRY_BENCH_USERS=N scales every workload down (N users, N/10 updates), e.g. under callgrind.
std::size_t n_users = 100'000;
std::size_t n_updates = 10'000;

// ---------------------------------------------------------------------------------------------
// The data: the same 100k users for both sides, and what the database stores for them.

User user_number(std::size_t i) {  // i from 0; the database gives it id i + 1
    User u;
    u.name = "user" + std::to_string(i);
    u.email = "user" + std::to_string(i) + "@example.com";
    u.age = 18 + static_cast<int>(i % 60);
    u.active = i % 3 != 0;
    // Varying microseconds, some with trailing zeros (PostgreSQL prints fewer digits then).
    u.inserted_at = timestamp(std::chrono::microseconds(1'700'000'000'123'456 + static_cast<std::int64_t>(i) * 1'000'010));
    return u;
}

const std::vector<User>& dataset() {
    static const std::vector<User> rows = [] {
        std::vector<User> v;
        v.reserve(n_users);
        for (std::size_t i = 0; i < n_users; ++i) v.push_back(user_number(i));
        return v;
    }();
    return rows;
}

// Every id once, shuffled (fixed seed): the lookup order; its first 10k are the rows updated.
const std::vector<std::int64_t>& lookup_ids() {
    static const std::vector<std::int64_t> ids = [] {
        std::vector<std::int64_t> v(n_users);
        for (std::size_t i = 0; i < n_users; ++i) v[i] = static_cast<std::int64_t>(i + 1);
        std::shuffle(v.begin(), v.end(), std::mt19937_64(20261130));
        return v;
    }();
    return ids;
}

// The rows the update workload writes, as stored; restamp() gives them new values.
std::vector<User> update_batch() {
    std::vector<User> batch;
    batch.reserve(n_updates);
    for (std::size_t k = 0; k < n_updates; ++k) {
        const std::int64_t id = lookup_ids()[k];
        User u = dataset()[static_cast<std::size_t>(id - 1)];
        u.id = id;
        batch.push_back(std::move(u));
    }
    return batch;
}

void restamp(std::vector<User>& batch, unsigned generation) {
    for (User& u : batch) {
        u.age = 18 + static_cast<int>((static_cast<std::uint64_t>(u.id) * 31 + generation) % 60);
        u.active = (static_cast<std::uint64_t>(u.id) + generation) % 2 == 0;
    }
}

// An order-independent digest of a set of rows: count and sum of per-row FNV-1a hashes.
struct Digest {
    std::uint64_t rows = 0;
    std::uint64_t sum = 0;

    void add(const User& u) {
        std::uint64_t h = 0xcbf29ce484222325ull;
        auto bytes = [&](const void* p, std::size_t n) {
            for (std::size_t k = 0; k < n; ++k) h = (h ^ static_cast<const unsigned char*>(p)[k]) * 0x100000001b3ull;
        };
        const std::int64_t at = u.inserted_at.time_since_epoch().count();
        const char sep = '\x1f';
        bytes(&u.id, sizeof u.id);
        bytes(u.name.data(), u.name.size());
        bytes(&sep, 1);
        bytes(u.email.data(), u.email.size());
        bytes(&sep, 1);
        bytes(&u.age, sizeof u.age);
        bytes(&u.active, sizeof u.active);
        bytes(&at, sizeof at);
        ++rows;
        sum += h;
    }
    bool operator==(const Digest&) const = default;
};

Digest digest(const std::vector<User>& rows) {
    Digest d;
    for (const User& u : rows) d.add(u);
    return d;
}

// What both databases store after inserting dataset() into an empty table.
Digest stored_digest() {
    Digest d;
    for (std::size_t i = 0; i < n_users; ++i) {
        User u = dataset()[i];
        u.id = static_cast<std::int64_t>(i + 1);
        d.add(u);
    }
    return d;
}

// ---------------------------------------------------------------------------------------------
// The SQL both sides run: the raw side prepares these strings, and quarry must render them.

struct Sql {
    const char* fetch;
    const char* get;
    const char* insert;
    const char* update;
};

constexpr Sql sqlite_sql = {
    R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users")",
    R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "id" = ?)",
    R"(INSERT INTO "users" ("name", "email", "age", "active", "inserted_at") VALUES (?, ?, ?, ?, ?) )"
    R"(RETURNING "id", "name", "email", "age", "active", "inserted_at")",
    R"(UPDATE "users" SET "name" = ?, "email" = ?, "age" = ?, "active" = ?, "inserted_at" = ? WHERE "id" = ?)",
};

[[maybe_unused]] constexpr Sql postgres_sql = {
    R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users")",
    R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "id" = $1)",
    R"(INSERT INTO "users" ("name", "email", "age", "active", "inserted_at") VALUES ($1, $2, $3, $4, $5) )"
    R"(RETURNING "id", "name", "email", "age", "active", "inserted_at")",
    R"(UPDATE "users" SET "name" = $1, "email" = $2, "age" = $3, "active" = $4, "inserted_at" = $5 WHERE "id" = $6)",
};

bool sql_matches(quarry::Repo& repo, const Sql& sql) {
    User u = dataset()[0];
    u.id = 1;
    User fresh = dataset()[0];
    const std::pair<std::string, const char*> pairs[] = {
        {repo.to_sql(quarry::from<User>()).sql, sql.fetch},
        {repo.to_sql(quarry::from<User>() | quarry::where(quarry::col(&User::id) == std::int64_t{1})).sql, sql.get},  // Repo::get
        {repo.to_sql(quarry::insert(fresh) | quarry::returning_all()).sql, sql.insert},
        {repo.to_sql(quarry::update(u)).sql, sql.update},
    };
    bool ok = true;
    for (const auto& [rendered, raw] : pairs) {
        if (rendered != raw) {
            std::fprintf(stderr, "raw SQL differs from quarry's on %s:\n  quarry: %s\n  raw:    %s\n",
                         std::string(repo.dialect().name()).c_str(), rendered.c_str(), raw);
            ok = false;
        }
    }
    return ok;
}

// ---------------------------------------------------------------------------------------------
// Timestamps by hand, as the raw side needs them: ISO-8601 in UTC with six fractional digits
// ("2023-11-14T22:13:20.123456Z", what quarry stores in SQLite and sends to PostgreSQL), read
// back with 0-6 fractional digits and a "Z", "+00" or "+00:00" zone (PostgreSQL's text output
// in a UTC session: "2023-11-14 22:13:20.12+00").

void put_digits(char* p, unsigned v, int width) {
    for (int k = width - 1; k >= 0; --k) {
        p[k] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
}

// Writes 27 characters and a NUL into out[28].
void format_iso(timestamp t, char* out) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const int y = static_cast<int>(ymd.year());
    if (y < 0 || y > 9999) throw std::range_error("timestamp outside years 0000-9999");
    const auto us = static_cast<std::uint64_t>((t - day).count());
    put_digits(out, static_cast<unsigned>(y), 4);
    out[4] = '-';
    put_digits(out + 5, static_cast<unsigned>(ymd.month()), 2);
    out[7] = '-';
    put_digits(out + 8, static_cast<unsigned>(ymd.day()), 2);
    out[10] = 'T';
    put_digits(out + 11, static_cast<unsigned>(us / 3'600'000'000u), 2);
    out[13] = ':';
    put_digits(out + 14, static_cast<unsigned>(us / 60'000'000u % 60), 2);
    out[16] = ':';
    put_digits(out + 17, static_cast<unsigned>(us / 1'000'000u % 60), 2);
    out[19] = '.';
    put_digits(out + 20, static_cast<unsigned>(us % 1'000'000u), 6);
    out[26] = 'Z';
    out[27] = '\0';
}

bool parse_iso(const char* p, std::size_t n, timestamp& out) {
    if (!p || n < 19) return false;
    auto digits = [&](std::size_t at, int width, unsigned& v) {
        v = 0;
        for (int k = 0; k < width; ++k) {
            const char c = p[at + static_cast<std::size_t>(k)];
            if (c < '0' || c > '9') return false;
            v = v * 10 + static_cast<unsigned>(c - '0');
        }
        return true;
    };
    unsigned y, mo, d, h, mi, s, frac = 0;
    if (!digits(0, 4, y) || p[4] != '-' || !digits(5, 2, mo) || p[7] != '-' || !digits(8, 2, d) ||
        (p[10] != 'T' && p[10] != ' ') || !digits(11, 2, h) || p[13] != ':' || !digits(14, 2, mi) || p[16] != ':' ||
        !digits(17, 2, s))
        return false;
    std::size_t at = 19;
    if (at < n && p[at] == '.') {
        int count = 0;
        for (++at; at < n && p[at] >= '0' && p[at] <= '9'; ++at, ++count)
            if (count < 6) frac = frac * 10 + static_cast<unsigned>(p[at] - '0');
        if (count == 0) return false;
        for (; count < 6; ++count) frac *= 10;
    }
    const std::string_view zone(p + at, n - at);
    if (zone != "Z" && zone != "+00" && zone != "+00:00") return false;
    using namespace std::chrono;
    const year_month_day ymd{year(static_cast<int>(y)), month(mo), day(d)};
    if (!ymd.ok() || h > 23 || mi > 59 || s > 59) return false;
    out = timestamp(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(s) + microseconds(frac);
    return true;
}

// ---------------------------------------------------------------------------------------------
// The sides. Each offers the same operations, so that the workloads below are one template.

class QuarrySide {
public:
    explicit QuarrySide(quarry::Repo& repo) : repo_(repo), sqlite_(repo.dialect().name() == "sqlite") {}

    std::vector<User> fetch() { return repo_.all(quarry::from<User>()); }
    std::optional<User> get(std::int64_t id) { return repo_.get<User>(id); }
    User insert(const User& u) { return repo_.insert(u); }
    void update(const User& u) { repo_.update(u); }
    template <class F>
    void transaction(F&& f) {
        repo_.transaction([&](quarry::Repo&) { f(); });
    }
    void clear() { repo_.session().connection().execute(sqlite_ ? "DELETE FROM users" : "TRUNCATE users, posts RESTART IDENTITY"); }
    // Dead row versions from earlier updates removed (PostgreSQL), so every update iteration
    // starts from the same kind of table.
    void tidy() {
        if (!sqlite_) repo_.session().connection().execute("VACUUM users");
    }
    std::int64_t count() { return repo_.count(quarry::from<User>()); }

private:
    quarry::Repo& repo_;
    bool sqlite_;
};

class RawSqlite {
public:
    explicit RawSqlite(const std::string& path) {
        const int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) {
            std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
            sqlite3_close(db_);
            throw std::runtime_error("cannot open " + path + ": " + why);
        }
        sqlite3_extended_result_codes(db_, 1);
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA foreign_keys = ON");
        exec("PRAGMA journal_mode = WAL");
        exec(canonical_schema_sqlite);
        fetch_ = prepare(sqlite_sql.fetch);
        get_ = prepare(sqlite_sql.get);
        insert_ = prepare(sqlite_sql.insert);
        update_ = prepare(sqlite_sql.update);
        count_ = prepare("SELECT count(*) FROM users");
    }
    ~RawSqlite() {
        for (sqlite3_stmt* s : {fetch_, get_, insert_, update_, count_}) sqlite3_finalize(s);
        sqlite3_close_v2(db_);
    }
    RawSqlite(const RawSqlite&) = delete;
    RawSqlite& operator=(const RawSqlite&) = delete;

    std::vector<User> fetch() {
        Reset r{fetch_};
        std::vector<User> out;
        int rc;
        while ((rc = sqlite3_step(fetch_)) == SQLITE_ROW) out.push_back(read_user(fetch_));
        if (rc != SQLITE_DONE) fail("fetch");
        return out;
    }

    std::optional<User> get(std::int64_t id) {
        Reset r{get_};
        check(sqlite3_bind_int64(get_, 1, id), "bind");
        const int rc = sqlite3_step(get_);
        if (rc == SQLITE_DONE) return std::nullopt;
        if (rc != SQLITE_ROW) fail("lookup");
        return read_user(get_);  // id is the primary key: at most one row
    }

    User insert(const User& u) {
        Reset r{insert_};
        char at[28];
        format_iso(u.inserted_at, at);
        bind_text(insert_, 1, u.name);
        bind_text(insert_, 2, u.email);
        check(sqlite3_bind_int(insert_, 3, u.age), "bind");
        check(sqlite3_bind_int(insert_, 4, u.active ? 1 : 0), "bind");
        bind_text(insert_, 5, std::string_view(at, 27));
        if (sqlite3_step(insert_) != SQLITE_ROW) fail("insert");
        User stored = read_user(insert_);
        if (sqlite3_step(insert_) != SQLITE_DONE) fail("insert");
        return stored;
    }

    void update(const User& u) {
        Reset r{update_};
        char at[28];
        format_iso(u.inserted_at, at);
        bind_text(update_, 1, u.name);
        bind_text(update_, 2, u.email);
        check(sqlite3_bind_int(update_, 3, u.age), "bind");
        check(sqlite3_bind_int(update_, 4, u.active ? 1 : 0), "bind");
        bind_text(update_, 5, std::string_view(at, 27));
        check(sqlite3_bind_int64(update_, 6, u.id), "bind");
        if (sqlite3_step(update_) != SQLITE_DONE) fail("update");
        if (sqlite3_changes64(db_) == 0) throw std::runtime_error("update: no users row has id " + std::to_string(u.id));
    }

    template <class F>
    void transaction(F&& f) {
        exec("BEGIN IMMEDIATE");
        try {
            f();
            exec("COMMIT");
        } catch (...) {
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }
    void clear() { exec("DELETE FROM users"); }
    void tidy() {}
    std::int64_t count() {
        Reset r{count_};
        if (sqlite3_step(count_) != SQLITE_ROW) fail("count");
        return sqlite3_column_int64(count_, 0);
    }

private:
    struct Reset {
        sqlite3_stmt* s;
        ~Reset() { sqlite3_reset(s); }
    };

    [[noreturn]] void fail(const char* what) const { throw std::runtime_error(std::string(what) + ": " + sqlite3_errmsg(db_)); }
    void check(int rc, const char* what) const {
        if (rc != SQLITE_OK) fail(what);
    }
    void exec(const char* sql) { check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql); }
    sqlite3_stmt* prepare(const char* sql) {
        sqlite3_stmt* s = nullptr;
        check(sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr), sql);
        return s;
    }
    // The text outlives the step that reads it; the next call binds again before stepping.
    void bind_text(sqlite3_stmt* s, int at, std::string_view v) const {
        check(sqlite3_bind_text(s, at, v.data(), static_cast<int>(v.size()), SQLITE_STATIC), "bind");
    }
    static std::string_view column_text(sqlite3_stmt* s, int i) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));  // before _bytes
        return {p ? p : "", static_cast<std::size_t>(sqlite3_column_bytes(s, i))};
    }
    static User read_user(sqlite3_stmt* s) {
        User u;
        u.id = sqlite3_column_int64(s, 0);
        u.name = column_text(s, 1);
        u.email = column_text(s, 2);
        u.age = sqlite3_column_int(s, 3);
        u.active = sqlite3_column_int(s, 4) != 0;
        const std::string_view at = column_text(s, 5);
        if (!parse_iso(at.data(), at.size(), u.inserted_at)) throw std::runtime_error("users.inserted_at is not a timestamp");
        return u;
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt *fetch_ = nullptr, *get_ = nullptr, *insert_ = nullptr, *update_ = nullptr, *count_ = nullptr;
};

#ifdef QUARRY_BENCH_POSTGRES
class RawPg {
public:
    explicit RawPg(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
        if (PQstatus(conn_) != CONNECTION_OK) {
            std::string why = PQerrorMessage(conn_);
            PQfinish(conn_);
            throw std::runtime_error("cannot connect to PostgreSQL: " + why);
        }
        exec("SET TIME ZONE 'UTC'");  // as quarry's driver: timestamptz comes back as +00
        exec("SET client_min_messages TO warning");  // no NOTICEs from DROP ... IF EXISTS / CASCADE
    }
    ~RawPg() { PQfinish(conn_); }
    RawPg(const RawPg&) = delete;
    RawPg& operator=(const RawPg&) = delete;

    // After the schema exists and is on the search path.
    void prepare_statements() {
        prepare("e2e_fetch", postgres_sql.fetch, 0);
        prepare("e2e_get", postgres_sql.get, 1);
        prepare("e2e_insert", postgres_sql.insert, 5);
        prepare("e2e_update", postgres_sql.update, 6);
    }

    std::vector<User> fetch() {
        Result r(PQexecPrepared(conn_, "e2e_fetch", 0, nullptr, nullptr, nullptr, 0));
        expect(r, PGRES_TUPLES_OK, "fetch");
        const int n = PQntuples(r.get());
        std::vector<User> out;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) out.push_back(read_user(r.get(), i));
        return out;
    }

    std::optional<User> get(std::int64_t id) {
        char key[24];
        *std::to_chars(key, key + sizeof key - 1, id).ptr = '\0';
        const char* values[] = {key};
        Result r(PQexecPrepared(conn_, "e2e_get", 1, values, nullptr, nullptr, 0));
        expect(r, PGRES_TUPLES_OK, "lookup");
        if (PQntuples(r.get()) == 0) return std::nullopt;
        return read_user(r.get(), 0);  // id is the primary key: at most one row
    }

    User insert(const User& u) {
        char age[16], at[28];
        *std::to_chars(age, age + sizeof age - 1, u.age).ptr = '\0';
        format_iso(u.inserted_at, at);
        const char* values[] = {u.name.c_str(), u.email.c_str(), age, u.active ? "true" : "false", at};
        Result r(PQexecPrepared(conn_, "e2e_insert", 5, values, nullptr, nullptr, 0));
        expect(r, PGRES_TUPLES_OK, "insert");
        if (PQntuples(r.get()) != 1) throw std::runtime_error("insert: RETURNING gave no row");
        return read_user(r.get(), 0);
    }

    void update(const User& u) {
        char age[16], at[28], id[24];
        *std::to_chars(age, age + sizeof age - 1, u.age).ptr = '\0';
        *std::to_chars(id, id + sizeof id - 1, u.id).ptr = '\0';
        format_iso(u.inserted_at, at);
        const char* values[] = {u.name.c_str(), u.email.c_str(), age, u.active ? "true" : "false", at, id};
        Result r(PQexecPrepared(conn_, "e2e_update", 6, values, nullptr, nullptr, 0));
        expect(r, PGRES_COMMAND_OK, "update");
        if (std::string_view(PQcmdTuples(r.get())) == "0") throw std::runtime_error("update: no users row has id " + std::string(id));
    }

    template <class F>
    void transaction(F&& f) {
        exec("BEGIN");
        try {
            f();
            exec("COMMIT");
        } catch (...) {
            PQclear(PQexec(conn_, "ROLLBACK"));
            throw;
        }
    }
    void clear() { exec("TRUNCATE users, posts RESTART IDENTITY"); }
    void tidy() { exec("VACUUM users"); }
    std::int64_t count() { return std::stoll(value("SELECT count(*) FROM users")); }

    void exec(const std::string& sql) {
        Result r(PQexec(conn_, sql.c_str()));
        if (PQresultStatus(r.get()) != PGRES_COMMAND_OK && PQresultStatus(r.get()) != PGRES_TUPLES_OK)
            throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
    }
    std::string value(const std::string& sql) {
        Result r(PQexec(conn_, sql.c_str()));
        expect(r, PGRES_TUPLES_OK, sql.c_str());
        if (PQntuples(r.get()) != 1) throw std::runtime_error(sql + ": expected one row");
        return PQgetvalue(r.get(), 0, 0);
    }

private:
    struct Clear {
        void operator()(PGresult* r) const { PQclear(r); }
    };
    using Result = std::unique_ptr<PGresult, Clear>;

    static void expect(const Result& r, ExecStatusType want, const char* what) {
        if (PQresultStatus(r.get()) != want) throw std::runtime_error(std::string(what) + ": " + PQresultErrorMessage(r.get()));
    }
    void prepare(const char* name, const char* sql, int params) {
        Result r(PQprepare(conn_, name, sql, params, nullptr));
        expect(r, PGRES_COMMAND_OK, sql);
    }
    template <class I>
    static I number(const PGresult* r, int row, int col) {
        const char* p = PQgetvalue(r, row, col);
        I v{};
        const auto end = p + PQgetlength(r, row, col);
        const auto [ptr, ec] = std::from_chars(p, end, v);
        if (ec != std::errc() || ptr != end) throw std::runtime_error("users: not an integer");
        return v;
    }
    static User read_user(const PGresult* r, int i) {
        User u;
        u.id = number<std::int64_t>(r, i, 0);
        u.name.assign(PQgetvalue(r, i, 1), static_cast<std::size_t>(PQgetlength(r, i, 1)));
        u.email.assign(PQgetvalue(r, i, 2), static_cast<std::size_t>(PQgetlength(r, i, 2)));
        u.age = number<int>(r, i, 3);
        const char* active = PQgetvalue(r, i, 4);
        if ((active[0] != 't' && active[0] != 'f') || active[1]) throw std::runtime_error("users.active is not a boolean");
        u.active = active[0] == 't';
        if (!parse_iso(PQgetvalue(r, i, 5), static_cast<std::size_t>(PQgetlength(r, i, 5)), u.inserted_at))
            throw std::runtime_error("users.inserted_at is not a timestamp");
        return u;
    }

    PGconn* conn_;
};
#endif

// ---------------------------------------------------------------------------------------------
// The workloads, one template for both sides.

template <class Side>
std::vector<User> run_insert(Side& s, const std::vector<User>& rows) {
    std::vector<User> out;
    out.reserve(rows.size());
    s.transaction([&] {
        for (const User& u : rows) out.push_back(s.insert(u));
    });
    return out;
}

template <class Side, class F>
std::size_t run_lookup(Side& s, const std::vector<std::int64_t>& ids, F&& f) {
    std::size_t found = 0;
    for (std::int64_t id : ids) {
        if (auto u = s.get(id)) {
            ++found;
            f(*u);
        }
    }
    return found;
}

template <class Side>
void run_update(Side& s, const std::vector<User>& rows) {
    s.transaction([&] {
        for (const User& u : rows) s.update(u);
    });
}

template <class Side>
void ensure_populated(Side& s) {
    if (s.count() == static_cast<std::int64_t>(n_users)) return;
    s.clear();
    run_insert(s, dataset());
}

// Runs every workload once on each side and compares what they return. `shared`: both sides
// use one table (PostgreSQL); otherwise each has its own database file.
template <class Q, class R>
bool verify(const char* db, Q& q, R& r, bool shared) {
    auto hex = [](std::uint64_t v) { return static_cast<unsigned long long>(v); };
    bool ok = true;
    auto report = [&](const char* what, const Digest& dq, const Digest& dr, const Digest* want) {
        const bool same = dq == dr && (!want || dq == *want);
        std::printf("verify %-8s %-7s quarry %6llu rows %016llx  raw %6llu rows %016llx  %s\n", db, what,
                    static_cast<unsigned long long>(dq.rows), hex(dq.sum), static_cast<unsigned long long>(dr.rows), hex(dr.sum),
                    same ? "same" : "DIFFERENT");
        ok = ok && same;
    };
    const Digest want = stored_digest();

    q.clear();
    const Digest qi = digest(run_insert(q, dataset()));
    r.clear();
    const Digest ri = digest(run_insert(r, dataset()));
    report("insert", qi, ri, &want);

    report("fetch", digest(q.fetch()), digest(r.fetch()), &want);

    Digest ql, rl;
    run_lookup(q, lookup_ids(), [&](const User& u) { ql.add(u); });
    run_lookup(r, lookup_ids(), [&](const User& u) { rl.add(u); });
    report("lookup", ql, rl, &want);

    const std::vector<User> original = update_batch();
    std::vector<User> batch = original;
    restamp(batch, 1);
    run_update(q, batch);
    const Digest qu = digest(q.fetch());
    if (shared) {  // put the rows back with the raw side first, or its update would prove nothing
        run_update(r, original);
        const Digest back = digest(r.fetch());
        report("restore", back, back, &want);
    }
    run_update(r, batch);
    const Digest ru = digest(r.fetch());
    report("update", qu, ru, nullptr);
    if (qu == want) {
        std::printf("verify %-8s update changed nothing\n", db);
        ok = false;
    }
    std::fflush(stdout);
    return ok;
}

// ---------------------------------------------------------------------------------------------
// The benchmarks. Each iteration is a whole workload; set-up (filling or emptying the table)
// is outside the timed region.

// What one timed iteration runs, each out of line so that callgrind can count exactly that
// (bench/e2e_instructions.sh toggles collection on these names).
template <class Side>
[[gnu::noinline]] void timed_fetch(Side& s) {
    auto rows = s.fetch();
    if (rows.size() != n_users) throw std::runtime_error("fetch: wrong row count");
    benchmark::DoNotOptimize(rows.data());
}

template <class Side>
[[gnu::noinline]] void timed_insert(Side& s) {
    auto rows = run_insert(s, dataset());
    benchmark::DoNotOptimize(rows.data());
}

template <class Side>
[[gnu::noinline]] void timed_lookup(Side& s) {
    std::int64_t sum = 0;
    const std::size_t found = run_lookup(s, lookup_ids(), [&](const User& u) { sum += u.age; });
    if (found != n_users) throw std::runtime_error("lookup: rows missing");
    benchmark::DoNotOptimize(sum);
}

template <class Side>
[[gnu::noinline]] void timed_update(Side& s, const std::vector<User>& batch) {
    run_update(s, batch);
}

template <class F>
void guarded(benchmark::State& st, F&& f) {
    try {
        f();
    } catch (const std::exception& e) {
        st.SkipWithError(e.what());
    }
}

template <class Side>
void bm_fetch(benchmark::State& st, Side* s) {
    guarded(st, [&] {
        ensure_populated(*s);
        for (auto _ : st) timed_fetch(*s);
    });
}

template <class Side>
void bm_insert(benchmark::State& st, Side* s) {
    guarded(st, [&] {
        for (auto _ : st) {
            st.PauseTiming();
            s->clear();
            st.ResumeTiming();
            timed_insert(*s);
        }
    });
}

template <class Side>
void bm_lookup(benchmark::State& st, Side* s) {
    guarded(st, [&] {
        ensure_populated(*s);
        for (auto _ : st) timed_lookup(*s);
    });
}

unsigned update_generation = 1;  // every update iteration writes values the rows do not hold yet

template <class Side>
void bm_update(benchmark::State& st, Side* s) {
    guarded(st, [&] {
        ensure_populated(*s);
        std::vector<User> batch = update_batch();
        for (auto _ : st) {
            st.PauseTiming();
            s->tidy();
            restamp(batch, ++update_generation);
            st.ResumeTiming();
            timed_update(*s, batch);
        }
    });
}

template <class Q, class R>
void register_db(const std::string& db, Q* q, R* r, std::int64_t iterations) {
    const std::string base = "e2e/" + db + "/";
    // With --benchmark_repetitions, the fastest repetition too: on a shared machine noise only
    // ever adds time.
    auto min_of = [](const std::vector<double>& v) { return v.empty() ? 0.0 : *std::min_element(v.begin(), v.end()); };
    auto add = [&](const char* workload, void (*fq)(benchmark::State&, Q*), void (*fr)(benchmark::State&, R*)) {
        benchmark::RegisterBenchmark((base + workload + "/quarry").c_str(), fq, q)
            ->Iterations(iterations)
            ->Unit(benchmark::kMillisecond)
            ->ComputeStatistics("min", min_of);
        benchmark::RegisterBenchmark((base + workload + "/raw").c_str(), fr, r)
            ->Iterations(iterations)
            ->Unit(benchmark::kMillisecond)
            ->ComputeStatistics("min", min_of);
    };
    add("fetch", bm_fetch<Q>, bm_fetch<R>);
    add("insert", bm_insert<Q>, bm_insert<R>);
    add("lookup", bm_lookup<Q>, bm_lookup<R>);
    add("update", bm_update<Q>, bm_update<R>);
}

// Prints quarry / raw per workload after the usual output: wall clock (the median with
// --benchmark_repetitions, and the ratio of the fastest repetitions), and the CPU time of this
// process (the client's share; for PostgreSQL the server's work is not in it).
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const auto& r : runs) {
            if (r.error_occurred) continue;
            if (r.run_name.function_name.starts_with("pool/")) {
                auto rate = r.counters.find("items_per_second");
                if (rate != r.counters.end() && (r.run_type == Run::RT_Iteration || r.aggregate_name == "median")) {
                    Pool& p = pool_[r.threads];
                    (r.run_name.function_name.ends_with("/quarry") ? p.quarry : p.raw) = rate->second;
                    for (auto [key, slot] : {std::pair{"acquire_p50_us", &p.p50}, {"acquire_p99_us", &p.p99}, {"acquire_max_us", &p.max}})
                        if (auto c = r.counters.find(key); c != r.counters.end()) *slot = c->second;
                }
                continue;
            }
            Times& t = times_[r.run_name.function_name];
            if (r.run_type == Run::RT_Iteration || r.aggregate_name == "median") {
                t.real = r.GetAdjustedRealTime();
                t.cpu = r.GetAdjustedCPUTime();
            } else if (r.aggregate_name == "min") {
                t.min_real = r.GetAdjustedRealTime();
            }
        }
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        std::printf("\n%-18s %10s %10s %8s %9s %12s %12s %8s\n", "db/workload", "raw ms", "quarry ms", "ratio", "min ratio",
                    "raw cpu ms", "quarry cpu", "cpu");
        int met = 0, total = 0;
        std::string missed;
        for (const char* db : {"sqlite", "postgres"}) {
            for (const char* w : {"fetch", "insert", "lookup", "update"}) {
                const std::string base = std::string("e2e/") + db + "/" + w + "/";
                auto q = times_.find(base + "quarry"), r = times_.find(base + "raw");
                if (q == times_.end() || r == times_.end() || r->second.real <= 0 || r->second.cpu <= 0) continue;
                const double ratio = q->second.real / r->second.real;
                char min_ratio[16] = "-";
                if (q->second.min_real > 0 && r->second.min_real > 0)
                    std::snprintf(min_ratio, sizeof min_ratio, "%.2fx", q->second.min_real / r->second.min_real);
                std::printf("%-18s %10.1f %10.1f %7.2fx %9s %12.1f %12.1f %7.2fx\n", (std::string(db) + "/" + w).c_str(),
                            r->second.real, q->second.real, ratio, min_ratio, r->second.cpu, q->second.cpu,
                            q->second.cpu / r->second.cpu);
                ++total;
                if (ratio <= 1.10) {
                    ++met;
                } else {
                    missed += missed.empty() ? " (not met: " : ", ";
                    missed += std::string(db) + "/" + w;
                }
            }
        }
        if (total)
            std::printf("target: every workload <= 1.10x raw (wall clock, median): met by %d of %d%s\n", met, total,
                        missed.empty() ? "" : (missed + ")").c_str());
        if (!pool_.empty()) {
            std::printf("\n%-22s %12s %12s %8s %10s %10s %10s\n", "pool/lookup threads", "raw /s", "quarry /s", "ratio",
                        "acq p50us", "acq p99us", "acq maxus");
            for (const auto& [threads, p] : pool_)
                if (p.raw > 0)
                    std::printf("%-22d %12.0f %12.0f %7.2fx %10.0f %10.0f %10.0f\n", threads, p.raw, p.quarry, p.quarry / p.raw,
                                p.p50, p.p99, p.max);
            std::printf("(ratio: quarry's lookups per second through the pool / raw libpq's with one connection per thread)\n");
        }
    }

private:
    struct Times {
        double real = 0, cpu = 0, min_real = 0;
    };
    std::map<std::string, Times> times_;
    struct Pool {
        double raw = 0, quarry = 0, p50 = 0, p99 = 0, max = 0;
    };
    std::map<int, Pool> pool_;  // by thread count
};

// A fresh directory for the SQLite files, removed at the end.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        char tmpl[] = "/tmp/quarry-e2e-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

#ifdef QUARRY_BENCH_POSTGRES
// Both PostgreSQL sides in one private schema of the test server, dropped at the end.
struct PgEnv {
    RawPg raw;
    std::string schema;
    std::optional<quarry::Repo> repo;
    std::optional<QuarrySide> side;

    explicit PgEnv(const std::string& conninfo) : raw(conninfo) {
        const std::string cluster = raw.value("SHOW cluster_name");
        if (cluster != "quarry_test")
            throw std::runtime_error("refusing to write into a server whose cluster_name is \"" + cluster +
                                     "\" (expected quarry_test: scripts/pg.sh starts one)");
        schema = "quarry_bench_" + std::to_string(getpid());
        raw.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        raw.exec("CREATE SCHEMA " + schema);
        try {
            raw.exec("SET search_path TO " + schema);
            raw.exec(canonical_schema_postgres);
            raw.prepare_statements();
            repo.emplace(conninfo);
            repo->session().connection().execute("SET search_path TO " + schema);
            if (repo->query<std::string>("SELECT current_schema()") != std::vector<std::string>{schema})
                throw std::runtime_error("the Repo's connection is not on schema " + schema);
            side.emplace(*repo);
        } catch (...) {
            drop();
            throw;
        }
    }
    ~PgEnv() { drop(); }
    void drop() noexcept {
        side.reset();
        repo.reset();
        try {
            raw.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "could not drop schema %s: %s\n", schema.c_str(), e.what());
        }
    }
};

// ---- the pool (issue 6) --------------------------------------------------------------------
// Point lookups by id from 1, 2, 8 and 32 threads: through one quarry::Pool (as many
// connections as threads, so this measures the pool, not a queue for too few connections) and a
// pooled Repo, against raw libpq with one connection per thread. Both read the same table of
// 10,000 users, in a schema of its own, and decode the same User.
struct PoolBench {
    std::string conninfo, schema;
    std::map<int, std::unique_ptr<quarry::Pool>> pools;  // by thread count
    std::map<int, std::unique_ptr<quarry::Repo>> repos;
    static constexpr std::int64_t rows = 10000;

    explicit PoolBench(const std::string& c) : conninfo(c), schema("quarry_poolbench_" + std::to_string(getpid())) {
        RawPg admin(conninfo);
        admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        admin.exec("CREATE SCHEMA " + schema);
        admin.exec("SET search_path TO " + schema);
        admin.exec(canonical_schema_postgres);
        admin.exec("INSERT INTO users (name, email, age, active, inserted_at) SELECT 'user ' || g, 'u' || g || '@example.com', "
                   "g % 90, g % 3 = 0, timestamptz '2024-01-01' + g * interval '1 second' FROM generate_series(1, " +
                   std::to_string(rows) + ") g");
        for (int threads : {1, 2, 8, 32}) {
            const std::string path = schema;
            auto pool = std::make_unique<quarry::Pool>(
                conninfo, quarry::PoolOptions{.min_size = static_cast<std::size_t>(threads),
                                              .max_size = static_cast<std::size_t>(threads),
                                              .on_connect = [path](quarry::core::Session& s) {
                                                  s.connection().execute("SET search_path TO " + path);
                                              }});
            repos[threads] = std::make_unique<quarry::Repo>(*pool);
            pools[threads] = std::move(pool);
        }
    }
    ~PoolBench() {
        repos.clear();
        pools.clear();
        try {
            RawPg admin(conninfo);
            admin.exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE");
        } catch (const std::exception& e) {
            std::fprintf(stderr, "could not drop schema %s: %s\n", schema.c_str(), e.what());
        }
    }
    // The id thread `t` looks up at its i-th iteration: every thread walks the whole table.
    static std::int64_t id(int t, std::int64_t i) { return (i * 7919 + t * 613) % rows + 1; }
};

void bm_pool_quarry(benchmark::State& st, PoolBench* b) {
    quarry::Repo& repo = *b->repos.at(st.threads());
    std::int64_t i = 0, found = 0;
    for (auto _ : st) found += repo.get<User>(PoolBench::id(st.thread_index(), i++)).has_value();
    if (found != i) st.SkipWithError("a lookup found no row");
    st.SetItemsProcessed(st.iterations());
    if (st.thread_index() == 0) {
        const auto m = b->pools.at(st.threads())->metrics();
        st.counters["acquire_p50_us"] = static_cast<double>(m.acquire_p50.count());
        st.counters["acquire_p99_us"] = static_cast<double>(m.acquire_p99.count());
        st.counters["acquire_max_us"] = static_cast<double>(m.acquire_max.count());
    }
}

void bm_pool_raw(benchmark::State& st, PoolBench* b) {
    RawPg raw(b->conninfo);  // one connection per thread, made before the timed loop starts
    raw.exec("SET search_path TO " + b->schema);
    raw.prepare_statements();
    std::int64_t i = 0, found = 0;
    for (auto _ : st) found += raw.get(PoolBench::id(st.thread_index(), i++)).has_value();
    if (found != i) st.SkipWithError("a lookup found no row");
    st.SetItemsProcessed(st.iterations());
}

void register_pool(PoolBench* b) {
    for (int threads : {1, 2, 8, 32}) {
        benchmark::RegisterBenchmark("pool/lookup/quarry", bm_pool_quarry, b)->Threads(threads)->UseRealTime()->MinTime(1.0);
        benchmark::RegisterBenchmark("pool/lookup/raw", bm_pool_raw, b)->Threads(threads)->UseRealTime()->MinTime(1.0);
    }
}
#endif

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    const char* fixed = std::getenv("QUARRY_BENCH_ITERATIONS");
    const std::int64_t iterations = fixed && std::atoll(fixed) > 0 ? std::atoll(fixed) : 3;
    if (const char* users = std::getenv("QUARRY_BENCH_USERS"); users && std::atoll(users) >= 10) {
        n_users = static_cast<std::size_t>(std::atoll(users));
        n_updates = n_users / 10;
    }
    try {
        TempDir dir;
        quarry::Repo sqlite_repo("sqlite:" + (dir.path / "quarry.db").string());
        sqlite_repo.session().connection().execute(canonical_schema_sqlite);
        QuarrySide sqlite_quarry(sqlite_repo);
        RawSqlite sqlite_raw((dir.path / "raw.db").string());
        if (!sql_matches(sqlite_repo, sqlite_sql) || !verify("sqlite", sqlite_quarry, sqlite_raw, false)) {
            std::fprintf(stderr, "quarry and the raw SQLite baseline do not do the same work: not running\n");
            return 1;
        }
        register_db("sqlite", &sqlite_quarry, &sqlite_raw, iterations);

#ifdef QUARRY_BENCH_POSTGRES
        std::unique_ptr<PgEnv> pg;
        std::unique_ptr<PoolBench> pool_bench;
        const char* conninfo = std::getenv("QUARRY_BENCH_PG");
        if (conninfo && *conninfo) {
            pg = std::make_unique<PgEnv>(conninfo);
            if (!sql_matches(*pg->repo, postgres_sql) || !verify("postgres", *pg->side, pg->raw, true)) {
                std::fprintf(stderr, "quarry and the raw libpq baseline do not do the same work: not running\n");
                return 1;
            }
            register_db("postgres", &*pg->side, &pg->raw, iterations);
            pool_bench = std::make_unique<PoolBench>(conninfo);
            register_pool(pool_bench.get());
        } else {
            std::printf("QUARRY_BENCH_PG is not set: PostgreSQL benchmarks skipped\n");
        }
#else
        std::printf("built without libpq or quarry's PostgreSQL driver: PostgreSQL benchmarks skipped\n");
#endif
        std::fflush(stdout);

        RatioReporter reporter;
        benchmark::RunSpecifiedBenchmarks(&reporter);
        benchmark::Shutdown();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "quarry_bench_e2e: %s\n", e.what());
        return 1;
    }
}
