/* Files, lists and command-line values for the OOD commands, and the image functions of
 * builds without OpenCV (the OpenCV ones are in ood_draw.cpp). See ood_io.h. */
#include "ood_io.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

void ood_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "darknet: error: classifier %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

int ood_parse_int(const char *cmd, const char *flag, const char *value, int lo, int hi)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(value, &end, 10);
    if (end == value || *end || errno || v < lo || v > hi)
        ood_fail(cmd, "%s '%s': must be an integer in [%d, %d]", flag, value, lo, hi);
    return (int)v;
}

double ood_parse_double(const char *cmd, const char *flag, const char *value, double lo, double hi)
{
    char *end;
    double v;
    errno = 0;
    v = strtod(value, &end);
    /* !(v >= lo && v <= hi) also refuses NaN, under IEEE-safe flags */
    if (end == value || *end || errno || !(v >= lo && v <= hi))
        ood_fail(cmd, "%s '%s': must be a number in [%g, %g]", flag, value, lo, hi);
    return v;
}

float ood_parse_float(const char *cmd, const char *flag, const char *value, float lo, float hi)
{
    return (float)ood_parse_double(cmd, flag, value, lo, hi);
}

char *ood_flag_value(const char *cmd, int argc, char **argv, int *i)
{
    if (*i + 1 >= argc || !argv[*i + 1]) ood_fail(cmd, "%s needs a value", argv[*i]);
    ++*i;
    return argv[*i];
}

int ood_is_finite(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    return (bits & 0x7ff0000000000000ull) != 0x7ff0000000000000ull;
}

char **ood_read_list(const char *cmd, const char *list, int *n, int **line_no)
{
    FILE *fp = fopen(list, "r");
    char *line;
    char **paths = 0;
    int *lines = 0, cap = 0, count = 0, no = 0;
    if (!fp) ood_fail(cmd, "cannot open the image list %s (%s)", list, strerror(errno));
    while ((line = fgetl(fp))) {
        size_t len = strlen(line);
        ++no;
        while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) line[--len] = 0;
        if (!len) {
            free(line);
            continue;
        }
        if (count == cap) {
            cap = cap ? 2 * cap : 1024;
            paths = realloc(paths, sizeof(char *) * cap);
            lines = realloc(lines, sizeof(int) * cap);
        }
        paths[count] = line;
        lines[count] = no;
        ++count;
    }
    fclose(fp);
    if (!count) ood_fail(cmd, "the image list %s lists no images", list);
    *n = count;
    if (line_no) *line_no = lines;
    else free(lines);
    return paths;
}

void ood_free_list(char **paths, int n, int *line_no)
{
    int i;
    for (i = 0; i < n; ++i) free(paths[i]);
    free(paths);
    free(line_no);
}

void ood_check_readable(const char *cmd, const char *list, char **paths, int n, const int *line_no)
{
    int i;
    for (i = 0; i < n; ++i) {
        struct stat st;
        const char *why = 0;
        if (stat(paths[i], &st) != 0) why = strerror(errno);
        else if (!S_ISREG(st.st_mode)) why = "not a regular file";
        else if (access(paths[i], R_OK) != 0) why = strerror(errno);
        if (why && list) ood_fail(cmd, "%s (line %d of %s): %s", paths[i], line_no ? line_no[i] : i + 1, list, why);
        if (why) ood_fail(cmd, "%s: %s", paths[i], why);
    }
}

int ood_mkdirs(const char *dir)
{
    char buf[PATH_MAX];
    size_t i, n = strlen(dir);
    struct stat st;
    if (!n || n >= sizeof(buf)) return 0;
    memcpy(buf, dir, n + 1);
    for (i = 1; i <= n; ++i) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return 0;
        buf[i] = i == n ? 0 : '/';
    }
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int ood_write_atomic(const char *path, const char *text, char *err, int errlen)
{
    char tmp[PATH_MAX];
    FILE *fp;
    size_t len = strlen(text);
    int ok;
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long");
        return 0;
    }
    fp = fopen(tmp, "w");
    if (!fp) {
        snprintf(err, errlen, "cannot create %s (%s)", tmp, strerror(errno));
        return 0;
    }
    ok = fwrite(text, 1, len, fp) == len;
    ok = fflush(fp) == 0 && ok;
    ok = fsync(fileno(fp)) == 0 && ok;
    ok = fclose(fp) == 0 && ok;
    if (!ok) {
        snprintf(err, errlen, "cannot write %s (%s)", tmp, strerror(errno));
        remove(tmp);
        return 0;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename %s to %s (%s)", tmp, path, strerror(errno));
        remove(tmp);
        return 0;
    }
    return 1;
}

unsigned long long ood_file_fnv1a(const char *path, long long *size)
{
    FILE *fp = fopen(path, "rb");
    unsigned char buf[65536];
    unsigned long long h = 14695981039346656037ULL;
    long long total = 0;
    size_t n, i;
    if (!fp) {
        *size = -1;
        return 0;
    }
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        for (i = 0; i < n; ++i) {
            h ^= buf[i];
            h *= 1099511628211ULL;
        }
        total += (long long)n;
    }
    if (ferror(fp)) total = -1;
    fclose(fp);
    *size = total;
    return total < 0 ? 0 : h;
}

void ood_csv_field(FILE *fp, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; ++s) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

image ood_prepare_image(image im, int w, int h)
{
    return center_crop_image(im, w, h);
}

#ifndef OPENCV
/* Darknet's stb_image (compiled into image.c with external linkage): decoding errors come
 * back here instead of ending the program, as Darknet's load_image_stb would. */
unsigned char *stbi_load(char const *filename, int *x, int *y, int *comp, int req_comp);
void stbi_image_free(void *retval_from_stbi_load);

int ood_load_image(const char *path, image *out)
{
    int w, h, c, x, y, k;
    unsigned char *data = stbi_load(path, &w, &h, &c, 3);
    if (!data) return 0;
    *out = make_image(w, h, 3);
    /* stb: interleaved RGB rows; Darknet: planar channels. */
    for (k = 0; k < 3; ++k)
        for (y = 0; y < h; ++y)
            for (x = 0; x < w; ++x) out->data[(k * h + y) * w + x] = (float)(data[(y * w + x) * 3 + k] / 255.);
    stbi_image_free(data);
    return 1;
}

int ood_have_opencv(void) { return 0; }

image ood_annotate(image im, int min_side, const char *line1, const char *line2, int state)
{
    image none = {0};
    (void)im; (void)min_side; (void)line1; (void)line2; (void)state;
    return none;
}

int ood_save_png(image im, const char *path) { (void)im; (void)path; return 0; }
void *ood_video_open(const char *file, int cam) { (void)file; (void)cam; return 0; }
int ood_video_read(void *video, image *out) { (void)video; (void)out; return 0; }
void ood_video_close(void *video) { (void)video; }
int ood_display_available(void) { return 0; }
int ood_show(image im, const char *window, int ms) { (void)im; (void)window; (void)ms; return -1; }
#else
int ood_display_available(void)
{
    const char *x = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");
    return (x && *x) || (w && *w);
}
#endif
