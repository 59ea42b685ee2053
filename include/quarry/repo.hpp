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

#include "quarry/core/session.hpp"
#include "quarry/pool.hpp"
#include "quarry/render.hpp"
#include "quarry/repo/routing.hpp"
#include "quarry/repo/rows.hpp"
#include "quarry/repo/stamps.hpp"
#include "quarry/statements.hpp"

namespace quarry {

using core::CacheStats;
using core::QueryEvent;
using core::stderr_logger;
using core::TelemetrySink;
using core::Isolation;
using core::TxOptions;


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
        : owned_(std::make_shared<core::Session>(core::connect(url), statement_cache)), session_(owned_.get()), keeper_(owned_) {}
    // On a pool: thread-safe; each call checks a session out for its duration, a transaction
    // holds one until it ends (the Repo its function gets is bound to that session).
    explicit Repo(Pool& pool, RepoOptions options = {}) : pool_(&pool), options_(options) {}
    // Movable, not copyable: a copy would share one session (not thread-safe) without saying so.
    Repo(Repo&&) = default;
    Repo& operator=(Repo&&) = default;
    Repo(const Repo&) = delete;
    Repo& operator=(const Repo&) = delete;
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
    // Whether that transaction has been ended by the database itself after an error (SQLite's ON
    // CONFLICT ROLLBACK, say): its writes are undone and its statements fail with
    // TransactionAborted until the outermost transaction() is left.
    bool transaction_ended() const noexcept {
        const core::Session* s = current_session();
        return s && s->transaction_ended();
    }
    Pool* pool() const noexcept { return pool_; }
    // The session for one call: this Repo's own, or one checked out of the pool until the
    // returned value goes (for code beside the Repo that runs core statements).
    detail::SessionUse use() {
        if (session_) return detail::SessionUse(*session_, keeper_);
        if (core::Session* held = detail::bound_session(pool_)) return detail::SessionUse(*held, detail::bound_keeper(pool_));
        return detail::SessionUse(pool_->acquire());
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
        return Stream<typename Q::row_type>(session_ ? detail::SessionUse(*session_, keeper_) : use_for_read(*q.node()), q.node(), batch);
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
        // A nullable column sums as its values do; a duration sums to the same duration type.
        using V = typename detail::unwrap_optional<M>::type;
        using Out = std::conditional_t<
            family_of<V> == family::duration, V,
            std::conditional_t<std::is_integral_v<V> && !std::is_same_v<V, bool>, std::int64_t, double>>;
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
        core::ParamList values;
        (detail::bind_param<stored_t<const K&>>(values, key), ...);
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
    T insert(const T& row);

    // INSERT the row, or, when it conflicts with a stored row on the `target` columns (its
    // primary key or a unique constraint's), UPDATE that row's other columns to the row's values.
    // Returns the row as stored either way. A conflict on other columns is a ConstraintError.
    // A declared inserted_at keeps the stored row's value.
    template <schema T, class... M>
    T upsert(const T& row, M T::*... target);

    // INSERT the row unless a stored row has the same `target` values (its primary key or a
    // unique constraint's columns); returns the stored row either way, the existing one
    // untouched (no write, unlike upsert). At REPEATABLE READ or SERIALIZABLE, a conflicting row
    // committed after the transaction began is not visible: that is StaleEntry.
    template <schema T, class... M>
    T insert_or_get(const T& input, M T::*... target);

private:
    // Runs write(row) -> stored row between the schema's hooks, in one transaction when there are hooks.
    template <detail::hook_point P, class T, class Write>
    T hooked(const T& row, Write&& write);

    template <schema T>
    T insert_row(const T& row);

    template <schema T, class... M>
    T upsert_row(const T& row, M T::*... target);
    template <schema T>
    const std::vector<T>& stamped_rows(const std::vector<T>& rows, std::vector<T>& copy);

public:

    // INSERT many rows, in as few statements as the database's parameter limit allows; all or
    // nothing (several statements run in one transaction, a savepoint when one is open).
    // Returns the number of rows inserted.
    template <schema T>
    std::int64_t insert_all(const std::vector<T>& input);
    // As insert_all, returning the rows as stored (generated fields filled), in input order.
    template <schema T>
    std::vector<T> insert_all_returning(const std::vector<T>& input);

    // UPDATE every non-key column by primary key (and updated_at to now, when declared);
    // NoResults when no row has that key. With optimistic locking, the row must still have the
    // version it carries (StaleEntry otherwise), and the stored version becomes that plus one.
    // Returns the row as stored (its updated_at and lock version are the new ones).
    template <schema T>
    T update(const T& row);

    // DELETE by primary key; NoResults when no row has that key (StaleEntry with optimistic
    // locking, when the version differs). With soft delete, sets the row's deleted_at instead
    // (hard_delete deletes). Returns the row as it was deleted (soft: with its deleted_at).
    template <schema T>
    T remove(const T& row);

private:
    // `written`, when given, receives the row as stored (timestamps, lock version).
    template <schema T>
    void update_row(const T& input, T* written);
    template <schema T>
    void update_exact(const T& row);

    template <schema T>
    void remove_row(const T& row, T* written);

public:
    // Soft delete: DELETE the row for good, deleted or not.
    template <schema T>
    void hard_delete(const T& row);
    // Soft delete: clear a deleted row's deleted_at; NoResults when no deleted row has its key.
    template <schema T>
    void restore(const T& row);

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
    std::int64_t update_all(const Query<R, S>& q, A... assigns);
    // DELETE every row the query selects; returns the number of rows deleted. With soft delete,
    // sets their deleted_at instead (hard_delete_all deletes).
    template <class R, class S>
    std::int64_t delete_all(const Query<R, S>& q);
    // DELETE for good every row the query selects: deleted ones too, unless the query says
    // which with with_deleted() / only_deleted().
    template <class R, class S>
    std::int64_t hard_delete_all(const Query<R, S>& q);

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
            Repo bound(*held, *this, detail::bound_keeper(pool_));
            return in_transaction(bound, fn, options);
        }
        // Writer mode: the turn first, so that transactions waiting for it hold no connection.
        auto turn = options.read_only ? Pool::WriteTurn() : pool_->write_turn();
        // On a pool: one session for the whole transaction, and for what it returns that reads
        // from it (a stream), until that is done too.
        auto lease = std::make_shared<Lease>(pool_->acquire());
        detail::TxBinding binding(pool_, lease->session(), lease);
        Repo bound(lease->session(), *this, lease);
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
    static core::Statement& fixed(core::Session& s, std::uint64_t tag, const core::ParamList& values, const Make& make) {
        return s.run_fixed(tag, values, [](const void* m) { return (*static_cast<const Make*>(m))(); }, &make);
    }
    template <class M>
    static void bind_member(core::ParamList& l, const M& v) {
        detail::bind_param<stored_t<const M&>>(l, v);
    }
    // The primary key, and the lock version with optimistic locking: the row as it was read.
    template <class T>
    static void bind_key(core::ParamList& l, const T& row) {
        std::apply([&](auto... pk) { (bind_member(l, row.*pk), ...); }, table_traits<T>::primary_key);
        if constexpr (detail::locked<T>) bind_member(l, row.*lock_member<T>());
    }
    // The row deleted now (`deleting`) or restored; updated_at too, when declared.
    template <class T>
    static T soft_deleted(const T& row, bool deleting);
    // UPDATE deleted_at (and updated_at) to `changed`'s, among the rows `scope` sees.
    template <class T>
    static Statement<T> soft_delete_statement(const T& row, const T& changed, core::DeletedScope scope);
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
    void for_each_chunk(const std::vector<T>& rows, F&& f);

