// expect: arithmetic needs numeric operands
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(col(&User::name) + 1 > 2);
