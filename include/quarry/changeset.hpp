// SPDX-License-Identifier: MIT
// Changesets: the step between untrusted input and the database.
//
//   auto cs = quarry::cast(User{}, form, &User::name, &User::email, &User::age)
//           | validate_required(&User::name, &User::email)
//           | validate_format(&User::email, "^[^@\\s]+@[^@\\s]+$")
//           | validate_number(&User::age, {.ge = 0, .lt = 150})
//           | unique_constraint(&User::email);
//   auto saved = repo.insert(cs);        // quarry::Result<User>: the stored row, or cs with errors
//
// A changeset holds the data it started from, the changes (the fields whose new value differs),
// the raw input and the errors. Validations check changes only, except validate_required, which
// checks the field's value. Constraints declared here turn a database violation into a field
// error when the Repo writes. JSON input and error output: quarry/changeset_json.hpp.
#pragma once
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "quarry/errors.hpp"
#include "quarry/expr.hpp"
#include "quarry/schema.hpp"

namespace quarry {

class Repo;

// ---- errors -------------------------------------------------------------------------------

// One parameter of an error: count = 3, kind = "min", type = "integer", enum = [...].
using ErrorParam = std::variant<std::int64_t, double, std::string, std::vector<std::string>>;

// An error on one field (or on the whole changeset, with an empty field). `message` keeps its
// %{key} placeholders so it can be translated; text() fills them from `params`.
struct FieldError {
    std::string field;
    std::string message;
    std::string validation;  // required, format, length, number, inclusion, ..., cast, unique, foreign_key, ...
    std::vector<std::pair<std::string, ErrorParam>> params;

    const ErrorParam* param(std::string_view key) const noexcept;
    std::string text() const;  // "should be at least 3 character(s)"
    friend bool operator==(const FieldError&, const FieldError&) = default;
};

// Every field's messages, interpolated: {"email": ["has already been taken"], ...}.
using ErrorMap = std::map<std::string, std::vector<std::string>>;
ErrorMap error_map(const std::vector<FieldError>& errors);

// An invalid changeset met where a valid one was required (Result::value(), apply_action).
class ChangesetInvalid : public Error {
public:
    ChangesetInvalid(std::string action, std::string type, std::vector<FieldError> errors);
    const std::string& action() const noexcept { return action_; }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }

private:
    std::string action_;
    std::vector<FieldError> errors_;
};

// ---- input --------------------------------------------------------------------------------

// One untrusted input value, as a form or a JSON body gives it.
struct Param {
    enum class Kind : std::uint8_t { null, boolean, integer, real, text, json };
    Kind kind = Kind::null;
    bool b = false;
    std::int64_t i = 0;
    double d = 0;
    std::string s;  // text; for Kind::json, the JSON text of an object or array

    static Param text(std::string_view v) { Param p; p.kind = Kind::text; p.s = v; return p; }
    bool is_empty() const noexcept { return kind == Kind::null || (kind == Kind::text && s.empty()); }
};
using Params = std::vector<std::pair<std::string, Param>>;

// What casting one input value did.
enum class CastResult : std::uint8_t { ok, blank, invalid };

namespace detail {
// Compiled once (lib/changeset/cast.cpp).
CastResult cast_integer(const Param& p, std::int64_t& out) noexcept;
CastResult cast_real(const Param& p, double& out) noexcept;
CastResult cast_boolean(const Param& p, bool& out) noexcept;
CastResult cast_text(const Param& p, std::string& out);       // UTF-8 checked
CastResult cast_timestamp(const Param& p, std::int64_t& micros) noexcept;
CastResult cast_date(const Param& p, std::chrono::year_month_day& out) noexcept;
CastResult cast_json(const Param& p, std::string& out);        // syntax checked
bool is_blank_text(std::string_view s) noexcept;                 // empty or only whitespace
std::size_t utf8_length(std::string_view s) noexcept;          // code points
}  // namespace detail

// How a C++ type is cast from untrusted input. Specialise for your own field types:
//   template <> struct quarry::cast_traits<Money> {
//       static constexpr std::string_view name = "money";     // the `type` of "is invalid"
//       static CastResult cast(const Param& in, Money& out);
//   };
template <class M, class = void>
struct cast_traits;

template <std::integral M>
    requires(!std::same_as<M, bool>)
