// tool_onnx_run MODEL.onnx LIST
// Runs an exported model with OpenCV's dnn module (cv::dnn::readNetFromONNX), all images of
// LIST (one path per line) in one batch, and prints for each image
//   path: prob_0 ... prob_C-1 | logits_0 ... logits_C-1 | energy      (each %.9g)
// the same layout as `tool_export_ref ref`. Images are prepared as the model's metadata
// says: RGB planes, pixel / 255 (cv::dnn::blobFromImages with swapRB), at the network size
// (the tests generate images of that size; another size is an error here).
// Used by tests/export/test_export.sh.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>

int main(int argc, char **argv)
{
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s MODEL.onnx LIST\n", argv[0]);
        return 2;
    }
    std::vector<std::string> paths;
    std::vector<cv::Mat> images;
    std::ifstream list(argv[2]);
    std::string line;
    while (std::getline(list, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        cv::Mat im = cv::imread(line, cv::IMREAD_COLOR);
        if (im.empty()) {
            std::fprintf(stderr, "tool_onnx_run: cannot read %s\n", line.c_str());
            return 1;
        }
        if (!images.empty() && im.size() != images[0].size()) {
            std::fprintf(stderr, "tool_onnx_run: %s is not the size of the first image\n", line.c_str());
            return 1;
        }
        paths.push_back(line);
        images.push_back(im);
    }
    if (images.empty()) {
        std::fprintf(stderr, "tool_onnx_run: %s lists no image\n", argv[2]);
        return 1;
    }
    try {
        cv::dnn::Net net = cv::dnn::readNetFromONNX(argv[1]);
        net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
        net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
        cv::Mat blob = cv::dnn::blobFromImages(images, 1.0 / 255, cv::Size(), cv::Scalar(), true, false, CV_32F);
        net.setInput(blob, "data");
        std::vector<cv::Mat> outs;
        std::vector<std::string> names = {"prob", "logits", "energy"};
        net.forward(outs, names);
        const int N = (int)images.size();
        const int C = (int)(outs[0].total() / N);
        if ((int)outs[1].total() != N * C || (int)outs[2].total() != N) {
            std::fprintf(stderr, "tool_onnx_run: output sizes %zu, %zu, %zu for %d images\n",
                         outs[0].total(), outs[1].total(), outs[2].total(), N);
            return 1;
        }
        for (int b = 0; b < N; ++b) {
            const float *p = outs[0].ptr<float>() + b * C;
            const float *z = outs[1].ptr<float>() + b * C;
            std::printf("%s:", paths[b].c_str());
            for (int c = 0; c < C; ++c) std::printf(" %.9g", p[c]);
            std::printf(" |");
            for (int c = 0; c < C; ++c) std::printf(" %.9g", z[c]);
            std::printf(" | %.9g\n", outs[2].ptr<float>()[b]);
        }
    } catch (const cv::Exception &e) {
        std::fprintf(stderr, "tool_onnx_run: OpenCV: %s\n", e.what());
        return 1;
    }
    return 0;
}
