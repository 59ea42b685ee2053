// SPDX-License-Identifier: MIT
#include "migrate/sqlite_table.hpp"

#include <algorithm>
#include <cctype>

#include "quarry/migration.hpp"

namespace quarry::migrate::detail {

namespace {

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' || (c & 0x80); }

// The end of the quoted run starting at `i` (closing quote doubled to escape).
std::size_t skip_quoted(std::string_view s, std::size_t i, char close) {
    for (std::size_t k = i + 1; k < s.size(); ++k) {
        if (s[k] != close) continue;
        if (close != ']' && k + 1 < s.size() && s[k + 1] == close) { ++k; continue; }
        return k + 1;
    }
    throw MigrationError("cannot read table definition: unterminated quote in " + std::string(s));
}

// Skips whitespace and comments from `i`.
std::size_t skip_space(std::string_view s, std::size_t i) {
    while (i < s.size()) {
        if (std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        else if (s.substr(i, 2) == "--") { const auto nl = s.find('\n', i); i = nl == std::string_view::npos ? s.size() : nl + 1; }
        else if (s.substr(i, 2) == "/*") { const auto e = s.find("*/", i + 2); i = e == std::string_view::npos ? s.size() : e + 2; }
        else break;
    }
    return i;
}

// The end of the token starting at `i` (a non-space character).
std::size_t token_end(std::string_view s, std::size_t i, bool nested, Token::Kind& kind) {
    const char c = s[i];
    if (c == '\'') { kind = Token::string; return skip_quoted(s, i, '\''); }
    if (c == '"') { kind = Token::quoted; return skip_quoted(s, i, '"'); }
    if (c == '`') { kind = Token::quoted; return skip_quoted(s, i, '`'); }
    if (c == '[') { kind = Token::quoted; return skip_quoted(s, i, ']'); }
    if (word_char(c)) {
        kind = Token::word;
        std::size_t k = i;
        while (k < s.size() && word_char(s[k])) ++k;
        return k;
    }
    if (c == '(' && nested) {
        kind = Token::group;
        int depth = 0;
        for (std::size_t k = i; k < s.size();) {
            const char d = s[k];
            if (d == '\'' || d == '"' || d == '`' || d == '[') { k = skip_quoted(s, k, d == '[' ? ']' : d); continue; }
            if (s.substr(k, 2) == "--" || s.substr(k, 2) == "/*") { k = skip_space(s, k); continue; }
            if (d == '(') ++depth;
            if (d == ')' && --depth == 0) return k + 1;
            ++k;
        }
        throw MigrationError("cannot read table definition: unbalanced parentheses in " + std::string(s));
    }
    kind = Token::punct;
    return i + 1;
}

}  // namespace

std::vector<Token> tokenize(std::string_view sql, bool nested) {
    std::vector<Token> out;
    for (std::size_t i = skip_space(sql, 0); i < sql.size(); i = skip_space(sql, i)) {
        Token::Kind kind;
        const std::size_t e = token_end(sql, i, nested, kind);
        out.push_back({kind, sql.substr(i, e - i)});
        i = e;
    }
    return out;
}

std::string unquote(const Token& t) {
    if (t.kind != Token::quoted) return std::string(t.text);
    const char close = t.text.back();
    std::string s;
    for (std::size_t k = 1; k + 1 < t.text.size(); ++k) {
        s += t.text[k];
        if (close != ']' && t.text[k] == close) ++k;
    }
    return s;
}

std::string upper(std::string_view s) {
    std::string u(s);
    for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return u;
}

bool mentions(std::string_view sql, std::string_view name) {
    const std::string want = upper(name);
    const auto toks = tokenize(sql, false);
    for (std::size_t k = 0; k < toks.size(); ++k) {
        const Token& t = toks[k];
        // A word before "(" is a function's name (date(created_at)), not a column's. A quoted
        // name before "(" is still a column: SQLite calls no function by a quoted name.
        if (t.kind == Token::word && k + 1 < toks.size() && toks[k + 1].text == "(") continue;
        if ((t.kind == Token::word || t.kind == Token::quoted) && upper(unquote(t)) == want) return true;
    }
    return false;
}

ParsedTable parse_create_table(std::string_view sql) {
    // CREATE TABLE name ( body ) tail: the first group token is the body.
    const auto toks = tokenize(sql);
    const auto body = std::find_if(toks.begin(), toks.end(), [](const Token& t) { return t.kind == Token::group; });
    if (body == toks.end()) throw MigrationError("cannot read table definition: " + std::string(sql));
    ParsedTable p;
    const auto after = static_cast<std::size_t>(body->text.data() + body->text.size() - sql.data());
    p.tail = std::string(sql.substr(after));
    const std::string_view inner = body->text.substr(1, body->text.size() - 2);
    // Split at top-level commas.
    std::size_t start = 0;
    auto flush = [&](std::size_t end) {
        const std::string_view raw = inner.substr(start, end - start);
        const auto t = tokenize(raw);
        if (t.empty()) return;
        // From the first token to the end of the last: a trailing comment stays behind (the
        // comma written after this item would otherwise land inside it).
        const auto from = static_cast<std::size_t>(t.front().text.data() - raw.data());
        const auto to = static_cast<std::size_t>(t.back().text.data() + t.back().text.size() - raw.data());
        Item it;
        it.text = std::string(raw.substr(from, to - from));
        const std::string k = upper(t[0].text);
        if (t[0].kind == Token::word && (k == "CONSTRAINT" || k == "PRIMARY" || k == "UNIQUE" || k == "CHECK" || k == "FOREIGN")) {
            it.is_constraint = true;
            if (k == "CONSTRAINT" && t.size() > 2) {
                it.name = unquote(t[1]);
                it.keyword = upper(t[2].text);
            } else {
                it.keyword = k;
            }
        } else {
            it.name = unquote(t[0]);
        }
        p.items.push_back(std::move(it));
    };
    for (std::size_t i = 0; i < inner.size();) {
        const std::size_t s = skip_space(inner, i);
        if (s >= inner.size()) break;
        if (inner[s] == ',') {
            flush(s);
            start = s + 1;
            i = s + 1;
            continue;
        }
        Token::Kind kind;
        i = token_end(inner, s, true, kind);
    }
    flush(inner.size());
    return p;
}

namespace {
bool clause_keyword(const std::string& u) {
    static const char* const ks[] = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK",
                                     "DEFAULT", "COLLATE", "REFERENCES", "GENERATED", "AS"};
    return std::any_of(std::begin(ks), std::end(ks), [&](const char* k) { return u == k; });
}
}  // namespace

ColumnParts split_column(std::string_view item) {
    const auto t = tokenize(item);
    ColumnParts c;
    if (t.empty()) return c;
    c.name = unquote(t[0]);
    auto offset = [&](std::size_t i) { return static_cast<std::size_t>(t[i].text.data() - item.data()); };
    auto end_of = [&](std::size_t i) { return offset(i) + t[i].text.size(); };
    std::size_t i = 1;
    while (i < t.size() && !(t[i].kind == Token::word && clause_keyword(upper(t[i].text)))) ++i;
    if (i > 1) c.type = std::string(item.substr(offset(1), end_of(i - 1) - offset(1)));
    while (i < t.size()) {
        const std::size_t start = i;
        Clause cl;
        std::size_t kw = start;
        if (upper(t[start].text) == "CONSTRAINT" && start + 2 < t.size()) {
            cl.name = unquote(t[start + 1]);
            kw = start + 2;
        }
        cl.keyword = upper(t[kw].text);
        std::size_t j = kw + 1;
        for (; j < t.size(); ++j) {
            if (t[j].kind != Token::word) continue;
            const std::string u = upper(t[j].text);
            if (!clause_keyword(u)) continue;
            const std::string prev = upper(t[j - 1].text);
            if ((u == "NULL" || u == "DEFAULT") && prev == "SET") continue;    // ON DELETE SET NULL
            if (u == "NULL" && prev == "NOT" && j - 1 == kw) continue;          // NOT NULL
            if (u == "NOT" && j + 1 < t.size() && upper(t[j + 1].text) == "DEFERRABLE") continue;
            if (u == "AS" && prev == "ALWAYS") continue;                        // GENERATED ALWAYS AS
            break;
        }
        cl.offset = offset(start);
        cl.text = std::string(item.substr(cl.offset, end_of(j - 1) - cl.offset));
        c.clauses.push_back(std::move(cl));
        i = j;
    }
    return c;
}

std::string_view from_first_group(std::string_view sql) {
    for (const auto& t : tokenize(sql))
        if (t.kind == Token::group) return sql.substr(static_cast<std::size_t>(t.text.data() - sql.data()));
    return {};
}

std::vector<std::string> constraint_columns(std::string_view item) {
    const auto t = tokenize(item);
    for (const auto& tok : t) {
        if (tok.kind != Token::group) continue;
        std::vector<std::string> cols;
        bool expect = true;
        for (const auto& inner : tokenize(tok.text.substr(1, tok.text.size() - 2))) {
            if (inner.kind == Token::punct && inner.text == ",") { expect = true; continue; }
            if (expect && (inner.kind == Token::word || inner.kind == Token::quoted)) cols.push_back(unquote(inner));
            expect = false;
        }
        return cols;
    }
    return {};
}

}  // namespace quarry::migrate::detail
