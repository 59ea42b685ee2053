// SPDX-License-Identifier: MIT
// libFuzzer target: builds random, well-typed query and statement values from the input bytes,
// renders each on both dialects and checks (a violation is __builtin_trap()):
//   1. placeholders outside quotes match the parameters (SQLite: one `?` each; PostgreSQL: the
//      set of $N is exactly 1..n);
//   2. quotes are balanced and no fuzzed string value appears outside a quoted identifier:
//      values only ever travel as parameters;
//   3. SQLite prepares every SQLite rendering against the canonical schema, with as many
//      parameters as the renderer returned.
// QueryError (UnsupportedFeature included) is an allowed outcome; any other exception is a bug.
// QUARRY_FUZZ_PRINT=1 quarry-fuzz <input> prints each value built and its renderings.
#include <fuzzer/FuzzedDataProvider.h>
#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>

#include "../schema.hpp"

using namespace quarry;

#define CHECK(cond) ((cond) ? void() : __builtin_trap())

namespace {

// Random choices, and every fuzzed string that went into a parameter (check 2 looks for them).
struct Gen {
    FuzzedDataProvider in;
    std::vector<std::string> values;

    Gen(const std::uint8_t* data, std::size_t size) : in(data, size) {}
    int pick(int n) { return in.ConsumeIntegralInRange(0, n - 1); }
    bool flip() { return in.ConsumeBool(); }
    std::int64_t integer() { return in.ConsumeIntegral<std::int64_t>(); }
    std::int64_t count() { return in.ConsumeIntegralInRange<std::int64_t>(0, std::numeric_limits<std::int64_t>::max()); }
    timestamp time() { return timestamp{std::chrono::microseconds{integer()}}; }
    // Raw input bytes: quotes, backslashes, NULs, invalid UTF-8, "$1" and "?" come straight through.
    std::string text() { return values.emplace_back(in.ConsumeRandomLengthString(32)); }
    // An alias: quoted, never bound, so not a value; an invalid one is a QueryError.
    std::string name() { return in.ConsumeRandomLengthString(12); }
};

// Each table's typed columns by kind (the first int and text are the ones UPDATE sets);
// `key` links users.id and posts.user_id.
template <class T>
struct cols;
template <>
struct cols<User> {
    using other = Post;
    static constexpr auto ints = std::tuple{&User::age, &User::id};
    static constexpr auto texts = std::tuple{&User::name, &User::email};
    static constexpr auto flag = &User::active;
    static constexpr auto time = &User::inserted_at;
    static constexpr auto key = &User::id;
    static auto upsert() { return on_conflict(&User::email).replace(&User::name); }
    static User row(Gen& g) { return {g.integer(), g.text(), g.text(), g.in.ConsumeIntegral<int>(), g.flip(), g.time()}; }
};
template <>
struct cols<Post> {
    using other = User;
    static constexpr auto ints = std::tuple{&Post::views, &Post::id, &Post::user_id};
    static constexpr auto texts = std::tuple{&Post::title, &Post::body};  // body is nullable
    static constexpr auto flag = &Post::published;
    static constexpr auto time = &Post::inserted_at;
    static constexpr auto key = &Post::user_id;
    static auto upsert() { return on_conflict(&Post::id).replace(&Post::title); }
    static Post row(Gen& g) {
        return {g.integer(), g.integer(), g.text(), g.flip() ? std::optional(g.text()) : std::nullopt, g.flip(), g.in.ConsumeIntegral<int>(), g.time()};
    }
};

// The sources a predicate may read: each table of the query, with its alias (empty: none).
template <class... Ts>
struct Ctx {
    Gen& g;
    std::tuple<source_alias<Ts>...> src;
};

// Calls f on one element of a tuple: a member pointer, or a source of the query.
template <class Tuple, class F>
void on_some(Gen& g, const Tuple& t, F&& f) {
    std::apply([&](const auto&... m) { int i = g.pick(sizeof...(m)), k = 0; ((k++ == i ? f(m) : void()), ...); }, t);
}
template <class... Ts, class F>
void on_some_table(Ctx<Ts...>& c, F&& f) { on_some(c.g, c.src, f); }

// A column picked at run time, typed dynamic_value so that one instantiation serves them all.
template <class T>
column_expr<T, dynamic_value> any_column(Gen& g, const source_alias<T>& s) {
    const auto& cs = table_info<T>().columns;
    return {{}, &cs[static_cast<std::size_t>(g.pick(static_cast<int>(cs.size())))], s.name};
}

// The six comparisons build one type, so the operator can be chosen at run time.
template <class L, class R>
auto compare(Gen& g, const L& l, const R& r) {
    switch (g.pick(6)) {
    case 0: return l == r; case 1: return l != r; case 2: return l < r;
    case 3: return l <= r; case 4: return l > r; default: return l >= r;
    }
}

template <class... Ts>
filter<Ts...> predicate(Ctx<Ts...>& c, int depth);

// `key [NOT] IN (SELECT key FROM other WHERE ...)`: an uncorrelated subquery with its own filter.
template <class T>
auto in_subquery(Gen& g, const source_alias<T>& s, int depth) {
    using O = typename cols<T>::other;
    Ctx<O> inner{g, {}};
    auto sub = from<O>() | where(predicate(inner, depth)) | select(col(cols<O>::key));
    return g.flip() ? in(s(cols<T>::key), sub) : not_in(s(cols<T>::key), sub);
}

// One comparison, LIKE, IN list, BETWEEN, IS NULL or IN subquery on a column of table T.
template <class T, class... Ts>
filter<Ts...> leaf(Ctx<Ts...>& c, const source_alias<T>& s, int depth) {
    using C = cols<T>;
    Gen& g = c.g;
    filter<Ts...> f;
    auto add = [&](const auto& e) { f &= e; };
    auto list = [&](auto make) { std::vector<decltype(make())> v(static_cast<std::size_t>(g.pick(21))); for (auto& x : v) x = make(); return v; };
    auto ints = [&] { return g.integer(); };
    auto texts = [&] { return g.text(); };
    switch (g.pick(depth > 0 ? 11 : 10)) {
    case 0: on_some(g, C::ints, [&](auto m) { add(compare(g, s(m), g.integer())); }); break;
    case 1: on_some(g, C::texts, [&](auto m) { add(compare(g, s(m), g.text())); }); break;
    case 2: on_some(g, C::texts, [&](auto m) {  // a user's string made literal, or a raw pattern
        std::string p = g.flip() ? g.values.emplace_back(escape_like(g.text()) + "%") : g.text();
        add(g.flip() ? like(s(m), p) : not_like(s(m), p));
    }); break;
    case 3: on_some(g, C::ints, [&](auto m) { auto v = list(ints); add(g.flip() ? in(s(m), v) : not_in(s(m), v)); }); break;
    case 4: on_some(g, C::texts, [&](auto m) { auto v = list(texts); add(g.flip() ? in(s(m), v) : not_in(s(m), v)); }); break;
    case 5: on_some(g, C::ints, [&](auto m) {
        auto lo = g.integer(), hi = g.integer();
        add(g.flip() ? between(s(m), lo, hi) : not_between(s(m), lo, hi));
    }); break;
    case 6: on_some(g, C::texts, [&](auto m) { add(g.flip() ? is_null(s(m)) : is_not_null(s(m))); }); break;
    case 7: add(g.flip() ? s(C::flag) == g.flip() : s(C::flag) != g.flip()); break;
    case 8: add(compare(g, s(C::time), g.time())); break;
    case 9: {  // the typed operators themselves, not run-time filters
        auto a = compare(g, s(std::get<0>(C::ints)), g.integer());
        auto b = compare(g, s(std::get<0>(C::texts)), g.text());
        if (g.flip()) add(!(a || b));
        else add(a && !b);
        break;
    }
    default: add(in_subquery(g, s, depth - 1)); break;
    }
    return f;
}

// AND/OR/NOT trees of leaves, `depth` levels deep. Subtrees are run-time filters, so one
// function builds every shape.
template <class... Ts>
filter<Ts...> predicate(Ctx<Ts...>& c, int depth) {
    filter<Ts...> f;
    on_some_table(c, [&](const auto& s) { f = leaf(c, s, depth); });
    for (int n = depth > 0 ? c.g.pick(3) : 0; n > 0; --n) {
        switch (c.g.pick(3)) {
        case 0: f &= predicate(c, depth - 1); break;
        case 1: f |= predicate(c, depth - 1); break;
        default: f = filter<Ts...>() &= !f; break;  // f = NOT f
        }
    }
    return f;
}

template <class V>
void check(const Gen& g, const V& v);

template <class E>
auto order_of(Gen& g, const E& e) {
    auto o = g.flip() ? desc(e) : asc(e);
    const int nulls = g.pick(3);
    return nulls == 0 ? o.nulls_first() : nulls == 1 ? o.nulls_last() : o;
}

// Up to 12 clauses that keep the query's type, so that they can come in any order.
template <class Q, class... Ts>
Q refine(Ctx<Ts...>& c, Q q) {
    Gen& g = c.g;
    for (int n = g.pick(13); n > 0; --n) {
        switch (g.pick(13)) {
        case 0: q = q | where(predicate(c, 3)); break;
        case 1: q = q | or_where(predicate(c, 3)); break;
        case 2: on_some_table(c, [&](const auto& s) { q = q | order_by(order_of(g, any_column(g, s))); }); break;
        case 3: q = q | limit(g.count()); break;
        case 4: q = q | offset(g.count()); break;
        case 5: q = q | distinct(); break;
        case 6: on_some_table(c, [&](const auto& s) { q = q | group_by(any_column(g, s)) | having(count() > g.integer()); }); break;
        case 7: q = q | exclude<clause::where>(); break;
        case 8: q = q | first(); break;
        case 9: q = q | last(); break;
        case 10: q = q | reverse_order(); break;
        case 11: q = q | exclude<clause::order_by>(); break;
        default: q = q | exclude<clause::limit>(); break;
        }
    }
    return q;
}

// The query itself; a select of 1..3 columns of one table (maybe renamed), refined further; or
// an UPDATE or DELETE of the rows it selects.
template <class B, class Q, class... Ts>
void finish(Ctx<Ts...>& c, const Q& q) {
    Gen& g = c.g;
    switch (g.pick(4)) {
    case 0: check(g, q); break;
    case 1: on_some_table(c, [&](const auto& s) {
        auto a = any_column(g, s), b = any_column(g, s), d = any_column(g, s);
        switch (g.pick(4)) {
        case 0: check(g, refine(c, q | select(a))); break;
        case 1: check(g, refine(c, q | select(a, b))); break;
        case 2: check(g, refine(c, q | select(a, b, d))); break;
        default: check(g, refine(c, q | select(a.as(g.name()), b.as(g.name())))); break;
        }
    }); break;
    case 2: check(g, delete_all(q)); break;
    default: {
        auto u = update_all(q, set(std::get<0>(cols<B>::texts), g.text()), inc(std::get<0>(cols<B>::ints), g.integer()));
        check(g, g.flip() ? u : u | also_set(set(cols<B>::flag, g.flip())));
    }
    }
}

// Two sources under one name (SQLite folds ASCII case) make column references ambiguous: the
// caller's mistake, which SQLite rightly rejects, so it is not generated.
bool same_name(const std::string& a, const std::string& b) {
    auto fold = [](char x, char y) { return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y)); };
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), fold);
}

