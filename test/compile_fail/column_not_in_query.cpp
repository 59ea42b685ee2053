// expect: is not in the query
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | where(col(&Post::views) > 1);
