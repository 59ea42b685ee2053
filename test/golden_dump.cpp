// Prints the golden cases' current output as .inc entries (for reviewing a change).
#include <cstdio>
#include "support.hpp"
static std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) { if (c == '"' || c == '\\') o += '\\'; o += c; }
    return o;
}
static std::pair<std::string, std::string> run(const GoldenCase& c, const quarry::Dialect& d) {
    try {
        auto r = quarry::core::render(c.build(), d);
        return {r.sql, format_params(r.params)};
    } catch (const quarry::UnsupportedFeature& e) { return {"!UnsupportedFeature", e.what()}; }
    catch (const quarry::QueryError& e) { return {"!QueryError", e.what()}; }
}
int main(int argc, char**) {
    bool tsv = argc > 1;
    for (auto& c : golden_cases()) {
        auto s = run(c, quarry::sqlite()), p = run(c, quarry::postgres());
        if (tsv)
            std::printf("%s\t%s\t%s\t%s\t%s\n", c.name.c_str(), esc(s.first).c_str(), esc(s.second).c_str(), esc(p.first).c_str(), esc(p.second).c_str());
        else
            std::printf("%s\n  S: %s\n     [%s]\n  P: %s\n     [%s]\n", c.name.c_str(), s.first.c_str(), s.second.c_str(), p.first.c_str(), p.second.c_str());
    }
}
