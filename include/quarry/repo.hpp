// SPDX-License-Identifier: MIT
// Repo: runs query and statement values on a database and maps rows to C++ values.
//
//   quarry::Repo repo("sqlite:app.db");
//   auto adults = repo.all(from<User>() | where(col(&User::age) >= 18));
//   User saved = repo.insert(User{.name = "Ada", ...});     // generated fields filled
//   repo.transaction([&](quarry::Repo& r) { r.update(saved); });
#pragma once
#include <algorithm>
#include <atomic>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string_view>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/concept/struct.hpp>

#include "quarry/core/session.hpp"
#include "quarry/pool.hpp"
#include "quarry/render.hpp"
#include "quarry/statements.hpp"

namespace quarry {

using core::CacheStats;
using core::QueryEvent;
using core::stderr_logger;
using core::TelemetrySink;
using core::Isolation;
using core::TxOptions;

namespace detail {

template <class R>
struct is_tuple : std::false_type {};
template <class... V>
struct is_tuple<std::tuple<V...>> : std::true_type {};

// A struct's columns from the row's columns first, first + 1, ...
template <class R>
R decode_struct(const core::Row& r, std::uint32_t first) {
    R out{};
    std::uint32_t i = first;
    for_each_column<R>([&](auto mp, const char*) {
        using M = std::remove_cvref_t<decltype(out.*mp)>;
        out.*mp = value_traits<M>::read(r, i++);
    });
    return out;
}

// One row to R: a Hana-adapted struct member by member, a tuple element by element, or a
// single value, always by position (the renderer lists columns in exactly that order).
template <class R>
R decode_row(const core::Row& r) {
    if constexpr (boost::hana::Struct<R>::value) {
        constexpr std::uint32_t n = columns_of<R>::size;
        if (r.size() != n)
            throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, the struct " +
                                       std::to_string(n) + " members");
        return decode_struct<R>(r, 0);
    } else if constexpr (is_tuple<R>::value) {
        if (r.size() != std::tuple_size_v<R>)
            throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, the tuple " +
                                       std::to_string(std::tuple_size_v<R>) + " elements");
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return R{value_traits<std::tuple_element_t<I, R>>::read(r, I)...};
        }(std::make_index_sequence<std::tuple_size_v<R>>{});
    } else {
        if (r.size() != 1) throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, expected one value");
        return value_traits<R>::read(r, 0);
    }
}

// Timestamps (QUARRY_COLUMNS: .inserted_at(), .updated_at()), in microseconds like every
// timestamp quarry stores.
inline std::chrono::sys_time<std::chrono::microseconds> now() {
    return std::chrono::floor<std::chrono::microseconds>(std::chrono::system_clock::now());
}
template <class T>
inline constexpr bool stamps_inserts = has_role<T, core::ColumnRole::inserted_at> || has_role<T, core::ColumnRole::updated_at>;
template <class T>
inline constexpr bool stamps_updates = has_role<T, core::ColumnRole::updated_at>;
template <class T>
inline constexpr bool soft_deletes = has_role<T, core::ColumnRole::deleted_at>;
template <class M>
void set_time(M& field, std::chrono::sys_time<std::chrono::microseconds> t, bool only_if_unset) {
    if constexpr (is_optional<M>::value) {
        if (!only_if_unset || !field) field = std::chrono::floor<typename M::value_type::duration>(t);
    } else {
        if (!only_if_unset || field == M{}) field = std::chrono::floor<typename M::duration>(t);
    }
}
// An inserted row gets both timestamps, unless they were set (not the epoch, not nullopt).
template <class T>
void stamp_insert(T& row, std::chrono::sys_time<std::chrono::microseconds> t) {
    if constexpr (has_role<T, core::ColumnRole::inserted_at>) set_time(row.*role_member<T, core::ColumnRole::inserted_at>(), t, true);
    if constexpr (has_role<T, core::ColumnRole::updated_at>) set_time(row.*role_member<T, core::ColumnRole::updated_at>(), t, true);
}
template <class T>
void stamp_update(T& row, std::chrono::sys_time<std::chrono::microseconds> t) {
    if constexpr (has_role<T, core::ColumnRole::updated_at>) set_time(row.*role_member<T, core::ColumnRole::updated_at>(), t, false);
}

// Names of the Repo's own statement shapes: the address of fixed_tag_id<Tag> is a key no query
// value's shape can take (Session::run_fixed mixes it with the parameters' kinds).
template <class T> struct insert_tag;
template <class T> struct update_tag;
template <class T> struct remove_tag;
template <class T> struct upsert_tag;
template <class T, class... K> struct get_tag;
template <class Tag>
inline constexpr char fixed_tag_id = 0;
template <class Tag>
std::uint64_t fixed_tag() noexcept {
    return reinterpret_cast<std::uintptr_t>(&fixed_tag_id<Tag>);
}

// What a Repo call does, for routing and retries: reads may go to a replica and always run
// again after a transient failure; writes go to the primary and run again only when the
// failure proves they took no effect.
// Raw SQL is a write that is never run again: quarry cannot tell what it did before failing.
enum class Access : std::uint8_t { read, write, raw };

// A reference to a callable taking a session, so the router's loop lives in lib/, not in every
// caller's instantiation.
class SessionFn {
public:
    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, SessionFn>)
    explicit SessionFn(F& f) noexcept : ctx_(&f), call_([](void* c, core::Session& s) { (*static_cast<F*>(c))(s); }) {}
    void operator()(core::Session& s) const { call_(ctx_, s); }