struct cast_traits<M> {
    static constexpr std::string_view name = "integer";
    static CastResult cast(const Param& in, M& out) noexcept {
        std::int64_t v = 0;
        const CastResult r = detail::cast_integer(in, v);
        if (r != CastResult::ok) return r;
        if (!std::in_range<M>(v)) return CastResult::invalid;
        out = static_cast<M>(v);
        return r;
    }
};
template <std::floating_point M>
struct cast_traits<M> {
    static constexpr std::string_view name = "float";
    static CastResult cast(const Param& in, M& out) noexcept {
        double v = 0;
        const CastResult r = detail::cast_real(in, v);
        if (r != CastResult::ok) return r;
        // A double beyond the field's range would become infinity (and converting it is UB).
        if (v > static_cast<double>(std::numeric_limits<M>::max()) || v < -static_cast<double>(std::numeric_limits<M>::max()))
            return CastResult::invalid;
        out = static_cast<M>(v);
        return r;
    }
};
template <>
struct cast_traits<bool> {
    static constexpr std::string_view name = "boolean";
    static CastResult cast(const Param& in, bool& out) noexcept { return detail::cast_boolean(in, out); }
};
template <>
struct cast_traits<std::string> {
    static constexpr std::string_view name = "string";
    static CastResult cast(const Param& in, std::string& out) { return detail::cast_text(in, out); }
};
template <class D>
struct cast_traits<std::chrono::sys_time<D>> {
    static constexpr std::string_view name = "timestamp";
    static CastResult cast(const Param& in, std::chrono::sys_time<D>& out) noexcept {
        std::int64_t us = 0;
        const CastResult r = detail::cast_timestamp(in, us);
        out = std::chrono::floor<D>(std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(us)));
        return r;
    }
};
template <>
struct cast_traits<std::chrono::year_month_day> {
    static constexpr std::string_view name = "date";
    static CastResult cast(const Param& in, std::chrono::year_month_day& out) noexcept { return detail::cast_date(in, out); }
};
template <>
struct cast_traits<std::chrono::sys_days> {
    static constexpr std::string_view name = "date";
    static CastResult cast(const Param& in, std::chrono::sys_days& out) noexcept {
        std::chrono::year_month_day d{};
        const CastResult r = detail::cast_date(in, d);
        out = std::chrono::sys_days(d);
        return r;
    }
};
// A duration is cast from a number of its own units (seconds for std::chrono::seconds).
template <class Rep, class Period>
struct cast_traits<std::chrono::duration<Rep, Period>> {
    static constexpr std::string_view name = "duration";
    static CastResult cast(const Param& in, std::chrono::duration<Rep, Period>& out) noexcept {
        Rep v{};
        const CastResult r = cast_traits<Rep>::cast(in, v);
        out = std::chrono::duration<Rep, Period>(v);
        return r;
    }
};
// An enum is cast from its declared name (text-backed) or number (integer-backed).
template <mapped_enum E>
struct cast_traits<E> {
    static constexpr std::string_view name = "enum";
    static CastResult cast(const Param& in, E& out) {
        if (in.is_empty()) return CastResult::blank;
        if constexpr (detail::enum_is_text<E>) {
            if (in.kind != Param::Kind::text) return CastResult::invalid;
            for (const auto& e : enum_mapping<E>::values)
                if (e.name == in.s) return out = e.value, CastResult::ok;
        } else {
            std::int64_t n = 0;
            if (detail::cast_integer(in, n) != CastResult::ok) return CastResult::invalid;
            for (E e : enum_mapping<E>::values)
                if (detail::enum_number(e) == n) return out = e, CastResult::ok;
        }
        return CastResult::invalid;
    }
};
template <>
struct cast_traits<uuid> {
    static constexpr std::string_view name = "uuid";
    static CastResult cast(const Param& in, uuid& out) noexcept {
        if (in.is_empty()) return CastResult::blank;
        if (in.kind != Param::Kind::text) return CastResult::invalid;
        auto u = uuid::parse(in.s);
        if (!u) return CastResult::invalid;
        out = *u;
        return CastResult::ok;
    }
};
template <>
struct cast_traits<json> {
    static constexpr std::string_view name = "json";
    static CastResult cast(const Param& in, json& out) { return detail::cast_json(in, out.text); }
};
// Bytes are taken as given (a form field's raw text).
template <>
struct cast_traits<std::vector<std::byte>> {
    static constexpr std::string_view name = "binary";
    static CastResult cast(const Param& in, std::vector<std::byte>& out) {
        if (in.kind == Param::Kind::null) return CastResult::blank;
        if (in.kind != Param::Kind::text) return CastResult::invalid;
        const auto* p = reinterpret_cast<const std::byte*>(in.s.data());
        out.assign(p, p + in.s.size());
        return CastResult::ok;
    }
};
// NULL, or an empty string, casts to nullopt.
template <class M>
struct cast_traits<std::optional<M>> {
    static constexpr std::string_view name = cast_traits<M>::name;
    static CastResult cast(const Param& in, std::optional<M>& out) {
        if (in.is_empty()) {
            out.reset();
            return CastResult::ok;
        }
        M v{};
        const CastResult r = cast_traits<M>::cast(in, v);
        if (r == CastResult::ok) out = std::move(v);
        return r;
    }
};

template <class M>
concept castable = requires { cast_traits<M>::name; };

// ---- constraints --------------------------------------------------------------------------

enum class NameMatch : std::uint8_t { exact, prefix, suffix };

// A database constraint a changeset expects: when the write violates it, the Repo returns the
// changeset with `message` on `field` instead of throwing the ConstraintError.
struct ConstraintDecl {
    ConstraintKind kind = ConstraintKind::unique;
    std::string field;                 // where the error goes (a member name)
    std::vector<std::string> columns;  // the constrained columns (database names)
    std::vector<std::string> names;    // constraint names that match; empty: the conventional ones
    NameMatch match = NameMatch::exact;
    std::string message;
    std::string validation;            // the error's `validation`: unique, foreign_key, check, exclusion
    bool default_names = false;        // `names` are the conventional ones (columns match too)
    std::string table;                 // the constrained table when not the changeset's (no_assoc_constraint)
    // Where the database names no constraint (SQLite): whether this one is the one violated,
    // asked of the database for the changeset's data.
    std::function<bool(Repo&, const void* data)> locate;

    // Names the constraint (matched exactly, or by prefix / suffix).
    ConstraintDecl named(std::string name, NameMatch how = NameMatch::exact) && {
        names = {std::move(name)};
        match = how;
        default_names = false;
        return std::move(*this);
    }
    ConstraintDecl with_message(std::string m) && {
        message = std::move(m);
        return std::move(*this);
    }
};

namespace detail {
// Whether a ConstraintError is the one `d` declares on `table` (lib/changeset/constraints.cpp).
bool constraint_matches(const ConstraintDecl& d, const ConstraintError& e, std::string_view table);
// Fills the conventional names (PostgreSQL's and Ecto's defaults) when none was given.
void default_constraint_names(ConstraintDecl& d, std::string_view table);
FieldError constraint_error(const ConstraintDecl& d, const ConstraintError& e);
}  // namespace detail

