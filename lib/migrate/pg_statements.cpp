// SPDX-License-Identifier: MIT
#include "migrate/pg_statements.hpp"

#include <cctype>

#include "quarry/migration.hpp"

namespace quarry::migrate::detail {

namespace {

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (c & 0x80); }
bool ident_char(char c) { return ident_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '$'; }

[[noreturn]] void unterminated(std::string_view what) {
    throw MigrationError("cannot split the SQL into statements: unterminated " + std::string(what));
}

// From an opening quote at `i`: the index past its closing one. `backslash`: E'...' escapes.
std::size_t skip_quote(std::string_view s, std::size_t i, char q, bool backslash) {
    for (std::size_t k = i + 1; k < s.size(); ++k) {
        if (backslash && s[k] == '\\') { ++k; continue; }
        if (s[k] != q) continue;
        if (k + 1 < s.size() && s[k + 1] == q) { ++k; continue; }
        return k + 1;
    }
    unterminated(q == '"' ? "quoted identifier" : "string");
}

// `$tag$` at `i`: the tag's length with both dollars, or 0 when this is no dollar quote ($1).
std::size_t dollar_tag(std::string_view s, std::size_t i) {
    std::size_t k = i + 1;
    if (k < s.size() && s[k] == '$') return 2;
    if (k >= s.size() || !ident_start(s[k])) return 0;
    while (k < s.size() && ident_char(s[k]) && s[k] != '$') ++k;
    return k < s.size() && s[k] == '$' ? k + 1 - i : 0;
}

// Past the whitespace and comments from `i`; `only_blank` turns false at anything else.
std::size_t skip_comment(std::string_view s, std::size_t i) {
    if (s.substr(i, 2) == "--") {
        const auto nl = s.find('\n', i);
        return nl == std::string_view::npos ? s.size() : nl + 1;
    }
    int depth = 0;  // /* ... */ nests in PostgreSQL
    for (std::size_t k = i; k < s.size(); ++k) {
        if (s.substr(k, 2) == "/*") { ++depth; ++k; }
        else if (s.substr(k, 2) == "*/" && --depth == 0) return k + 2;
        else if (s.substr(k, 2) == "*/") ++k;
    }
    unterminated("comment");
}

std::string upper_word(std::string_view s, std::size_t& i) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    std::string w;
    while (i < s.size() && ident_char(s[i])) w += static_cast<char>(std::toupper(static_cast<unsigned char>(s[i++])));
    return w;
}

}  // namespace

std::vector<std::string> pg_statements(std::string_view sql) {
    std::vector<std::string> out;
    std::size_t start = 0;
    bool blank = true;     // only whitespace and comments since `start`
    std::string previous;  // the last word, upper case (BEGIN ATOMIC)
    int depth = 0;         // parentheses open: psql ends a statement only outside them (CREATE RULE ... (a; b))
    auto flush = [&](std::size_t end) {
        if (!blank) {
            std::string_view st = sql.substr(start, end - start);
            while (!st.empty() && std::isspace(static_cast<unsigned char>(st.back()))) st.remove_suffix(1);
            out.emplace_back(st);
        }
        blank = true;
    };
    for (std::size_t i = 0; i < sql.size();) {
        const char c = sql[i];
        if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
        if (sql.substr(i, 2) == "--" || sql.substr(i, 2) == "/*") { i = skip_comment(sql, i); continue; }
        if (c == ';' && depth == 0) { flush(i); ++i; previous.clear(); continue; }
        if (blank) start = i;  // a statement starts at its first word, past the comments before it
        blank = false;
        if (c == '\'') { i = skip_quote(sql, i, '\'', false); continue; }
        if (c == '"') { i = skip_quote(sql, i, '"', false); continue; }
        if ((c == 'E' || c == 'e') && i + 1 < sql.size() && sql[i + 1] == '\'' && (i == 0 || !ident_char(sql[i - 1]))) {
            i = skip_quote(sql, i + 1, '\'', true);
            continue;
        }
        if (c == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
            if (const std::size_t n = dollar_tag(sql, i)) {
                const auto close = sql.find(sql.substr(i, n), i + n);
                if (close == std::string_view::npos) unterminated("dollar-quoted string " + std::string(sql.substr(i, n)));
                i = close + n;
                continue;
            }
        }
        if (ident_start(c)) {
            std::size_t k = i;
            const std::string word = upper_word(sql, k);
            if (previous == "BEGIN" && word == "ATOMIC")
                throw MigrationError("a BEGIN ATOMIC ... END function body cannot be split into statements: put it in a "
                                     "migration that runs in a transaction, or write the body as a $$ string");
            previous = word;
            i = k;
            continue;
        }
        if (c == '(') ++depth;
        if (c == ')' && depth > 0) --depth;
        ++i;
    }
    flush(sql.size());
    return out;
}

std::string concurrent_index_name(std::string_view st) {
    std::size_t i = 0;
    auto word = [&] { return upper_word(st, i); };
    if (word() != "CREATE") return {};
    std::string w = word();
    if (w == "UNIQUE") w = word();
    if (w != "INDEX" || word() != "CONCURRENTLY") return {};
    std::size_t mark = i;
    if (word() == "IF") {
        if (word() != "NOT" || word() != "EXISTS") return {};
    } else {
        i = mark;
    }
    while (i < st.size() && std::isspace(static_cast<unsigned char>(st[i]))) ++i;
    if (i < st.size() && st[i] == '"') {
        std::string name;
        for (std::size_t k = i + 1; k < st.size(); ++k) {
            if (st[k] != '"') name += st[k];
            else if (k + 1 < st.size() && st[k + 1] == '"') name += st[++k];
            else return name;
        }
        return {};
    }
    std::string name;
    while (i < st.size() && ident_char(st[i])) name += static_cast<char>(std::tolower(static_cast<unsigned char>(st[i++])));
    return name == "ON" || name == "on" ? std::string{} : name;
}

}  // namespace quarry::migrate::detail