private:
    void* ctx_;
    void (*call_)(void*, core::Session&);
};

// The session a pooled transaction holds on this thread. As in Ecto, a call on any Repo over
// that pool made by this thread inside the transaction runs on it (so it is part of the
// transaction), never on a second connection. Defined in lib/repo/routing.cpp.
core::Session* bound_session(const Pool* pool) noexcept;
class TxBinding {
public:
    TxBinding(const Pool* pool, core::Session& session) noexcept;
    ~TxBinding();
    TxBinding(const TxBinding&) = delete;
    TxBinding& operator=(const TxBinding&) = delete;

private:
    friend core::Session* bound_session(const Pool* pool) noexcept;
    const Pool* pool_;
    core::Session* session_;
    TxBinding* outer_;
};

// The session a Repo call runs on: the Repo's own, or a pool's, checked out for the call.
class SessionUse {
public:
    explicit SessionUse(core::Session& s) noexcept : s_(&s) {}
    explicit SessionUse(Lease l) noexcept : lease_(std::move(l)), s_(&lease_.session()) {}
    core::Session& operator*() const noexcept { return *s_; }
    core::Session* operator->() const noexcept { return s_; }

private:
    Lease lease_;
    core::Session* s_;
};

}  // namespace detail

// A lazy, single-pass input range over a query's rows, in constant memory. Copies share one
// cursor (range-v3 views must be copyable); the cursor closes when the last copy goes.
template <class R>
class Stream : public std::ranges::view_base {  // not view_interface: clang 14 cannot instantiate it here
    struct State {
        std::optional<detail::SessionUse> use;  // a pooled session stays checked out while read
        core::Session* session = nullptr;
        core::NodePtr keep;  // the query's parameters live in its nodes
        core::Session::OpenStream open;
        std::optional<R> current;
        bool started = false;
        ~State() {
            if (session) session->end_stream(open);
        }
        void advance() {
            if (session->next(open)) {
                current = detail::decode_row<R>(open.cursor->row());
                return;
            }
            current.reset();
            session->end_stream(open);  // done: release the cursor (and its transaction) early
        }
    };

public:
    class iterator {
    public:
        using value_type = R;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(State* s) : s_(s) {}
        R& operator*() const { return *s_->current; }
        R* operator->() const { return &*s_->current; }
        iterator& operator++() {
            s_->advance();
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.s_ || !it.s_->current; }

    private:
        State* s_ = nullptr;
    };

    Stream() = default;
    Stream(detail::SessionUse use, core::NodePtr query, std::uint32_t batch) : st_(std::make_shared<State>()) {
        core::Session& session = *use;
        st_->use.emplace(std::move(use));
        st_->open = session.open_stream(*query, batch);
        st_->session = &session;
        st_->keep = std::move(query);
    }
    iterator begin() {
        if (!st_) return iterator();
        if (!st_->started) {
            st_->started = true;
            st_->advance();
        }
        return iterator(st_.get());
    }
    std::default_sentinel_t end() const noexcept { return {}; }

private:
    std::shared_ptr<State> st_;
};

template <class T>
class Changeset;
template <class T>
class Result;
class Repo;
class Multi;
class MultiResult;

// Lifecycle hooks of a schema: specialise quarry::hooks<T> with any of
//   static void before_insert(Repo&, T& row);        static void after_insert(Repo&, const T& stored);
//   static void before_update(Repo&, T& row);        static void after_update(Repo&, const T& stored);
//   static void before_delete(Repo&, const T& row);  static void after_delete(Repo&, const T& row);
// They run for single-row writes (insert, update, remove, their changeset forms), in the same
// transaction as the write: a hook that throws (quarry::Veto to refuse with a message) rolls
// back the write and everything the hooks did. A before hook may change the row it is given.
template <class T>
struct hooks {};

namespace detail {
enum class hook_point { insert, update, remove };
template <hook_point P, class T>
constexpr bool has_hooks() {
    if constexpr (P == hook_point::insert)
        return requires(Repo& r, T& t) { hooks<T>::before_insert(r, t); } || requires(Repo& r, const T& t) { hooks<T>::after_insert(r, t); };
    else if constexpr (P == hook_point::update)
        return requires(Repo& r, T& t) { hooks<T>::before_update(r, t); } || requires(Repo& r, const T& t) { hooks<T>::after_update(r, t); };
    else
        return requires(Repo& r, const T& t) { hooks<T>::before_delete(r, t); } || requires(Repo& r, const T& t) { hooks<T>::after_delete(r, t); };
}
template <hook_point P, class T, class R>
void hook_before(R& r, T& row) {
    if constexpr (P == hook_point::insert && requires { hooks<T>::before_insert(r, row); }) hooks<T>::before_insert(r, row);
    if constexpr (P == hook_point::update && requires { hooks<T>::before_update(r, row); }) hooks<T>::before_update(r, row);
    if constexpr (P == hook_point::remove && requires { hooks<T>::before_delete(r, std::as_const(row)); }) hooks<T>::before_delete(r, std::as_const(row));
}
template <hook_point P, class T, class R>
void hook_after(R& r, const T& row) {
    if constexpr (P == hook_point::insert && requires { hooks<T>::after_insert(r, row); }) hooks<T>::after_insert(r, row);
    if constexpr (P == hook_point::update && requires { hooks<T>::after_update(r, row); }) hooks<T>::after_update(r, row);
    if constexpr (P == hook_point::remove && requires { hooks<T>::after_delete(r, row); }) hooks<T>::after_delete(r, row);
}
}  // namespace detail