// ---- the changeset ------------------------------------------------------------------------

namespace detail {
// Changesets of an association's rows (cast_assoc, put_assoc), written after their owner.
template <class T>
struct nested_changes {
    virtual ~nested_changes() = default;
    // Writes the rows for `owner` (as stored) and holds them, as stored, in its field. A row the
    // database refuses adds its errors, under the association's path, and returns false.
    virtual bool write(Repo& repo, T& owner, std::vector<FieldError>& errors) const = 0;
    virtual bool changed() const noexcept = 0;
};
bool nested_params(const Params& all, std::string_view key, std::vector<Params>& rows, bool& invalid);

// A struct's members by index: names and byte offsets, read once per type.
template <class T>
struct field_table {
    std::vector<std::string> names;
    std::vector<std::ptrdiff_t> offsets;
    field_table() {
        for_each_member<T>([&](auto mp, const char* name) {
            names.emplace_back(name);
            offsets.push_back(member_offset(mp));
        });
    }
    static const field_table& get() {
        static const field_table t;
        return t;
    }
    template <class M>
    static std::size_t index(M T::*mp) {
        const auto& t = get();
        const auto at = std::find(t.offsets.begin(), t.offsets.end(), member_offset(mp));
        if (at == t.offsets.end()) throw std::logic_error("quarry: member is not in BOOST_HANA_ADAPT_STRUCT of its struct");
        return static_cast<std::size_t>(at - t.offsets.begin());
    }
    template <class M>
    static const std::string& name(M T::*mp) {
        return get().names[index(mp)];
    }
};
}  // namespace detail

template <class T>
class Changeset {
    static_assert(boost::hana::Struct<T>::value, "quarry: a changeset's type must be adapted with BOOST_HANA_ADAPT_STRUCT");

public:
    using fields = detail::field_table<T>;

    explicit Changeset(T data = T{}) : data_(data), applied_(std::move(data)), changed_(fields::get().names.size()) {}

    // The struct as it was, and with the changes applied.
    const T& data() const noexcept { return data_; }
    const T& applied() const noexcept { return applied_; }
    T apply_changes() const { return applied_; }

    bool valid() const noexcept { return errors_.empty(); }
    const std::vector<FieldError>& errors() const noexcept { return errors_; }
    template <class M>
    std::vector<FieldError> errors_on(M T::*mp) const { return errors_on(fields::name(mp)); }
    std::vector<FieldError> errors_on(std::string_view field) const {
        std::vector<FieldError> out;
        for (const auto& e : errors_)
            if (e.field == field) out.push_back(e);
        return out;
    }
    ErrorMap error_map() const { return quarry::error_map(errors_); }

    // The action this changeset was last used for (insert, update, delete, or apply_action's).
    const std::string& action() const noexcept { return action_; }
    void set_action(std::string a) { action_ = std::move(a); }

    // ---- changes ----
    template <class M>
    bool changed(M T::*mp) const { return changed_[fields::index(mp)]; }
    bool changed() const noexcept { return std::find(changed_.begin(), changed_.end(), true) != changed_.end(); }
    // The names of the changed fields, in declaration order.
    std::vector<std::string> changed_fields() const {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < changed_.size(); ++i)
            if (changed_[i]) out.push_back(fields::get().names[i]);
        return out;
    }
    // Per member, in declaration order: whether it changed.
    const std::vector<bool>& changed_mask() const noexcept { return changed_; }
    template <class M>
    std::optional<M> get_change(M T::*mp) const {
        if (!changed(mp)) return std::nullopt;
        return applied_.*mp;
    }
    // The change if there is one, the data's value otherwise.
    template <class M>
    const M& get_field(M T::*mp) const { return applied_.*mp; }

    // Records a change, unless the value equals the data's (then any change is dropped).
    template <class M, class V>
    Changeset& put_change(M T::*mp, V&& value) {
        M v(std::forward<V>(value));
        const std::size_t i = fields::index(mp);
        if constexpr (std::equality_comparable<M>) {
            if (v == data_.*mp) {
                applied_.*mp = std::move(v);
                changed_[i] = false;
                return *this;
            }
        }
        applied_.*mp = std::move(v);
        changed_[i] = true;
        return *this;
    }
    template <class M, class V>
    Changeset& change(M T::*mp, V&& value) { return put_change(mp, std::forward<V>(value)); }
    // Records a change even when the value equals the data's (it will be written).
    template <class M, class V>
    Changeset& force_change(M T::*mp, V&& value) {
        applied_.*mp = M(std::forward<V>(value));
        changed_[fields::index(mp)] = true;
        return *this;
    }
    template <class M>
    Changeset& delete_change(M T::*mp) {
        applied_.*mp = data_.*mp;
        changed_[fields::index(mp)] = false;
        return *this;
    }

    // ---- errors and input ----
    template <class M>
    Changeset& add_error(M T::*mp, std::string message, std::string validation = "custom",
                         std::vector<std::pair<std::string, ErrorParam>> params = {}) {
        return add_error(fields::name(mp), std::move(message), std::move(validation), std::move(params));
    }
    Changeset& add_error(std::string field, std::string message, std::string validation = "custom",
                         std::vector<std::pair<std::string, ErrorParam>> params = {}) {
        errors_.push_back({std::move(field), std::move(message), std::move(validation), std::move(params)});
        return *this;
    }
    bool has_error(std::string_view field) const noexcept {
        return std::any_of(errors_.begin(), errors_.end(), [&](const FieldError& e) { return e.field == field; });
    }
    // The raw input this changeset was cast from, by key.
    const Param* param(std::string_view key) const noexcept {
        for (const auto& [k, v] : params_)
            if (k == key) return &v;
        return nullptr;
    }
    const Params& params() const noexcept { return params_; }

    // ---- constraints ----
    const std::vector<ConstraintDecl>& constraints() const noexcept { return constraints_; }
    Changeset& add_constraint(ConstraintDecl d) {
        if constexpr (schema<T>) detail::default_constraint_names(d, table_info<T>().name);
        constraints_.push_back(std::move(d));
        return *this;
    }
    // Turns a violation of a declared constraint into a field error; false when none matches.
    bool absorb(const ConstraintError& e) {
        std::string_view table;
        if constexpr (schema<T>) table = table_info<T>().name;
        for (const auto& d : constraints_)
            if (detail::constraint_matches(d, e, table)) {
                errors_.push_back(detail::constraint_error(d, e));
                return true;
            }
        return false;
    }

    // ---- associations (cast_assoc, put_assoc) ----
    const std::vector<std::shared_ptr<const detail::nested_changes<T>>>& nested() const noexcept { return nested_; }
    void add_nested(std::shared_ptr<const detail::nested_changes<T>> n) { nested_.push_back(std::move(n)); }
    void clear_nested() noexcept { nested_.clear(); }

    // ---- casting (see quarry::cast) ----
    void set_params(Params p) { params_ = std::move(p); }
    template <class M>
    void cast_field(M T::*mp) {
        static_assert(castable<M>, "quarry: this field's type has no quarry::cast_traits (specialise it to cast the field)");
        const std::string& name = fields::name(mp);
        const Param* in = param(name);
        if (!in) return;
        M v{};
        switch (cast_traits<M>::cast(*in, v)) {
        case CastResult::ok: put_change(mp, std::move(v)); break;
        case CastResult::blank: add_error(name, "can't be blank", "required"); break;
        case CastResult::invalid:
            add_error(name, "is invalid", "cast", {{"type", std::string(cast_traits<M>::name)}});
            break;
        }
    }

