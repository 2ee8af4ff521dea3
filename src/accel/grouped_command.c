/* darknet classifier regroup: see grouped_command.h and grouped_experts.h. */
#include "grouped_command.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "darknet.h"
#include "grouped_experts.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: darknet " GROUPED_USAGE "\n"
            "  Writes the weights FROM.weights of FROM.cfg as TO.weights for TO.cfg, where one cfg lays\n"
            "  the experts out as separate branches and the other as grouped convolutions (X.cfg and\n"
            "  X-grouped.cfg of scripts/make-cfgs): the same network, its values in another order.\n"
            "  -force      replace TO.weights when it exists (default: off, an existing file is an error)\n"
            "  -h, --help  this text\n");
}

/* Prints "darknet: error: classifier regroup: ..." and returns the exit status 1. */
static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "darknet: error: classifier regroup: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return 1;
}

/* Whether a network has grouped convolutions (the grouped form). */
static int is_grouped(const network *net)
{
    int i;
    for (i = 0; i < net->n; ++i)
        if (net->layers[i].type == CONVOLUTIONAL && net->layers[i].groups > 1) return 1;
    return 0;
}

int grouped_command(int argc, char **argv)
{
    const char *from_cfg, *from_w, *to_cfg, *to_w;
    int force = 0, i, gf, gt;
    char err[1024];
    struct stat sb;
    network *from, *to;

    for (i = 3; i < argc; ++i)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
    for (i = 7; i < argc; ++i) {
        if (strcmp(argv[i], "-force") == 0) force = 1;
        else {
            usage(stderr);
            return die("unknown argument '%s'", argv[i]);
        }
    }
    if (argc < 7) {
        usage(stderr);
        return die("too few arguments: FROM.cfg FROM.weights TO.cfg TO.weights are required");
    }
    for (i = 3; i < 7; ++i)
        if (argv[i][0] == '-') {
            usage(stderr);
            return die("'%s' is not a file name: FROM.cfg FROM.weights TO.cfg TO.weights come first", argv[i]);
        }
    from_cfg = argv[3];
    from_w = argv[4];
    to_cfg = argv[5];
    to_w = argv[6];
    if (strcmp(from_w, to_w) == 0) return die("FROM.weights and TO.weights are the same file %s", to_w);
    if (!force && stat(to_w, &sb) == 0) return die("%s exists: give -force to replace it", to_w);
    if (stat(from_w, &sb) != 0 || !S_ISREG(sb.st_mode)) return die("cannot read the weights %s", from_w);

    from = load_network((char *)from_cfg, (char *)from_w, 0);
    to = parse_network_cfg((char *)to_cfg);
    gf = is_grouped(from);
    gt = is_grouped(to);
    if (gf == gt)
        return die("%s and %s are both %s: one must be the separate form and the other the grouped form "
                   "(convolutions with groups > 1) of the same network", from_cfg, to_cfg,
                   gf ? "grouped" : "without grouped convolutions");
    if (gt ? grouped_copy(from, to, 1, err, sizeof(err)) : grouped_copy(to, from, 0, err, sizeof(err)))
        return die("%s and %s: %s", gt ? from_cfg : to_cfg, gt ? to_cfg : from_cfg, err);
    *to->seen = *from->seen;    /* training resumes at the same iteration */
    save_weights(to, (char *)to_w);
    printf("classifier regroup: wrote %s: the weights of %s (%s form) for %s (%s form)\n", to_w, from_w,
           gf ? "grouped" : "separate", to_cfg, gt ? "grouped" : "separate");
    free_network(from);
    free_network(to);
    return 0;
}
