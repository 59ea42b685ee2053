// SPDX-License-Identifier: MIT
// `quarry gen model`: from a table's live columns to a C++ struct with its quarry declaration.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>

#include "quarry/cli.hpp"

namespace quarry::cli {

namespace {

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

struct CppType {
    std::string name;
    std::string init;  // default member initialiser
    std::string note;  // a comment when the mapping loses something
    bool timestamp = false;
};

// The C++ type for a declared type (SQLite's as written; PostgreSQL's format_type).
CppType cpp_type(const std::string& declared) {
    const std::string t = lower(declared);
    auto has = [&](const char* s) { return t.find(s) != std::string::npos; };
    if (t == "smallint" || t == "int2") return {"std::int16_t", " = 0", {}};
    if (t == "integer" && declared == "integer") return {"std::int32_t", " = 0", {}};  // PostgreSQL's 4-byte integer
    if (t == "int" || t == "int4") return {"std::int32_t", " = 0", {}};
    // PostgreSQL types that are not numbers though their names hold "int" (SQLite's rule for
    // INTEGER affinity, below, would take them): arrays, intervals, ranges, geometry.
    if (t.ends_with("]") || t.starts_with("interval") || has("range") || t == "point" || t == "tsvector")
        return {"std::string", "{}", declared + ": read as text"};
    if (has("int")) return {"std::int64_t", " = 0", {}};  // SQLite INTEGER is 64-bit; bigint
    if (has("bool")) return {"bool", " = false", {}};
    if (has("timestamp") || has("datetime")) return {"std::chrono::sys_time<std::chrono::microseconds>", "{}", {}, true};
    if (t == "date") return {"std::chrono::sys_days", "{}", {}};
    if (has("uuid")) return {"quarry::uuid", "{}", {}};
    if (has("json")) return {"quarry::json", "{}", {}};
    if (has("blob") || has("bytea")) return {"std::vector<std::byte>", "{}", {}};
    if (has("numeric") || has("decimal")) return {"double", " = 0", declared + ": read as double"};
    if (has("real") || has("floa") || has("doub")) return {"double", " = 0", {}};
    if (has("char") || has("text") || has("clob") || t.empty()) return {"std::string", "{}", {}};
    return {"std::string", "{}", declared + ": read as text"};
}

// Keywords, and macro names a member cannot take.
bool cpp_keyword(const std::string& s) {
    static const std::set<std::string> k = {
        "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char",
        "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr", "constinit",
        "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete", "do", "double",
        "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for", "friend", "goto", "if",
        "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "nullptr", "operator", "or",
        "or_eq", "private", "protected", "public", "register", "reinterpret_cast", "requires", "return", "short", "signed",
        "sizeof", "static", "static_assert", "static_cast", "struct", "switch", "template", "this", "thread_local", "throw",
        "true", "try", "typedef", "typeid", "typename", "union", "unsigned", "using", "virtual", "void", "volatile",
        "wchar_t", "while", "xor", "xor_eq",
        // Macros of the C and C++ headers a model includes: a member so named would be expanded.
        "NULL", "EOF", "errno", "assert", "stdin", "stdout", "stderr", "offsetof", "setjmp", "va_arg", "va_start",
        "va_end", "va_copy", "BUFSIZ", "FILENAME_MAX", "CHAR_BIT", "INT_MAX", "INT_MIN", "RAND_MAX", "EXIT_SUCCESS",
        "EXIT_FAILURE", "SEEK_SET", "SEEK_CUR", "SEEK_END", "unix", "linux", "major", "minor"};
    return k.count(s) > 0;
}

// A C++ identifier for a column name: invalid characters become '_', a leading digit or a
// keyword gets an underscore.
std::string member_name(const std::string& column) {
    std::string m;
    for (unsigned char c : column) m += (std::isalnum(c) || c == '_') ? static_cast<char>(c) : '_';
    if (m.empty() || std::isdigit(static_cast<unsigned char>(m[0]))) m = "_" + m;
    if (cpp_keyword(m)) m += '_';
    return m;
}

// users -> User, order_items -> OrderItem, categories -> Category.
std::string struct_name_for(const std::string& table) {
    std::string singular = table;
    if (singular.size() > 3 && singular.ends_with("ies")) singular = singular.substr(0, singular.size() - 3) + "y";
    else if (singular.size() > 4 && (singular.ends_with("sses") || singular.ends_with("xes") || singular.ends_with("ches")))
        singular.resize(singular.size() - 2);
    else if (singular.size() > 1 && singular.ends_with('s') && !singular.ends_with("ss")) singular.pop_back();
    std::string out;
    bool up = true;
    for (unsigned char c : singular) {
        if (!std::isalnum(c)) { up = true; continue; }
        out += up ? static_cast<char>(std::toupper(c)) : static_cast<char>(c);
        up = false;
    }
    if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "Table" + out;
    return out;
}

// A C++ string literal.
std::string literal(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += static_cast<char>(c); }
        else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\%03o", c); out += buf; }
        else out += static_cast<char>(c);
    }
    return out + "\"";
}

}  // namespace

std::string generate_model(const std::string& table, const std::vector<ModelColumn>& columns, std::string name) {
    if (name.empty()) name = struct_name_for(table);
    std::string body, members, keys, options;
    std::set<std::string> used;
    bool uses_types = false;
    std::vector<std::pair<int, std::string>> pk;
    for (const auto& c : columns) {
        CppType t = cpp_type(c.type);
        uses_types = uses_types || t.name.starts_with("quarry::");
        std::string m = member_name(c.name);
        while (used.count(m)) m += '_';
        used.insert(m);
        const bool optional = c.nullable && c.primary_key == 0 && !c.generated;
        body += "    " + (optional ? "std::optional<" + t.name + ">" : t.name) + " " + m + (optional ? "{}" : t.init) + ";";
        if (!t.note.empty()) body += "  // " + t.note;
        body += "\n";
        members += (members.empty() ? "" : ", ") + m;
        if (c.primary_key > 0) pk.emplace_back(c.primary_key, "&" + name + "::" + m);
        std::string opt;
        if (m != c.name) opt += ".named(" + literal(c.name) + ")";
        if (t.timestamp && !optional && (c.name == "inserted_at" || c.name == "updated_at")) opt += "." + c.name + "()";
        if (!opt.empty()) options += ",\n               quarry::field(&" + name + "::" + m + ")" + opt;
    }
    std::sort(pk.begin(), pk.end());
    for (const auto& [pos, mp] : pk) keys += ", " + mp;

    std::string out = "// Generated by `quarry gen model --table " + table + "` from the live schema.\n"
                      "#pragma once\n#include <chrono>\n#include <cstddef>\n#include <cstdint>\n#include <optional>\n"
                      "#include <string>\n#include <vector>\n\n#include <quarry/quarry.hpp>\n";
    if (uses_types) out += "#include <quarry/types.hpp>\n";
    out += "\nstruct " + name + " {\n" + body + "};\n";
    out += "BOOST_HANA_ADAPT_STRUCT(" + name + ", " + members + ");\n";
    if (pk.empty()) out += "// The table has no primary key: quarry's Repo needs one to update or delete a row.\n";
    out += "QUARRY_TABLE(" + name + ", " + literal(table) + keys + ");\n";
    if (!options.empty()) out += "QUARRY_COLUMNS(" + name + options + ");\n";
    return out;
}

}  // namespace quarry::cli
