/* OpenCV side of the OOD commands: decoding images with errors reported, the annotated
 * images of predict and demo (text by cv::putText: Darknet's own glyphs are looked up under
 * /usr/share/darknet/data/labels in Debian's build, which is not installed here), PNG
 * output, video and windows. C API in ood_io.h. Built only with OPENCV=1. */
#ifdef OPENCV

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "ood_io.h"

/* 8-bit BGR rows -> Darknet's planar RGB in [0, 1], exactly as Darknet's mat_to_image
 * (value / 255. in double, stored as float), so pixels match its load_image_color. */
static image mat_to_rgb_image(const cv::Mat &m)
{
    const int h = m.rows, w = m.cols;
    image im = make_image(w, h, 3);
    for (int y = 0; y < h; ++y) {
        const unsigned char *row = m.ptr<unsigned char>(y);
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < 3; ++k) im.data[(k * h + y) * w + x] = (float)(row[x * 3 + (2 - k)] / 255.);
    }
    return im;
}

/* Darknet image (1 or 3 channels, any range) -> 8-bit BGR, clamped and rounded (Darknet's
 * image_to_mat truncates, which turns a saved and reloaded 200/255 into 199). */
static cv::Mat rgb_image_to_mat(image im)
{
    cv::Mat m(im.h, im.w, CV_8UC3);
    for (int y = 0; y < im.h; ++y) {
        unsigned char *row = m.ptr<unsigned char>(y);
        for (int x = 0; x < im.w; ++x)
            for (int k = 0; k < 3; ++k) {
                const int src = im.c == 3 ? k : 0;
                float v = im.data[(src * im.h + y) * im.w + x];
                v = v < 0 ? 0 : v > 1 ? 1 : v;
                row[x * 3 + (2 - k)] = (unsigned char)std::lround(v * 255.f);
            }
    }
    return m;
}

extern "C" int ood_have_opencv(void) { return 1; }

extern "C" int ood_load_image(const char *path, image *out)
{
    cv::Mat m;
    try {
        m = cv::imread(path, cv::IMREAD_COLOR);
    } catch (const cv::Exception &) {
        return 0;
    }
    if (m.empty() || m.type() != CV_8UC3) return 0;
    *out = mat_to_rgb_image(m);
    return 1;
}

/* The largest font scale (down to a floor) at which text fits width pixels. */
static double fit_scale(const char *text, double want, int width, int thickness)
{
    double s = want;
    int base = 0;
    while (s > 0.3 && cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, s, thickness, &base).width > width)
        s *= 0.9;
    return s;
}

extern "C" image ood_annotate(image im, int min_side, const char *line1, const char *line2, int state)
{
    cv::Mat m = rgb_image_to_mat(im);
    const int side = std::min(m.cols, m.rows);
    if (side > 0 && side < min_side) {
        /* Nearest neighbour keeps a 32x32 image's pixels visible as blocks. */
        const double f = (double)min_side / side;
        cv::resize(m, m, cv::Size((int)std::lround(m.cols * f), (int)std::lround(m.rows * f)), 0, 0, cv::INTER_NEAREST);
    }
    /* Two text lines in a band above the image, sized from the image width. */
    const int line_h = std::min(40, std::max(18, m.cols / 14));   /* capped for HD video frames */
    const int band = 2 * line_h + line_h / 2;
    const int pad = std::max(4, line_h / 4);
    const int thick = line_h >= 36 ? 2 : 1;
    const cv::Scalar colour = state == 1 ? cv::Scalar(0, 120, 0) : state == 0 ? cv::Scalar(0, 0, 170) : cv::Scalar(90, 90, 90);
    cv::Mat out(m.rows + band, m.cols, CV_8UC3, colour);
    m.copyTo(out(cv::Rect(0, band, m.cols, m.rows)));
    const char *lines[2] = {line1 ? line1 : "", line2 ? line2 : ""};
    for (int i = 0; i < 2; ++i) {
        const double want = line_h * 0.7 / 22.0;   /* FONT_HERSHEY_SIMPLEX is ~22 px tall at 1.0 */
        const double s = fit_scale(lines[i], want, m.cols - 2 * pad, thick);
        cv::putText(out, lines[i], cv::Point(pad, (i + 1) * line_h), cv::FONT_HERSHEY_SIMPLEX, s,
                    cv::Scalar(255, 255, 255), thick, cv::LINE_AA);
    }
    return mat_to_rgb_image(out);
}

extern "C" int ood_save_png(image im, const char *path)
{
    try {
        return cv::imwrite(path, rgb_image_to_mat(im)) ? 1 : 0;
    } catch (const cv::Exception &) {
        return 0;
    }
}

extern "C" void *ood_video_open(const char *file, int cam)
{
    cv::VideoCapture *cap = 0;
    try {
        cap = file ? new cv::VideoCapture(file) : new cv::VideoCapture(cam);
        if (!cap->isOpened()) {
            delete cap;
            return 0;
        }
    } catch (const cv::Exception &) {
        delete cap;
        return 0;
    }
    return cap;
}

extern "C" int ood_video_read(void *video, image *out)
{
    cv::VideoCapture *cap = (cv::VideoCapture *)video;
    cv::Mat m;
    try {
        if (!cap->read(m) || m.empty()) return 0;
    } catch (const cv::Exception &) {
        return 0;
    }
    if (m.type() == CV_8UC1) cv::cvtColor(m, m, cv::COLOR_GRAY2BGR);
    else if (m.type() == CV_8UC4) cv::cvtColor(m, m, cv::COLOR_BGRA2BGR);
    if (m.type() != CV_8UC3) return 0;
    *out = mat_to_rgb_image(m);
    return 1;
}

extern "C" void ood_video_close(void *video)
{
    delete (cv::VideoCapture *)video;
}

extern "C" int ood_show(image im, const char *window, int ms)
{
    cv::imshow(window, rgb_image_to_mat(im));
    const int key = cv::waitKey(ms);
    return key < 0 ? -1 : key % 256;
}

#endif
