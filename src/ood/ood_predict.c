/* darknet classifier predict | demo with the OOD score: Darknet's own commands of those names
 * (examples/classifier.c) plus, for every image or frame, the OOD score of WEIGHTS.ood and
 * "unknown" when it is below that file's threshold.
 *
 *   predict DATA CFG [WEIGHTS [IMAGE]] [flags]
 *       IMAGE, every image of -list LIST, or (neither) paths typed at the prompt, as Darknet's
 *       predict. Prints the top classes, then the score and the decision. -out DIR
 *       (headless) writes DIR/NNNNN_NAME.png, the image with its class, probability, score and
 *       accept/reject drawn on it, and DIR/predictions.csv.
 *   demo DATA CFG [WEIGHTS [VIDEO]] [flags]
 *       A video file, an image sequence (a printf pattern such as frames/%03d.png) or a
 *       camera, shown in a window (Esc or q quits; needs a display). -headless: no window;
 *       -out DIR writes every annotated frame (DIR/frame_NNNNNN.png) and DIR/predictions.csv.
 * Their flags, with defaults and help, are the tables predict_flags and demo_flags below
 * (`-h` prints them).
 *
 * WEIGHTS may be left out, as in Darknet's commands (an untrained network). The score: that
 * of the threshold file (WEIGHTS.ood, or -threshold FILE), with its ODIN settings and
 * threshold. A threshold file made for another cfg or other weights (ood_threshold.h: sizes
 * and checksums of both) is an error. Without a file, or with -score naming another score,
 * the commands behave like Darknet's plus the score (msp unless -score says otherwise), say
 * that no threshold is used, and decide nothing. Images are
 * prepared as `classifier valid` and `classifier ood` prepare them (ood_prepare_image), so the
 * threshold means here what it meant there.
 *
 * Glossary: C classes, X inputs per row.
 */
#include "ood_commands.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "darknet.h"
#include "ood_args.h"
#include "ood_io.h"
#include "ood_score.h"
#include "ood_threshold.h"
#include "option_list.h"

/* Annotated images are scaled up to at least this many pixels on their shorter side, so
 * that the text above a 32x32 image stays readable. */
#define ANNOTATE_MIN_SIDE 256

typedef struct predictor {
    const char *cmd;
    network *net;
    ood_scorer sc;
    int C, top;
    char **names;        /* [C] */
    int *top_idx;        /* [top] */
    int score;           /* OOD_* shown */
    int have_thr;        /* 1: thr applies (same score, same weights) */
    ood_threshold thr;
    float *x;            /* [X] the prepared image */
    double scores[OOD_NSCORES];
} predictor;

typedef struct prediction {
    int cls;
    float prob;
    double score;
    int state;           /* 1 known, 0 unknown, -1 no threshold */
} prediction;

