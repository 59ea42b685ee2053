// SPDX-License-Identifier: MIT
#include <map>
#include <stdexcept>

#include "quarry/changeset_json.hpp"

namespace quarry {

namespace {
Param param_of(const nlohmann::json& v) {
    Param p;
    using K = Param::Kind;
    switch (v.type()) {
    case nlohmann::json::value_t::null: p.kind = K::null; break;
    case nlohmann::json::value_t::boolean: p.kind = K::boolean, p.b = v.get<bool>(); break;
    case nlohmann::json::value_t::number_integer: p.kind = K::integer, p.i = v.get<std::int64_t>(); break;
    case nlohmann::json::value_t::number_unsigned: {
        const auto u = v.get<std::uint64_t>();
        if (u <= static_cast<std::uint64_t>(INT64_MAX)) p.kind = K::integer, p.i = static_cast<std::int64_t>(u);
        else p.kind = K::real, p.d = static_cast<double>(u);  // too big for any integer field: "is invalid"
        break;
    }
    case nlohmann::json::value_t::number_float: p.kind = K::real, p.d = v.get<double>(); break;
    case nlohmann::json::value_t::string: p.kind = K::text, p.s = v.get<std::string>(); break;
    default: p.kind = K::json, p.s = v.dump(); break;  // objects, arrays, binary
    }
    return p;
}

nlohmann::json param_json(const ErrorParam& p) {
    return std::visit([](const auto& v) { return nlohmann::json(v); }, p);
}
}  // namespace

Params params_from_json(const nlohmann::json& object) {
    if (!object.is_object()) throw std::invalid_argument("quarry: cast input must be a JSON object");
    Params out;
    out.reserve(object.size());
    for (const auto& [key, value] : object.items()) out.emplace_back(key, param_of(value));
    return out;
}

namespace {
// The place for a path such as "articles[1].title" in a nested object: articles -> [1] -> title.
// A path that is not of that form (odd brackets, a huge index) is nullptr: it stays a plain key.
nlohmann::json* place(nlohmann::json& root, std::string_view path) {
    nlohmann::json* at = &root;
    while (!path.empty()) {
        const auto cut = path.find_first_of(".[]");
        if (cut != std::string_view::npos && path[cut] == ']') return nullptr;
        const std::string_view name = path.substr(0, cut);
        if (name.empty()) return nullptr;
        if (!at->is_object()) return nullptr;
        at = &(*at)[std::string(name)];
        path = cut == std::string_view::npos ? std::string_view() : path.substr(cut);
        if (!path.empty() && path.front() == '[') {
            const auto close = path.find(']');
            if (close == std::string_view::npos || close == 1 || close > 7) return nullptr;
            const std::string_view digits = path.substr(1, close - 1);
            if (digits.find_first_not_of("0123456789") != std::string_view::npos) return nullptr;
            const std::size_t index = static_cast<std::size_t>(std::stoul(std::string(digits)));
            if (at->is_null()) *at = nlohmann::json::array();
            if (!at->is_array()) return nullptr;
            while (at->size() <= index) at->push_back(nlohmann::json::object());
            at = &(*at)[index];
            path = path.substr(close + 1);
        }
        if (!path.empty()) {
            if (path.front() != '.') return nullptr;
            path.remove_prefix(1);
            if (path.empty()) return nullptr;
        }
    }
    return at;
}
bool nested_path(std::string_view field) { return field.find_first_of(".[") != std::string_view::npos; }
}  // namespace

nlohmann::json errors_json(const std::vector<FieldError>& errors) {
    // Errors of nested rows nest: {"articles": [{}, {"title": ["can't be blank"]}]}.
    nlohmann::json out = nlohmann::json::object();
    const ErrorMap map = error_map(errors);
    std::vector<const std::pair<const std::string, std::vector<std::string>>*> plain;
    for (const auto& entry : map) {
        if (!nested_path(entry.first)) {
            plain.push_back(&entry);
            continue;
        }
        nlohmann::json scratch = out;  // a path that does not fit leaves `out` as it was
        nlohmann::json* at = place(scratch, entry.first);
        if (at && (at->is_null() || (at->is_object() && at->empty()))) {
            *at = entry.second;
            out = std::move(scratch);
        } else {
            plain.push_back(&entry);
        }
    }
    // A key both plain and nested (a list's own error beside its rows') keeps the rows; the
    // plain messages go under "<key>_errors" rather than being lost.
    for (const auto* entry : plain) {
        if (!out.contains(entry->first)) out[entry->first] = entry->second;
        else out[entry->first + "_errors"] = entry->second;
    }
    return out;
}

nlohmann::json errors_detail_json(const std::vector<FieldError>& errors) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& e : errors) {
        nlohmann::json params = nlohmann::json::object();
        for (const auto& [k, v] : e.params) params[k] = param_json(v);
        out[e.field].push_back({{"message", e.message}, {"validation", e.validation}, {"params", std::move(params)}});
    }
    return out;
}

}  // namespace quarry

