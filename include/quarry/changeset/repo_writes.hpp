// SPDX-License-Identifier: MIT
// Changesets, part 4: the Repo's changeset writes (insert, update, delete, nested rows) and the
// association changes. See quarry/changeset.hpp.
#pragma once
#include "quarry/assoc.hpp"
#include "quarry/changeset/validations.hpp"
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
            core::ParamList values;
            bind_param<stored_t<decltype(cs.applied().*mp)>>(values, cs.applied().*mp);
            missing = reference_missing(s, table_info<T>().name, d.columns[0], values[0]);
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
        if (tx && tx->transaction_ended()) throw;  // not an error the caller can carry on from
        cs.add_error(v.field(), v.message(), "veto");
        return Result<T>(std::move(cs));
    } catch (const ConstraintError& e) {
        if (savepoint) tx->rollback();
        // The database ended the whole transaction (SQLite's ON CONFLICT ROLLBACK): the earlier
        // writes are gone too, so this is no field error to show and carry on from.
        if (tx && tx->transaction_ended()) throw;
        if (cs.absorb(e)) return Result<T>(std::move(cs));
        if (e.kind() == ConstraintKind::foreign_key && e.constraint().empty() && e.columns().empty()) {
            if (auto located = detail::locate_foreign_key(*use(), cs, e); located && cs.absorb(*located))
                return Result<T>(std::move(cs));
            for (const auto& d : cs.constraints())
                if (d.locate && d.locate(*this, &cs.data(), &cs.applied())) {
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
            if (!whole.valid()) return Result<T>(Changeset<T>(whole));  // its nested rows' errors too
            if (!persisted) return Result<T>(whole.data());
            Changeset<T> plain = std::move(owner_only);
            plain.clear_nested();
            return update(std::move(plain));
        });
    }
    if (!cs.valid()) return Result<T>(std::move(cs));
    if (!persisted) return Result<T>(cs.data());
    T key = cs.data();
    T row = cs.apply_changes();
    std::vector<bool> changed = cs.changed_mask();  // cs moves below
    if constexpr (detail::stamps_updates<T>) {
        // Stamped on what is written, not on the changeset: one refused (a constraint, a hook)
        // goes back to the caller as it came.
        constexpr auto stamp = detail::role_member<T, core::ColumnRole::updated_at>();
        if (!cs.changed(stamp)) {
            detail::set_time(row.*stamp, detail::now(), false);
            changed[Changeset<T>::fields::index(stamp)] = true;
        }
    }
    if constexpr (detail::locked<T>) {
        // The version the changeset carries, as Ecto's optimistic_lock: a form that sends the
        // version it was rendered at is checked against that, not against the row reloaded to
        // apply it to (which would let a stale form overwrite a newer edit).
        constexpr auto lock = detail::role_member<T, core::ColumnRole::lock_version>();
        key.*lock = row.*lock;
    }
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
    T key = cs.data();
    if constexpr (detail::locked<T>) {
        // As update(cs): a stale form's delete is checked against the version it carries.
        constexpr auto lock = detail::role_member<T, core::ColumnRole::lock_version>();
        key.*lock = cs.applied().*lock;
    }
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
        bool taken;
        if (!cs.new_row()) {
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
        d.locate = [field, keys = a.keys](Repo& r, const void*, const void* after) {
            const Owner& row = *static_cast<const Owner*>(after);  // the parent it is to name now
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
        d.locate = [field](Repo& r, const void* before, const void*) {
            return r.exists(assoc(*static_cast<const Owner*>(before), field) | with_deleted());
        };
        return detail::constraint_t<Owner>{std::move(d)};
    });
}

// ---- nested changesets ---------------------------------------------------------------------

namespace detail {
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