struct RepoOptions {
    // Outside a transaction, on a pool, a statement that fails with a transient error (a lost
    // connection, a busy database, a serialisation failure or deadlock) runs again, up to this
    // many times, after a pause with jitter: a read always, a write only when the error proves
    // it took no effect (it was never sent, or the server ended the session before running it).
    int statement_retries = 2;
};

class Repo {
public:
    // See core::connect for the connection strings. The statement cache holds this many
    // prepared statements (least recently used ones are finalised first).
    explicit Repo(std::string_view url, std::size_t statement_cache = 256)
        : owned_(std::make_unique<core::Session>(core::connect(url), statement_cache)), session_(owned_.get()) {}
    // On a pool: thread-safe; each call checks a session out for its duration, a transaction
    // holds one until it ends (the Repo its function gets is bound to that session).
    explicit Repo(Pool& pool, RepoOptions options = {}) : pool_(&pool), options_(options) {}
    // Reads outside a transaction go to `replicas` (a failed replica's to the primary); writes,
    // raw SQL and everything inside a transaction go to `primary`.
    Repo(Pool& primary, Replicas& replicas, RepoOptions options = {})
        : pool_(&primary), replicas_(&replicas), options_(options),
          written_(replicas.options().read_your_writes ? std::make_shared<std::atomic<std::uint64_t>>(0) : nullptr) {}

    const Dialect& dialect() const noexcept { return session_ ? session_->dialect() : pool_->dialect(); }
    // This Repo's session's statement cache (empty for a Repo on a pool: see Pool::metrics).
    CacheStats cache_stats() const noexcept { return session_ ? session_->cache_stats() : CacheStats{}; }
    // The one session this Repo runs on; a Repo on a pool has one only inside transaction().
    core::Session& session() {
        core::Session* s = current_session();
        if (!s) throw QueryError("a Repo on a pool has no session of its own outside transaction() (use pool.acquire())");
        return *s;
    }
    bool pooled() const noexcept { return pool_ != nullptr; }
    // Whether calls on this Repo (from this thread) run inside a transaction now.
    bool in_transaction() const noexcept {
        const core::Session* s = current_session();
        return s && s->depth() > 0;
    }
    Pool* pool() const noexcept { return pool_; }
    // The session for one call: this Repo's own, or one checked out of the pool until the
    // returned value goes (for code beside the Repo that runs core statements).
    detail::SessionUse use() {
        core::Session* s = current_session();
        return s ? detail::SessionUse(*s) : detail::SessionUse(pool_->acquire());
    }
    // Runs f(session) once on the session this call should use: this Repo's own, or (on a pool)
    // one routed by `access`, with the retries of RepoOptions. A read with a `statement` goes to
    // a replica only when the statement neither writes nor locks (a read without one is known to
    // be plain). f may run more than once: it must start from scratch each time.
    template <class F>
    void on(detail::Access access, F&& f, const core::Node* statement = nullptr) {
        if (!session_) routed(access, statement, detail::SessionFn(f));
        else if (session_->guards_statements()) guarded(*session_, detail::SessionFn(f));
        else f(*session_);
    }
    // One QueryEvent per statement from now on (an empty sink turns telemetry off).
    void set_telemetry(TelemetrySink sink) {
        if (session_) session_->set_telemetry(std::move(sink));
        else pool_->set_telemetry(std::move(sink));
    }

    // Every row of a query, or of a statement's RETURNING list.
    template <class Q>
        requires requires(const Q& q) { q.node(); typename Q::row_type; }
    std::vector<typename Q::row_type> all(const Q& q) {
        static_assert(!std::is_void_v<typename Q::row_type>, "quarry: this statement returns no rows (add returning(...))");
        std::vector<typename Q::row_type> rows;
        on(detail::Access::read, [&](core::Session& s) {
            rows.clear();
            core::StatementRun run(s, *q.node());
            if (!run.step()) return;
            rows.reserve(run.rows_known());
            do rows.push_back(detail::decode_row<typename Q::row_type>(run.row()));
            while (run.step());
        }, q.node().get());
        return rows;
    }

    // The rows one at a time, in constant memory, as a C++20 input range (a range-v3 view too,
    // with quarry/ranges.hpp). Works outside a transaction. `batch`: rows per round trip where
    // the database fetches in batches (PostgreSQL).
    template <class Q>
        requires requires(const Q& q) { q.node(); typename Q::row_type; }
    Stream<typename Q::row_type> stream(const Q& q, std::uint32_t batch = 1000) {
        return Stream<typename Q::row_type>(session_ ? detail::SessionUse(*session_) : use_for_read(*q.node()), q.node(), batch);
    }

    // Exactly one row: NoResults when there is none, MultipleResults when there are more.
    template <class Q>
        requires requires(const Q& q) { q.node(); typename Q::row_type; }
    typename Q::row_type one(const Q& q) {
        auto row = one_or_none(q);
        if (!row) throw NoResults("one: the query returned no rows");
        return std::move(*row);
    }
    // At most one row: nullopt when there is none, MultipleResults when there are more.
    template <class Q>
        requires requires(const Q& q) { q.node(); typename Q::row_type; }
    std::optional<typename Q::row_type> one_or_none(const Q& q) {
        std::optional<typename Q::row_type> row;
        on(detail::Access::read, [&](core::Session& s) {
            row.reset();
            core::StatementRun run(s, *q.node());
            if (!run.step()) return;
            row = detail::decode_row<typename Q::row_type>(run.row());
            if (run.step()) throw MultipleResults("one: the query returned more than one row");
        }, q.node().get());
        return row;
    }

