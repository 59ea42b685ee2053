// SPDX-License-Identifier: MIT
// SQL-file migrations: migrations/<version>_<name>/up.sql and down.sql.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "quarry/migration.hpp"

namespace quarry {

namespace {

std::optional<std::string> read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    // An editor's UTF-8 byte order mark: neither database reads it as SQL, and it would hide a
    // first-line -- quarry:no-transaction.
    if (text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    return text;
}

bool no_transaction(const std::string& sql) {
    const auto nl = sql.find('\n');
    std::string first = sql.substr(0, nl);
    while (!first.empty() && (first.back() == '\r' || first.back() == ' ')) first.pop_back();
    return first == "-- quarry:no-transaction";
}

// Whitespace and comments only: a down.sql nobody wrote yet (the template's), which must make
// the migration irreversible, not a rollback that reports success and changes nothing.
bool blank_sql(std::string_view sql) {
    for (std::size_t i = 0; i < sql.size();) {
        if (std::isspace(static_cast<unsigned char>(sql[i]))) {
            ++i;
        } else if (sql.substr(i, 2) == "--") {
            const auto nl = sql.find('\n', i);
            i = nl == std::string_view::npos ? sql.size() : nl + 1;
        } else if (sql.substr(i, 2) == "/*") {
            const auto end = sql.find("*/", i + 2);
            if (end == std::string_view::npos) return false;  // let the database say what is wrong
            i = end + 2;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

std::vector<Migration> load_sql_migrations(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw MigrationError("no migrations directory \"" + dir + "\"");
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_directory()) entries.push_back(e.path());
    std::sort(entries.begin(), entries.end());
    std::vector<Migration> out;
    for (const auto& path : entries) {
        const std::string base = path.filename().string();
        const auto us = base.find('_');
        std::int64_t version = 0;
        const auto r = std::from_chars(base.data(), base.data() + (us == std::string::npos ? base.size() : us), version);
        if (us == std::string::npos || us == 0 || r.ec != std::errc() || r.ptr != base.data() + us || version <= 0 ||
            us + 1 == base.size())
            throw MigrationError("migration directory \"" + path.string() + "\" is not named <version>_<name> (e.g. 20240101120000_create_users)");
        const std::string name = base.substr(us + 1);
        auto up = read_file(path / "up.sql");
        if (!up) throw MigrationError("migration " + base + " has no up.sql", version, name);
        auto down = read_file(path / "down.sql");
        if (down && blank_sql(*down)) down.reset();
        const bool tx = !no_transaction(*up);
        if (down && no_transaction(*down) == tx)
            throw MigrationError("migration " + base + ": up.sql and down.sql disagree about -- quarry:no-transaction", version, name);
        out.push_back(Migration::sql(version, name, std::move(*up), std::move(down), tx));
    }
    std::stable_sort(out.begin(), out.end(), [](const Migration& a, const Migration& b) { return a.version() < b.version(); });
    for (std::size_t i = 1; i < out.size(); ++i)  // 1_a and 01_b are one version
        if (out[i].version() == out[i - 1].version())
            throw MigrationError("two migrations in \"" + dir + "\" have version " + std::to_string(out[i].version()),
                                 out[i].version(), out[i].name());
    return out;
}

}  // namespace quarry
