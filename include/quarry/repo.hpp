// SPDX-License-Identifier: MIT
// Repo: runs query and statement values on a database and maps rows to C++ values.
//
//   quarry::Repo repo("sqlite:app.db");
//   auto adults = repo.all(from<User>() | where(col(&User::age) >= 18));
//   User saved = repo.insert(User{.name = "Ada", ...});     // generated fields filled
//   repo.transaction([&](quarry::Repo& r) { r.update(saved); });
#pragma once
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/hana/concept/struct.hpp>

#include "quarry/core/session.hpp"
#include "quarry/render.hpp"
#include "quarry/statements.hpp"

namespace quarry {

using core::CacheStats;
using core::Isolation;
using core::TxOptions;

namespace detail {

template <class R>
struct is_tuple : std::false_type {};
template <class... V>
struct is_tuple<std::tuple<V...>> : std::true_type {};

// One row to R: a Hana-adapted struct member by member, a tuple element by element, or a
// single value, always by position (the renderer lists columns in exactly that order).
template <class R>
R decode_row(const core::Row& r) {
    if constexpr (boost::hana::Struct<R>::value) {
        constexpr std::uint32_t n = members_of_tuple<decltype(boost::hana::accessors<R>())>::size;
        if (r.size() != n)
            throw DecodeError("*", "the row has " + std::to_string(r.size()) + " columns, the struct " +
                                       std::to_string(n) + " members");
        R out{};
        std::uint32_t i = 0;
        for_each_member<R>([&](auto mp, const char*) {
            using M = std::remove_cvref_t<decltype(out.*mp)>;
            out.*mp = value_traits<M>::read(r, i++);
        });
        return out;
    } else if constexpr (is_tuple<R>::value) {
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return R{value_traits<std::tuple_element_t<I, R>>::read(r, I)...};
        }(std::make_index_sequence<std::tuple_size_v<R>>{});
    } else {
        return value_traits<R>::read(r, 0);
    }
}

}  // namespace detail

class Repo {
public:
    // See core::connect for the connection strings. The statement cache holds this many
    // prepared statements (least recently used ones are finalised first).
    explicit Repo(std::string_view url, std::size_t statement_cache = 256)
        : session_(std::make_unique<core::Session>(core::connect(url), statement_cache)) {}

    const Dialect& dialect() const noexcept { return session_->dialect(); }
    CacheStats cache_stats() const noexcept { return session_->cache_stats(); }
    core::Session& session() noexcept { return *session_; }

    // Every row of a query, or of a statement's RETURNING list.
    template <class Q>
        requires requires(const Q& q) { q.node(); typename Q::row_type; }
    std::vector<typename Q::row_type> all(const Q& q) {
        static_assert(!std::is_void_v<typename Q::row_type>, "quarry: this statement returns no rows (add returning(...))");
        std::vector<typename Q::row_type> rows;
        core::StatementRun run(*session_, *q.node());
        while (run.step()) rows.push_back(detail::decode_row<typename Q::row_type>(run.row()));
        return rows;
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
        core::StatementRun run(*session_, *q.node());
        if (!run.step()) return std::nullopt;
        auto row = detail::decode_row<typename Q::row_type>(run.row());
        if (run.step()) throw MultipleResults("one: the query returned more than one row");
        return row;
    }

    // The row with this primary key (one value per key column, in declaration order).
    template <schema T, class... K>
    std::optional<T> get(const K&... key) {
        constexpr std::size_t n = std::tuple_size_v<decltype(table_traits<T>::primary_key)>;
        static_assert(n > 0, "quarry: get needs a primary key (QUARRY_TABLE(Type, \"name\", &Type::id))");
        static_assert(sizeof...(K) == n, "quarry: get takes one value per primary key column");
        filter<T> f;
        std::apply([&](auto... pk) { std::apply([&](const auto&... k) { ((f &= col(pk) == k), ...); }, std::tie(key...)); },
                   table_traits<T>::primary_key);
        return one_or_none(from<T>() | where(f));
    }

    // INSERT the row; returns it as stored, with database-generated fields filled.
    template <schema T>
    T insert(const T& row) {
        return one(quarry::insert(row) | returning_all());
    }

    // UPDATE every non-key column by primary key; NoResults when no row has that key.
    template <schema T>
    void update(const T& row) {
        if (execute(quarry::update(row)) == 0)
            throw NoResults("update: no " + table_info<T>().name + " row has this primary key");
    }

    // DELETE by primary key; NoResults when no row has that key.
    template <schema T>
    void remove(const T& row) {
        if (execute(quarry::remove(row)) == 0)
            throw NoResults("remove: no " + table_info<T>().name + " row has this primary key");
    }

    // Runs a write statement; returns the number of rows it changed.
    template <schema T, class R>
    std::int64_t execute(const Statement<T, R>& s) {
        core::StatementRun run(*session_, *s.node());
        while (run.step()) {
        }
        return run.rows_affected();
    }

    // Runs fn(repo) in a transaction: committed when fn returns, rolled back when it throws (the
    // exception then propagates). Nested calls are savepoints: an inner failure that fn catches
    // leaves the outer transaction usable.
    template <class F>
    decltype(auto) transaction(F&& fn, const TxOptions& options = {}) {
        session_->begin(options);
        try {
            if constexpr (std::is_void_v<std::invoke_result_t<F&, Repo&>>) {
                fn(*this);
                session_->commit();
            } else {
                decltype(auto) result = fn(*this);
                session_->commit();
                return result;
            }
        } catch (...) {
            session_->rollback();
            throw;
        }
    }

    // SQL text and parameters of a value on this repo's dialect (nothing runs).
    template <class Q>
        requires requires(const Q& q) { q.node(); }
    Rendered to_sql(const Q& q) const {
        return core::render(q.node(), dialect());
    }

private:
    std::unique_ptr<core::Session> session_;  // behind a pointer: a Repo moves, a Session does not
};

}  // namespace quarry