    // Whether the query returns any row (SELECT EXISTS(...): the database stops at the first).
    template <class R, class S>
    bool exists(const Query<R, S>& q) {
        bool found = false;
        on(detail::Access::read, [&](core::Session& s) {
            core::StatementRun run(s, s.run_wrapped(*q.node(), "SELECT EXISTS (", ")"));
            found = run.step() && run.row().boolean(0);
        }, q.node().get());
        return found;
    }

    // How many rows the query returns: counted over it as a derived table, so limit, offset and
    // distinct count as they select.
    template <class R, class S>
    std::int64_t count(const Query<R, S>& q) {
        std::int64_t n = 0;
        on(detail::Access::read, [&](core::Session& s) {
            core::StatementRun run(s, s.run_wrapped(*q.node(), "SELECT count(*) FROM (", ") AS \"q\""));
            run.step();
            n = run.row().integer(0);
        }, q.node().get());
        return n;
    }
    // sum / avg / min / max of one column over the rows the query returns (a derived table, as
    // count). The column must be in the query's select list (every column is, without select).
    // Empty input gives nullopt.
    template <class R, class S, class T, class M>
    auto sum(const Query<R, S>& q, M T::*member) {
        using Out = std::conditional_t<std::is_integral_v<M> && !std::is_same_v<M, bool>, std::int64_t, double>;
        return aggregate<Out>(q, "sum", column_info(member));
    }
    template <class R, class S, class T, class M>
    std::optional<double> avg(const Query<R, S>& q, M T::*member) {
        return aggregate<double>(q, "avg", column_info(member));
    }
    template <class R, class S, class T, class M>
    std::optional<M> min(const Query<R, S>& q, M T::*member) {
        return aggregate<M>(q, "min", column_info(member));
    }
    template <class R, class S, class T, class M>
    std::optional<M> max(const Query<R, S>& q, M T::*member) {
        return aggregate<M>(q, "max", column_info(member));
    }

    // The database's plan for a query or statement, one line per plan row.
    template <class Q>
        requires requires(const Q& q) { q.node(); }
    std::string explain(const Q& q) {
        const bool sqlite = dialect().name() == "sqlite";
        std::string out;
        on(detail::Access::read, [&](core::Session& s) {
            out.clear();
            core::StatementRun run(s, s.run_wrapped(*q.node(), sqlite ? "EXPLAIN QUERY PLAN " : "EXPLAIN ", ""));
            while (run.step()) {
                if (!out.empty()) out += '\n';
                out += run.row().text(run.row().size() - 1);  // SQLite: the detail column; PostgreSQL: the only one
            }
        }, q.node().get());
        return out;
    }

    // Raw SQL with `?` placeholders (`??` for a literal ?), every argument bound, rows mapped to
    // R like any query's (a struct by position, a tuple, or a single value).
    template <class R, class... A>
    std::vector<R> query(std::string_view sql, const A&... args) {
        auto holder = bind_args(args...);
        std::vector<R> rows;
        on(detail::Access::raw, [&](core::Session& s) {
            rows.clear();
            core::StatementRun run(s, s.run_sql(sql, params_of(*holder)));
            while (run.step()) rows.push_back(detail::decode_row<R>(run.row()));
        });
        return rows;
    }
    // Raw SQL that returns no rows; returns the number of rows changed.
    template <class... A>
    std::int64_t execute_sql(std::string_view sql, const A&... args) {
        auto holder = bind_args(args...);
        std::int64_t n = 0;
        on(detail::Access::raw, [&](core::Session& s) { n = run_write(s, s.run_sql(sql, params_of(*holder))); });
        return n;
    }

    // The row matching a predicate on T, if any (MultipleResults when several do).
    template <schema T, class E>
    std::optional<T> get_by(E predicate) {
        return one_or_none(from<T>() | where(std::move(predicate)));
    }

    // The row with this primary key (one value per key column, in declaration order).
    template <schema T, class... K>
    std::optional<T> get(const K&... key) {
        constexpr std::size_t n = std::tuple_size_v<decltype(table_traits<T>::primary_key)>;
        static_assert(n > 0, "quarry: get needs a primary key (QUARRY_TABLE(Type, \"name\", &Type::id))");
        static_assert(sizeof...(K) == n, "quarry: get takes one value per primary key column");
        core::Lowerer values{core::Lowerer::ValuesOnly{}};
        (value_traits<stored_t<const K&>>::bind(values, key), ...);
        std::optional<T> row;
        on(detail::Access::read, [&](core::Session& s) {
            core::StatementRun run(s, fixed(s, detail::fixed_tag<detail::get_tag<T, stored_t<const K&>...>>(), values, [&] {
                if constexpr (n == 1) {
                    return (from<T>() | where(col(std::get<0>(table_traits<T>::primary_key)) == key...)).node();
                } else {
                    filter<T> f;
                    std::apply([&](auto... pk) { std::apply([&](const auto&... k) { ((f &= col(pk) == k), ...); }, std::tie(key...)); },
                               table_traits<T>::primary_key);
                    return (from<T>() | where(f)).node();
                }
            }));
            // A key matches at most one row: one step, no check for a second.
            if (run.step()) row = detail::decode_row<T>(run.row());
        });
        return row;
    }

    // INSERT the row; returns it as stored, with database-generated fields filled (and
    // timestamps set, when the schema declares them).
    template <schema T>
    T insert(const T& row) {
        return hooked<detail::hook_point::insert>(row, [&](const T& r) {
            if constexpr (detail::stamps_inserts<T>) {
                T stamped = r;
                detail::stamp_insert(stamped, detail::now());
                return insert_row(stamped);
            } else {
                return insert_row(r);
            }
        });
    }

