// expect: already has a select
#include "../schema.hpp"
using namespace quarry;
auto q = from<User>() | select(col(&User::id)) | select(col(&User::name));