namespace quarry::detail {

namespace {
// A form field under `key`: "comments[2][body]" is row 2's "body"; "comments[2][tags][0][name]"
// row 2's "tags[0][name]" (for a nested cast_assoc); "profile[bio]" row 0's "bio".
enum class Split { other, row, malformed };
Split split_nested(std::string_view k, std::string_view key, std::size_t& index, std::string& field) {
    if (k.size() <= key.size() || k.substr(0, key.size()) != key || k[key.size()] != '[') return Split::other;
    std::string_view rest = k.substr(key.size() + 1);
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close == 0) return Split::malformed;
    const std::string_view first = rest.substr(0, close);
    rest = rest.substr(close + 1);
    const bool digits = first.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits) {  // key[field]...: the only row
        index = 0;
        field = std::string(first) + std::string(rest);
        return Split::row;
    }
    // An index: no leading zeros (01 and 1 would be one row), at most six digits.
    if ((first.size() > 1 && first.front() == '0') || first.size() > 6) return Split::malformed;
    index = static_cast<std::size_t>(std::stoul(std::string(first)));
    if (rest.size() < 3 || rest.front() != '[') return Split::malformed;
    const auto close2 = rest.find(']');
    if (close2 == std::string_view::npos || close2 == 1) return Split::malformed;
    field = std::string(rest.substr(1, close2 - 1)) + std::string(rest.substr(close2 + 1));
    return Split::row;
}
}  // namespace

bool nested_params(const Params& all, std::string_view key, std::vector<Params>& rows, bool& invalid) {
    rows.clear();
    invalid = false;
    for (const auto& [k, v] : all) {
        if (k != key) continue;
        if (v.kind == Param::Kind::null) return true;  // no rows
        const auto doc = v.kind == Param::Kind::json ? nlohmann::json::parse(v.s, nullptr, false) : nlohmann::json();
        bool indexed = doc.is_object() && !doc.empty();  // {"0": {...}, "1": {...}}: a list sent as an object
        if (indexed)
            for (const auto& [k, item] : doc.items())
                indexed = indexed && !k.empty() && k.size() <= 6 && k.find_first_not_of("0123456789") == std::string::npos &&
                          item.is_object();
        if (indexed) {
            std::map<std::size_t, Params> ordered;
            for (const auto& [k, item] : doc.items()) ordered[std::stoul(k)] = params_from_json(item);
            for (auto& [i, p] : ordered) rows.push_back(std::move(p));
        } else if (doc.is_object()) {
            rows.push_back(params_from_json(doc));  // one row (has_one)
        } else if (doc.is_array()) {
            for (const auto& item : doc) {
                if (!item.is_object()) return invalid = true;
                rows.push_back(params_from_json(item));
            }
        } else {
            invalid = true;  // a scalar where rows were expected
        }
        return true;
    }
    // Form fields: key[i][field], or key[field] for one row. Rows keep the order of their
    // indices; error paths name a row by its position among them.
    std::map<std::size_t, Params> found;
    bool any = false;
    for (const auto& [k, v] : all) {
        std::size_t index = 0;
        std::string field;
        switch (split_nested(k, key, index, field)) {
        case Split::other: break;
        case Split::malformed: invalid = any = true; break;
        case Split::row: found[index].emplace_back(std::move(field), v), any = true; break;
        }
    }
    for (auto& [i, p] : found) rows.push_back(std::move(p));
    return any;
}

}  // namespace quarry::detail
