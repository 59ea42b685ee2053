// SPDX-License-Identifier: MIT
// quarry: SQL queries as persistent, immutable values, rendered per dialect when executed.
#pragma once
#include "quarry/errors.hpp"
#include "quarry/expr.hpp"
#include "quarry/functions.hpp"
#include "quarry/query.hpp"
#include "quarry/render.hpp"
#include "quarry/schema.hpp"
#include "quarry/statements.hpp"
