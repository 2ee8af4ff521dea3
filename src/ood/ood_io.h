/* Files, lists, command-line values and images for the OOD commands (ood, predict, demo).
 *
 * Image decoding is OpenCV's (the same imread as Darknet's own load_image_color in an
 * OpenCV build, so training, `classifier valid` and these commands see identical pixels)
 * or, without OpenCV, Darknet's stb_image. Unlike Darknet's loaders, a file that cannot be
 * decoded is reported to the caller, which stops with the file's name: Darknet's OpenCV
 * loader substitutes a black 10x10 image and its stb loader exits with status 0.
 *
 * Drawing text, writing PNGs, video and windows need OpenCV (src/ood/ood_draw.cpp);
 * ood_have_opencv() says whether this build has it, and the functions below fail cleanly
 * (return 0) when it does not.
 */
#ifndef OOD_IO_H
#define OOD_IO_H

#include "darknet.h"

/* ood_draw.cpp implements part of this API in C++. */
#ifdef __cplusplus
extern "C" {
#endif

/* Stops the program: "darknet: error: classifier CMD: message". */
void ood_fail(const char *cmd, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

/* Strict numbers for command-line flags: stops with the flag's name when value is not a
 * number in [lo, hi]. */
int ood_parse_int(const char *cmd, const char *flag, const char *value, int lo, int hi);
float ood_parse_float(const char *cmd, const char *flag, const char *value, float lo, float hi);
double ood_parse_double(const char *cmd, const char *flag, const char *value, double lo, double hi);
/* The value after flag argv[*i] (advancing *i); stops when there is none. */
char *ood_flag_value(const char *cmd, int argc, char **argv, int *i);

/* An image list: one path per line; blank lines are skipped, trailing spaces and CR
 * trimmed. Stops when the file cannot be read or lists nothing. line_no [n] (may be 0)
 * receives each path's line number, for messages. */
char **ood_read_list(const char *cmd, const char *list, int *n, int **line_no);
void ood_free_list(char **paths, int n, int *line_no);
/* Stops at the first path that is not a readable regular file, naming it and its line of
 * list (list 0: paths from the command line). */
void ood_check_readable(const char *cmd, const char *list, char **paths, int n, const int *line_no);

/* Whether v is a finite number, from its bits: right under -ffinite-math-only too, which
 * folds isfinite() to 1. A float converts to the same class of double. */
int ood_is_finite(double v);

/* mkdir -p; 1 on success. */
int ood_mkdirs(const char *dir);
/* Writes text to path through path.tmp.PID and rename(2), so a reader never sees half a file;
 * 1 on success, else 0 with the reason in err. */
int ood_write_atomic(const char *path, const char *text, char *err, int errlen);
/* 64-bit FNV-1a of a file's bytes, and its size; 0 with *size = -1 when unreadable. */
unsigned long long ood_file_fnv1a(const char *path, long long *size);
/* CSV field: the text as is, or in double quotes (quotes doubled) when it holds a comma,
 * quote or line break. */
void ood_csv_field(FILE *fp, const char *s);

/* Decodes an image file as 3-channel RGB in [0, 1] into *out; 1 on success, 0 when the file
 * cannot be read or decoded (nothing is allocated then). */
int ood_load_image(const char *path, image *out);
/* What every OOD command feeds the network: Darknet's `classifier valid` preparation (central
 * square crop, resized to w x h), so the threshold chosen by `classifier ood` applies to
 * what predict and demo compute. */
image ood_prepare_image(image im, int w, int h);

int ood_have_opencv(void);
/* A new image: im scaled up (nearest neighbour) until its shorter side is at least min_side,
 * with a band above it holding two lines of text; the band is green for state 1 (known),
 * red for 0 (unknown) and grey for -1 (no threshold). Without OpenCV: an empty image. */
image ood_annotate(image im, int min_side, const char *line1, const char *line2, int state);
/* Writes a PNG (the exact path given); 1 on success. */
int ood_save_png(image im, const char *path);
/* A video file, image sequence (printf pattern such as frames/%03d.png) or camera (file 0:
 * camera index cam); 0 when it cannot be opened. */
void *ood_video_open(const char *file, int cam);
/* The next frame as an RGB image in [0, 1]; 0 at the end of the stream. */
int ood_video_read(void *video, image *out);
void ood_video_close(void *video);
/* Whether a window can be opened (an X11 or Wayland display is set). */
int ood_display_available(void);
/* Shows im in a window; returns the key pressed within ms milliseconds, or -1. */
int ood_show(image im, const char *window, int ms);

#ifdef __cplusplus
}
#endif

#endif