// Joins the other table, maybe aliased, on the key and maybe a random predicate; or crosses it.
template <class B, class O>
Query<B, scope<B, O>> join_other(Ctx<B, O>& c, const Query<B>& q) {
    const auto& [bs, os] = c.src;
    if (os.name.empty() && c.g.pick(5) == 0) return q | cross_join<O>();
    filter<B, O> on;
    on &= os(cols<O>::key) == bs(cols<B>::key);
    if (c.g.flip()) on &= predicate(c, 2);
    constexpr core::JoinKind kinds[] = {core::JoinKind::inner, core::JoinKind::left, core::JoinKind::right, core::JoinKind::full};
    return q | join(os, on, kinds[c.g.pick(4)]);  // an empty alias: join<O>, left_join<O>, ...
}

// from<B>() (maybe aliased), maybe joined with the other table, refined, finished.
template <class B>
void fuzz_query(Gen& g) {
    using O = typename cols<B>::other;
    source_alias<B> bs{g.flip() ? g.name() : ""};
    Query<B> base = bs.name.empty() ? from<B>() : from(bs);
    if (g.flip()) {
        Ctx<B> c{g, {bs}};
        return finish<B>(c, refine(c, base));
    }
    source_alias<O> os{g.flip() ? g.name() : ""};
    if (same_name(bs.name.empty() ? table_info<B>().name : bs.name, os.name.empty() ? table_info<O>().name : os.name)) return;
    Ctx<B, O> c{g, {bs, os}};
    finish<B>(c, refine(c, join_other(c, base)));
}