/* weights may be 0: an untrained network, as Darknet's predict and demo allow. */
static void predictor_init(predictor *p, const char *cmd, const char *data, const char *cfg,
                           const char *weights, const char *thr_file, int score_flag, int top_flag)
{
    list *options;
    char *name_list, *path, err[1024];
    int loaded = 0;
    float odin_t = 1000, odin_eps = 0.0014f;

    memset(p, 0, sizeof(*p));
    p->cmd = cmd;
    /* The network first, as in Darknet's commands: a cfg error is the first error reported. */
    if (weights && access(weights, R_OK) != 0) ood_fail(cmd, "cannot read the weights %s", weights);
    p->net = load_network((char *)cfg, (char *)weights, 0);
    set_batch_network(p->net, 1);
    if (p->net->c != 3) ood_fail(cmd, "%s takes %d channels: the OOD commands feed RGB images", cfg, p->net->c);

    options = read_data_cfg((char *)data);
    p->C = option_find_int_quiet(options, "classes", 0);
    name_list = option_find(options, "names");
    if (!name_list) name_list = option_find(options, "labels");
    if (!name_list) ood_fail(cmd, "%s has neither names= nor labels= (the class names)", data);
    if (p->C <= 0) ood_fail(cmd, "%s has no classes=", data);
    p->names = get_labels_checked(name_list, p->C);
    p->top = top_flag > 0 ? top_flag : option_find_int_quiet(options, "top", 1);
    if (p->top < 1) p->top = 1;
    if (p->top > p->C) p->top = p->C;
    p->top_idx = calloc(p->top, sizeof(int));

    /* The threshold file, checked against this cfg and these weights. */
    if (thr_file && !weights) ood_fail(cmd, "-threshold %s: a threshold file needs the WEIGHTS it was made for", thr_file);
    path = thr_file ? strdup(thr_file) : weights ? ood_threshold_path(weights) : 0;
    if (path) {
        loaded = ood_threshold_load(path, &p->thr, err, sizeof(err));
        if (loaded < 0) ood_fail(cmd, "%s", err);
        if (!loaded && thr_file) ood_fail(cmd, "-threshold %s: no such file", thr_file);
        if (loaded && !ood_threshold_matches(&p->thr, path, cfg, weights, p->C, err, sizeof(err))) ood_fail(cmd, "%s", err);
    }
    p->score = score_flag >= 0 ? score_flag : loaded ? p->thr.score : OOD_MSP;
    if (p->score >= OOD_NSCORES)
        ood_fail(cmd, "the %s score%s%s: predict and demo compute msp, energy, maxlogit and odin (the post-hoc scores are "
                      "classifier ood -posthoc's)", ood_score_name(p->score), score_flag >= 0 ? "" : " of ", score_flag >= 0 ? "" : path);
    if (!path) {
        fprintf(stderr, "classifier %s: no weights: an untrained network and no OOD threshold; showing the %s score\n",
                cmd, ood_score_name(p->score));
    } else if (!loaded) {
        fprintf(stderr, "classifier %s: no %s: no OOD threshold, so nothing is called unknown; showing the %s score "
                        "(darknet classifier ood -deploy makes the file)\n", cmd, path, ood_score_name(p->score));
    } else if (p->score != p->thr.score) {
        fprintf(stderr, "classifier %s: %s not used: it holds a threshold for %s, not for -score %s; showing the %s score "
                        "without a threshold\n", cmd, path, ood_score_name(p->thr.score), ood_score_name(p->score),
                ood_score_name(p->score));
    } else {
        p->have_thr = 1;
        odin_t = p->thr.odin_t;
        odin_eps = p->thr.odin_eps;
        fprintf(stderr, "classifier %s: threshold %s >= %.17g from %s (accepts %.2f%% of the ID test images)\n", cmd,
                ood_score_name(p->score), p->thr.threshold, path, 100 * p->thr.id_accepted);
    }
    free(path);

    if (!ood_scorer_init(&p->sc, p->net, odin_t, odin_eps, p->score == OOD_ODIN, err, sizeof(err)))
        ood_fail(cmd, "%s: %s", cfg, err);
    if (p->sc.C != p->C) ood_fail(cmd, "%s has classes=%d, the network's logits have %d", data, p->C, p->sc.C);
    p->x = calloc(p->sc.X, sizeof(float));
}

static void predictor_free(predictor *p)
{
    ood_scorer_free(&p->sc);
    free_network(p->net);
    free(p->top_idx);
    free(p->x);
}

static prediction predict_image(predictor *p, image im)
{
    prediction r;
    image crop = ood_prepare_image(im, p->net->w, p->net->h);
    memcpy(p->x, crop.data, sizeof(float) * p->sc.X);
    free_image(crop);
    ood_score_batch(&p->sc, p->x, p->scores);
    top_k(p->sc.prob, p->C, p->top, p->top_idx);
    r.cls = p->top_idx[0];
    r.prob = p->sc.prob[r.cls];
    r.score = p->scores[p->score];
    r.state = p->have_thr ? r.score >= p->thr.threshold : -1;
    return r;
}

/* The two lines drawn above an image and printed under the top classes. */
static void describe(const predictor *p, const prediction *r, char *line1, char *line2, int len)
{
    if (r->state == 0) snprintf(line1, len, "unknown (%s %.1f%%)", p->names[r->cls], 100 * r->prob);
    else snprintf(line1, len, "%s %.1f%%", p->names[r->cls], 100 * r->prob);
    if (r->state < 0) snprintf(line2, len, "%s %.6g (no threshold)", ood_score_name(p->score), r->score);
    else snprintf(line2, len, "%s %.6g %s %.6g: %s", ood_score_name(p->score), r->score, r->state ? ">=" : "<",
                  p->thr.threshold, r->state ? "known" : "unknown");
}

