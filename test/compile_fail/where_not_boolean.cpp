// expect: need a boolean expression
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(col(&User::age));
