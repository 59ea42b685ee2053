// expect: LIKE needs a text operand
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(like(col(&User::age), "1%"));
