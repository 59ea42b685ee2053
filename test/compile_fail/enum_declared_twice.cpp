// expect: declares a value or a name twice
#include "../schema.hpp"
using namespace quarry;
enum class Color { red, green };
QUARRY_ENUM_TEXT(Color, {red, "red"}, {green, "red"});
struct Shirt { std::int64_t id; Color color; };
BOOST_HANA_ADAPT_STRUCT(Shirt, id, color);
QUARRY_TABLE(Shirt, "shirts", &Shirt::id);
auto q = from<Shirt>() | where(col(&Shirt::color) == Color::red);