    // INSERT the row, or, when it conflicts with a stored row on the `target` columns (its
    // primary key or a unique constraint's), UPDATE that row's other columns to the row's values.
    // Returns the row as stored either way. A conflict on other columns is a ConstraintError.
    // A declared inserted_at keeps the stored row's value.
    template <schema T, class... M>
    T upsert(const T& row, M T::*... target) {
        if constexpr (detail::stamps_inserts<T>) {
            T stamped = row;
            detail::stamp_insert(stamped, detail::now());
            detail::stamp_update(stamped, detail::now());
            return upsert_row(stamped, target...);
        } else {
            return upsert_row(row, target...);
        }
    }

    // INSERT the row unless a stored row has the same `target` values (its primary key or a
    // unique constraint's columns); returns the stored row either way, the existing one
    // untouched (no write, unlike upsert). At REPEATABLE READ or SERIALIZABLE, a conflicting row
    // committed after the transaction began is not visible: that is StaleEntry.
    template <schema T, class... M>
    T insert_or_get(const T& input, M T::*... target) {
        static_assert(sizeof...(M) > 0, "quarry: insert_or_get(row, &T::member...) needs the conflict target's columns");
        T row = input;
        if constexpr (detail::stamps_inserts<T>) detail::stamp_insert(row, detail::now());
        filter<T> same;
        ((same &= col(target) == row.*target), ...);
        // The existing row may be deleted between the two statements: try again, a few times.
        for (int attempt = 0; attempt < 3; ++attempt) {
            if (auto inserted = one_or_none(quarry::insert(row) | on_conflict_do_nothing(target...) | returning_all())) return std::move(*inserted);
            if (auto existing = one_or_none(from<T>() | with_deleted() | where(same))) return std::move(*existing);
        }
        throw StaleEntry("insert_or_get: the row it conflicts with is not visible (deleted meanwhile, or committed after this "
                         "transaction's snapshot)");
    }

private:
    // Runs write(row) -> stored row between the schema's hooks, in one transaction when there are hooks.
    template <detail::hook_point P, class T, class Write>
    T hooked(const T& row, Write&& write) {
        if constexpr (!detail::has_hooks<P, T>()) {
            return write(row);
        } else {
            return transaction([&](Repo& r) {
                T copy = row;
                detail::hook_before<P>(r, copy);
                T stored = write(std::as_const(copy));
                detail::hook_after<P>(r, std::as_const(stored));
                return stored;
            });
        }
    }

    template <schema T>
    T insert_row(const T& row) {
        core::Lowerer values{core::Lowerer::ValuesOnly{}};
        detail::for_insert_columns<T>([&](auto mp) { bind_member(values, row.*mp); });
        std::optional<T> out;
        on(detail::Access::write, [&](core::Session& s) {
            core::StatementRun run(s, fixed(s, detail::fixed_tag<detail::insert_tag<T>>(), values, [&] { return (quarry::insert(row) | returning_all()).node(); }));
            if (!run.step()) throw NoResults("insert: the database returned no row");
            out = finish_one<T>(run);
        });
        return std::move(*out);
    }

    template <schema T, class... M>
    T upsert_row(const T& row, M T::*... target) {
        static_assert(sizeof...(M) > 0, "quarry: upsert(row, &T::member...) needs the conflict target's columns");
        core::Lowerer values{core::Lowerer::ValuesOnly{}};
        detail::for_upsert_columns<T>(detail::pack<M T::*...>{target...}, [&](auto mp) { bind_member(values, row.*mp); });
        std::uint64_t tag = detail::fixed_tag<detail::upsert_tag<T>>();
        ((tag = core::mix(tag, reinterpret_cast<std::uintptr_t>(&column_info(target)))), ...);
        std::optional<T> out;
        on(detail::Access::write, [&](core::Session& s) {
            core::StatementRun run(s, fixed(s, tag, values, [&] { return quarry::upsert(row, target...).node(); }));
            if (!run.step()) throw NoResults("upsert: the database returned no row");
            out = finish_one<T>(run);
        });
        return std::move(*out);
    }
    template <schema T>
    const std::vector<T>& stamped_rows(const std::vector<T>& rows, std::vector<T>& copy) {
        if constexpr (!detail::stamps_inserts<T>) {
            return rows;
        } else {
            copy = rows;
            const auto t = detail::now();
            for (auto& r : copy) detail::stamp_insert(r, t);
            return copy;
        }
    }

public:

    // INSERT many rows, in as few statements as the database's parameter limit allows; all or
    // nothing (several statements run in one transaction, a savepoint when one is open).
    // Returns the number of rows inserted.
    template <schema T>
    std::int64_t insert_all(const std::vector<T>& input) {
        std::vector<T> copy;
        const std::vector<T>& rows = stamped_rows(input, copy);
        std::int64_t n = 0;
        for_each_chunk(rows, [&](const std::vector<T>& chunk) { n += execute(quarry::insert_all(chunk)); });
        return n;
    }
    // As insert_all, returning the rows as stored (generated fields filled), in input order.
    template <schema T>
    std::vector<T> insert_all_returning(const std::vector<T>& input) {
        std::vector<T> copy;
        const std::vector<T>& rows = stamped_rows(input, copy);
        std::vector<T> out;
        out.reserve(rows.size());
        for_each_chunk(rows, [&](const std::vector<T>& chunk) {
            for (auto& r : all(quarry::insert_all(chunk) | returning_all())) out.push_back(std::move(r));
        });
        return out;
    }

