// SPDX-License-Identifier: MIT
// A minimal heterogeneous pack for the children of typed expressions and clauses.
//
// std::tuple would do, but every expression of every query instantiates one, and its converting
// constructors, allocator overloads and recursive _Tuple_impl chain made up a fifth of the
// functions a TU of twenty queries instantiated (bench/compile_time.sh). A pack only stores its
// members and hands them to a function, which is all the typed face needs.
#pragma once
#include <cstddef>
#include <type_traits>
#include <utility>

namespace quarry::detail {

template <std::size_t I, class T>
struct pack_leaf {
    T value{};  // value-initialised, as std::tuple's are
};

template <class Seq, class... T>
struct pack_impl;

template <std::size_t... I, class... T>
struct pack_impl<std::index_sequence<I...>, T...> : pack_leaf<I, T>... {
    static constexpr std::size_t size = sizeof...(T);

    constexpr pack_impl() = default;
    // Not explicit: clauses are brace-initialised, `select_clause<...>{{a, b}}`.
    template <class... U>
        requires(sizeof...(U) == sizeof...(T) && sizeof...(T) > 0 &&
                 !(std::is_same_v<std::remove_cvref_t<U>, pack_impl> || ...) && (std::is_constructible_v<T, U> && ...))
    constexpr pack_impl(U&&... v) : pack_leaf<I, T>{std::forward<U>(v)}... {}

    // f(member...), in order.
    template <class F>
    constexpr decltype(auto) apply(F&& f) const {
        return std::forward<F>(f)(static_cast<const pack_leaf<I, T>&>(*this).value...);
    }
    // Lowers each member in order: what most users of a pack do, without a lambda per call site.
    template <class L>
    void lower_each(L& l) const {
        (static_cast<const pack_leaf<I, T>&>(*this).value.lower(l), ...);
    }
    template <std::size_t K>
    constexpr const auto& get() const {
        return get_leaf<K>(*this).value;
    }

private:
    template <std::size_t K, class U>
    static constexpr const pack_leaf<K, U>& get_leaf(const pack_leaf<K, U>& leaf) { return leaf; }
};

template <class... T>
using pack = pack_impl<std::index_sequence_for<T...>, T...>;

}  // namespace quarry::detail