static const char *state_word(int state)
{
    return state < 0 ? "none" : state ? "known" : "unknown";
}

static FILE *open_predictions_csv(const char *cmd, const char *dir)
{
    char path[4096];
    FILE *fp;
    if (!ood_have_opencv()) fprintf(stderr, "classifier %s: built without OpenCV: -out writes predictions.csv only, no images\n", cmd);
    if (!ood_mkdirs(dir)) ood_fail(cmd, "cannot create the output folder %s", dir);
    snprintf(path, sizeof(path), "%s/predictions.csv", dir);
    fp = fopen(path, "w");
    if (!fp) ood_fail(cmd, "cannot write %s", path);
    fprintf(fp, "index,source,image,class,name,prob,score,value,threshold,decision\n");
    return fp;
}

static void write_prediction(FILE *fp, const predictor *p, int index, const char *source, const char *png,
                             const prediction *r)
{
    fprintf(fp, "%d,", index);
    ood_csv_field(fp, source);
    fputc(',', fp);
    ood_csv_field(fp, png ? png : "");
    fprintf(fp, ",%d,", r->cls);
    ood_csv_field(fp, p->names[r->cls]);
    fprintf(fp, ",%.9g,%s,%.17g,", r->prob, ood_score_name(p->score), r->score);
    if (p->have_thr) fprintf(fp, "%.17g", p->thr.threshold);
    fprintf(fp, ",%s\n", state_word(r->state));
}

/* Writes the annotated image to path; returns 1 on success. */
static int save_annotated(const predictor *p, image im, const prediction *r, const char *path)
{
    char l1[256], l2[256];
    image a;
    int ok;
    if (!ood_have_opencv()) return 0;
    describe(p, r, l1, l2, sizeof(l1));
    a = ood_annotate(im, ANNOTATE_MIN_SIDE, l1, l2, r->state);
    ok = ood_save_png(a, path);
    free_image(a);
    return ok;
}

/* DIR/NNNNN_NAME.png for the image at path (NAME: its file name without the extension). */
static void png_name(const char *dir, int index, const char *path, char *out, int len)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    int n;
    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
    snprintf(out, len, "%s/%05d_%.*s.png", dir, index, n, base);
}

/* The flags of predict and demo (one options struct; each command its own table). */
typedef struct predict_options {
    const char *list, *out, *threshold;
    int score, top, headless, frames, cam;
} predict_options;

#define F(name, type, meta, def, lo, hi, field, help) {name, type, meta, def, lo, hi, offsetof(predict_options, field), help}
#define FLAG_TOP F("-t", OOD_ARG_INT, "TOP", 0, 0, 1 << 20, top, "classes printed (default the .data file's top=, else 1)")
#define FLAG_SCORE F("-score", OOD_ARG_SCORE, "S", 0, 0, 0, score, "the score shown (default the threshold file's, else msp)")
#define FLAG_THRESHOLD F("-threshold", OOD_ARG_STRING, "FILE", 0, 0, 0, threshold, \
                         "the threshold file, made for this cfg and these weights (default WEIGHTS.ood)")
static const ood_flag predict_flags[] = {
    FLAG_TOP,
    F("-list", OOD_ARG_STRING, "LIST", 0, 0, 0, list, "predict every image of this list"),
    F("-out", OOD_ARG_STRING, "DIR", 0, 0, 0, out, "write DIR/NNNNN_NAME.png (annotated) and DIR/predictions.csv"),
    FLAG_SCORE,
    FLAG_THRESHOLD,
};
static const ood_flag demo_flags[] = {
    F("-c", OOD_ARG_INT, "CAMERA", "0", 0, 1 << 20, cam, "camera index, when no VIDEO is given"),
    F("-out", OOD_ARG_STRING, "DIR", 0, 0, 0, out, "write every annotated frame DIR/frame_NNNNNN.png and DIR/predictions.csv"),
    F("-headless", OOD_ARG_SWITCH, 0, 0, 0, 0, headless, "no window (no display needed)"),
    F("-frames", OOD_ARG_INT, "N", 0, 1, 1 << 30, frames, "stop after N frames (default the whole stream)"),
    FLAG_SCORE,
    FLAG_THRESHOLD,
    FLAG_TOP,
};
#undef FLAG_THRESHOLD
#undef FLAG_SCORE
#undef FLAG_TOP
#undef F

