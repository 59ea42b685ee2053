// expect: is an enum with no SQL mapping
#include "../schema.hpp"
using namespace quarry;
enum class Color { red, green };  // no QUARRY_ENUM_TEXT / QUARRY_ENUM_INT
struct Shirt { std::int64_t id; Color color; };
BOOST_HANA_ADAPT_STRUCT(Shirt, id, color);
QUARRY_TABLE(Shirt, "shirts", &Shirt::id);
auto q = from<Shirt>() | where(col(&Shirt::id) == 1);
