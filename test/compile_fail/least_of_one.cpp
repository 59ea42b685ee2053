// expect: least() needs at least two arguments
#include "../schema.hpp"
using namespace quarry;
auto q = from<Post>() | select(least(col(&Post::views)));