#define PREDICT_NOTES \
    "WEIGHTS may be left out (an untrained network). The threshold is WEIGHTS.ood (written by\n" \
    "darknet classifier ood -deploy) or -threshold FILE; without one nothing is called unknown. A\n" \
    "threshold file made for another cfg or other weights is an error."
static const char *const predict_arg_names[] = {"DATA", "CFG", "WEIGHTS", "IMAGE"};
static const char *const demo_arg_names[] = {"DATA", "CFG", "WEIGHTS", "VIDEO"};
const ood_command_spec ood_spec_predict = {
    "predict", "DATA CFG [WEIGHTS [IMAGE]]", predict_arg_names, 2, 4,
    "Darknet's predict plus the OOD score: the top classes of IMAGE, of every image of -list, or of\n"
    "paths typed at the prompt, then the score and the decision (known, or unknown below the threshold).",
    predict_flags, sizeof(predict_flags) / sizeof(predict_flags[0]), PREDICT_NOTES};
const ood_command_spec ood_spec_demo = {
    "demo", "DATA CFG [WEIGHTS [VIDEO]]", demo_arg_names, 2, 4,
    "Darknet's demo plus the OOD score: every frame of VIDEO (a file, or an image sequence such as\n"
    "frames/%03d.png) or of a camera, annotated with its class, score and decision, in a window.",
    demo_flags, sizeof(demo_flags) / sizeof(demo_flags[0]), PREDICT_NOTES "\nEsc or q quits the window."};

int ood_command_predict(int argc, char **argv)
{
    const char *cmd = "predict";
    const char *pos[4];
    predict_options o;
    const char *list, *out;
    int npos, n = 0, index = 0;
    predictor p;
    FILE *csv = 0;
    char **paths = 0;
    int *line_no = 0;

    npos = ood_args_parse(&ood_spec_predict, argc, argv, &o, pos);
    list = o.list;
    out = o.out;
    if (npos == 4 && list) ood_fail(cmd, "give an IMAGE or -list LIST, not both");
    predictor_init(&p, cmd, pos[0], pos[1], pos[2], o.threshold, o.score, o.top);
    if (list) {
        paths = ood_read_list(cmd, list, &n, &line_no);
        ood_check_readable(cmd, list, paths, n, line_no);
    } else if (npos == 4) {
        paths = calloc(1, sizeof(char *));
        paths[0] = strdup(pos[3]);
        n = 1;
        ood_check_readable(cmd, 0, paths, n, 0);
    }
    if (out) csv = open_predictions_csv(cmd, out);

    for (;;) {
        char buf[4096], l1[256], l2[256], png[4096];
        const char *path;
        image im;
        prediction r;
        double t0;
        int k;
        if (paths) {
            if (index == n) break;
            path = paths[index];
        } else {
            /* Darknet's prompt: one path per line until end of input. */
            printf("Enter Image Path: ");
            fflush(stdout);
            if (!fgets(buf, sizeof(buf), stdin)) break;
            buf[strcspn(buf, "\r\n")] = 0;
            if (!buf[0]) continue;
            path = buf;
        }
        if (!ood_load_image(path, &im)) {
            if (!paths) {
                fprintf(stderr, "classifier predict: cannot read or decode %s\n", path);
                continue;
            }
            ood_fail(cmd, "%s%s%s: cannot decode this image", path, list ? " in " : "", list ? list : "");
        }
        t0 = what_time_is_it_now();
        r = predict_image(&p, im);
        fprintf(stderr, "%s: Predicted in %f seconds.\n", path, what_time_is_it_now() - t0);
        for (k = 0; k < p.top; ++k)
            printf("%5.2f%%: %s\n", 100 * p.sc.prob[p.top_idx[k]], p.names[p.top_idx[k]]);
        describe(&p, &r, l1, l2, sizeof(l1));
        printf("OOD %s\n", l2);
        printf("decision: %s\n", r.state == 0 ? "unknown" : p.names[r.cls]);
        fflush(stdout);
        if (csv) {
            int saved = 0;
            png_name(out, index, path, png, sizeof(png));
            if (ood_have_opencv()) {
                saved = save_annotated(&p, im, &r, png);
                if (!saved) ood_fail(cmd, "cannot write %s", png);
            }
            write_prediction(csv, &p, index, path, saved ? png : 0, &r);
            fflush(csv);
        }
        free_image(im);
        ++index;
    }
    if (csv && (ferror(csv) | fclose(csv))) ood_fail(cmd, "error writing %s/predictions.csv", out);
    if (out) fprintf(stderr, "classifier predict: %d image%s written to %s/\n", index, index == 1 ? "" : "s", out);
    predictor_free(&p);
    if (paths) ood_free_list(paths, n, line_no);
    return 0;
}