// INSERT of 1..3 fuzzed rows, maybe as an upsert or with RETURNING.
template <class T>
void fuzz_insert(Gen& g) {
    std::vector<T> rows(static_cast<std::size_t>(1 + g.pick(3)));
    for (auto& r : rows) r = cols<T>::row(g);
    auto s = insert_all(rows);
    switch (g.pick(3)) {
    case 0: check(g, s); break;
    case 1: check(g, s | cols<T>::upsert()); break;
    default: check(g, s | returning(any_column(g, source_alias<T>{}))); break;
    }
}

// The SQL outside its quotes: `outside` keeps 'literals' and marks each "identifier" with one
// '"'; `bare` drops both. ok: every quote is closed and the only literal is ESCAPE's '\'.
struct Split {
    std::string outside, bare;
    bool ok = true;
};
Split split(const std::string& sql) {
    Split s;
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char q = sql[i];
        if (q != '"' && q != '\'') {
            s.outside += q, s.bare += q;
            continue;
        }
        std::string body;
        std::size_t j = i + 1;
        for (; j < sql.size(); ++j) {  // a doubled quote stands for one quote character
            if (sql[j] != q) body += sql[j];
            else if (j + 1 < sql.size() && sql[j + 1] == q) body += sql[j++];
            else break;
        }
        s.ok = s.ok && j < sql.size() && (q == '"' || body == "\\");
        s.outside += q == '"' ? std::string(1, q) : sql.substr(i, j - i + 1);
        i = j;
    }
    return s;
}