    // UPDATE every non-key column by primary key (and updated_at to now, when declared);
    // NoResults when no row has that key. With optimistic locking, the row must still have the
    // version it carries (StaleEntry otherwise), and the stored version becomes that plus one.
    template <schema T>
    void update(const T& row) {
        if constexpr (!detail::has_hooks<detail::hook_point::update, T>()) {
            update_row<T>(row, nullptr);
        } else {
            hooked<detail::hook_point::update>(row, [&](const T& r) {
                T written;
                update_row(r, &written);
                return written;
            });
        }
    }

    // DELETE by primary key; NoResults when no row has that key (StaleEntry with optimistic
    // locking, when the version differs). With soft delete, sets the row's deleted_at instead
    // (hard_delete deletes).
    template <schema T>
    void remove(const T& row) {
        if constexpr (!detail::has_hooks<detail::hook_point::remove, T>()) {
            remove_row<T>(row, nullptr);
        } else {
            hooked<detail::hook_point::remove>(row, [&](const T& r) {
                T written = r;
                remove_row(r, &written);
                return written;
            });
        }
    }

private:
    // `written`, when given, receives the row as stored (timestamps, lock version).
    template <schema T>
    void update_row(const T& input, T* written) {
        if constexpr (detail::stamps_updates<T>) {
            T stamped = input;
            detail::stamp_update(stamped, detail::now());
            update_exact(stamped);
            if (written) *written = std::move(stamped);
        } else {
            update_exact(input);
            if (written) *written = input;
        }
        if constexpr (detail::locked<T>)
            if (written) ++(written->*lock_member<T>());
    }
    template <schema T>
    void update_exact(const T& row) {
        core::Lowerer values{core::Lowerer::ValuesOnly{}};  // SET values, then the key: the order the statement renders them
        detail::for_each_column<T>([&](auto mp, const char*) {
            if (detail::is_role<T, core::ColumnRole::lock_version>(mp)) return;
            if (detail::updatable(column_info(mp))) bind_member(values, row.*mp);
        });
        if constexpr (detail::locked<T>) bind_member(values, row.*lock_member<T>() + 1);
        bind_key(values, row);
        std::int64_t n = 0;
        on(detail::Access::write, [&](core::Session& s) {
            n = run_write(s, fixed(s, detail::fixed_tag<detail::update_tag<T>>(), values, [&] { return quarry::update(row).node(); }));
        });
        if (n == 0) missing_row<T>("update");
    }

    template <schema T>
    void remove_row(const T& row, T* written) {
        if constexpr (detail::soft_deletes<T>) {
            T changed = soft_deleted(row, true);
            if (execute(soft_delete_statement(row, changed, core::DeletedScope::live)) == 0) missing_row<T>("remove");
            if (written) {
                *written = std::move(changed);
                if constexpr (detail::locked<T>) ++(written->*lock_member<T>());
            }
            return;
        }
        core::Lowerer values{core::Lowerer::ValuesOnly{}};
        bind_key(values, row);
        std::int64_t n = 0;
        on(detail::Access::write, [&](core::Session& s) {
            n = run_write(s, fixed(s, detail::fixed_tag<detail::remove_tag<T>>(), values, [&] { return quarry::remove(row).node(); }));
        });
        if (n == 0) missing_row<T>("remove");
    }

public:
    // Soft delete: DELETE the row for good, deleted or not.
    template <schema T>
    void hard_delete(const T& row) {
        if (execute(quarry::delete_all(detail::by_primary_key(row) | with_deleted())) == 0) missing_row<T>("hard_delete");
    }
    // Soft delete: clear a deleted row's deleted_at; NoResults when no deleted row has its key.
    template <schema T>
    void restore(const T& row) {
        static_assert(detail::soft_deletes<T>, "quarry: restore needs a soft-delete column (QUARRY_COLUMNS: .soft_delete())");
        if (execute(soft_delete_statement(row, soft_deleted(row, false), core::DeletedScope::only_deleted)) == 0) missing_row<T>("restore");
    }

    // Changesets (quarry/changeset.hpp): nothing is written when the changeset is invalid; a
    // violation of a constraint it declares comes back as a field error, not an exception.
    // insert writes the applied struct; update writes only the changed columns (nothing at all
    // when nothing changed) and returns the row as stored; remove deletes by the data's primary
    // key. update and remove throw StaleEntry when no row has that key.
    template <class T>
    Result<T> insert(Changeset<T> cs);
    template <class T>
    Result<T> update(Changeset<T> cs);
    template <class T>
    Result<T> remove(Changeset<T> cs);

    // Associations (quarry/assoc.hpp): loads each named association of the rows, one query per
    // association and level, never one per row. A spec is a member pointer (&User::posts) or
    // quarry::preload(&User::posts, query).limit(n).then(nested specs...).
    template <class T, class... Specs>
    void preload(std::vector<T>& rows, const Specs&... specs);
    template <class T, class... Specs>
    void preload(T& row, const Specs&... specs);