private:
    T data_;
    T applied_;
    std::vector<bool> changed_;
    std::vector<FieldError> errors_;
    Params params_;
    std::vector<ConstraintDecl> constraints_;
    std::vector<std::shared_ptr<const detail::nested_changes<T>>> nested_;
    std::string action_;
};

// A changeset, piped through a validation or constraint: `cs | validate_required(&T::x)`.
template <class T, class V>
    requires requires(const V& v, Changeset<T>& cs) { v.apply(cs); }
Changeset<T> operator|(Changeset<T> cs, const V& v) {
    v.apply(cs);
    return cs;
}

// ---- casting ------------------------------------------------------------------------------

// A range of (key, value) pairs of text: std::map<std::string, std::string>, a vector of pairs...
template <class R>
concept string_params = requires(const R& r) {
    std::begin(r)->first;
    requires std::convertible_to<decltype(std::begin(r)->first), std::string_view>;
    requires std::convertible_to<decltype(std::begin(r)->second), std::string_view>;
};

// Casts the permitted fields present in `input` onto `data`: each becomes a change (if it
// differs), a cast error ("is invalid", type), or, for an empty value of a field that cannot be
// empty, "can't be blank". Other keys are ignored, but kept for validate_confirmation and
// validate_acceptance.
template <class T, class... M>
Changeset<T> cast(T data, Params input, M T::*... permitted) {
    Changeset<T> cs(std::move(data));
    cs.set_params(std::move(input));
    (cs.cast_field(permitted), ...);
    return cs;
}
template <class T, string_params R, class... M>
Changeset<T> cast(T data, const R& input, M T::*... permitted) {
    Params p;
    for (const auto& [k, v] : input) p.emplace_back(std::string(std::string_view(k)), Param::text(std::string_view(v)));
    return cast(std::move(data), std::move(p), permitted...);
}
template <class T, class... M>
Changeset<T> cast(T data, std::initializer_list<std::pair<std::string_view, std::string_view>> input, M T::*... permitted) {
    Params p;
    for (const auto& [k, v] : input) p.emplace_back(std::string(k), Param::text(v));
    return cast(std::move(data), std::move(p), permitted...);
}

// A changeset over `data` with changes made in code (no input to cast).
template <class T>
Changeset<T> change(T data) {
    return Changeset<T>(std::move(data));
}

// ---- validations --------------------------------------------------------------------------

namespace detail {
template <class M>
bool is_blank(const M& v) {
    if constexpr (is_optional<M>::value) return !v || is_blank(*v);
    else if constexpr (std::is_convertible_v<const M&, std::string_view>) return is_blank_text(v);
    else return false;
}
// Runs f(value) on a field's change, skipping a change to NULL.
template <class T, class M, class F>
void on_change(const Changeset<T>& cs, M T::*mp, F&& f) {
    if (!cs.changed(mp)) return;
    const M& v = cs.get_field(mp);
    if constexpr (is_optional<M>::value) {
        if (v) f(*v);
    } else {
        f(v);
    }
}
std::int64_t checked_count(std::size_t n);
}  // namespace detail

