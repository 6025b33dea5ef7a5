#include "gru_infer/threading.h"

#include "runtime/denormals.h"
#include "runtime/parallel.h"

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace gru_infer {
namespace {

std::atomic<std::size_t> g_threads{0};
thread_local bool t_in_parallel = false;  // nested parallel_for calls run serially

std::size_t default_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n ? n : 1;
}

}  // namespace

void set_num_threads(std::size_t n) { g_threads.store(n); }

std::size_t get_num_threads() {
    const std::size_t n = g_threads.load();
    return n ? n : default_threads();
}

bool inside_parallel_for() { return t_in_parallel; }

void parallel_for(std::size_t tasks, std::size_t threads, const std::function<void(std::size_t)>& fn) {
    if (threads > tasks) threads = tasks;
    if (threads <= 1 || t_in_parallel) {
        for (std::size_t i = 0; i < tasks; ++i) fn(i);
        return;
    }
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&] {
        FlushDenormals flush;  // per thread: each has its own floating-point control register
        const bool was_parallel = t_in_parallel;
        t_in_parallel = true;
        for (std::size_t i; (i = next.fetch_add(1)) < tasks;) {
            try {
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
        t_in_parallel = was_parallel;
    };
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& th : pool) th.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace gru_infer