    // UPDATE ... SET for every row the query selects; returns the number of rows changed.
    // A declared updated_at is set to now, unless an assignment sets it.
    template <class R, class S, class... A>
    std::int64_t update_all(const Query<R, S>& q, A... assigns) {
        using T = typename S::first;
        if constexpr (detail::stamps_updates<T>) {
            constexpr auto stamp = detail::role_member<T, core::ColumnRole::updated_at>();
            const core::ColumnInfo* stamped = &column_info(stamp);
            if (!((assigns.target.info == stamped) || ...)) {
                using M = std::remove_cvref_t<decltype(std::declval<T&>().*stamp)>;
                M t{};
                detail::set_time(t, detail::now(), false);
                return execute(quarry::update_all(q, std::move(assigns)..., set(stamp, t)));
            }
        }
        return execute(quarry::update_all(q, std::move(assigns)...));
    }
    // DELETE every row the query selects; returns the number of rows deleted. With soft delete,
    // sets their deleted_at instead (hard_delete_all deletes).
    template <class R, class S>
    std::int64_t delete_all(const Query<R, S>& q) {
        using T = typename S::first;
        if constexpr (detail::soft_deletes<T>) {
            constexpr auto deleted = detail::role_member<T, core::ColumnRole::deleted_at>();
            using M = std::remove_cvref_t<decltype(std::declval<T&>().*deleted)>;
            M t;
            detail::set_time(t, detail::now(), false);
            return update_all(q, set(deleted, t));
        }
        return execute(quarry::delete_all(q));
    }
    // DELETE for good every row the query selects: deleted ones too, unless the query says
    // which with with_deleted() / only_deleted().
    template <class R, class S>
    std::int64_t hard_delete_all(const Query<R, S>& q) {
        for (const core::Node* n = q.node().get(); n; n = n->parent)
            if (n->kind == core::Clause::deleted) return execute(quarry::delete_all(q));
        return execute(quarry::delete_all(q | with_deleted()));
    }

    // Runs a write statement; returns the number of rows it changed.
    template <schema T, class R>
    std::int64_t execute(const Statement<T, R>& s) {
        std::int64_t n = 0;
        on(detail::Access::write, [&](core::Session& session) { n = run_write(session, session.run(*s.node())); });
        return n;
    }

    // Runs fn(repo) in a transaction: committed when fn returns, rolled back when it throws (the
    // exception then propagates). Nested calls are savepoints: an inner failure that fn catches
    // leaves the outer transaction usable.
    // With options.retries, a serialisation failure or deadlock runs fn again (see TxOptions).
    template <class F>
        requires std::invocable<F&, Repo&>
    decltype(auto) transaction(F&& fn, const TxOptions& options = {}) {
        const core::Session* current = current_session();
        const bool outermost = !current || current->depth() == 0;
        for (int attempt = 0;; ++attempt) {
            try {
                return transaction_once(fn, options);
            } catch (const SerializationFailure&) {
                if (!outermost || attempt >= options.retries) throw;
            } catch (const Deadlock&) {
                if (!outermost || attempt >= options.retries) throw;
            } catch (const ConnectionError& e) {
                // Lost before COMMIT (a lost COMMIT is InDoubt): the server rolled it back. On a
                // pool the next attempt gets another connection; a Repo's own session stays
                // broken. An open circuit breaker means: stop trying for now.
                if (!outermost || !pool_ || attempt >= options.retries || !e.is_transient() || dynamic_cast<const CircuitOpen*>(&e))
                    throw;
            }
            std::this_thread::sleep_for(core::retry_pause(attempt));
        }
    }

    // Runs a workflow's steps in a transaction (quarry/multi.hpp): every step's result, or the
    // step that failed and why, with everything rolled back.
    MultiResult transaction(const Multi& workflow, const TxOptions& options = {});

