// expect: COMPILES
// The control: proves the runner's flags compile correct code, so the failures above fail for
// their own reason.
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(col(&User::age) > 1 && is_null(col(&User::name)) == false) | select(col(&User::id));
