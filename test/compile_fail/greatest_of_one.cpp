// expect: greatest() needs at least two arguments
#include "../schema.hpp"
using namespace quarry;
auto q = from<Post>() | select(greatest(col(&Post::views)));
