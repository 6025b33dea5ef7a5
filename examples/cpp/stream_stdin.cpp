// Streams a model over standard input: reads whitespace-separated numbers, input_size per step
// (one integer id per step for a model that takes ids), and writes one line per step with the
// model's output for that step. The pattern of a device loop: create the stream once, then step.
//   stream_stdin model.gru < samples.txt
#include <cstdio>
#include <exception>
#include <iostream>
#include <vector>

#include "gru_infer/gru_infer.h"

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.gru < input\n", argv[0]);
        return 2;
    }
    try {
        const std::shared_ptr<const gru_infer::Model> model = gru_infer::load_model(argv[1]);
        gru_infer::Stream stream(model, /*batch=*/1);  // allocates everything now; step() never does
        std::vector<float> x(model->input_size()), y(model->output_size());
        std::int64_t id = 0;
        for (;;) {
            if (model->takes_ids()) {
                if (!(std::cin >> id)) break;
                stream.check_ids(&id);  // step_ids itself never throws: validate first
                stream.step_ids(&id, y.data());
            } else {
                std::size_t n = 0;
                while (n < x.size() && std::cin >> x[n]) ++n;
                if (n == 0) break;
                if (n < x.size()) {
                    std::fprintf(stderr, "stream_stdin: the input ends inside a step (%zu of %zu values)\n", n,
                                 x.size());
                    return 1;
                }
                stream.step(x.data(), y.data());
            }
            for (std::size_t i = 0; i < y.size(); ++i) std::printf(i ? " %.9g" : "%.9g", y[i]);
            std::printf("\n");
        }
        if (!std::cin.eof()) {
            std::fprintf(stderr, "stream_stdin: input is not a number\n");
            return 1;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "stream_stdin: %s\n", e.what());
        return 1;
    }
    return 0;
}
