// SPDX-License-Identifier: MIT
// The hand-written baseline: the same SQL fragments appended into a reserved std::string and the
// same parameters pushed, with std::to_chars placeholders. What a careful person writes by hand.
#pragma once
#include <charconv>
#include <string>
#include <vector>

#include <quarry/core/value.hpp>

namespace hand {
using quarry::core::Value;
using quarry::core::ValueKind;

struct Out {
    std::string sql;
    std::vector<Value> params;
    bool pg;
    explicit Out(bool postgres) : pg(postgres) {
        sql.reserve(256);
        params.reserve(16);
    }
    void ph() {
        if (!pg) {
            sql += '?';
            return;
        }
        char buf[12];
        buf[0] = '$';
        auto r = std::to_chars(buf + 1, buf + sizeof buf, params.size());
        sql.append(buf, r.ptr);
    }
    void param(Value v) {
        params.push_back(v);
        ph();
    }
    void text(std::string_view s) {
        Value v;
        v.kind = ValueKind::text;
        v.size = static_cast<std::uint32_t>(s.size());
        v.s = s.data();
        param(v);
    }
};

inline void r1(Out& o) {
    o.sql += R"(SELECT "id", "name", "email" FROM "users" WHERE "active" = )";
    o.param(Value::boolean(true));
    o.sql += R"( ORDER BY "inserted_at" DESC LIMIT )";
    o.param(Value::integer(10));
}

inline void r2(Out& o, const std::vector<std::int64_t>& ids, std::vector<Value>& id_values) {
    o.sql += R"(SELECT "id", "name", "email", "age", "active", "inserted_at" FROM "users" WHERE "age" >= )";
    o.param(Value::integer(18));
    o.sql += R"( AND "age" < )";
    o.param(Value::integer(65));
    o.sql += R"( AND ("name" LIKE )";
    o.text("a%");
    o.sql += R"( ESCAPE '\' OR "email" LIKE )";
    o.text("%@example.com");
    o.sql += R"( ESCAPE '\') AND "id" )";
    if (o.pg) {
        id_values.clear();
        for (auto id : ids) id_values.push_back(Value::integer(id));
        Value arr;
        arr.kind = ValueKind::array;
        arr.element = ValueKind::integer;
        arr.size = static_cast<std::uint32_t>(id_values.size());
        arr.items = id_values.data();
        o.sql += "= ANY(";
        o.param(arr);
        o.sql += ')';
    } else {
        o.sql += "IN (";
        for (std::size_t i = 0; i < ids.size(); ++i) {
            if (i) o.sql += ", ";
            o.param(Value::integer(ids[i]));
        }
        o.sql += ')';
    }
    o.sql += R"( AND "active" = )";
    o.param(Value::boolean(true));
    o.sql += R"( ORDER BY "name" ASC, "id" DESC LIMIT )";
    o.param(Value::integer(20));
    o.sql += " OFFSET ";
    o.param(Value::integer(40));
}

inline void r3(Out& o) {
    o.sql += R"(SELECT "users"."id", "users"."name", COUNT("posts"."id") FROM "users" INNER JOIN "posts" ON "posts"."user_id" = "users"."id" WHERE "posts"."published" = )";
    o.param(Value::boolean(true));
    o.sql += R"( GROUP BY "users"."id", "users"."name" HAVING COUNT("posts"."id") > )";
    o.param(Value::integer(5));
    o.sql += R"( ORDER BY COUNT("posts"."id") DESC LIMIT )";
    o.param(Value::integer(10));
}

inline void r4(Out& o) {
    o.sql += R"(SELECT "users"."id", "users"."name", "users"."email", "users"."age", "users"."active", "users"."inserted_at" FROM "users" WHERE "users"."id" IN (SELECT "posts"."user_id" FROM "posts" WHERE "posts"."views" > )";
    o.param(Value::integer(100));
    o.sql += R"() AND "users"."active" = )";
    o.param(Value::boolean(true));
}

template <class U>
void r5(Out& o, const U& u) {
    o.sql += R"(INSERT INTO "users" ("name", "email", "age", "active") VALUES ()";
    o.text(u.name);
    o.sql += ", ";
    o.text(u.email);
    o.sql += ", ";
    o.param(Value::integer(u.age));
    o.sql += ", ";
    o.param(Value::boolean(u.active));
    o.sql += R"() RETURNING "id")";
}

inline void r6(Out& o) {
    o.sql += R"(UPDATE "users" SET "name" = )";
    o.text("Grace");
    o.sql += R"(, "age" = )";
    o.param(Value::integer(40));
    o.sql += R"( WHERE "id" = )";
    o.param(Value::integer(7));
}

inline void r7(Out& o, std::int64_t micros) {
    o.sql += R"(DELETE FROM "users" WHERE "active" = )";
    o.param(Value::boolean(false));
    o.sql += R"( AND "inserted_at" < )";
    o.param(Value::timestamp(micros));
}

template <class U>
void r8(Out& o, const U& u) {
    o.sql += R"(INSERT INTO "users" ("email", "name") VALUES ()";
    o.text(u.email);
    o.sql += ", ";
    o.text(u.name);
    o.sql += R"() ON CONFLICT ("email") DO UPDATE SET "name" = EXCLUDED."name")";
}

}  // namespace hand
