// SPDX-License-Identifier: MIT
// Changesets, part 3: validations and constraint declarations, piped into a changeset.
// See quarry/changeset.hpp.
#pragma once
#include "quarry/changeset/core.hpp"

namespace quarry {

// ---- validations --------------------------------------------------------------------------

namespace detail {
template <class M>
bool is_blank(const M& v) {
    if constexpr (is_optional<M>::value) return !v || is_blank(*v);
    else if constexpr (std::is_convertible_v<const M&, std::string_view>) return is_blank_text(v);
    else return false;
}
// Runs f(value) on a field's change, or its value cast from the input even when it equals the
// data's (a new row's default), skipping NULL.
template <class T, class M, class F>
void on_change(const Changeset<T>& cs, M T::*mp, F&& f) {
    if (!cs.changed(mp) && !cs.supplied(mp)) return;
    const M& v = cs.get_field(mp);
    if constexpr (is_optional<M>::value) {
        if (v) f(*v);
    } else {
        f(v);
    }
}
std::int64_t checked_count(std::size_t n);
// A field of a new row that is not text or optional (whose blankness says nothing), neither
// cast from the input, nor changed, nor set in the data: `T{}` left it.
template <class T, class M>
bool never_given(const Changeset<T>& cs, M T::*mp) {
    if constexpr (is_optional<M>::value || std::is_convertible_v<const M&, std::string_view> || !std::equality_comparable<M>) {
        return false;
    } else {
        static const T blank{};
        return !cs.supplied(mp) && !cs.changed(mp) && cs.data().*mp == blank.*mp && cs.new_row();
    }
}
}  // namespace detail

// The fields must be present and not blank (NULL, or text that is empty or only whitespace).
// A field of another type (a number, a bool, a time) of a new row (Changeset::new_row) must come
// from the input or a change, or have been set in the data: its type's default value, left
// there by `T{}`, is not a value anyone gave.
template <class T, class... M>
struct validate_required_t {
    std::tuple<M T::*...> members;
    std::string message = "can't be blank";
    void apply(Changeset<T>& cs) const {
        std::apply([&](auto... mp) {
            (([&] {
                 const auto& name = Changeset<T>::fields::name(mp);
                 if (!cs.has_error(name) && (detail::is_blank(cs.get_field(mp)) || detail::never_given(cs, mp)))
                     cs.add_error(name, message, "required");
             }()),
             ...);
        }, members);
    }
};
template <class T, class... M>
validate_required_t<T, M...> validate_required(M T::*... mp) {
    static_assert(sizeof...(M) > 0, "quarry: validate_required needs at least one field");
    return {{mp...}};
}

// The text change must match the regular expression (anywhere in it, as Ecto's =~: anchor it).
namespace detail {
// An ECMAScript pattern compiled in lib/: <regex> would cost every TU that includes the Repo
// about a third of a second. Matched in time linear in the text, with a stack that does not
// grow with it (the text is untrusted input), so back-references are refused. Throws
// std::regex_error for a malformed pattern.
class FormatPattern {
public:
    explicit FormatPattern(std::string_view ecmascript);
    bool found_in(std::string_view text) const;

private:
    std::shared_ptr<const void> regex_;  // a std::regex
};
template <class P>
bool format_found(const P& pattern, std::string_view text) {
    if constexpr (std::is_same_v<P, FormatPattern>) return pattern.found_in(text);
    else return regex_search(text.begin(), text.end(), pattern);  // a std::regex of the caller's, found by ADL
}
}  // namespace detail
template <class T, class M, class Pattern>
struct validate_format_t {
    M T::*member;
    Pattern pattern;
    std::string message = "has invalid format";
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const auto& v) {
            if (!detail::format_found(pattern, std::string_view(v))) cs.add_error(member, message, "format");
        });
    }
};
template <class T, class M>
validate_format_t<T, M, detail::FormatPattern> validate_format(M T::*mp, std::string_view pattern,
                                                               std::string message = "has invalid format") {
    return {mp, detail::FormatPattern(pattern), std::move(message)};
}
// With a std::regex built by the caller (any flags).
template <class T, class M, class Regex>
    requires(!std::is_convertible_v<const Regex&, std::string_view>)
validate_format_t<T, M, Regex> validate_format(M T::*mp, Regex pattern, std::string message = "has invalid format") {
    return {mp, std::move(pattern), std::move(message)};
}