int ood_command_demo(int argc, char **argv)
{
    const char *cmd = "demo";
    const char *pos[4], *out;
    predict_options o;
    int npos, headless, max_frames, cam, frame = 0;
    predictor p;
    FILE *csv = 0;
    void *video;
    char *window;
    double fps = 0;

    npos = ood_args_parse(&ood_spec_demo, argc, argv, &o, pos);
    out = o.out;
    headless = o.headless;
    max_frames = o.frames;
    cam = o.cam;
    if (!ood_have_opencv()) ood_fail(cmd, "needs OpenCV for video (this build has OPENCV=0)");
    if (!headless && !ood_display_available())
        ood_fail(cmd, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set): use -headless, with -out DIR to keep the annotated frames");
    predictor_init(&p, cmd, pos[0], pos[1], pos[2], o.threshold, o.score, o.top);
    video = ood_video_open(npos == 4 ? pos[3] : 0, cam);
    if (!video) {
        if (npos == 4) ood_fail(cmd, "cannot open the video %s", pos[3]);
        ood_fail(cmd, "cannot open camera %d", cam);
    }
    if (out) csv = open_predictions_csv(cmd, out);
    window = basecfg((char *)pos[1]);

    while (!max_frames || frame < max_frames) {
        image im, a;
        prediction r;
        char l1[256], l2[256], png[4096];
        double t0 = what_time_is_it_now(), dt;
        if (!ood_video_read(video, &im)) break;
        r = predict_image(&p, im);
        describe(&p, &r, l1, l2, sizeof(l1));
        a = ood_annotate(im, ANNOTATE_MIN_SIDE, l1, l2, r.state);
        if (csv) {
            snprintf(png, sizeof(png), "%s/frame_%06d.png", out, frame);
            if (!ood_save_png(a, png)) ood_fail(cmd, "cannot write %s", png);
            write_prediction(csv, &p, frame, npos == 4 ? pos[3] : "camera", png, &r);
            fflush(csv);
        }
        dt = what_time_is_it_now() - t0;
        fps = frame ? 0.9 * fps + 0.1 / fmax(dt, 1e-6) : 1 / fmax(dt, 1e-6);
        printf("frame %d: %s | %s | %.1f FPS\n", frame, l1, l2, fps);
        fflush(stdout);
        ++frame;
        if (!headless) {
            const int key = ood_show(a, window, 1);
            if (key == 27 || key == 'q') {
                free_image(a);
                free_image(im);
                break;
            }
        }
        free_image(a);
        free_image(im);
    }
    ood_video_close(video);
    if (!frame) ood_fail(cmd, "%s gave no frames", npos == 4 ? pos[3] : "the camera");
    if (csv && (ferror(csv) | fclose(csv))) ood_fail(cmd, "error writing %s/predictions.csv", out);
    if (out) fprintf(stderr, "classifier demo: %d frame%s written to %s/\n", frame, frame == 1 ? "" : "s", out);
    free(window);
    predictor_free(&p);
    return 0;
}
