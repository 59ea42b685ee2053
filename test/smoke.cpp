#include <cstdio>
#include "schema.hpp"
using namespace quarry;
int main() {
    auto q = from<User>() | where(col(&User::active) == true) | order_by(desc(col(&User::inserted_at))) | limit(10);
    auto r = to_sql(q, sqlite());
    std::puts(r.sql.c_str());
    std::puts(to_sql(q, postgres()).sql.c_str());
    std::puts(describe(q).c_str());
}
