// expect: use is_null(x)
#include "../schema.hpp"
using namespace quarry;
auto q = from<Post>() | where(col(&Post::body) == nullptr);
