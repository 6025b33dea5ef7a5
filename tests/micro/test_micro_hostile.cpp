// The micro runtime on malformed arrays, on the host under ASan and UBSan (tests/run_micro.sh):
// every truncation of each test model, and random changes to its header and layer records with
// the checksum made valid again (so the record checks, not the checksum, must catch them), give
// an error code or a model that steps inside its arena; never a crash or a read outside the array
// (each array and arena is a heap block of exactly its size). The models micro_models.py marks as
// refused give their status (unsupported layers, fp16 weights).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "gru_infer_micro.h"
#include "micro_cases.h"
#include "runtime/fnv1a64.h"

namespace {

// Runs an array of exactly `size` bytes (a heap copy): checks, builds and steps it if it is valid.
gru_micro_status exercise(const unsigned char* bytes, std::size_t size) {
    auto* copy = static_cast<unsigned char*>(std::malloc(size ? size : 1));
    if (size) std::memcpy(copy, bytes, size);
    std::size_t need = 0;
    gru_micro_status s = gru_micro_arena_size(copy, size, &need);
    if (s == GRU_MICRO_OK) {
        void* arena = std::malloc(need);
        gru_micro* m = nullptr;
        s = gru_micro_create(copy, size, arena, need, &m);
        if (s == GRU_MICRO_OK) {
            std::vector<float> x(gru_micro_input_size(m) * 3, 0.5f), y(gru_micro_output_size(m) * 3);
            gru_micro_run(m, x.data(), 3, y.data());
        }
        std::free(arena);
    }
    std::free(copy);
    return s;
}

}  // namespace

int main() {
    int failures = 0;
    std::mt19937 rng(12345);
    for (const micro_case& c : micro_cases) {
        if (exercise(c.model, c.size) != GRU_MICRO_OK) {
            std::printf("FAIL %s: the valid array is refused\n", c.name);
            ++failures;
        }
        for (std::size_t n = 0; n < c.size; ++n)  // every truncation
            if (exercise(c.model, n) == GRU_MICRO_OK) {
                std::printf("FAIL %s: truncated to %zu bytes, accepted\n", c.name, n);
                ++failures;
            }
        std::uint64_t meta_size;
        std::memcpy(&meta_size, c.model + 24, 8);
        std::vector<unsigned char> v(c.model, c.model + c.size);
        const std::uint32_t extremes[] = {0, 1, 2, 3, 16, 64, 0x7fffffffu, 0x80000000u, 0xffffffffu, 0xfffffff0u};
        int accepted = 0;
        const int tries = 4000;
        for (int i = 0; i < tries; ++i) {  // header and metadata changes, checksum fixed up
            std::memcpy(v.data(), c.model, c.size);
            const std::size_t at = rng() % (64 + meta_size - 4);
            if (rng() % 2) v[at] = static_cast<unsigned char>(rng());
            else std::memcpy(&v[at & ~std::size_t(3)], &extremes[rng() % 10], 4);
            const std::uint64_t sum = gru_infer::fnv1a64(v.data() + 64, v.size() - 64);
            if (at < 48 || at >= 56) std::memcpy(&v[48], &sum, 8);
            accepted += exercise(v.data(), v.size()) == GRU_MICRO_OK;
        }
        std::printf("%s: %zu truncations refused; %d of %d changed arrays still valid (and stepped)\n", c.name,
                    c.size, accepted, tries);
    }
    for (const micro_refusal& r : micro_refusals) {
        const gru_micro_status s = exercise(r.model, r.size);
        std::printf("%s: %s\n", r.name, gru_micro_status_name(s));
        if (s != r.expected) {
            std::printf("FAIL %s: status %d, expected %d\n", r.name, s, r.expected);
            ++failures;
        }
    }
    std::printf(failures ? "test_micro_hostile: %d failures\n" : "test_micro_hostile: ok\n", failures);
    return failures ? 1 : 0;
}
