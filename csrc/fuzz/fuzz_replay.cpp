// A main() for a libFuzzer target without libFuzzer: runs LLVMFuzzerTestOneInput once on every
// file named on the command line (folders: every file in them, sorted). ctest runs it over the
// stored corpus and the inputs that ever broke a loader (tests/data/fuzz/), with GCC and, in
// tests/run_sanitizers.sh, under ASan+UBSan. A crash fails the test; so does finding no input.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
    namespace fs = std::filesystem;
    std::vector<fs::path> files;
    for (int i = 1; i < argc; ++i) {
        const fs::path p(argv[i]);
        if (fs::is_directory(p)) {
            for (const auto& e : fs::directory_iterator(p))
                if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
        } else if (fs::exists(p)) {
            files.push_back(p);
        }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    std::printf("%s: replayed %zu inputs\n", argc ? argv[0] : "fuzz_replay", files.size());
    return files.empty() ? 1 : 0;
}
