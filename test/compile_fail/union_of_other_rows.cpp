// expect: must select the same row type
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | select(col(&User::id)) | union_(from<User>() | select(col(&User::name)));
