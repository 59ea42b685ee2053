// SPDX-License-Identifier: MIT
// Changesets at a JSON API boundary (nlohmann::json, Debian's nlohmann-json3-dev):
//
//   auto cs = quarry::cast(User{}, nlohmann::json::parse(body), &User::name, &User::age)
//           | quarry::validate_required(&User::name);
//   if (auto saved = repo.insert(cs); !saved) reply(422, quarry::errors_json(saved.errors()));
//
// Kept apart from changeset.hpp: nlohmann/json.hpp costs about a second per translation unit.
#pragma once
#include <nlohmann/json.hpp>

#include "quarry/changeset.hpp"

namespace quarry {

// The members of a JSON object as cast input. Strings stay text; numbers and booleans keep their
// kind (a JSON 3 casts to an integer field, "3" too); objects and arrays become JSON text.
// Anything but an object is a std::invalid_argument.
Params params_from_json(const nlohmann::json& object);

// {"email": ["has already been taken"], ...}; the errors of nested rows (cast_assoc) nest:
// {"articles": [{}, {"title": ["can't be blank"]}]}.
nlohmann::json errors_json(const std::vector<FieldError>& errors);
// {"email": [{"message": "has already been taken", "validation": "unique", "params": {...}}], ...}:
// messages keep their %{key} placeholders, for clients that translate them.
nlohmann::json errors_detail_json(const std::vector<FieldError>& errors);

// As cast() from a string map. Input that is not a JSON object gives a changeset with the error
// "must be an object" (validation "cast") on no field, and no changes.
template <class T, class... M>
Changeset<T> cast(T data, const nlohmann::json& input, M T::*... permitted) {
    if (!input.is_object()) {
        Changeset<T> cs(std::move(data));
        cs.add_error("", "must be an object", "cast");
        return cs;
    }
    return cast(std::move(data), params_from_json(input), permitted...);
}

template <class T>
nlohmann::json errors_json(const Changeset<T>& cs) {
    return errors_json(cs.errors());
}

}  // namespace quarry