// What validate_length counts in text: Unicode code points (the default) or bytes.
enum class count_in : std::uint8_t { codepoints, bytes };
struct length_opts {
    std::optional<std::size_t> min{}, max{}, is{};
    count_in count = count_in::codepoints;
    std::string message{};  // replaces the default messages when set
};
template <class T, class M>
struct validate_length_t {
    M T::*member;
    length_opts o;
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const auto& v) {
            using V = std::remove_cvref_t<decltype(v)>;
            std::size_t n = 0;
            std::string unit, type;
            if constexpr (std::is_convertible_v<const V&, std::string_view>) {
                const bool bytes = o.count == count_in::bytes;
                n = bytes ? std::string_view(v).size() : detail::utf8_length(v);
                unit = bytes ? "byte(s)" : "character(s)";
                type = bytes ? "binary" : "string";
            } else {
                n = std::size(v);
                unit = "item(s)";
                type = "list";
            }
            auto fail = [&](const char* kind, std::size_t count, std::string_view phrase) {
                std::string msg = o.message.empty() ? std::string(phrase) + " %{count} " + unit : o.message;
                cs.add_error(member, std::move(msg), "length",
                             {{"kind", std::string(kind)}, {"count", detail::checked_count(count)}, {"type", type}});
            };
            if (o.is && n != *o.is) fail("is", *o.is, "should be");
            else if (o.min && n < *o.min) fail("min", *o.min, "should be at least");
            else if (o.max && n > *o.max) fail("max", *o.max, "should be at most");
        });
    }
};
template <class T, class M>
validate_length_t<T, M> validate_length(M T::*mp, length_opts o) {
    return {mp, std::move(o)};
}

// Bounds on a number: validate_number(&T::age, {.ge = 0, .lt = 150}).
template <class N>
struct number_opts {
    std::optional<N> gt{}, ge{}, lt{}, le{}, eq{}, ne{};  // lower bounds first: {.ge = 0, .lt = 150}
    std::string message{};
};
template <class T, class M>
struct validate_number_t {
    using N = typename detail::unwrap_optional<M>::type;
    M T::*member;
    number_opts<N> o;
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const N& v) {
            auto check = [&](const std::optional<N>& bound, bool ok, const char* kind, const char* phrase) {
                if (!bound || ok || cs.has_error(Changeset<T>::fields::name(member))) return;
                ErrorParam number;
                if constexpr (std::is_integral_v<N>) number = static_cast<std::int64_t>(*bound);
                else number = static_cast<double>(*bound);
                cs.add_error(member, o.message.empty() ? std::string(phrase) + " %{number}" : o.message, "number",
                             {{"kind", std::string(kind)}, {"number", number}});
            };
            check(o.lt, o.lt && v < *o.lt, "less_than", "must be less than");
            check(o.le, o.le && v <= *o.le, "less_than_or_equal_to", "must be less than or equal to");
            check(o.gt, o.gt && v > *o.gt, "greater_than", "must be greater than");
            check(o.ge, o.ge && v >= *o.ge, "greater_than_or_equal_to", "must be greater than or equal to");
            check(o.eq, o.eq && v == *o.eq, "equal_to", "must be equal to");
            check(o.ne, o.ne && v != *o.ne, "not_equal_to", "must be not equal to");
        });
    }
};
template <class T, class M>
validate_number_t<T, M> validate_number(M T::*mp, std::type_identity_t<number_opts<typename detail::unwrap_optional<M>::type>> o) {
    return {mp, std::move(o)};
}

namespace detail {
template <class V>
std::vector<std::string> describe_values(const std::vector<V>& values) {
    std::vector<std::string> out;
    for (const auto& v : values) {
        if constexpr (std::is_convertible_v<const V&, std::string_view>) out.emplace_back(std::string_view(v));
        else if constexpr (std::is_arithmetic_v<V>) out.push_back(std::to_string(v));
        else if constexpr (mapped_enum<V> && enum_is_text<V>) {
            for (const auto& e : enum_mapping<V>::values)
                if (e.value == v) out.emplace_back(e.name);
        } else if constexpr (mapped_enum<V>) out.push_back(std::to_string(enum_number(v)));
    }
    return out;
}
}  // namespace detail

// The change must be one of `values` (inclusion) or none of them (exclusion).
template <class T, class M, bool Inside>
struct validate_membership_t {
    using V = typename detail::unwrap_optional<M>::type;
    M T::*member;
    std::vector<V> values;
    std::string message;
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const V& v) {
            const bool found = std::find(values.begin(), values.end(), v) != values.end();
            if (found != Inside)
                cs.add_error(member, message, Inside ? "inclusion" : "exclusion", {{"enum", detail::describe_values(values)}});
        });
    }
};
template <class T, class M>
validate_membership_t<T, M, true> validate_inclusion(M T::*mp, std::vector<typename detail::unwrap_optional<M>::type> values,
                                                     std::string message = "is invalid") {
    return {mp, std::move(values), std::move(message)};
}
template <class T, class M>
validate_membership_t<T, M, false> validate_exclusion(M T::*mp, std::vector<typename detail::unwrap_optional<M>::type> values,
                                                      std::string message = "is reserved") {
    return {mp, std::move(values), std::move(message)};
}

// Every element of a list field's change must be one of `values`.
template <class T, class M>
struct validate_subset_t {
    using V = typename M::value_type;
    M T::*member;
    std::vector<V> values;
    std::string message;
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const M& list) {
            for (const auto& x : list)
                if (std::find(values.begin(), values.end(), x) == values.end()) {
                    cs.add_error(member, message, "subset", {{"enum", detail::describe_values(values)}});
                    return;
                }
        });
    }
};
template <class T, class M>
validate_subset_t<T, M> validate_subset(M T::*mp, std::vector<typename M::value_type> values,
                                        std::string message = "has an invalid entry") {
    return {mp, std::move(values), std::move(message)};
}

