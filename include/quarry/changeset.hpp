// SPDX-License-Identifier: MIT
// Changesets: the step between untrusted input and the database.
//
//   auto cs = quarry::cast(User{}, form, &User::name, &User::email, &User::age)
//           | validate_required(&User::name, &User::email)
//           | validate_format(&User::email, "^[^@\\s]+@[^@\\s]+$")
//           | validate_number(&User::age, {.ge = 0, .lt = 150})
//           | unique_constraint(&User::email);
//   auto saved = repo.insert(cs);        // quarry::Result<User>: the stored row, or cs with errors
//
// A changeset holds the data it started from, the changes (the fields whose new value differs),
// the raw input and the errors. Validations check changes only, except validate_required, which
// checks the field's value. Constraints declared here turn a database violation into a field
// error when the Repo writes. JSON input and error output: quarry/changeset_json.hpp.
//
// The parts: changeset/input.hpp (errors, input, casting of each type), changeset/core.hpp (the
// Changeset, constraints, cast(), Result), changeset/validations.hpp, changeset/repo_writes.hpp.
#pragma once
#include "quarry/changeset/input.hpp"
#include "quarry/changeset/core.hpp"
#include "quarry/changeset/validations.hpp"
#include "quarry/changeset/repo_writes.hpp"