// The fields must be present and not blank (NULL, or text that is empty or only whitespace).
template <class T, class... M>
struct validate_required_t {
    std::tuple<M T::*...> members;
    std::string message = "can't be blank";
    void apply(Changeset<T>& cs) const {
        std::apply([&](auto... mp) {
            (([&] {
                 const auto& name = Changeset<T>::fields::name(mp);
                 if (!cs.has_error(name) && detail::is_blank(cs.get_field(mp))) cs.add_error(name, message, "required");
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
template <class T, class M>
struct validate_format_t {
    M T::*member;
    std::regex pattern;
    std::string message = "has invalid format";
    void apply(Changeset<T>& cs) const {
        detail::on_change(cs, member, [&](const auto& v) {
            if (!std::regex_search(std::string_view(v).begin(), std::string_view(v).end(), pattern))
                cs.add_error(member, message, "format");
        });
    }
};
template <class T, class M>
validate_format_t<T, M> validate_format(M T::*mp, std::regex pattern, std::string message = "has invalid format") {
    return {mp, std::move(pattern), std::move(message)};
}
template <class T, class M>
validate_format_t<T, M> validate_format(M T::*mp, std::string_view pattern, std::string message = "has invalid format") {
    return {mp, std::regex(pattern.begin(), pattern.end(), std::regex::ECMAScript), std::move(message)};
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

// ---- results ------------------------------------------------------------------------------

// What a changeset write returns: the stored row, or the changeset with its errors.
template <class T>
class Result {
public:
    Result(T row) : v_(std::in_place_index<0>, std::move(row)) {}
    Result(Changeset<T> failed) : v_(std::in_place_index<1>, std::move(failed)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    // The row; ChangesetInvalid when the write was refused.
    T& value() & {
        check();
        return std::get<0>(v_);
    }
    T value() && {
        check();
        return std::move(std::get<0>(v_));
    }
    const T& value() const& {
        check();
        return std::get<0>(v_);
    }
    T* operator->() { return &value(); }
    T& operator*() & { return value(); }
    // The refused changeset (std::logic_error when the write succeeded).
    const Changeset<T>& changeset() const {
        if (ok()) throw std::logic_error("quarry: Result::changeset() on a successful write");
        return std::get<1>(v_);
    }
    const std::vector<FieldError>& errors() const {
        static const std::vector<FieldError> none;
        return ok() ? none : std::get<1>(v_).errors();
    }

private:
    void check() const {
        if (!ok()) {
            const auto& cs = std::get<1>(v_);
            std::string type = "struct";
            if constexpr (schema<T>) type = table_info<T>().name;
            throw ChangesetInvalid(cs.action(), type, cs.errors());
        }
    }
    std::variant<T, Changeset<T>> v_;
};

// The applied struct when the changeset is valid, its errors otherwise (no database involved).
template <class T>
Result<T> apply_action(Changeset<T> cs, std::string action) {
    cs.set_action(std::move(action));
    if (!cs.valid()) return Result<T>(std::move(cs));
    return Result<T>(cs.apply_changes());
}

}  // namespace quarry

// ---- the Repo's changeset writes ------------------------------------------------------------

#include "quarry/assoc.hpp"
#include "quarry/repo.hpp"

namespace quarry {

namespace detail {
bool reference_missing(core::Session& s, std::string_view table, std::string_view column, const core::Value& value);

// SQLite names no foreign key: find the declared one whose value has no parent row.
template <class T>
std::optional<ConstraintError> locate_foreign_key(core::Session& s, const Changeset<T>& cs, const ConstraintError& e) {
    for (const auto& d : cs.constraints()) {
        if (d.kind != ConstraintKind::foreign_key || d.columns.size() != 1) continue;
        bool missing = false;
        for_each_column<T>([&](auto mp, const char*) {
            if (missing || column_info(mp).name != d.columns[0]) return;
            core::Lowerer values{core::Lowerer::ValuesOnly{}};
            value_traits<stored_t<decltype(cs.applied().*mp)>>::bind(values, cs.applied().*mp);
            std::vector<core::Value> bound;
            values.params_into(bound);
            missing = reference_missing(s, table_info<T>().name, d.columns[0], bound.at(0));
        });
        if (missing)
            return ConstraintError(e.kind(), e.constraint(), table_info<T>().name, d.columns, e.what(), e.sql(), e.code());
    }
    return std::nullopt;
}
}  // namespace detail

// Runs `write` (which returns the stored row); a violation of a declared constraint becomes a
// field error. Inside a transaction the write runs in a savepoint, so that the transaction stays
// usable after a violation (PostgreSQL aborts a transaction on any failed statement).
template <class T, class Write>
Result<T> Repo::write_changeset(Changeset<T> cs, Write&& write) {
    if (!cs.valid()) return Result<T>(std::move(cs));
    core::Session* const tx = current_session();
    const bool savepoint = tx && tx->depth() > 0 && !cs.constraints().empty();
    if (savepoint) tx->begin();
    try {
        T row = write();
        if (savepoint) tx->commit();
        return Result<T>(std::move(row));
    } catch (const Veto& v) {  // a hook refused; its transaction is rolled back already
        if (savepoint) tx->rollback();
        cs.add_error(v.field(), v.message(), "veto");
        return Result<T>(std::move(cs));
    } catch (const ConstraintError& e) {
        if (savepoint) tx->rollback();
        if (cs.absorb(e)) return Result<T>(std::move(cs));
        if (e.kind() == ConstraintKind::foreign_key && e.constraint().empty() && e.columns().empty()) {
            if (auto located = detail::locate_foreign_key(*use(), cs, e); located && cs.absorb(*located))
                return Result<T>(std::move(cs));
            for (const auto& d : cs.constraints())
                if (d.locate && d.locate(*this, &cs.data())) {
                    cs.add_error(d.field, d.message, d.validation, {{"constraint", std::string(to_string(d.kind))}});
                    return Result<T>(std::move(cs));
                }
        }
        throw;
    } catch (...) {
        if (savepoint) tx->rollback();
        throw;
    }
}

namespace detail {
struct nested_refused {};  // unwinds the transaction of a write whose nested rows were refused

// Runs `write` (-> Result<T>), then the changeset's nested rows, all in one transaction.
template <class T, class Write>
Result<T> with_nested(Repo& repo, const Changeset<T>& cs, Write&& write) {
    if (cs.nested().empty() || !cs.valid()) return write();
    std::vector<FieldError> errors;
    try {
        return repo.transaction([&](Repo& r) -> Result<T> {
            Result<T> owner = write();
            if (!owner) return owner;
            T stored = std::move(owner).value();
            bool ok = true;
            for (const auto& n : cs.nested()) ok = n->write(r, stored, errors) && ok;
            if (!ok) throw nested_refused{};
            return Result<T>(std::move(stored));
        });
    } catch (const nested_refused&) {
        Changeset<T> failed = cs;
        for (auto& e : errors) failed.add_error(std::move(e.field), std::move(e.message), std::move(e.validation), std::move(e.params));
        return Result<T>(std::move(failed));
    }
}
}  // namespace detail

template <class T>
Result<T> Repo::insert(Changeset<T> cs) {
    static_assert(schema<T>, "quarry: insert needs a changeset over a schema (QUARRY_TABLE)");
    cs.set_action("insert");
    const T row = cs.apply_changes();
    if (!cs.nested().empty()) {
        const Changeset<T> whole = cs;
        return detail::with_nested(*this, whole, [&] { return write_changeset(cs, [&] { return insert(row); }); });
    }
    return write_changeset(std::move(cs), [&] { return insert(row); });
}

template <class T>
Result<T> Repo::update(Changeset<T> cs) {
    static_assert(schema<T>, "quarry: update needs a changeset over a schema (QUARRY_TABLE)");
    cs.set_action("update");
    bool persisted = false;  // a change to a column (not to a virtual or read-only field)
    detail::for_each_column<T>([&](auto mp, const char*) { persisted = persisted || (cs.changed(mp) && !column_info(mp).read_only); });
    if (!cs.nested().empty()) {
        // The owner's own columns (if any changed), then its nested rows, in one transaction.
        Changeset<T> owner_only = cs;
        const Changeset<T> whole = cs;
        return detail::with_nested(*this, whole, [&]() -> Result<T> {
            if (!persisted) return Result<T>(whole.data());
            Changeset<T> plain = std::move(owner_only);
            plain.clear_nested();
            return update(std::move(plain));
        });
    }
    if (cs.valid() && !persisted) return Result<T>(cs.data());
    if constexpr (detail::stamps_updates<T>) {
        constexpr auto stamp = detail::role_member<T, core::ColumnRole::updated_at>();
        if (!cs.changed(stamp)) {
            auto t = cs.get_field(stamp);
            detail::set_time(t, detail::now(), false);
            cs.force_change(stamp, t);
        }
    }
    const T key = cs.data(), row = cs.apply_changes();
    const std::vector<bool> changed = cs.changed_mask();  // cs moves below
    return write_changeset(std::move(cs), [&] {
        return hooked<detail::hook_point::update>(row, [&](const T& hooked_row) {
            // A column is written when the changeset changed it, or a before_update hook did.
            auto stored = one_or_none(detail::update_columns(key, hooked_row, [&](auto mp, const core::ColumnInfo& c) {
                                          if (c.read_only) return false;
                                          if (changed[Changeset<T>::fields::index(mp)]) return true;
                                          if constexpr (std::equality_comparable<std::remove_cvref_t<decltype(row.*mp)>>)
                                              return !(hooked_row.*mp == row.*mp);
                                          return false;
                                      }) | returning_all());
            if (!stored) throw StaleEntry("update: no " + table_info<T>().name + " row has this primary key (deleted since it was read?)");
            return std::move(*stored);
        });
    });
}

template <class T>
Result<T> Repo::remove(Changeset<T> cs) {
    static_assert(schema<T>, "quarry: remove needs a changeset over a schema (QUARRY_TABLE)");
    cs.set_action("delete");
    const T key = cs.data();
    return write_changeset(std::move(cs), [&] {
        return hooked<detail::hook_point::remove>(key, [&](const T& row) {
            std::optional<T> stored;
            if constexpr (detail::soft_deletes<T>)
                stored = one_or_none(soft_delete_statement(row, soft_deleted(row, true), core::DeletedScope::live) | returning_all());
            else stored = one_or_none(quarry::remove(row) | returning_all());
            if (!stored) throw StaleEntry("delete: no " + table_info<T>().name + " row has this primary key (deleted since it was read?)");
            return std::move(*stored);
        });
    });
}

// Checks with a query, before any write, that no other row has the field's changed value. A
// race can still slip between this check and the write: declare unique_constraint as well.
template <class T, class M>
struct unsafe_validate_unique_t {
    M T::*member;
    Repo* repo;
    std::string message;
    void apply(Changeset<T>& cs) const {
        const auto& name = Changeset<T>::fields::name(member);
        if (!cs.changed(member) || cs.has_error(name)) return;
        auto q = from<T>() | where(col(member) == cs.get_field(member));
        // A row already stored (its key is not the default) does not conflict with itself.
        const T blank{};
        bool stored = false;
        std::apply([&](auto... pk) { stored = ((cs.data().*pk != blank.*pk) || ...); }, table_traits<T>::primary_key);
        bool taken;
        if (stored) {
            filter<T> other;
            std::apply([&](auto... pk) { ((other |= col(pk) != cs.data().*pk), ...); }, table_traits<T>::primary_key);
            taken = repo->exists(q | where(other));
        } else {
            taken = repo->exists(q);
        }
        if (taken) cs.add_error(name, message, "unsafe_unique");
    }
};
template <class T, class M>
unsafe_validate_unique_t<T, M> unsafe_validate_unique(M T::*mp, Repo& repo, std::string message = "has already been taken") {
    return {mp, &repo, std::move(message)};
}

// ---- association constraints ----------------------------------------------------------------

namespace detail {
template <class T, class F>
std::string field_name_or(F T::*mp, std::string fallback) {
    const auto& t = field_table<T>::get();
    const auto at = std::find(t.offsets.begin(), t.offsets.end(), member_offset(mp));
    return at == t.offsets.end() ? fallback : t.names[static_cast<std::size_t>(at - t.offsets.begin())];
}
}  // namespace detail

// The row a belongs_to association names must exist: its foreign key's violation becomes
// "does not exist" on the association's field.
template <class Owner, class F>
detail::constraint_t<Owner> assoc_constraint(F Owner::*field) {
    return detail::with_association(field, [&](const auto& a) {
        using A = std::remove_cvref_t<decltype(a)>;
        static_assert(A::kind == assoc_kind::belongs_to, "quarry: assoc_constraint names a belongs_to association");
        ConstraintDecl d;
        d.kind = ConstraintKind::foreign_key;
        std::apply([&](auto... fk) { (d.columns.push_back(column_info(fk).name), ...); }, a.keys);
        d.field = detail::field_name_or(field, d.columns[0]);
        d.message = "does not exist";
        d.validation = "assoc";
        // SQLite names no foreign key: this one failed when its (non-NULL) key names no row.
        d.locate = [field, keys = a.keys](Repo& r, const void* data) {
            const Owner& row = *static_cast<const Owner*>(data);
            bool null = false;
            std::apply([&](auto... fk) { ((null = null || detail::is_null_key(row.*fk)), ...); }, keys);
            return !null && !r.exists(assoc(row, field) | with_deleted());
        };
        return detail::constraint_t<Owner>{std::move(d)};
    });
}

// Deleting a row that has_many / has_one rows still name: the children's foreign key violation
// becomes "are still associated with this entry" on the association's field.
template <class Owner, class F>
detail::constraint_t<Owner> no_assoc_constraint(F Owner::*field) {
    return detail::with_association(field, [&](const auto& a) {
        using A = std::remove_cvref_t<decltype(a)>;
        static_assert(A::kind == assoc_kind::has_many || A::kind == assoc_kind::has_one,
                      "quarry: no_assoc_constraint names a has_many or has_one association");
        ConstraintDecl d;
        d.kind = ConstraintKind::foreign_key;
        std::apply([&](auto... fk) { (d.columns.push_back(column_info(fk).name), ...); }, a.keys);
        d.table = table_info<typename A::target>().name;
        d.field = detail::field_name_or(field, table_info<typename A::target>().name);
        d.message = A::kind == assoc_kind::has_many ? "are still associated with this entry" : "is still associated with this entry";
        d.validation = "no_assoc";
        // Soft-deleted children still hold the foreign key.
        d.locate = [field](Repo& r, const void* data) { return r.exists(assoc(*static_cast<const Owner*>(data), field) | with_deleted()); };
        return detail::constraint_t<Owner>{std::move(d)};
    });
}

// ---- nested changesets ---------------------------------------------------------------------

namespace detail {
template <class T>
bool is_new_row(const T& row);
// Whether `row` is stored: a generated key is set; an application-supplied key is asked for.
template <class T>
bool stored_row(Repo& repo, const T& row) {
    bool generated = false;
    std::apply([&](auto... pk) { generated = (column_info(pk).generated && ...); }, table_traits<T>::primary_key);
    if (generated) return !is_new_row(row);
    filter<T> same;
    std::apply([&](auto... pk) { ((same &= col(pk) == row.*pk), ...); }, table_traits<T>::primary_key);
    return repo.exists(from<T>() | with_deleted() | where(same));
}

// A nested row's error about the whole row (a veto, add_error("")) goes under "_row".
inline std::string row_field(const std::string& field) { return field.empty() ? "_row" : field; }

template <class T>
bool is_new_row(const T& row) {
    const T blank{};
    bool same = true;
    std::apply([&](auto... pk) { same = ((row.*pk == blank.*pk) && ...); }, table_traits<T>::primary_key);
    return same;
}

// The rows of a has_many / has_one association, as changesets. Stored rows (a primary key set)
// are updated, new ones inserted, each with its foreign key set to the owner's key.
template <class T, class F>
struct nested_rows : nested_changes<T> {
    using C = typename assoc_target<F>::type;
    F T::*field;
    std::string path;  // the association's name in error paths
    std::vector<Changeset<C>> rows;

    bool changed() const noexcept override { return !rows.empty(); }
    bool write(Repo& repo, T& owner, std::vector<FieldError>& errors) const override {
        bool ok = true;
        with_association(field, [&](const auto& a) {
            using A = std::remove_cvref_t<decltype(a)>;
            static_assert(A::kind == assoc_kind::has_many || A::kind == assoc_kind::has_one,
                          "quarry: nested changesets are for has_many and has_one associations");
            clear_field(owner.*field);
            constexpr auto owner_key = table_traits<T>::primary_key;
            for (std::size_t i = 0; i < rows.size(); ++i) {
                Changeset<C> row = rows[i];
                [&]<std::size_t... I>(std::index_sequence<I...>) {
                    (row.put_change(std::get<I>(a.keys), owner.*std::get<I>(owner_key)), ...);
                }(std::make_index_sequence<std::tuple_size_v<decltype(a.keys)>>{});
                Result<C> stored = stored_row(repo, row.data()) ? repo.update(row) : repo.insert(row);
                if (!stored) {
                    ok = false;
                    const std::string prefix = assoc_target<F>::many ? path + "[" + std::to_string(i) + "]." : path + ".";
                    for (const auto& e : stored.errors()) errors.push_back({prefix + row_field(e.field), e.message, e.validation, e.params});
                    continue;
                }
                hold(owner.*field, std::move(stored).value());
            }
        });
        return ok;
    }
};

template <class T, class F>
std::string assoc_path(F T::*field, std::string key) {
    if (!key.empty()) return key;
    key = field_name_or(field, "");
    if (key.empty())
        throw std::logic_error("quarry: list the association's member in BOOST_HANA_ADAPT_STRUCT (or pass its input key) "
                               "so that its rows have a name");
    return key;
}
}  // namespace detail

// Casts the association's rows from the input (a JSON array or object under the field's name,
// or form fields `comments[0][body]`, `profile[bio]`) through `cast_row(data, params)`, which
// returns the row's changeset. A stored row is matched by its primary key in the input (the
// owner's data must hold the association, preloaded); the others are new. Errors of a row go on
// the owner as "comments[1].body". Absent from the input: the association is left alone.
template <class T, class F, class Fn>
struct cast_assoc_t {
    F T::*field;
    Fn cast_row;
    std::string key;
    bool required = false;
    void apply(Changeset<T>& cs) const {
        using C = typename assoc_target<F>::type;
        const std::string path = detail::assoc_path(field, key);
        std::vector<Params> rows;
        bool invalid = false;
        if (!detail::nested_params(cs.params(), path, rows, invalid)) {
            if (required) cs.add_error(path, "can't be blank", "required");
            return;
        }
        if (invalid || (!assoc_target<F>::many && rows.size() > 1)) {
            cs.add_error(path, "is invalid", "cast", {{"type", std::string(assoc_target<F>::many ? "list" : "map")}});
            return;
        }
        if (required && rows.empty()) cs.add_error(path, "can't be blank", "required");
        std::vector<const C*> stored;
        detail::rows_held(cs.data().*field, stored);
        auto n = std::make_shared<detail::nested_rows<T, F>>();
        n->field = field;
        n->path = path;
        for (std::size_t i = 0; i < rows.size(); ++i) {
            C data{};
            // A row that names a stored row's primary key updates it.
            if constexpr (std::tuple_size_v<decltype(table_traits<C>::primary_key)> == 1) {
                constexpr auto pk = std::get<0>(table_traits<C>::primary_key);
                for (const auto& [k, v] : rows[i]) {
                    if (k != Changeset<C>::fields::name(pk)) continue;
                    std::remove_cvref_t<decltype(data.*pk)> id{};
                    if (cast_traits<std::remove_cvref_t<decltype(data.*pk)>>::cast(v, id) != CastResult::ok) continue;
                    for (const C* s : stored)
                        if (s->*pk == id) data = *s;
                }
            }
            // A has_one's single row without an id updates the row held, if any (one row, always).
            if (!assoc_target<F>::many && detail::is_new_row(data) && !stored.empty()) data = *stored[0];
            Changeset<C> row = cast_row(std::move(data), rows[i]);
            const std::string prefix = assoc_target<F>::many ? path + "[" + std::to_string(i) + "]." : path + ".";
            for (const auto& e : row.errors()) cs.add_error(prefix + detail::row_field(e.field), e.message, e.validation, e.params);
            n->rows.push_back(std::move(row));
        }
        cs.add_nested(std::move(n));
    }
};
template <class T, class F, class Fn>
cast_assoc_t<T, F, Fn> cast_assoc(F T::*field, Fn cast_row, std::string key = {}) {
    return {field, std::move(cast_row), std::move(key), false};
}
template <class T, class F, class Fn>
cast_assoc_t<T, F, Fn> cast_assoc_required(F T::*field, Fn cast_row, std::string key = {}) {
    return {field, std::move(cast_row), std::move(key), true};
}

// Puts rows (structs or changesets) in the association, written with the owner.
template <class T, class F, class R>
struct put_assoc_t {
    F T::*field;
    std::vector<R> rows;
    void apply(Changeset<T>& cs) const {
        using C = typename assoc_target<F>::type;
        auto n = std::make_shared<detail::nested_rows<T, F>>();
        n->field = field;
        n->path = detail::field_name_or(field, "rows");
        for (const auto& r : rows) {
            if constexpr (std::is_same_v<R, Changeset<C>>) {
                for (const auto& e : r.errors()) cs.add_error(n->path + "[" + std::to_string(n->rows.size()) + "]." + detail::row_field(e.field), e.message, e.validation, e.params);
                n->rows.push_back(r);
            } else {
                // Inserted whole when new; when stored, its writable columns are written (the
                // Repo keeps timestamps and the lock version, the database its generated columns).
                Changeset<C> c(r);
                detail::for_each_column<C>([&](auto mp, const char*) {
                    const core::ColumnInfo& info = column_info(mp);
                    if (info.primary_key || info.generated || info.read_only) return;
                    using core::ColumnRole;
                    if (detail::is_role<C, ColumnRole::inserted_at>(mp) || detail::is_role<C, ColumnRole::updated_at>(mp) ||
                        detail::is_role<C, ColumnRole::lock_version>(mp))
                        return;
                    c.force_change(mp, r.*mp);
                });
                n->rows.push_back(std::move(c));
            }
        }
        cs.add_nested(std::move(n));
    }
};
template <class T, class F, class R>
put_assoc_t<T, F, R> put_assoc(F T::*field, std::vector<R> rows) {
    return {field, std::move(rows)};
}

}  // namespace quarry
