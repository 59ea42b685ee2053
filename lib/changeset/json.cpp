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
nlohmann::json& place(nlohmann::json& root, std::string_view path) {
    nlohmann::json* at = &root;
    while (!path.empty()) {
        const auto cut = path.find_first_of(".[");
        const std::string_view name = path.substr(0, cut);
        if (!at->is_object()) *at = nlohmann::json::object();
        at = &(*at)[std::string(name)];
        path = cut == std::string_view::npos ? std::string_view() : path.substr(cut);
        if (!path.empty() && path.front() == '[') {
            const auto close = path.find(']');
            std::size_t index = 0;
            for (char c : path.substr(1, close - 1)) index = index * 10 + static_cast<std::size_t>(c - '0');
            if (!at->is_array()) *at = nlohmann::json::array();
            while (at->size() <= index) at->push_back(nlohmann::json::object());
            at = &(*at)[index];
            path = path.substr(close + 1);
        }
        if (!path.empty() && path.front() == '.') path.remove_prefix(1);
    }
    return *at;
}
bool nested_path(std::string_view field) { return field.find_first_of(".[") != std::string_view::npos; }
}  // namespace

nlohmann::json errors_json(const std::vector<FieldError>& errors) {
    // Errors of nested rows nest: {"articles": [{}, {"title": ["can't be blank"]}]}.
    nlohmann::json out = nlohmann::json::object();
    const ErrorMap map = error_map(errors);
    for (const auto& [field, messages] : map)
        if (nested_path(field)) place(out, field) = messages;
    for (const auto& [field, messages] : map)
        if (!nested_path(field) && !out.contains(field)) out[field] = messages;  // a row list's own error yields to its rows'
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
// "comments[2][body]" under "comments": index 2, field "body"; "profile[bio]": index 0.
bool split_nested(std::string_view k, std::string_view key, std::size_t& index, std::string_view& field) {
    if (k.size() <= key.size() + 2 || k.substr(0, key.size()) != key || k[key.size()] != '[') return false;
    std::string_view rest = k.substr(key.size() + 1);
    auto close = rest.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view first = rest.substr(0, close);
    rest = rest.substr(close + 1);
    if (rest.empty()) {  // profile[bio]
        index = 0;
        field = first;
        return !field.empty();
    }
    if (rest.front() != '[' || rest.back() != ']') return false;
    index = 0;
    for (char c : first) {
        if (c < '0' || c > '9' || index > 100000) return false;
        index = index * 10 + static_cast<std::size_t>(c - '0');
    }
    field = rest.substr(1, rest.size() - 2);
    return !first.empty() && !field.empty();
}
}  // namespace

bool nested_params(const Params& all, std::string_view key, std::vector<Params>& rows, bool& invalid) {
    rows.clear();
    invalid = false;
    for (const auto& [k, v] : all) {
        if (k != key) continue;
        if (v.kind == Param::Kind::null) return true;  // no rows
        const auto doc = v.kind == Param::Kind::json ? nlohmann::json::parse(v.s, nullptr, false) : nlohmann::json();
        if (doc.is_object()) {
            rows.push_back(params_from_json(doc));
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
    // Form fields: key[i][field], or key[field] for one row.
    std::map<std::size_t, Params> found;
    for (const auto& [k, v] : all) {
        std::size_t index = 0;
        std::string_view field;
        if (split_nested(k, key, index, field)) found[index].emplace_back(std::string(field), v);
    }
    for (auto& [i, p] : found) rows.push_back(std::move(p));
    return !found.empty();
}

}  // namespace quarry::detail