    // SQL text and parameters of a value on this repo's dialect (nothing runs).
    template <class Q>
        requires requires(const Q& q) { q.node(); }
    Rendered to_sql(const Q& q) const {
        return core::render(q.node(), dialect());
    }

private:
    template <class F>
    decltype(auto) transaction_once(F& fn, const TxOptions& options) {
        if (session_) return in_transaction(*this, fn, options);
        if (core::Session* held = detail::bound_session(pool_)) {  // inside this thread's transaction: a savepoint
            Repo bound(*held, *this);
            return in_transaction(bound, fn, options);
        }
        // Writer mode: the turn first, so that transactions waiting for it hold no connection.
        auto turn = options.read_only ? Pool::WriteTurn() : pool_->write_turn();
        Lease lease = pool_->acquire();  // on a pool: one session for the whole transaction
        detail::TxBinding binding(pool_, lease.session());
        Repo bound(lease.session(), *this);
        return in_transaction(bound, fn, options);
    }
    template <class F>
    static decltype(auto) in_transaction(Repo& r, F& fn, const TxOptions& options) {
        core::Session& s = *r.session_;
        s.begin(options);
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F&, Repo&>>) {
                fn(r);
                s.commit();
                if (r.written_ && s.depth() == 0) r.note_write(s);
            } else {
                decltype(auto) result = fn(r);
                s.commit();
                if (r.written_ && s.depth() == 0) r.note_write(s);
                return result;
            }
        } catch (...) {
            s.rollback();
            throw;
        }
    }

    template <class T, class Write>
    Result<T> write_changeset(Changeset<T> cs, Write&& write);

    // The row a write returned, after running the statement to its end: SQLite commits an
    // autocommit write (and checks deferred constraints) only then, and fails there if it must.
    template <class T>
    static T finish_one(core::StatementRun& run) {
        T row = detail::decode_row<T>(run.row());
        while (run.step()) {
        }
        return row;
    }
    static std::int64_t run_write(core::Session& s, core::Statement& bound) {
        core::StatementRun run(s, bound);
        while (run.step()) {
        }
        return run.rows_affected();
    }

    // The Repo's own statements have one shape per type: their parameters are bound straight
    // from the row, and the statement value is built (by `make`) only the first time a session
    // runs that shape. `values` must outlive the run: the statement points into it.
    template <class Make>
    static core::Statement& fixed(core::Session& s, std::uint64_t tag, const core::Lowerer& values, const Make& make) {
        return s.run_fixed(tag, values, [](const void* m) { return (*static_cast<const Make*>(m))(); }, &make);
    }
    template <class M>
    static void bind_member(core::Lowerer& l, const M& v) {
        value_traits<stored_t<const M&>>::bind(l, v);
    }
    // The primary key, and the lock version with optimistic locking: the row as it was read.
    template <class T>
    static void bind_key(core::Lowerer& l, const T& row) {
        std::apply([&](auto... pk) { (bind_member(l, row.*pk), ...); }, table_traits<T>::primary_key);
        if constexpr (detail::locked<T>) bind_member(l, row.*lock_member<T>());
    }
    // The row deleted now (`deleting`) or restored; updated_at too, when declared.
    template <class T>
    static T soft_deleted(const T& row, bool deleting) {
        constexpr auto deleted = detail::role_member<T, core::ColumnRole::deleted_at>();
        T changed = row;
        if (deleting) detail::set_time(changed.*deleted, detail::now(), false);
        else (changed.*deleted).reset();
        detail::stamp_update(changed, detail::now());
        return changed;
    }
    // UPDATE deleted_at (and updated_at) to `changed`'s, among the rows `scope` sees.
    template <class T>
    static Statement<T> soft_delete_statement(const T& row, const T& changed, core::DeletedScope scope) {
        return detail::update_columns(row, changed, [](auto mp, const core::ColumnInfo&) {
            return detail::is_role<T, core::ColumnRole::updated_at>(mp) || detail::is_role<T, core::ColumnRole::deleted_at>(mp);
        }, scope);
    }
    template <class T>
    static constexpr auto lock_member() {
        return detail::role_member<T, core::ColumnRole::lock_version>();
    }
    template <class T>
    [[noreturn]] static void missing_row(const char* what) {
        if constexpr (detail::locked<T>)
            throw StaleEntry(std::string(what) + ": no " + table_info<T>().name +
                             " row has this primary key and lock version (changed or deleted since it was read)");
        throw NoResults(std::string(what) + ": no " + table_info<T>().name + " row has this primary key");
    }

    template <class Out, class R, class S>
    std::optional<Out> aggregate(const Query<R, S>& q, std::string_view fn, const core::ColumnInfo& c) {
        std::string before = "SELECT ";
        before += fn;
        before += "(\"q\".";
        before += c.quoted;
        before += ") FROM (";
        std::optional<Out> out;
        on(detail::Access::read, [&](core::Session& s) {
            core::StatementRun run(s, s.run_wrapped(*q.node(), before, ") AS \"q\""));
            if (run.step() && !run.row().is_null(0)) out = value_traits<Out>::read(run.row(), 0);
            else out.reset();
        }, q.node().get());
        return out;
    }

    template <class T, class F>
    void for_each_chunk(const std::vector<T>& rows, F&& f) {
        if (rows.empty()) return;
        std::size_t width = 0;
        detail::for_insert_columns<T>([&](auto) { ++width; });
        const std::size_t per = std::max<std::size_t>(1, dialect().max_params() / std::max<std::size_t>(width, 1));
        if (rows.size() <= per) return f(rows);
        transaction([&](Repo&) {
            for (std::size_t at = 0; at < rows.size(); at += per) {
                std::vector<T> chunk(rows.begin() + static_cast<std::ptrdiff_t>(at),
                                     rows.begin() + static_cast<std::ptrdiff_t>(std::min(rows.size(), at + per)));
                f(chunk);
            }
        });
    }

    // Arguments of raw SQL become parameters exactly as query values bind them.
    template <class... A>
    static core::NodePtr bind_args(const A&... args) {
        core::Lowerer l;
        (value_traits<stored_t<const A&>>::bind(l, args), ...);
        return l.finish(core::Clause::where, {});
    }
    static std::vector<Value> params_of(const core::Node& n) { return {n.params().begin(), n.params().end()}; }

    // A Repo bound to one session of `parent`'s pool (inside a pooled transaction).
    Repo(core::Session& s, const Repo& parent)
        : session_(&s), pool_(parent.pool_), replicas_(parent.replicas_), options_(parent.options_), written_(parent.written_) {}

    // The router (lib/repo/routing.cpp): picks the pool (a replica for a plain read), runs f,
    // runs it again after a transient failure where that is safe (RepoOptions).
    void routed(detail::Access access, const core::Node* statement, detail::SessionFn f);
    detail::SessionUse use_for_read(const core::Node& statement);
    // f(s) in a savepoint of its own (the test sandbox on PostgreSQL: Session::guard_statements_at).
    static void guarded(core::Session& s, detail::SessionFn f);
    // The session calls run on without a checkout: this Repo's own, or this thread's pooled
    // transaction's; null on a pool outside a transaction.
    core::Session* current_session() const noexcept { return session_ ? session_ : detail::bound_session(pool_); }
    // Read-your-writes: remembers the primary's WAL position after a write or commit on `s`.
    void note_write(core::Session& s) noexcept;

    std::unique_ptr<core::Session> owned_;  // behind a pointer: a Repo moves, a Session does not
    core::Session* session_ = nullptr;      // null for a Repo on a pool, outside transaction()
    Pool* pool_ = nullptr;
    Replicas* replicas_ = nullptr;
    RepoOptions options_{};
    // Read-your-writes: the highest primary WAL position a write through this Repo reached.
    std::shared_ptr<std::atomic<std::uint64_t>> written_;
};

}  // namespace quarry