// The input must carry `<field>_confirmation` equal to the field's change; the error goes on
// `<field>_confirmation`. A missing confirmation is an error only when `required`.
template <class T, class M>
struct validate_confirmation_t {
    M T::*member;
    bool required = false;
    std::string message = "does not match confirmation";
    void apply(Changeset<T>& cs) const {
        if (!cs.changed(member)) return;
        const std::string key = Changeset<T>::fields::name(member) + "_confirmation";
        const Param* in = cs.param(key);
        if (!in) {
            if (required) cs.add_error(key, "can't be blank", "required");
            return;
        }
        M confirmation{};
        if (cast_traits<M>::cast(*in, confirmation) != CastResult::ok || !(confirmation == cs.get_field(member)))
            cs.add_error(key, message, "confirmation");
    }
};
template <class T, class M>
validate_confirmation_t<T, M> validate_confirmation(M T::*mp, bool required = false,
                                                    std::string message = "does not match confirmation") {
    return {mp, required, std::move(message)};
}

// The input key (a form's checkbox, not a stored field) must be present and true.
struct validate_acceptance {
    std::string key;
    std::string message = "must be accepted";
    explicit validate_acceptance(std::string k, std::string m = "must be accepted") : key(std::move(k)), message(std::move(m)) {}
    template <class T>
    void apply(Changeset<T>& cs) const {
        const Param* in = cs.param(key);
        bool yes = false;
        if (!in || detail::cast_boolean(*in, yes) != CastResult::ok || !yes) cs.add_error(key, message, "acceptance");
    }
};

// Custom: f(value of the change) returns an error message, or nullopt when the value is fine.
template <class T, class M, class F>
struct validate_change_t {
    M T::*member;
    F check;
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const auto& v) {
            if (std::optional<std::string> msg = check(v)) cs.add_error(member, std::move(*msg), "custom");
        });
    }
};
template <class T, class M, class F>
validate_change_t<T, M, F> validate_change(M T::*mp, F check) {
    return {mp, std::move(check)};
}

// ---- constraint declarations --------------------------------------------------------------

namespace detail {
template <class T, class M>
std::string column_name_of(M T::*mp) {
    if constexpr (schema<T>) return column_info(mp).name;
    else return field_table<T>::name(mp);
}
template <class T>
struct constraint_t {
    ConstraintDecl decl;
    void apply(Changeset<T>& cs) const { cs.add_constraint(decl); }
    constraint_t named(std::string name, NameMatch how = NameMatch::exact) && {
        decl = std::move(decl).named(std::move(name), how);
        return std::move(*this);
    }
    constraint_t with_message(std::string m) && {
        decl.message = std::move(m);
        return std::move(*this);
    }
};
template <class T, class M, class... More>
constraint_t<T> make_constraint(ConstraintKind kind, const char* validation, const char* message, M T::*first, More T::*... more) {
    ConstraintDecl d;
    d.kind = kind;
    d.field = field_table<T>::name(first);
    d.columns = {column_name_of(first), column_name_of(more)...};
    d.message = message;
    d.validation = validation;
    return {std::move(d)};
}
}  // namespace detail

// A unique index or constraint (also the primary key) over these columns; the error goes on the
// first. Matched by name — `<table>_<columns>_index` (Ecto's migrations) or `<table>_<columns>_key`
// (PostgreSQL's UNIQUE) unless .named(...) — or, where the database names no constraint (SQLite's
// inline UNIQUE), by its columns.
template <class T, class M, class... More>
detail::constraint_t<T> unique_constraint(M T::*first, More T::*... more) {
    return detail::make_constraint(ConstraintKind::unique, "unique", "has already been taken", first, more...);
}
// A foreign key from this column: conventionally named `<table>_<column>_fkey`. On SQLite, which
// names no constraint, the Repo finds the reference that failed.
template <class T, class M>
detail::constraint_t<T> foreign_key_constraint(M T::*mp) {
    return detail::make_constraint(ConstraintKind::foreign_key, "foreign_key", "does not exist", mp);
}
// A CHECK constraint: its name is required.
template <class T, class M>
detail::constraint_t<T> check_constraint(M T::*mp, std::string name, NameMatch how = NameMatch::exact) {
    return detail::make_constraint(ConstraintKind::check, "check", "is invalid", mp).named(std::move(name), how);
}
// A PostgreSQL exclusion constraint: conventionally `<table>_<column>_excl`.
template <class T, class M>
detail::constraint_t<T> exclusion_constraint(M T::*mp) {
    return detail::make_constraint(ConstraintKind::exclusion, "exclusion", "violates an exclusion constraint", mp);
}

}  // namespace quarry
