// SPDX-License-Identifier: MIT
// Changeset errors: interpolation, the per-field map, and matching database constraint
// violations to the constraints a changeset declared.
#include <algorithm>
#include <charconv>

#include "quarry/changeset.hpp"

namespace quarry {

namespace {
std::string param_text(const ErrorParam& p) {
    struct {
        std::string operator()(std::int64_t v) const { return std::to_string(v); }
        std::string operator()(double v) const {
            // The shortest text that reads back as v: "%g" kept six digits (100000.5 -> 100000).
            char buf[32];
            return {buf, std::to_chars(buf, buf + sizeof buf, v).ptr};
        }
        std::string operator()(const std::string& v) const { return v; }
        std::string operator()(const std::vector<std::string>& v) const {
            std::string out;
            for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
            return out;
        }
    } visit;
    return std::visit(visit, p);
}
}  // namespace

const ErrorParam* FieldError::param(std::string_view key) const noexcept {
    for (const auto& [k, v] : params)
        if (k == key) return &v;
    return nullptr;
}

std::string FieldError::text() const {
    std::string out;
    out.reserve(message.size());
    for (std::size_t at = 0; at < message.size();) {
        if (message.compare(at, 2, "%{") == 0) {
            const auto close = message.find('}', at);
            if (close != std::string::npos) {
                if (const ErrorParam* p = param(std::string_view(message).substr(at + 2, close - at - 2))) {
                    out += param_text(*p);
                    at = close + 1;
                    continue;
                }
            }
        }
        out += message[at++];
    }
    return out;
}

ErrorMap error_map(const std::vector<FieldError>& errors) {
    ErrorMap out;
    for (const auto& e : errors) out[e.field].push_back(e.text());
    return out;
}

namespace {
std::string summary(const std::string& action, const std::string& type, const std::vector<FieldError>& errors) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on `" " + string` chains here.
    std::string s = "invalid changeset";
    if (!action.empty()) s.append(" for ").append(action);
    s.append(" (").append(type).append("):");
    for (const auto& e : errors) {
        s += ' ';
        if (!e.field.empty()) s.append(e.field).append(" ");
        s.append(e.text()).append(";");
    }
    if (!errors.empty()) s.pop_back();
    return s;
}
}  // namespace

ChangesetInvalid::ChangesetInvalid(std::string action, std::string type, std::vector<FieldError> errors)
    : Error(summary(action, type, errors)), action_(std::move(action)), errors_(std::move(errors)) {}

namespace detail {

namespace {
std::string joined(const std::vector<std::string>& columns) {
    std::string out;
    for (const auto& c : columns) out += (out.empty() ? "" : "_") + c;
    return out;
}

bool name_matches(const ConstraintDecl& d, std::string_view name) {
    for (const auto& n : d.names) {
        switch (d.match) {
        case NameMatch::exact:
            if (name == n) return true;
            break;
        case NameMatch::prefix:
            if (name.substr(0, n.size()) == n) return true;
            break;
        case NameMatch::suffix:
            if (name.size() >= n.size() && name.substr(name.size() - n.size()) == n) return true;
            break;
        }
    }
    return false;
}

bool same_columns(std::vector<std::string> a, std::vector<std::string> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    return a == b;
}

bool kind_matches(ConstraintKind declared, ConstraintKind met) {
    // A primary key is a unique constraint too (SQLite reports it apart).
    return declared == met || (declared == ConstraintKind::unique && met == ConstraintKind::primary_key);
}
}  // namespace

void default_constraint_names(ConstraintDecl& d, std::string_view table) {
    if (!d.names.empty() || d.columns.empty()) return;
    if (!d.table.empty()) table = d.table;
    const std::string base = std::string(table) + "_" + joined(d.columns);
    switch (d.kind) {
    case ConstraintKind::unique:
    case ConstraintKind::primary_key:
        // Ecto's and quarry's migrations name unique indexes <table>_<columns>_index; PostgreSQL
        // names an inline UNIQUE <table>_<columns>_key and a primary key <table>_pkey.
        d.names = {base + "_index", base + "_key"};
        break;
    case ConstraintKind::foreign_key: d.names = {base + "_fkey"}; break;
    case ConstraintKind::exclusion: d.names = {base + "_excl", base + "_exclusion"}; break;
    default: break;
    }
    d.match = NameMatch::exact;
    d.default_names = true;
}

bool constraint_matches(const ConstraintDecl& d, const ConstraintError& e, std::string_view table) {
    if (!kind_matches(d.kind, e.kind())) return false;
    if (!d.table.empty()) table = d.table;
    if (!e.constraint().empty() && name_matches(d, e.constraint())) return true;
    // A database that names no constraint (SQLite's inline UNIQUE, its foreign keys once quarry
    // found the column) is matched by table and columns, as is any violation of a constraint
    // declared without a name.
    if (e.constraint().empty() || d.default_names) {
        if (e.columns().empty() || !same_columns(d.columns, e.columns())) return false;
        return e.table().empty() || table.empty() || e.table() == table;
    }
    return false;
}

FieldError constraint_error(const ConstraintDecl& d, const ConstraintError& e) {
    FieldError f{d.field, d.message, d.validation, {{"constraint", std::string(to_string(d.kind))}}};
    if (!e.constraint().empty()) f.params.emplace_back("constraint_name", e.constraint());
    return f;
}

}  // namespace detail
}  // namespace quarry
