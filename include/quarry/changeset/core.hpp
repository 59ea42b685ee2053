// SPDX-License-Identifier: MIT
// Changesets, part 2: the Changeset itself, the constraints it expects, casting input onto a
// struct, and the Result of a write. See quarry/changeset.hpp.
#pragma once
#include "quarry/changeset/input.hpp"

namespace quarry {

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
    // asked of the database for the row as stored (`before`: its children, for no_assoc) and
    // as being written (`after`: the keys it now names, for assoc).
    std::function<bool(Repo&, const void* before, const void* after)> locate;

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

// A row not stored yet: its primary key holds its type's default value.
template <class T>
bool is_new_row(const T& row) {
    static const T blank{};
    return std::apply([&](auto... pk) { return ((row.*pk == blank.*pk) && ...); }, table_traits<T>::primary_key);
}

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

    explicit Changeset(T data = T{})
        : data_(data), applied_(std::move(data)), changed_(fields::get().names.size()), supplied_(changed_.size()) {}

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
    // Whether the input held the field and it cast: true even when the value equals the data's
    // (no change), so validations still see it. A new row's `User{}` holds 0, false and empty
    // text; "0" from a form must still be checked against `validate_number(.., {.gt = 0})`.
    template <class M>
    bool supplied(M T::*mp) const { return supplied_[fields::index(mp)]; }
    // Whether the data is a row not stored yet: its primary key holds its type's default value
    // (always, for a struct that is not a schema).
    bool new_row() const {
        if constexpr (schema<T>) {
            return detail::is_new_row(data_);
        } else {
            return true;
        }
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
        case CastResult::ok:
            put_change(mp, std::move(v));
            supplied_[fields::index(mp)] = true;
            break;
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
    std::vector<bool> supplied_;
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
