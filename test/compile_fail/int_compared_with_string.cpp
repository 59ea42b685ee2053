// expect: incompatible SQL types
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(col(&User::age) == "forty");
