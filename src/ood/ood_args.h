/* One argument parser for the plugin's classifier commands (ood, predict, demo).
 *
 * A command describes itself once, as an ood_command_spec: its positional arguments and a
 * table of flags, each with its type, its default (as the text a user would type) and a line
 * of help. From that one table come
 *   - the parsing: every flag's field in the command's options struct (offsetof), defaults
 *     parsed from the same text the help shows, range checks, repeated flags;
 *   - the help: `darknet classifier CMD -h` (or --help) prints it on stdout and exits 0;
 *     too few positional arguments print it on stderr after the error and exit 1;
 *   - the one-line usage of error messages and of the commands table.
 * so the help cannot drift from what the parser accepts.
 *
 * argv is Darknet's: arguments 0..2 are "darknet classifier CMD", and Darknet's own flag
 * parsers leave NULLs where they removed flags (skipped here).
 */
#ifndef OOD_ARGS_H
#define OOD_ARGS_H

#include <stddef.h>
#include <stdio.h>

#define OOD_ARG_MULTI_MAX 32

enum {
    OOD_ARG_STRING,   /* const char *; def may be 0 (unset) */
    OOD_ARG_INT,      /* int in [lo, hi] */
    OOD_ARG_FLOAT,    /* float in [lo, hi] */
    OOD_ARG_DOUBLE,   /* double in [lo, hi] */
    OOD_ARG_SWITCH,   /* int: 0, or 1 when the flag is given (it takes no value) */
    OOD_ARG_SCORE,    /* int: an OOD score by name (ood_score.h); def 0: -1 (the command decides) */
    OOD_ARG_MULTI     /* ood_arg_multi: a repeatable flag, every value in order */
};

typedef struct ood_arg_multi {
    int n;
    const char *v[OOD_ARG_MULTI_MAX];
} ood_arg_multi;

typedef struct ood_flag {
    const char *name;   /* "-out" */
    int type;           /* OOD_ARG_* */
    const char *meta;   /* the value's placeholder in the help ("DIR"); 0 for a switch */
    const char *def;    /* the default, parsed like a user's value; 0: none (help says why) */
    double lo, hi;      /* range of numbers */
    size_t offset;      /* of the field in the command's options struct */
    const char *help;   /* one line */
} ood_flag;

typedef struct ood_command_spec {
    const char *name;       /* "ood" */
    const char *args;       /* the positional arguments as the usage shows them */
    const char *const *arg_names;   /* [max_pos] the names in "X are required" messages */
    int min_pos, max_pos;
    const char *summary;    /* what the command does, one or two lines */
    const ood_flag *flags;
    int nflags;
    const char *notes;      /* printed after the flags (may be 0) */
} ood_command_spec;

/* Sets every flag's default in opts, then parses argv[3..argc): flags into opts, positional
 * arguments into pos [spec->max_pos]; returns their number. -h or --help prints the help and
 * exits 0; an unknown flag, a bad value, too many or too few positional arguments stop with
 * a message (the last two with the help). */
int ood_args_parse(const ood_command_spec *spec, int argc, char **argv, void *opts, const char **pos);

/* The help: usage line, summary, one line per flag with its default, notes. */
void ood_args_print_help(const ood_command_spec *spec, FILE *out);
/* "classifier CMD ARGS [-flag VALUE]..." into buf; returns buf. */
const char *ood_args_usage(const ood_command_spec *spec, char *buf, size_t len);

/* The specs of the commands (ood_command.c, ood_predict.c), for the commands table and tests. */
extern const ood_command_spec ood_spec_ood, ood_spec_predict, ood_spec_demo;

#endif
