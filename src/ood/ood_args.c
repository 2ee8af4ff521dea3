/* The plugin commands' argument parser and help; see ood_args.h. */
#include "ood_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ood_io.h"
#include "ood_score.h"

static void *field(void *opts, const ood_flag *f) { return (char *)opts + f->offset; }

/* One value into the flag's field; `given` names where it came from for messages. */
static void set_value(const ood_command_spec *spec, const ood_flag *f, const char *v, void *opts)
{
    void *p = field(opts, f);
    switch (f->type) {
    case OOD_ARG_STRING:
        *(const char **)p = v;
        break;
    case OOD_ARG_INT:
        *(int *)p = ood_parse_int(spec->name, f->name, v, (int)f->lo, (int)f->hi);
        break;
    case OOD_ARG_FLOAT:
        *(float *)p = ood_parse_float(spec->name, f->name, v, (float)f->lo, (float)f->hi);
        break;
    case OOD_ARG_DOUBLE:
        *(double *)p = ood_parse_float(spec->name, f->name, v, (float)f->lo, (float)f->hi);
        break;
    case OOD_ARG_SWITCH:
        *(int *)p = 1;
        break;
    case OOD_ARG_SCORE: {
        const int k = ood_score_from_name(v);
        char names[256];
        if (k < 0) ood_fail(spec->name, "%s '%s': one of %s", f->name, v, ood_score_names(names, sizeof(names)));
        *(int *)p = k;
        break;
    }
    case OOD_ARG_MULTI: {
        ood_arg_multi *m = p;
        if (m->n == OOD_ARG_MULTI_MAX) ood_fail(spec->name, "%s: at most %d times", f->name, OOD_ARG_MULTI_MAX);
        m->v[m->n++] = v;
        break;
    }
    }
}

static void set_defaults(const ood_command_spec *spec, void *opts)
{
    int i;
    for (i = 0; i < spec->nflags; ++i) {
        const ood_flag *f = &spec->flags[i];
        void *p = field(opts, f);
        if (f->def) {
            set_value(spec, f, f->def, opts);
        } else if (f->type == OOD_ARG_STRING) {
            *(const char **)p = 0;
        } else if (f->type == OOD_ARG_SCORE) {
            *(int *)p = -1;
        } else if (f->type == OOD_ARG_MULTI) {
            ((ood_arg_multi *)p)->n = 0;
        } else if (f->type == OOD_ARG_SWITCH || f->type == OOD_ARG_INT) {
            *(int *)p = 0;
        }
    }
}

static const ood_flag *find_flag(const ood_command_spec *spec, const char *name)
{
    int i;
    for (i = 0; i < spec->nflags; ++i)
        if (strcmp(spec->flags[i].name, name) == 0) return &spec->flags[i];
    return 0;
}

static int wants_help(int argc, char **argv)
{
    int i;
    for (i = 3; i < argc; ++i)
        if (argv[i] && (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))) return 1;
    return 0;
}

/* Stops with msg, then the usage line and "-h" hint (what a user needs to fix a typo). */
static void usage_fail(const ood_command_spec *spec, const char *msg, int full_help)
{
    char usage[1024];
    fflush(stdout);
    fprintf(stderr, "darknet: error: classifier %s: %s\n", spec->name, msg);
    if (full_help) {
        ood_args_print_help(spec, stderr);
    } else {
        fprintf(stderr, "usage: darknet %s\n", ood_args_usage(spec, usage, sizeof(usage)));
        fprintf(stderr, "(darknet classifier %s -h lists every flag with its default)\n", spec->name);
    }
    exit(1);
}

int ood_args_parse(const ood_command_spec *spec, int argc, char **argv, void *opts, const char **pos)
{
    int i, npos = 0;
    char msg[512];
    if (wants_help(argc, argv)) {
        ood_args_print_help(spec, stdout);
        exit(0);
    }
    set_defaults(spec, opts);
    for (i = 0; i < spec->max_pos; ++i) pos[i] = 0;
    for (i = 3; i < argc; ++i) {
        const char *a = argv[i];
        const ood_flag *f;
        if (!a) continue;
        if (a[0] != '-' || !a[1]) {
            if (npos == spec->max_pos) usage_fail(spec, "too many arguments", 0);
            pos[npos++] = a;
            continue;
        }
        f = find_flag(spec, a);
        if (!f) {
            snprintf(msg, sizeof(msg), "unknown option '%s'", a);
            usage_fail(spec, msg, 0);
        }
        set_value(spec, f, f->type == OOD_ARG_SWITCH ? 0 : ood_flag_value(spec->name, argc, argv, &i), opts);
    }
    if (npos < spec->min_pos) {
        int k, used = 0;
        for (k = 0; k < spec->min_pos; ++k)
            used += snprintf(msg + used, sizeof(msg) - used, "%s%s", k == 0 ? "" : k == spec->min_pos - 1 ? " and " : ", ",
                             spec->arg_names[k]);
        snprintf(msg + used, sizeof(msg) - used, " %s required", spec->min_pos == 1 ? "is" : "are");
        usage_fail(spec, msg, 1);
    }
    return npos;
}

/* "-batch N" or "-noodin". */
static int flag_text(const ood_flag *f, char *buf, size_t len)
{
    return snprintf(buf, len, "%s%s%s", f->name, f->meta ? " " : "", f->meta ? f->meta : "");
}

const char *ood_args_usage(const ood_command_spec *spec, char *buf, size_t len)
{
    int i;
    size_t used = (size_t)snprintf(buf, len, "classifier %s %s", spec->name, spec->args);
    for (i = 0; i < spec->nflags && used < len; ++i) {
        char t[128];
        flag_text(&spec->flags[i], t, sizeof(t));
        used += (size_t)snprintf(buf + used, len - used, " [%s]%s", t, spec->flags[i].type == OOD_ARG_MULTI ? "..." : "");
    }
    return buf;
}

void ood_args_print_help(const ood_command_spec *spec, FILE *out)
{
    int i;
    fprintf(out, "usage: darknet classifier %s %s [flags]\n%s\n\nflags:\n", spec->name, spec->args, spec->summary);
    for (i = 0; i < spec->nflags; ++i) {
        const ood_flag *f = &spec->flags[i];
        char t[128];
        flag_text(f, t, sizeof(t));
        fprintf(out, "  %-22s %s", t, f->help);
        if (f->type == OOD_ARG_MULTI) fputs(" (repeatable)", out);
        if (f->type == OOD_ARG_SCORE) {
            char names[256];
            fprintf(out, "; S: %s", ood_score_names(names, sizeof(names)));
        }
        if (f->def) fprintf(out, " [default %s]", f->def);
        fputc('\n', out);
    }
    fprintf(out, "  %-22s %s\n", "-h, --help", "this help");
    if (spec->notes) fprintf(out, "\n%s\n", spec->notes);
}
