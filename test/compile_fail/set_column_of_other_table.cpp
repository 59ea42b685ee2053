// expect: names a column of another table
#include "../schema.hpp"
using namespace quarry;
auto s = update_all(from<User>(), set(&Post::title, std::string("x")));