// What the renderer itself writes outside quotes: keywords, operators, placeholders.
bool renderer_char(char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || (ch != 0 && std::strchr(" !$()*+,-./%<=>?_|", ch));
}

void check_text(const Gen& g, const Split& s) {
    CHECK(s.ok);
    for (char ch : s.bare) CHECK(renderer_char(ch));
    for (const auto& v : g.values) {
        // A value of renderer characters only ("ECT ") can match keywords; were it spliced, the
        // quote and character checks above would catch it.
        const bool renderer_like = std::all_of(v.begin(), v.end(), [](char ch) { return renderer_char(ch) || (ch != 0 && std::strchr("\"'\\", ch)); });
        if (v.size() >= 4 && !renderer_like) CHECK(s.outside.find(v) == std::string::npos);
    }
}

sqlite3* db() {
    static sqlite3* const handle = [] {
        sqlite3* h = nullptr;
        CHECK(sqlite3_open(":memory:", &h) == SQLITE_OK);
        // An unknown "identifier" must be an error, not SQLite's legacy string-literal fallback.
        sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DML, 0, nullptr);
        sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DDL, 0, nullptr);
        CHECK(sqlite3_exec(h, canonical_schema_sqlite, nullptr, nullptr, nullptr) == SQLITE_OK);
        return h;
    }();
    return handle;
}

void check_sqlite(const Rendered& r, const Split& s) {
    CHECK(std::count(s.bare.begin(), s.bare.end(), '?') == static_cast<std::ptrdiff_t>(r.params.size()));
    CHECK(s.bare.find('$') == std::string::npos);
    sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    const int rc = sqlite3_prepare_v2(db(), r.sql.data(), static_cast<int>(r.sql.size()), &st, &tail);
    if (rc != SQLITE_OK) std::fprintf(stderr, "SQLite rejects: %s\n  %s\n", sqlite3_errmsg(db()), r.sql.c_str());
    CHECK(rc == SQLITE_OK && st != nullptr);
    CHECK(tail == r.sql.data() + r.sql.size());  // one statement, nothing after it
    CHECK(sqlite3_bind_parameter_count(st) == static_cast<int>(r.params.size()));
    sqlite3_finalize(st);
}

void check_postgres(const Rendered& r, const Split& s) {
    CHECK(s.bare.find('?') == std::string::npos);
    std::set<std::size_t> numbers;
    for (std::size_t i = s.bare.find('$'); i != std::string::npos; i = s.bare.find('$', i + 1)) {
        const std::size_t digits = std::strspn(s.bare.c_str() + i + 1, "0123456789");
        CHECK(digits > 0 && digits < 10);
        numbers.insert(std::stoul(s.bare.substr(i + 1, digits)));
    }
    // Exactly $1..$n: n distinct numbers, the smallest 1 and the largest n.
    CHECK(numbers.size() == r.params.size());
    CHECK(numbers.empty() || (*numbers.begin() == 1 && *numbers.rbegin() == r.params.size()));
}

const bool print = std::getenv("QUARRY_FUZZ_PRINT") != nullptr;

template <class V>
void check(const Gen& g, const V& v) {
    if (print) std::fprintf(stderr, "value: %s\n", describe(v).c_str());
    for (const Dialect* d : {&sqlite(), &postgres()}) {
        try {
            const Rendered r = to_sql(v, *d);
            if (print) std::fprintf(stderr, "  %s\n", r.sql.c_str());
            const Split s = split(r.sql);
            check_text(g, s);
            d == &sqlite() ? check_sqlite(r, s) : check_postgres(r, s);
        } catch (const QueryError& e) {
            if (print) std::fprintf(stderr, "  QueryError: %s\n", e.what());
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Gen g(data, size);
    try {
        switch (g.pick(4)) {
        case 0: fuzz_query<User>(g); break;
        case 1: fuzz_query<Post>(g); break;
        case 2: fuzz_insert<User>(g); break;
        default: fuzz_insert<Post>(g); break;
        }
    } catch (const QueryError&) {
        // An alias from the input that can never be an identifier (empty, NUL, invalid UTF-8).
    }
    return 0;
}
