// SPDX-License-Identifier: MIT
// Default names of constraints and indexes, shared by the DSL and the runner.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace quarry::migrate {

// <table>_<col1>_<col2>_<suffix>: PostgreSQL's own convention for keys ("key", "fkey") and
// Ecto's for indexes ("index"), so changeset constraint names match without configuration.
inline std::string default_constraint_name(std::string_view table, const std::vector<std::string>& columns,
                                           std::string_view suffix) {
    std::string n(table);
    for (const auto& c : columns) (n += '_') += c;
    (n += '_') += suffix;
    return n;
}

}  // namespace quarry::migrate