    // Arguments of raw SQL become parameters exactly as query values bind them.
    template <class... A>
    static core::NodePtr bind_args(const A&... args) {
        core::Lowerer l;
        (value_traits<stored_t<const A&>>::bind(l, args), ...);
        return l.finish(core::Clause::where, {});
    }
    static std::vector<Value> params_of(const core::Node& n) { return {n.params().begin(), n.params().end()}; }

    // A Repo bound to one session of `parent`'s pool (inside a pooled transaction), which
    // `keeper` keeps checked out.
    Repo(core::Session& s, const Repo& parent, std::shared_ptr<void> keeper)
        : session_(&s), keeper_(std::move(keeper)), pool_(parent.pool_), replicas_(parent.replicas_), options_(parent.options_),
          written_(parent.written_) {}

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

    std::shared_ptr<core::Session> owned_;  // behind a pointer: a Repo moves, a Session does not
    core::Session* session_ = nullptr;      // null for a Repo on a pool, outside transaction()
    // What keeps session_ alive and checked out: owned_, or a pooled transaction's lease. A
    // stream shares it, so a stream may outlive the Repo (or the transaction) it came from.
    std::shared_ptr<void> keeper_;
    Pool* pool_ = nullptr;
    Replicas* replicas_ = nullptr;
    RepoOptions options_{};
    // Read-your-writes: the highest primary WAL position a write through this Repo reached.
    std::shared_ptr<std::atomic<std::uint64_t>> written_;
};

}  // namespace quarry

#include "quarry/repo/writes.hpp"
