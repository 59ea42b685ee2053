// SPDX-License-Identifier: MIT
#include "quarry/errors.hpp"

namespace quarry {

UnsupportedFeature::UnsupportedFeature(std::string_view dialect, std::string_view feature)
    : QueryError(std::string(dialect) + " does not support " + std::string(feature)),
      dialect_(dialect),
      feature_(feature) {}

}  // namespace quarry
