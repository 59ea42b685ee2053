// SPDX-License-Identifier: MIT
// Compile-time probe: R1–R8 with quarry (two schemas, eight statements, both dialects).
#include "workloads.hpp"

std::vector<quarry::Rendered> render_all(const User& u, const std::vector<std::int64_t>& ids, timestamp t) {
    std::vector<quarry::Rendered> out;
    for (const quarry::Dialect* d : {&quarry::sqlite(), &quarry::postgres()}) {
        out.push_back(quarry::to_sql(workloads::r1(), *d));
        out.push_back(quarry::to_sql(workloads::r2(ids), *d));
        out.push_back(quarry::to_sql(workloads::r3(), *d));
        out.push_back(quarry::to_sql(workloads::r4(), *d));
        out.push_back(quarry::to_sql(workloads::r5(u), *d));
        out.push_back(quarry::to_sql(workloads::r6(), *d));
        out.push_back(quarry::to_sql(workloads::r7(t), *d));
        out.push_back(quarry::to_sql(workloads::r8(u), *d));
    }
    return out;
}
