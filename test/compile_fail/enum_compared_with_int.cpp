// expect: incompatible SQL types
#include "../schema.hpp"
using namespace quarry;
enum class Color { red, green };
QUARRY_ENUM_TEXT(Color, {red, "red"}, {green, "green"});
enum class Size { small = 1, large = 2 };
QUARRY_ENUM_INT(Size, small, large);
struct Shirt { std::int64_t id; Color color; Size size; quarry::uuid tag; std::chrono::year_month_day sold_on; };
BOOST_HANA_ADAPT_STRUCT(Shirt, id, color, size, tag, sold_on);
QUARRY_TABLE(Shirt, "shirts", &Shirt::id);
auto q = from<Shirt>() | where(col(&Shirt::color) == 3);
