// SPDX-License-Identifier: MIT
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

nlohmann::json errors_json(const std::vector<FieldError>& errors) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [field, messages] : error_map(errors)) out[field] = messages;
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
